#!/usr/bin/env bash
# dw-etl demo, continuing the fan-out step: workers consume the queue
# dw-fanout filled (one message per event file), write one Avro object per
# kind and file into the lake bucket, the Avro partitions are listed, one
# file is read back, and dw-ddl prints the Snowflake and Athena tables over
# them.  Then a poison message goes to the dead-letter queue and is redriven.
set -euo pipefail

. scripts/demo-lib.sh
op=bin/dw-etl
bucket=dw-demo-events
lake=dw-demo-lake
queue=dw-demo-event-files

queue_url=$("$py" - "$lake" "$queue" <<'PY'
import json, os, sys, boto3
lake, queue = sys.argv[1:3]
aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
s3, sqs = boto3.client("s3", **aws), boto3.client("sqs", **aws)
s3.create_bucket(Bucket=lake)
url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
dlq = sqs.create_queue(QueueName=queue + "-dlq")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sqs.set_queue_attributes(QueueUrl=url, Attributes={
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"}),
    "VisibilityTimeout": "30"})
print(url)
PY
)

step "two dw-etl workers consume $queue (8 messages in flight each, 100 messages each: moto's SQS scans the whole queue on every call, so the hour's 3,597 messages would take most of an hour here; against SQS a worker does hundreds a second) into s3://$lake/demo/{on}/{YYYY}/{MM}/{DD}/{file}.avro"
req="{\"queue_url\": \"$queue_url\", \"bucket\": \"$bucket\", \"dest_bucket\": \"$lake\", \"concurrency\": 8, \"max_messages\": 100, \"idle_exit_s\": 5, \"wait_s\": 2}"
other=$(mktemp)
printf '%s' "$req" | "$op" consume >"$other" 2>/dev/null &
worker=$!
JQ_FILTER='.result | del(.failures)' run_op "$op" consume 0 <<<"$req"
wait "$worker" || true
echo "  the other worker: $(tail -n 1 "$other" | jq -c '{received: .result.received, processed: .result.processed, records: .result.records, stopped: .result.stopped}')"
rm -f "$other"

step "the rest of the hour without the queue: dw-etl process, the hour's files listed the way dw-fanout lists them (a backfill; objects already written are rewritten byte for byte)"
JQ_FILTER='.result | del(.failures)' run_op "$op" process <<<"{\"bucket\": \"$bucket\", \"prefix\": \"incoming/\", \"hour\": \"2019-06-01T15\", \"dest_bucket\": \"$lake\", \"concurrency\": 8}"
"$py" - "$queue_url" <<'PY'
import os, sys, boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
sqs.purge_queue(QueueUrl=sys.argv[1])
print("  the queue's remaining messages purged (their files are done)")
PY

step "the Avro partitions in s3://$lake (objects per partition), as the lake's Snowflake table reads them (on_part = SPLIT_PART(key, '/', 2), date_part = the first 10 characters of part 6)"
"$py" - "$lake" <<'PY'
import collections, io, os, sys, boto3, fastavro
lake = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
parts, first = collections.Counter(), None
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=lake, Prefix="demo/"):
    for o in page.get("Contents", []):
        k = o["Key"].split("/")
        parts[("/".join(k[:5]) + "/", k[1], k[5][:10])] += 1
        first = first or o["Key"]
for (prefix, on, day), n in sorted(parts.items()):
    print(f"  s3://{lake}/{prefix}  on_part={on} date_part={day}  {n} objects")
r = fastavro.reader(io.BytesIO(s3.get_object(Bucket=lake, Key=first)["Body"].read()))
print(f"  {first}: codec {r.metadata['avro.codec']}, first record: {next(iter(r))}")
PY

step "the lake's Snowflake external table over those files (examples/dw-ddl/snowflake-lake-events.json)"
jq 'del(.action)' examples/dw-ddl/snowflake-lake-events.json | bin/dw-ddl generate | tail -n 1 \
	| jq -r '.result.statements[].sql + ";"'

step "an Athena table per kind, partitions projected from the path (location s3://$lake/demo/<kind>/)"
for kind in vehicle operating_period; do
	case $kind in
	vehicle) cols='[{"name":"event","type":"string"},{"name":"on","type":"string"},{"name":"at","type":"timestamp"},{"name":"organization_id","type":"bigint"},{"name":"id","type":"string"},{"name":"lat","type":"double"},{"name":"lng","type":"double"}]' ;;
	*) cols='[{"name":"event","type":"string"},{"name":"on","type":"string"},{"name":"at","type":"timestamp"},{"name":"organization_id","type":"bigint"},{"name":"id","type":"string"},{"name":"start","type":"timestamp"},{"name":"finish","type":"timestamp"}]' ;;
	esac
	jq -n --arg t "$kind" --arg loc "s3://$lake/demo/$kind/" --argjson cols "$cols" '{
		dialect: "athena", database: "lake", table: $t, format: "avro", location: $loc,
		partitions: [{name: "year", type: "int", segment: 1, range: "2019,2030"},
		             {name: "month", type: "string", segment: 2},
		             {name: "day", type: "string", segment: 3}],
		columns: $cols}' | bin/dw-ddl generate | tail -n 1 | jq -r '.result.statements[].sql + ";"'
done

step "a poison message (a file of bad lines only; received with a 2 s visibility timeout): received twice, then in the dead-letter queue"
"$py" - "$bucket" "$queue_url" <<'PY'
import os, sys, boto3
bucket, url = sys.argv[1:3]
aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
boto3.client("s3", **aws).put_object(Bucket=bucket, Key="incoming/2019-06-01-15-61-0-broken.json", Body=b"not json\n")
boto3.client("sqs", **aws).send_message(QueueUrl=url, MessageBody="incoming/2019-06-01-15-61-0-broken.json")
PY
JQ_FILTER='.result | {received, processed, failed, dead_letter_queue, failures: [.failures[]? | {key, code}]}' \
	run_op "$op" consume 1 <<<"{\"queue_url\": \"$queue_url\", \"bucket\": \"$bucket\", \"dest_bucket\": \"$lake\", \"idle_exit_s\": 6, \"wait_s\": 1, \"visibility_timeout_s\": 2}"

step "fixed at the source, redriven back from the dead-letter queue, and processed"
"$py" - "$bucket" <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
s3.put_object(Bucket=sys.argv[1], Key="incoming/2019-06-01-15-61-0-broken.json",
              Body=b'{"event": "vehicle_moved", "on": "vehicle", "at": "2019-06-01T15:59:59Z"}\n')
PY
run_op "$op" redrive <<<"{\"queue_url\": \"$queue_url\"}"
JQ_FILTER='.result | {received, processed, failed, per_on}' \
	run_op "$op" consume <<<"{\"queue_url\": \"$queue_url\", \"bucket\": \"$bucket\", \"dest_bucket\": \"$lake\", \"idle_exit_s\": 3, \"wait_s\": 1}"
