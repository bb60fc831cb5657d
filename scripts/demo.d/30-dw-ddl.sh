#!/usr/bin/env bash
# dw-ddl demo: the lake's Snowflake external table generated from its short
# description, then columns inferred from sample JSON-lines files put in the
# local S3, applied to the Glue catalog (with partition projection), shown
# back, applied again (an update), and the DDL bundled for Jenkins.
set -euo pipefail

. scripts/demo-lib.sh
op=bin/dw-ddl
ex=examples/dw-ddl

run() { # run FILE ACTION [jq filter for the request]: the example, filtered, as the request
	jq "(${3:-.}) | del(.action)" "$1" | run_op "$op" "$2"
}

step "the lake's Snowflake external table over @demo_stage_s3 ($ex/snowflake-lake-events.json)"
run "$ex/snowflake-lake-events.json" generate
step "the statement as Snowflake gets it"
jq . "$ex/snowflake-lake-events.json" | "$op" generate | tail -n 1 | jq -r '.result.statements[].sql + ";"'

step "sample event files in s3://lake-bucket/events-json/ (nested objects, nulls, mixed numbers, dates, a field only some records have)"
"$py" - <<'PY'
import json, os, boto3
region = os.environ.get("AWS_REGION", "us-east-1")
aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=region)
s3 = boto3.client("s3", **aws)
try:
    kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket="lake-bucket", **kw)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
days = {
    "2019-06-01": [
        {"id": 1, "event": "click", "on": "button", "at": "2019-06-01T15:04:05Z", "score": 1,
         "data": {"location": {"lat": 52.52, "lng": 13}}, "organization_id": 7},
        {"id": 2, "event": "view", "on": "page", "at": "2019-06-01T15:05:00Z", "score": 2.5,
         "data": {"location": {"lat": 48.85, "lng": 2.35}}, "organization_id": None},
    ],
    "2019-06-02": [
        {"id": 3, "event": "click", "on": "link", "at": "2019-06-02T08:00:00Z", "score": None,
         "data": {"location": None}, "organization_id": 7, "campaign": "summer"},
    ],
}
for day, rows in days.items():
    key = f"events-json/dt={day}/events-{day}.json"
    s3.put_object(Bucket="lake-bucket", Key=key, Body="".join(json.dumps(r) + "\n" for r in rows).encode())
    print(f"  s3://lake-bucket/{key}: {len(rows)} records")
glue = boto3.client("glue", **aws)
try:
    glue.create_database(DatabaseInput={"Name": "lake"})
except glue.exceptions.AlreadyExistsException:
    pass
print("  Glue database lake")
PY

step "infer the columns and generate the Athena DDL with partition projection"
run "$ex/glue-json-infer.json" generate '. + {dialect: "athena"}'

step "apply to Glue: create the table ($ex/glue-json-infer.json)"
run "$ex/glue-json-infer.json" apply

step "the table in the Glue catalog"
"$py" - <<'PY'
import json, os, boto3
glue = boto3.client("glue", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                    region_name=os.environ.get("AWS_REGION", "us-east-1"))
t = glue.get_table(DatabaseName="lake", Name="events_json")["Table"]
sd = t["StorageDescriptor"]
print(json.dumps({"Name": t["Name"], "Location": sd["Location"],
                  "SerDe": sd["SerdeInfo"]["SerializationLibrary"],
                  "Columns": sd["Columns"], "PartitionKeys": t["PartitionKeys"],
                  "Parameters": t["Parameters"]}, indent=2))
PY

step "apply again: the table is updated in place, not duplicated"
run "$ex/glue-json-infer.json" apply '. + {columns: [{name: "campaign", type: "string"}]}'

step "bundle the Redshift Spectrum DDL into a zip, as the Jenkins job archives it"
# Bundles go under the worker's DW_DDL_BUNDLE_DIR; the request names a file there.
bundle_dir=$(mktemp -d)
DW_DDL_BUNDLE_DIR="$bundle_dir" run "$ex/redshift-parquet-partitions.json" generate '. + {bundle: "dw-ddl-redshift.zip"}'
"$py" -c 'import sys, zipfile; [print("  ", n) for n in zipfile.ZipFile(sys.argv[1]).namelist()]' "$bundle_dir/dw-ddl-redshift.zip"
rm -rf "$bundle_dir"
