#!/usr/bin/env bash
# dw-cleanup demo (runs last): leave some stale things behind on purpose, show
# the clean-up plan for the policy in examples/dw-cleanup/policy.json, apply
# it, and show that nothing is left to do.  What the other demo steps left
# behind is planned too, where the policy covers it.
set -euo pipefail

. scripts/demo-lib.sh
op=bin/dw-cleanup
policy=examples/dw-cleanup/policy.json
# Objects and queues made a minute ago are not stale yet: plan as if it were
# 30 days from now (the request's "now" is for exactly this kind of what-if).
now=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)

run() { # run ACTION: the policy with "now"
	jq --arg now "$now" '. + {now: $now}' "$policy" | run_op "$op" "$1" 0 99
}

step "leave things behind: an expired dwops copy, an expired-looking instance dwops does not manage, 14 objects under tmp/, a Glue table whose data is gone, an idle queue"
"$py" - <<'PY'
import datetime as dt, os, boto3
region = os.environ.get("AWS_REGION", "us-east-1")
aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=region)
yesterday = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
rds = boto3.client("rds", **aws)
existing = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
for name, tags in (("dw-snapshot-forgotten", {"managed-by": "dwops", "owner": "former.intern",
                                              "expires-at": yesterday}),
                   ("reporting-replica", {"owner": "bi-team", "expires-at": yesterday})):
    if name not in existing:
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="mysql", DBInstanceClass="db.t3.micro",
                               MasterUsername="admin", MasterUserPassword="demo-cleanup-pw-1",
                               AllocatedStorage=20, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    print("  instance", name, tags)
s3 = boto3.client("s3", **aws)
try:
    kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket="dwops-work", **kw)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
for i in range(14):
    s3.put_object(Bucket="dwops-work", Key=f"tmp/run-{i:02d}.csv", Body=b"id,total\n1,9.99\n")
s3.put_object(Bucket="dwops-work", Key="curated/orders.csv", Body=b"id,total\n")
print("  s3://dwops-work: 14 objects under tmp/, 1 under curated/")
glue = boto3.client("glue", **aws)
try:
    glue.create_database(DatabaseInput={"Name": "dwops_scratch"})
except glue.exceptions.AlreadyExistsException:
    pass
for name, loc in (("tmp_orders_backfill", "s3://dwops-work/backfill/orders/"),
                  ("orders", "s3://dwops-work/curated/")):
    try:
        glue.create_table(DatabaseName="dwops_scratch", TableInput={
            "Name": name, "StorageDescriptor": {"Location": loc}})
    except glue.exceptions.AlreadyExistsException:
        pass
    print("  glue table dwops_scratch.%s at %s" % (name, loc))
sqs = boto3.client("sqs", **aws)
for q in ("dwops-tmp-backfill-2024", "orders-events"):
    sqs.create_queue(QueueName=q)
    print("  queue", q)
PY

step "the policy ($policy), planned as of $now"
jq . "$policy"

step "plan: what would be deleted, and why (changes nothing)"
run plan

step "apply: delete exactly what the plan lists, each item reported done or failed"
run apply

step "what is left: the unmanaged instance, the curated data, the other table and queue"
"$py" - <<'PY'
import os, boto3
aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
rds = boto3.client("rds", **aws)
print("  instances:", sorted("%s (%s)" % (i["DBInstanceIdentifier"], i["DBInstanceStatus"])
                             for i in rds.describe_db_instances()["DBInstances"]))
print("  s3://dwops-work:", sorted(o["Key"] for o in boto3.client("s3", **aws).list_objects_v2(
    Bucket="dwops-work").get("Contents", [])))
print("  glue tables:", sorted(t["Name"] for t in boto3.client("glue", **aws).get_tables(
    DatabaseName="dwops_scratch")["TableList"]))
print("  queues:", sorted(u.rsplit("/", 1)[1] for u in boto3.client("sqs", **aws).list_queues().get("QueueUrls", [])))
PY

step "plan again: nothing left to clean up (exit 99)"
run plan
