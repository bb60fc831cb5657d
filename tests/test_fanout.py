"""dw-fanout: one SQS message per S3 event file of an hour, against moto."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

BUCKET = "events"
HOUR = "2019-06-01T15"


def key_of(minute: int, second: int, day: str = "2019-06-01", hour: int = 15,
           folder: str = "") -> str:
    return f"{folder}{day}-{hour:02d}-{minute}-{second}-events.json"


def put_keys(s3, keys, bucket=BUCKET):
    def put(k):
        s3.put_object(Bucket=bucket, Key=k, Body=b'{"e":1}')
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))


def drain(sqs, url, attrs=False):
    """Every message in the queue: list of (body, from-attribute, attributes)."""
    got, empty = [], 0
    while empty < 2:
        kw = {"AttributeNames": ["All"]} if attrs else {}
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                MessageAttributeNames=["All"], VisibilityTimeout=300, **kw)
        msgs = r.get("Messages", [])
        empty = 0 if msgs else empty + 1
        for m in msgs:
            frm = m.get("MessageAttributes", {}).get("from", {}).get("StringValue")
            got.append((m["Body"], frm, m.get("Attributes", {})))
    return got


def queue_count(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                 "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in a["Attributes"].values())


@pytest.fixture
def aws(moto):
    s3, sqs = moto.client("s3"), moto.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    url = sqs.create_queue(QueueName="fanout")["QueueUrl"]
    return s3, sqs, url


def fanout(run_op, url, **kw):
    req = {"bucket": BUCKET, "queue_url": url}
    req.update(kw)
    return run_op("dw-fanout", "fanout", req)


def test_hour_with_gaps_and_decoys(aws, run_op):
    s3, sqs, url = aws
    # 240 of the hour's 3,600 seconds, over three ListObjectsV2 pages
    seconds = [s for s in range(3600) if s % 15 == 0]
    wanted = [key_of(s // 60, s % 60, folder="in/") for s in seconds]
    decoys = [
        key_of(59, 59, hour=14, folder="in/"), key_of(0, 0, hour=16, folder="in/"),
        key_of(5, 3, day="2019-06-02", folder="in/"), key_of(5, 3, day="2018-06-01", folder="in/"),
        key_of(5, 3, folder="other/"), key_of(5, 3), key_of(5, 3, folder="in/x/"),
        "in/2019-06-01-150-1-1-events.json", "in/2019-06-01-1-5-3-events.json",
    ]
    odd = ["in/2019-06-01-15-summary.json", "in/2019-06-01-15-61-0-events.json",
           "in/2019-06-01-15-1-99-events.json", "in/2019-06-01-15-/"]
    put_keys(s3, wanted + decoys + odd)

    r = fanout(run_op, url, prefix="in", hour="2019-06-01T15:00:00+00:00", concurrency=8,
               page_size=100)
    assert r.code == 0, r
    d = r.data
    assert d["sent"] == 240 and d["failed"] == 0
    assert d["listed"] == 240 + len(odd) and d["skipped"] == len(odd)
    assert d["hours"] == 1 and d["list_pages"] == 3
    # batches never span pages: each page's last one may be short
    listed = sorted(k for k in wanted + odd if k.startswith("in/2019-06-01-15-"))
    pages = [listed[i:i + 100] for i in range(0, len(listed), 100)]
    assert d["batches"] == sum(-(-len([k for k in p if k in wanted]) // 10) for p in pages)
    assert d["missing_seconds"] == 3600 - 240
    assert d["per_hour"] == [{"hour": "2019-06-01T15:00:00Z", "prefix": "in/2019-06-01-15-",
                              "listed": 244, "sent": 240, "failed": 0, "skipped": 4,
                              "missing_seconds": 3600 - 240}]
    got = drain(sqs, url)
    bodies = [b for b, _, _ in got]
    assert len(bodies) == len(set(bodies)) == 240
    assert set(bodies) == set(wanted)
    assert all(frm == body for body, frm, _ in got)


def test_batches_are_full_when_pages_are(aws, run_op):
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, s) for s in range(60)] + [key_of(1, s) for s in range(5)])
    r = fanout(run_op, url, hour=HOUR)
    assert r.code == 0, r
    assert r.data["sent"] == 65 and r.data["batches"] == 7
    assert r.data["missing_seconds"] == 3600 - 65
    assert queue_count(sqs, url) == 65


def test_dry_run_counts_and_sends_nothing(aws, run_op):
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, s) for s in range(30)] + [key_of(2, 0, hour=16), key_of(0, 0, hour=14),
                                                     "2019-06-01-15-summary.json"])
    r = fanout(run_op, url, start="2019-06-01T15", end="2019-06-01T17", dry_run=True,
               page_size=10)
    assert r.code == 0, r
    d = r.data
    assert d["dry_run"] is True and d["would_send"] == 31
    assert d["sent"] == 0 and d["batches"] == 0 and d["failed"] == 0
    assert d["listed"] == 32 and d["skipped"] == 1 and d["list_pages"] == 4 + 1
    assert [(h["would_send"], h["sent"], h["missing_seconds"]) for h in d["per_hour"]] == \
        [(30, 0, 3600 - 30), (1, 0, 3599)]
    assert "would send 31" in r.stderr
    assert queue_count(sqs, url) == 0

    # nothing for the hour: the dry run says so the way the real run would
    r = fanout(run_op, url, hour="2019-06-01T18", dry_run=True)
    assert r.code == 99, r
    assert r.data["would_send"] == 0
    # a missing queue is found by the dry run too
    r = fanout(run_op, url + "-gone", hour=HOUR, dry_run=True)
    assert r.code == 2 and r.error["field"] == "queue_url", r


def test_s3_event_bodies(aws, run_op):
    s3, sqs, url = aws
    keys = [key_of(0, s) for s in range(12)] + ["2019-06-01-15-0-59-a b+c.json"]
    put_keys(s3, keys)
    etags = {k: s3.head_object(Bucket=BUCKET, Key=k)["ETag"].strip('"') for k in keys}
    r = fanout(run_op, url, hour=HOUR, message_format="s3_event")
    assert r.code == 0, r
    assert r.data["message_format"] == "s3_event"
    seen = {}
    for body, frm, _ in drain(sqs, url):
        ev = json.loads(body)
        rec = ev["Records"][0]
        assert rec["eventSource"] == "aws:s3"
        assert rec["eventName"] == "ObjectCreated:Put"
        assert rec["awsRegion"] == moto_region()
        assert rec["s3"]["bucket"]["name"] == BUCKET
        assert rec["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{BUCKET}"
        obj = rec["s3"]["object"]
        seen[frm] = obj
    assert set(seen) == set(keys)
    for k, obj in seen.items():
        assert obj["size"] == 7
        assert obj["eTag"] == etags[k]
    # keys are form-encoded, as S3 notifications carry them
    assert seen["2019-06-01-15-0-59-a b+c.json"]["key"] == "2019-06-01-15-0-59-a+b%2Bc.json"
    assert seen[key_of(0, 1)]["key"] == key_of(0, 1)


def moto_region():
    import os
    return os.environ["AWS_REGION"]


def test_range_of_hours(aws, run_op):
    s3, sqs, url = aws
    keys = []
    for day, hour, n in [("2019-06-01", 22, 5), ("2019-06-01", 23, 7), ("2019-06-02", 0, 3),
                         ("2019-06-02", 1, 4)]:
        keys += [key_of(0, s, day=day, hour=hour) for s in range(n)]
    put_keys(s3, keys)
    # end exclusive: 22, 23 and 00 but not 01; offsets become UTC
    r = fanout(run_op, url, start="2019-06-02T00:00:00+02:00", end="2019-06-02T01:00:00Z")
    assert r.code == 0, r
    d = r.data
    assert d["hours"] == 3 and d["sent"] == 15 and d["empty_hours"] == 0
    assert [(h["hour"], h["sent"]) for h in d["per_hour"]] == [
        ("2019-06-01T22:00:00Z", 5), ("2019-06-01T23:00:00Z", 7), ("2019-06-02T00:00:00Z", 3)]
    assert d["start"] == "2019-06-01T22:00:00Z" and d["end"] == "2019-06-02T01:00:00Z"
    bodies = sorted(b for b, _, _ in drain(sqs, url))
    assert bodies == sorted(keys[:15])


def test_range_with_empty_hours_and_long_range_summary(aws, run_op):
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, 1, day="2019-06-03", hour=4)])
    # 30 days: the per-hour list keeps only hours with problems, capped
    r = fanout(run_op, url, start="2019-06-01", end="2019-07-01", empty="ok", concurrency=4)
    assert r.code == 0, r
    d = r.data
    assert d["hours"] == 720 and d["sent"] == 1 and d["empty_hours"] == 719
    assert len(d["per_hour"]) == 168 and d["per_hour_omitted"] == 720 - 168
    assert all(h["sent"] == 0 for h in d["per_hour"])
    assert queue_count(sqs, url) == 1


def test_empty_hour(aws, run_op):
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, 1, hour=14), "2019-06-01-15-summary.json"])
    r = fanout(run_op, url, hour=HOUR)
    assert r.code == 99, r
    assert r.ok is True and r.result["nothing_to_do"]
    assert r.data["sent"] == 0 and r.data["skipped"] == 1

    r = fanout(run_op, url, hour=HOUR, empty="fail")
    assert r.code == 1, r
    assert r.error["code"] == "NoObjects"

    r = fanout(run_op, url, hour=HOUR, empty="ok")
    assert r.code == 0, r
    assert r.data["empty_hours"] == 1
    assert queue_count(sqs, url) == 0


def test_custom_key_format(aws, run_op):
    s3, sqs, url = aws
    keys = [f"raw/dt=2019-06-01/hour=15/part-{i}.json" for i in range(25)]
    put_keys(s3, keys + ["raw/dt=2019-06-01/hour=16/part-0.json",
                         "raw/dt=2019-06-01/hour=15/"])
    r = fanout(run_op, url, prefix="raw/", hour="2019-06-01T15:00:00.000000+00:00",
               key_format="dt={YYYY}-{MM}-{DD}/hour={HH}/")
    assert r.code == 0, r
    assert r.data["sent"] == 25 and r.data["skipped"] == 1
    assert "missing_seconds" not in r.data
    assert sorted(b for b, _, _ in drain(sqs, url)) == sorted(keys)


def test_fifo_queue_rerun_does_not_double_send(aws, run_op):
    s3, sqs, _ = aws
    url = sqs.create_queue(QueueName="fanout.fifo",
                           Attributes={"FifoQueue": "true"})["QueueUrl"]
    keys = [key_of(0, s) for s in range(23)]
    put_keys(s3, keys)
    for _ in range(2):
        r = fanout(run_op, url, hour=HOUR)
        assert r.code == 0, r
        assert r.data["fifo"] is True and r.data["sent"] == 23
    got = drain(sqs, url, attrs=True)
    assert sorted(b for b, _, _ in got) == sorted(keys)
    groups = {a["MessageGroupId"] for _, _, a in got}
    dedups = {a["MessageDeduplicationId"] for _, _, a in got}
    assert len(groups) == len(dedups) == 23


def test_fifo_single_group(aws, run_op):
    s3, sqs, _ = aws
    url = sqs.create_queue(QueueName="one.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    put_keys(s3, [key_of(0, s) for s in range(5)])
    r = fanout(run_op, url, hour=HOUR, message_group_id="hourly")
    assert r.code == 0, r
    assert {a["MessageGroupId"] for _, _, a in drain(sqs, url, attrs=True)} == {"hourly"}


@pytest.mark.parametrize("fault", ["throttle", "500", "503", "drop"])
def test_faults_lose_nothing(aws, run_op, fault_proxy, fault):
    s3, sqs, url = aws
    keys = [key_of(m, s) for m in range(5) for s in range(60)]
    put_keys(s3, keys)
    fault_proxy.add_rule({"match": {"target": "AmazonSQS.SendMessageBatch"},
                          "skip": 3, "times": 6, "fault": fault})
    r = run_op("dw-fanout", "fanout",
               {"bucket": BUCKET, "queue_url": url, "hour": HOUR, "concurrency": 4,
                "max_attempts": 5}, env=fault_proxy.env)
    assert r.code == 0, r
    assert r.data["sent"] == 300 and r.data["failed"] == 0
    assert r.data["retries"] >= 1
    assert fault_proxy.stats()["faulted"] == 6
    bodies = [b for b, _, _ in drain(sqs, url)]
    assert sorted(bodies) == sorted(keys)


# Issue 12 #10: answers a hostile or broken server gives without sending
# anything.  The old fast path counted each as all ten sent (memmem for
# "Successful", an empty "Failed" and ten "Id"), losing the batch.
TEN_IDS = ",".join('{"Id":"%s"}' % i for i in "0123456789")
LYING_ANSWERS = {
    "duplicate-ids": '{"Successful":[' + ",".join('{"Id":"0"}' for _ in range(10)) + ']}',
    "unknown-ids": '{"Successful":[' + ",".join('{"Id":"x%d"}' % i for i in range(10)) + ']}',
    "cut": '{"Successful":[' + TEN_IDS,
    "second-failed": '{"Failed":[],"Successful":[],"Failed":[' + TEN_IDS + ']}',
    "ids-elsewhere": '{"Successful":[],"Failed":[],"Note":[' + TEN_IDS + ']}',
}


@pytest.mark.parametrize("name", sorted(LYING_ANSWERS))
def test_lying_answers_lose_nothing(aws, run_op, fault_proxy, name):
    s3, sqs, url = aws
    keys = [key_of(0, s) for s in range(40)]
    put_keys(s3, keys)
    fault_proxy.add_rule({"match": {"target": "AmazonSQS.SendMessageBatch"},
                          "skip": 1, "times": 2, "fault": "respond",
                          "body": LYING_ANSWERS[name]})
    r = run_op("dw-fanout", "fanout",
               {"bucket": BUCKET, "queue_url": url, "hour": HOUR, "concurrency": 2,
                "max_attempts": 4}, env=fault_proxy.env)
    assert r.code == 0, r
    assert fault_proxy.stats()["faulted"] == 2
    assert r.data["sent"] == 40 and r.data["failed"] == 0
    assert r.data["entry_retries"] == 20
    assert sorted(b for b, _, _ in drain(sqs, url)) == sorted(keys)


def test_persistent_throttling_reports_what_was_not_sent(aws, run_op, fault_proxy):
    s3, sqs, url = aws
    keys = [key_of(0, s) for s in range(30)]
    put_keys(s3, keys)
    # the second batch keeps failing: its 10 entries are reported
    fault_proxy.add_rule({"match": {"target": "AmazonSQS.SendMessageBatch",
                                    "body_contains": "15-0-15-events"},
                          "fault": "throttle"})
    r = run_op("dw-fanout", "fanout",
               {"bucket": BUCKET, "queue_url": url, "hour": HOUR, "concurrency": 1,
                "max_attempts": 2}, env=fault_proxy.env)
    assert r.code == 75, r
    assert r.ok is False and r.error["code"] == "SendFailed"
    assert r.data["sent"] == 20 and r.data["failed"] == 10
    failed = {f["key"] for f in r.data["failures"]}
    assert len(failed) == 10 and key_of(0, 15) in failed
    assert {f["code"] for f in r.data["failures"]} == {"ThrottlingException"}
    assert set(b for b, _, _ in drain(sqs, url)) == set(keys) - failed


# Entries in a SendMessageBatch answer's Failed list (re-sent when SQS's
# fault, reported when the sender's): moto answers every batch entry as
# successful, so how dw-fanout reads each entry of an answer is tested in
# tests/unit/test_sqs.c (test_batch_verdicts); whole calls that fail are
# tested above through the fault proxy.


BAD = [
    ({"hour": "2019-06-01T25"}, "hour"),
    ({"hour": "yesterday"}, "hour"),
    ({"hour": "2019-02-30T01"}, "hour"),
    ({"start": "2019-06-01T15", "end": "2019-06-01T14"}, "end"),
    ({"start": "2019-06-01T15", "end": "2019-06-01T15"}, "end"),
    ({"start": "2019-06-01T15"}, "end"),
    ({"hour": HOUR, "start": "2019-06-01T15", "end": "2019-06-01T16"}, "start"),
    ({}, "hour"),
    ({"hour": HOUR, "bogus": 1}, "bogus"),
    ({"hour": HOUR, "concurrency": "8"}, "concurrency"),
    ({"hour": HOUR, "concurrency": 0}, "concurrency"),
    ({"hour": HOUR, "message_format": "xml"}, "message_format"),
    ({"hour": HOUR, "empty": "maybe"}, "empty"),
    ({"hour": HOUR, "key_format": "{YYYY}-{MM}-{DD}"}, "key_format"),
    ({"hour": HOUR, "key_format": "{YYYY}-{MM}-{DD}-{m}-{HH}"}, "key_format"),
    ({"hour": HOUR, "key_format": "{YYYY}-{MM}-{DD}-{HH}-{minute}"}, "key_format"),
    ({"hour": HOUR, "queue_url": "fanout"}, "queue_url"),
    ({"hour": HOUR, "message_group_id": "two words"}, "message_group_id"),
    ({"hour": HOUR, "page_size": 1001}, "page_size"),
    ({"hour": HOUR, "queue_url": None}, "queue_url"),
    ({"hour": HOUR, "bucket": None}, "bucket"),
]


@pytest.mark.parametrize("extra,field", BAD)
def test_bad_requests_change_nothing(aws, run_op, extra, field):
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, s) for s in range(3)])
    req = {"bucket": BUCKET, "queue_url": url}
    req.update(extra)
    req = {k: v for k, v in req.items() if v is not None}
    r = run_op("dw-fanout", "fanout", req)
    assert r.code == 2, r
    assert r.ok is False and r.error["field"] == field, r
    assert r.error["message"]
    assert queue_count(sqs, url) == 0


def test_missing_queue_and_bucket(aws, run_op):
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, 1)])
    r = fanout(run_op, url.replace("fanout", "nope"), hour=HOUR)
    assert r.code == 2, r
    assert r.error["field"] == "queue_url" and "does not exist" in r.error["message"]
    r = run_op("dw-fanout", "fanout", {"bucket": "no-such-bucket", "queue_url": url,
                                       "hour": HOUR})
    assert r.code == 2, r
    assert r.error["field"] == "bucket" and r.error["code"] == "NoSuchBucket"
    assert queue_count(sqs, url) == 0


@pytest.mark.parametrize("stdin,field", [
    ('{"bucket": "events", "hour": ', None),
    ('["not", "an", "object"]', None),
    ('{"action": "fanout", "bucket": "events", "hour": "2019-06-01T15", '
     '"queue_url": "%s", "buckett": "x"}', "buckett"),
    ('{"action": "fanout", "bucket": 7, "hour": "2019-06-01T15", "queue_url": "%s"}', "bucket"),
    ('{"action": "fanout", "bucket": "events", "hour": "2019-06-01T15", '
     '"queue_url": "%s", "max_attempts": "3"}', "max_attempts"),
])
def test_protocol_rejects_malformed_requests(aws, run_op, stdin, field):
    """Issue #2: bad JSON, unknown fields and wrong types exit 2 with ok:false
    on the last stdout line, and nothing is sent."""
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, 1)])
    r = run_op("dw-fanout", stdin=stdin.replace("%s", url), args=["fanout"])
    assert r.code == 2, r
    last = r.stdout.strip().splitlines()[-1]
    doc = json.loads(last)
    assert doc["ok"] is False and doc["operator"] == "dw-fanout"
    assert doc["error"]["message"] and doc["error"]["field"] == field
    assert queue_count(sqs, url) == 0


def test_single_action_runs_when_none_is_given(aws, run_op):
    """dw-fanout has one action: a request naming none runs it; the
    result names it (the README's protocol example shows this line)."""
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, 1)])
    r = run_op("dw-fanout", request={"bucket": BUCKET, "hour": HOUR, "queue_url": url})
    assert r.code == 0, r
    assert r.result["action"] == "fanout" and r.data["sent"] == 1, r
    assert queue_count(sqs, url) == 1
    # An action that does not exist is still refused, naming the real one.
    r = run_op("dw-fanout", "run", {"bucket": BUCKET, "hour": HOUR, "queue_url": url})
    assert r.code == 2 and r.error["field"] == "action", r
    assert "one of: fanout" in r.error["message"]
    # An operator with several actions does not guess.
    r = run_op("dw-snapshot", request={"owner": "jane"})
    assert r.code == 2 and r.error["field"] == "action", r
    assert "no action given" in r.error["message"]


