#!/usr/bin/env bash
# dw-fanout demo: an hour of per-second event files lands in a bucket; fan
# them out to a queue (one message per file, the key in the body and in the
# "from" attribute), show the queue's message count, then show that a bad
# request is rejected before anything is sent and that an empty hour is
# "nothing to do".
set -euo pipefail

. scripts/demo-lib.sh
op=bin/dw-fanout
bucket=dw-demo-events
queue=dw-demo-event-files
hour=2019-06-01T15

run() { printf '%s' "$1" | run_op "$op" fanout 0 2 99; } # run REQUEST-JSON

step "put an hour of per-second files (3,600, named like 2019-06-01-15-5-3-events.json; 3 seconds missing) into s3://$bucket/incoming/, plus files of the neighbouring hours"
queue_url=$("$py" - "$bucket" "$queue" <<'PY'
import os, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
bucket, queue = sys.argv[1:3]
aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
s3, sqs = boto3.client("s3", **aws), boto3.client("sqs", **aws)
s3.create_bucket(Bucket=bucket)
url = sqs.create_queue(QueueName=queue)["QueueUrl"]
sqs.purge_queue(QueueUrl=url)
keys = [f"incoming/2019-06-01-15-{s // 60}-{s % 60}-events.json" for s in range(3600)
        if s not in (61, 62, 3599)]
keys += ["incoming/2019-06-01-14-59-59-events.json", "incoming/2019-06-01-16-0-0-events.json"]
# Event records as the workers see them (dw-etl's demo step transforms them).
body = (b'{"event": "vehicle_moved", "on": "vehicle", "at": "2019-06-01T15:30:00.250Z", "organization_id": 7,'
        b' "data": {"id": "veh-17", "location": {"lat": 52.520008, "lng": 13.404954, "at": "2019-06-01T15:29:59Z"}}}\n'
        b'{"event": "operating_period_started", "on": "operating_period", "at": "2019-06-01T15:30:01Z",'
        b' "organization_id": 7, "data": {"id": "op-3", "start": "2019-06-01T15:00:00Z", "finish": null}}\n'
        b'{"event": "honk", "on": "horn", "at": "2019-06-01T15:30:02Z"}\n')
with ThreadPoolExecutor(32) as pool:
    list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body), keys))
print(f"  {len(keys)} files put", file=sys.stderr)
print(url)
PY
)

step "fan out hour $hour to $queue_url (per_hour shortened; moto's SQS slows down as a queue fills, so this takes a minute or two here, seconds against SQS or ElasticMQ)"
JQ_FILTER='.result.per_hour |= .[:3]' run "{\"bucket\": \"$bucket\", \"prefix\": \"incoming/\", \"hour\": \"$hour\", \"queue_url\": \"$queue_url\"}"

step "the queue's message count (boto3)"
"$py" - "$queue_url" <<'PY'
import os, sys, boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
a = sqs.get_queue_attributes(QueueUrl=sys.argv[1], AttributeNames=["ApproximateNumberOfMessages"])
print("  ApproximateNumberOfMessages =", a["Attributes"]["ApproximateNumberOfMessages"])
PY

step "a typo in a field is rejected by name (exit 2), nothing is sent"
run "{\"bucket\": \"$bucket\", \"hour\": \"$hour\", \"queue_url\": \"$queue_url\", \"concurency\": 8}"

step "an hour without files: nothing to do (exit 99; Airflow marks the task skipped)"
run "{\"bucket\": \"$bucket\", \"prefix\": \"incoming/\", \"hour\": \"2019-06-01T03\", \"queue_url\": \"$queue_url\"}"
