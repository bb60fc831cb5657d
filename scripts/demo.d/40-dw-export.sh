#!/usr/bin/env bash
# dw-export demo: last night's automated snapshot of the warehouse exported
# to S3, promoted to a stable folder, and catalogued as Glue tables for
# Athena.  Runs against the bench's moto, which completes an export at once
# but writes no Parquet: the demo puts stand-in files where RDS would.
set -euo pipefail

. scripts/demo-lib.sh
op=bin/dw-export
bucket=dwops-demo-analytics
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

DEMO_LAST="$work/last"
run() { run_op "$op" "$1"; } # run ACTION: the request on stdin; result also in $work/last

# One request for every step; each action checks the fields it needs.
jq -n --arg bucket "$bucket" '{
	source_instance: "warehouse", s3_bucket: $bucket, s3_prefix: "rds-exports",
	iam_role_arn: "arn:aws:iam::123456789012:role/rds-s3-export",
	kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
	main_prefix: "warehouse/main", glue_database: "warehouse_lake", poll_s: 1
}' >"$work/request.json"

step "the warehouse: an RDS instance with automated backups, and the analytics bucket"
ensure_warehouse
"$py" - "$bucket" <<'PY'
import os, sys, boto3
bucket = sys.argv[1]
rds = boto3.client("rds", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
try:  # a newer manual snapshot, which an export of the nightly backup must not take
    rds.create_db_snapshot(DBInstanceIdentifier="warehouse", DBSnapshotIdentifier="before-upgrade")
except rds.exceptions.DBSnapshotAlreadyExistsFault:
    pass
for s in rds.describe_db_snapshots(DBInstanceIdentifier="warehouse")["DBSnapshots"]:
    print("  snapshot", s["DBSnapshotIdentifier"], s["SnapshotType"], s["SnapshotCreateTime"])
s3.create_bucket(Bucket=bucket)
# Last night's promoted export had a table that has since been dropped.
s3.put_object(Bucket=bucket, Key="warehouse/main/analytics/analytics.old_events/part-00000.parquet", Body=b"PAR1")
print(f"  bucket s3://{bucket}/ with a stale warehouse/main/analytics/analytics.old_events/")
PY

step "start: export the newest automated snapshot (the manual one is ignored)"
run start <"$work/request.json"
task=$(jq -r .result.export_task_id "$work/last")

step "start again: the same snapshot gives the same task id, nothing new is started"
run start <"$work/request.json"

step "RDS writes <task id>/<database>/<schema.table>/part-*.parquet; moto does not, so stand-ins go there"
"$py" - "$bucket" "$task" <<'PY'
import json, os, sys, boto3
bucket, task = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
folder = f"rds-exports/{task}"
tables = {"analytics.orders": [("id", "int64"), ("customer_id", "int64"), ("total", "fixed_len_byte_array(5) (DECIMAL(10,2))"), ("placed_at", "int64 (TIMESTAMP_MICROS)")],
          "analytics.customers": [("id", "int64"), ("name", "binary (UTF8)"), ("active", "boolean")]}
for table, cols in tables.items():
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"{folder}/analytics/{table}/1/part-{i:05d}.gz.parquet", Body=b"PAR1")
info = {"perTableStatus": [{"target": f"analytics.{t}", "status": "COMPLETE", "schemaMetadata": {
    "originalTypeMappings": [{"columnName": n, "expectedExportedType": ty} for n, ty in cols]}}
    for t, cols in tables.items()]}
s3.put_object(Bucket=bucket, Key=f"{folder}/export_tables_info_{task}_from_1_to_2.json", Body=json.dumps(info))
s3.put_object(Bucket=bucket, Key=f"{folder}/export_info_{task}.json", Body=b"{}")
print(f"  8 objects under s3://{bucket}/{folder}/")
PY

step "wait: until the export task is COMPLETE (progress on stderr)"
run wait <"$work/request.json"

step "promote: copy to warehouse/main/, drop stale files, then the dated folder"
run promote <"$work/request.json"

step "the promoted folder"
"$py" - "$bucket" <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for prefix in ("warehouse/main/", "rds-exports/"):
    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[1], Prefix=prefix)
            for o in p.get("Contents", [])]
    print(f"  s3://{sys.argv[1]}/{prefix}: {len(keys)} objects")
    for k in keys:
        print("    ", k)
PY

step "catalog: the Glue tables, from the folders and the export's table file"
run catalog <"$work/request.json"

step "the catalogued tables, as Athena sees them"
"$py" - <<'PY'
import os, boto3
glue = boto3.client("glue", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for t in glue.get_tables(DatabaseName="warehouse_lake")["TableList"]:
    sd = t["StorageDescriptor"]
    cols = ", ".join(f"{c['Name']} {c['Type']}" for c in sd["Columns"])
    print(f"  warehouse_lake.{t['Name']} ({cols})\n      at {sd['Location']}")
PY

step "promote again: already done, nothing is copied or deleted"
run promote <"$work/request.json"