def test_request_file_and_help(aws, run_op, tmp_path):
    s3, sqs, url = aws
    put_keys(s3, [key_of(0, 1)])
    f = tmp_path / "req.json"
    f.write_text(json.dumps({"action": "fanout", "bucket": BUCKET, "hour": HOUR,
                             "queue_url": url}))
    r = run_op("dw-fanout", args=["--request", str(f)])
    assert r.code == 0 and r.data["sent"] == 1, r
    r = run_op("dw-fanout", args=["--help"])
    assert r.code == 0 and "key_format" in r.stdout


EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples" / "dw-fanout").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_requests_are_accepted(moto, run_op, path):
    req = json.loads(path.read_text())
    region = req.get("region")
    s3 = moto.client("s3", region_name=region) if region else moto.client("s3")
    kw = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region else {}
    s3.create_bucket(Bucket=req["bucket"], **kw)
    sqs = moto.client("sqs", region_name=region) if region else moto.client("sqs")
    name = req["queue_url"].rsplit("/", 1)[1]
    sqs.create_queue(QueueName=name, **({"Attributes": {"FifoQueue": "true"}}
                                        if name.endswith(".fifo") else {}))
    r = run_op("dw-fanout", args=["--request", str(path)])
    # a valid request, against a bucket without files
    assert r.code in (0, 1, 99), r
    assert r.code != 1 or r.error["code"] == "NoObjects", r
    assert r.data["sent"] == 0
