"""dw-etl against moto's S3 and SQS: event files into Avro partitions, every
output read back with fastavro and Apache avro, paths checked the way the
lake's Snowflake table reads them (SPLIT_PART), the SQS worker (deletes,
redelivery, dead-letter queue, redrive, faults, several workers) and the
request checks."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import avro.datafile
import avro.io
import fastavro
import pytest

from conftest import BIN, REPO

SRC = "events"
LAKE = "lake"
UTC = dt.timezone.utc


# ---------------------------------------------------------------- the data ---

def vehicle(i: int, sec: int, **over) -> dict:
    r = {"event": "vehicle_moved", "on": "vehicle", "at": f"2019-06-01T15:00:{sec % 60:02d}.{i % 1000:03d}Z",
         "organization_id": 1000 + i,
         "data": {"id": f"veh-{i}", "location": {"lat": 52.520008 + i / 1e6, "lng": 13.404954 - i / 1e6,
                                                  "at": "2019-06-01T14:59:00Z"}}}
    r.update(over)
    return r


def period(i: int) -> dict:
    return {"event": "operating_period_started", "on": "operating_period", "at": "2019-06-01T15:01:00Z",
            "organization_id": 7, "data": {"id": f"op-{i}", "start": "2019-06-01T15:00:00Z",
                                           "finish": None if i % 2 else "2019-06-01T16:30:00.500Z"}}


def ts(text):
    if text is None:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def expected_vehicle(r: dict) -> dict:
    d = r.get("data") or {}
    loc = d.get("location") or {}
    return {"event": r.get("event"), "on": r.get("on"), "at": ts(r.get("at") or loc.get("at")),
            "organization_id": r.get("organization_id"), "id": d.get("id"),
            "lat": loc.get("lat"), "lng": loc.get("lng")}


def expected_period(r: dict) -> dict:
    d = r.get("data") or {}
    return {"event": r.get("event"), "on": r.get("on"), "at": ts(r.get("at")),
            "organization_id": r.get("organization_id"), "id": d.get("id"),
            "start": ts(d.get("start")), "finish": ts(d.get("finish"))}


EXPECT = {"vehicle": expected_vehicle, "operating_period": expected_period}


def lines(records, bad=()) -> bytes:
    out = [json.dumps(r) for r in records] + list(bad)
    return ("\n".join(out) + "\n").encode()


def key_of(minute: int, second: int, hour: int = 15, folder: str = "incoming/") -> str:
    return f"{folder}2019-06-01-{hour:02d}-{minute}-{second}-events.json"


def out_key(on: str, src_key: str, prefix: str = "demo") -> str:
    base = src_key.rsplit("/", 1)[1].rsplit(".", 1)[0]
    return f"{prefix}/{on}/2019/06/01/{base}.avro"


# ----------------------------------------------------------------- helpers ---

@pytest.fixture
def aws(moto):
    s3, sqs = moto.client("s3"), moto.client("sqs")
    s3.create_bucket(Bucket=SRC)
    s3.create_bucket(Bucket=LAKE)
    return s3, sqs


def put(s3, files: dict):
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=SRC, Key=kv[0], Body=kv[1]), files.items()))


def lake_objects(s3, prefix=""):
    keys, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=LAKE, Prefix=prefix, **kw)
        keys += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return sorted(keys)
        token = r["NextContinuationToken"]


def read_both(data: bytes):
    """Records by fastavro and by Apache avro (which must agree), and the schema."""
    fr = fastavro.reader(io.BytesIO(data))
    schema = json.loads(fr.metadata["avro.schema"])
    fast = list(fr)
    with avro.datafile.DataFileReader(io.BytesIO(data), avro.io.DatumReader()) as r:
        slow = [{k: (v.astimezone(UTC) if isinstance(v, dt.datetime) else v) for k, v in rec.items()}
                for rec in r]
    assert fast == slow
    return schema, fast


def snowflake_partitions(key: str):
    """on_part and date_part as the lake's table computes them:
    SPLIT_PART(METADATA$FILENAME, '/', 2) and the first 10 characters of part 6."""
    parts = key.split("/")
    assert len(parts) == 6, key
    return parts[1], dt.date.fromisoformat(parts[5][:10])


def etl(run_op, action, env=None, timeout=120, **req):
    base = {"dest_bucket": LAKE}
    base.update(req)
    return run_op("dw-etl", action, base, env=env, timeout=timeout)


def make_queue(sqs, name, visibility=30, dlq_after=None):
    attrs = {"VisibilityTimeout": str(visibility)}
    dlq_url = None
    if dlq_after:
        dlq_url = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(dlq_after)})
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    return url, dlq_url


def send(sqs, url, bodies):
    for i in range(0, len(bodies), 10):
        r = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(k), "MessageBody": b} for k, b in enumerate(bodies[i:i + 10])])
        assert len(r.get("Successful", [])) == len(bodies[i:i + 10])


def queue_count(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in a.values())


def s3_event(key: str, bucket: str = SRC) -> str:
    enc = key.replace("%", "%25").replace("+", "%2B").replace(" ", "+")
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2019-06-01T15:00:01.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": enc, "size": 1, "eTag": "x"}}}]})


# ------------------------------------------------------------------ an hour ---

def hour_files():
    """An hour with mixed kinds, an unknown kind, bad lines, a file of bad
    lines only, and (as keys, not files) a file that is missing."""
    files, expect = {}, {}
    for n in range(6):
        k = key_of(n, 7 * n)
        recs = [vehicle(10 * n + i, i) for i in range(5)] + [period(n)]
        if n == 1:
            recs.append({"event": "honk", "on": "horn", "at": "2019-06-01T15:01:00Z"})
        if n == 2:  # data.location.at stands in for a missing top-level at
            recs.append(vehicle(99, 9, at=None))
        bad = ["not json", "[1, 2, 3]", '{"on": "vehicle", '] if n == 3 else []
        files[k] = lines(recs, bad)
        for r in recs:
            if r["on"] in EXPECT:
                expect.setdefault((r["on"], k), []).append(EXPECT[r["on"]](r))
    files[key_of(50, 0)] = b"garbage\nmore garbage\n"
    files["incoming/2019-06-01-15-summary.json"] = lines([vehicle(0, 0)])  # not an event file
    files[key_of(0, 1, hour=16)] = lines([vehicle(0, 0)])                   # next hour
    return files, expect


def check_lake(s3, expect):
    keys = lake_objects(s3)
    assert keys == sorted(out_key(on, k) for on, k in expect)
    for (on, k), recs in expect.items():
        key = out_key(on, k)
        assert snowflake_partitions(key) == (on, dt.date(2019, 6, 1))
        data = s3.get_object(Bucket=LAKE, Key=key)["Body"].read()
        schema, got = read_both(data)
        assert schema["name"] == on
        assert got == recs, key
        types = {f["name"]: f["type"] for f in schema["fields"]}
        assert types["at"] == ["null", {"type": "long", "logicalType": "timestamp-millis"}]
        if on == "vehicle":
            assert types["lat"] == ["null", "double"] and types["lng"] == ["null", "double"]
    return keys


def test_process_hour(aws, run_op):
    s3, _ = aws
    files, expect = hour_files()
    put(s3, files)
    r = etl(run_op, "process", bucket=SRC, prefix="incoming/", hour="2019-06-01T15", concurrency=3)
    assert r.code == 1, r  # the all-bad file fails
    d = r.data
    assert d["hours"] == 1 and d["files"] == 7 and d["skipped"] == 1
    assert d["failed_files"] == 1 and d["failures"][0]["code"] == "AllLinesBad"
    assert d["failures"][0]["key"] == key_of(50, 0)
    assert d["bad_lines"] == 3 + 2 and d["unknown"] == {"horn": 1}
    assert d["per_on"]["vehicle"] == {"records": 31, "objects": 6}
    assert d["per_on"]["operating_period"] == {"records": 6, "objects": 6}
    assert d["records"] == 31 + 6 + 1
    check_lake(s3, expect)


def test_process_keys_missing_file_and_options(aws, run_op):
    s3, _ = aws
    k = key_of(3, 3)
    put(s3, {k: lines([vehicle(1, 1), {"on": "horn", "raw": "é"}, period(2)])})
    r = etl(run_op, "process", bucket=SRC, keys=[k, key_of(9, 9)], unknown="folder",
            codec="snappy", dest_prefix="lake2")
    assert r.code == 0, r
    assert r.data["files"] == 2 and r.data["missing_files"] == 1
    keys = lake_objects(s3)
    assert keys == sorted([out_key(on, k, "lake2") for on in ("vehicle", "operating_period", "_unknown")])
    schema, recs = read_both(s3.get_object(Bucket=LAKE, Key=out_key("_unknown", k, "lake2"))["Body"].read())
    assert [r["on"] for r in recs] == ["horn"] and json.loads(recs[0]["record"]) == {"on": "horn", "raw": "é"}
    data = s3.get_object(Bucket=LAKE, Key=out_key("vehicle", k, "lake2"))["Body"].read()
    assert fastavro.reader(io.BytesIO(data)).metadata["avro.codec"] == "snappy"
    # unknown: fail fails the file
    r = etl(run_op, "process", bucket=SRC, keys=[k], unknown="fail")
    assert r.code == 1 and r.data["failures"][0]["code"] == "UnknownKind", r


def test_large_file_streamed_in_ranges(aws, run_op):
    """A file of many ranges (64 KiB each here): lines cross the range
    boundaries, and every record arrives once."""
    s3, _ = aws
    recs = [vehicle(i, i) for i in range(6000)]
    k = key_of(1, 1)
    put(s3, {k: lines(recs)})
    r = etl(run_op, "process", bucket=SRC, keys=[k], read_chunk_bytes=65536)
    assert r.code == 0, r
    assert r.data["bytes_read"] > 10 * 65536 and r.data["records"] == 6000
    _, got = read_both(s3.get_object(Bucket=LAKE, Key=out_key("vehicle", k))["Body"].read())
    assert got == [expected_vehicle(x) for x in recs]


# ----------------------------------------------------------------- consume ---

def test_consume_formats_redelivery_identical(aws, run_op):
    s3, sqs = aws
    url, _ = make_queue(sqs, "etl-consume")
    a, b, c = key_of(1, 1), key_of(2, 2), "incoming/2019-06-01-15-3-3 with space+plus.json"
    put(s3, {a: lines([vehicle(1, 1)]), b: lines([period(1)]), c: lines([vehicle(2, 2), period(3)])})
    send(sqs, url, [a, s3_event(b), s3_event(c), key_of(4, 4),
                    json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": SRC})])
    r = etl(run_op, "consume", queue_url=url, bucket=SRC, idle_exit_s=2, wait_s=1, concurrency=2)
    assert r.code == 0, r
    d = r.data
    assert d["received"] == 5 and d["processed"] == 5 and d["deleted"] == 5 and d["failed"] == 0
    assert d["test_events"] == 1 and d["missing_files"] == 1 and d["stopped"] == "idle"
    assert "warning" in d  # no redrive policy
    assert queue_count(sqs, url) == 0
    keys = lake_objects(s3)
    assert keys == sorted([out_key("vehicle", a), out_key("operating_period", b),
                           out_key("vehicle", c), out_key("operating_period", c)])
    before = {k: s3.get_object(Bucket=LAKE, Key=k)["Body"].read() for k in keys}
    # redelivered: the same objects, byte for byte
    send(sqs, url, [a, s3_event(c)])
    r = etl(run_op, "consume", queue_url=url, bucket=SRC, idle_exit_s=1, wait_s=1)
    assert r.code == 0 and r.data["processed"] == 2, r
    after = {k: s3.get_object(Bucket=LAKE, Key=k)["Body"].read() for k in keys}
    assert after == before
    # an empty queue: nothing to do
    r = etl(run_op, "consume", queue_url=url, bucket=SRC, idle_exit_s=1, wait_s=1)
    assert r.code == 99 and r.data["received"] == 0, r


def test_dlq_after_max_receive_count_and_redrive(aws, run_op):
    s3, sqs = aws
    url, dlq = make_queue(sqs, "etl-dlq", visibility=1, dlq_after=2)
    good, poison = key_of(1, 1), key_of(2, 2)
    put(s3, {good: lines([vehicle(1, 1)]), poison: b"nope\n"})
    send(sqs, url, [good, poison])
    r = etl(run_op, "consume", queue_url=url, bucket=SRC, idle_exit_s=4, wait_s=1)
    assert r.code == 1, r
    assert r.error["code"] == "MessagesFailed"
    assert r.data["processed"] == 1 and r.data["failed"] >= 2  # the poison message, twice
    assert r.data["dead_letter_queue"].endswith(":etl-dlq-dlq")
    assert queue_count(sqs, dlq) == 1 and queue_count(sqs, url) == 0
    # fixed at the source, then redriven back and processed
    s3.put_object(Bucket=SRC, Key=poison, Body=lines([period(5)]))
    r = run_op("dw-etl", "redrive", {"queue_url": url})
    assert r.code == 0 and r.data["moved"] == 1 and r.data["dlq_url"] == dlq, r
    assert queue_count(sqs, dlq) == 0
    r = run_op("dw-etl", "redrive", {"queue_url": url, "dlq_url": dlq})
    assert r.code == 99, r
    r = etl(run_op, "consume", queue_url=url, bucket=SRC, idle_exit_s=1, wait_s=1)
    assert r.code == 0 and r.data["processed"] == 1, r
    assert out_key("operating_period", poison) in lake_objects(s3)


def test_redrive_is_bounded(aws, run_op):
    s3, sqs = aws
    url, dlq = make_queue(sqs, "etl-bound", dlq_after=1)
    send(sqs, dlq, [f"k{i}" for i in range(25)])
    r = run_op("dw-etl", "redrive", {"queue_url": url, "max_messages": 12})
    assert r.code == 0 and r.data["moved"] == 12 and r.data["limit_reached"] is True, r
    assert queue_count(sqs, url) == 12 and queue_count(sqs, dlq) == 13


@pytest.mark.parametrize("fault", ["throttle", "500"])
def test_faults_lose_nothing(aws, run_op, fault_proxy, fault):
    s3, sqs = aws
    url, _ = make_queue(sqs, "etl-faults", visibility=2)
    keys = [key_of(0, s) for s in range(12)]
    put(s3, {k: lines([vehicle(i, i), period(i)]) for i, k in enumerate(keys)})
    send(sqs, url, keys)
    fault_proxy.set_rules([
        {"match": {"method": "GET", "path_prefix": f"/{SRC}/"}, "skip": 2, "times": 4, "fault": fault},
        {"match": {"method": "PUT", "path_prefix": f"/{LAKE}/"}, "skip": 3, "times": 4, "fault": fault},
        {"match": {"target": "AmazonSQS.ReceiveMessage"}, "skip": 1, "times": 2, "fault": fault},
        {"match": {"target": "AmazonSQS.DeleteMessageBatch"}, "times": 1, "fault": fault},
    ])
    r = etl(run_op, "consume", queue_url=url, bucket=SRC, idle_exit_s=3, wait_s=1, concurrency=3,
            max_attempts=4, env=fault_proxy.env)
    # A file whose reads failed past max_attempts fails its message for now
    # (temporarily: exit 75); it is delivered again and done in the same run.
    assert r.code == (75 if r.data["failed"] else 0), r
    assert r.data["processed"] == 12 and r.data["received"] == 12 + r.data["failed"]
    assert fault_proxy.stats()["faulted"] == 11
    assert queue_count(sqs, url) == 0
    assert lake_objects(s3) == sorted(out_key(on, k) for k in keys for on in ("vehicle", "operating_period"))


def test_several_workers_every_file_once(aws, run_op, bench):
    s3, sqs = aws
    url, _ = make_queue(sqs, "etl-workers", visibility=30)
    keys = [key_of(m, s) for m in range(2) for s in range(20)]
    put(s3, {k: lines([vehicle(i, i)]) for i, k in enumerate(keys)})
    send(sqs, url, keys)
    req = json.dumps({"queue_url": url, "bucket": SRC, "dest_bucket": LAKE, "idle_exit_s": 3,
                      "wait_s": 1, "concurrency": 2})
    procs = [subprocess.Popen([str(BIN / "dw-etl"), "consume"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(req, timeout=120) for p in procs]
    results = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert all(p.returncode in (0, 99) for p in procs), outs
    processed = sum(r["result"]["processed"] for r in results)
    assert processed == len(keys)  # none twice
    assert sum(r["result"]["records"] for r in results) == len(keys)
    assert lake_objects(s3) == sorted(out_key("vehicle", k) for k in keys)
    assert queue_count(sqs, url) == 0


def test_visibility_extended_while_working(aws, run_op, fault_proxy):
    """A file that takes longer than the visibility timeout (a slow GET) is
    not delivered twice: its visibility is extended meanwhile."""
    s3, sqs = aws
    url, _ = make_queue(sqs, "etl-slow", visibility=2)
    k = key_of(5, 5)
    put(s3, {k: lines([vehicle(1, 1)])})
    send(sqs, url, [k])
    fault_proxy.set_rules([{"match": {"method": "GET", "path_prefix": f"/{SRC}/"}, "times": 1,
                            "fault": "slow", "delay_ms": 5000}])
    r = etl(run_op, "consume", queue_url=url, bucket=SRC, idle_exit_s=3, wait_s=1, concurrency=2,
            env=fault_proxy.env)
    assert r.code == 0, r
    assert r.data["received"] == 1 and r.data["processed"] == 1
    assert r.data["visibility_extensions"] >= 2


# ---------------------------------------------------------------- requests ---

@pytest.mark.parametrize("req,field", [
    ({"bucket": SRC, "keys": ["a"], "dest_bucket": LAKE, "typo": 1}, "typo"),
    ({"bucket": SRC, "keys": ["a"], "dest_bucket": LAKE, "unknown": "drop"}, "unknown"),
    ({"bucket": SRC, "keys": ["a"], "dest_bucket": LAKE, "key_format": "{prefix}/{YYYY}/{name}"}, "key_format"),
    ({"bucket": SRC, "keys": ["a"], "dest_bucket": LAKE, "mapping": {"v": [{"name": "x", "type": "text"}]}},
     "mapping.v[0].type"),
    ({"bucket": SRC, "keys": ["a"], "hour": "2019-06-01T15", "dest_bucket": LAKE}, "keys"),
    ({"bucket": SRC, "dest_bucket": LAKE}, "hour"),
    ({"bucket": SRC, "hour": "yesterday", "dest_bucket": LAKE}, "hour"),
    ({"bucket": SRC, "keys": ["a"], "dest_bucket": LAKE, "concurrency": 0}, "concurrency"),
    ({"bucket": SRC, "keys": ["a"], "dest_bucket": LAKE, "codec": "zstd"}, "codec"),
])
def test_rejected_before_anything(moto, run_op, req, field):
    r = run_op("dw-etl", "process", req)
    assert r.code == 2, r
    assert r.error["field"] == field, r.error


def test_consume_rejects_missing_queue(aws, run_op):
    r = etl(run_op, "consume", queue_url="http://127.0.0.1:1/123456789012/none", bucket=SRC,
            max_attempts=1)
    assert r.code in (2, 75), r
    r = etl(run_op, "consume", queue_url="ftp://x", bucket=SRC)
    assert r.code == 2 and r.error["field"] == "queue_url", r


EXAMPLES = sorted((REPO / "examples" / "dw-etl").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_requests_are_accepted(aws, run_op, path):
    """Every example is a valid request (against empty buckets and queues)."""
    req = json.loads(path.read_text())
    s3, sqs = aws
    for b in (req.get("bucket"), req.get("dest_bucket")):
        if b and b not in (SRC, LAKE):
            s3.create_bucket(Bucket=b)
    for f in ("queue_url", "dlq_url"):
        if req.get(f):
            sqs.create_queue(QueueName=req[f].rsplit("/", 1)[1])
    env = {"AWS_LAMBDA_RUNTIME_API": None}
    if req.get("action") == "lambda":
        pytest.skip("lambda runs under the Runtime Interface Emulator (test_etl_lambda.py)")
    if req.get("action") == "consume":
        req.update(idle_exit_s=1, wait_s=1)  # an example waits like a real worker
    r = run_op("dw-etl", None, req, env=env)
    assert r.code in (0, 99), r


def test_kill_9_then_rerun_finishes(aws, run_op, fault_proxy, tmp_path):
    """Killed while writing (some objects written, messages undeleted), a
    re-run finishes the job: every object, identical records, empty queue."""
    s3, sqs = aws
    url, _ = make_queue(sqs, "etl-kill", visibility=2)
    keys = [key_of(7, s) for s in range(6)]
    put(s3, {k: lines([vehicle(i, i), period(i)]) for i, k in enumerate(keys)})
    send(sqs, url, keys)
    fault_proxy.set_rules([{"match": {"method": "PUT", "path_prefix": f"/{LAKE}/"}, "skip": 3,
                            "fault": "slow", "delay_ms": 4000}])
    req = json.dumps({"queue_url": url, "bucket": SRC, "dest_bucket": LAKE, "idle_exit_s": 30,
                      "wait_s": 1, "concurrency": 2})
    env = dict(__import__("os").environ, **{k: v for k, v in fault_proxy.env.items() if v is not None})
    p = subprocess.Popen([str(BIN / "dw-etl"), "consume"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True)
    p.stdin.write(req)
    p.stdin.close()
    deadline = time.time() + 30
    while time.time() < deadline and len(lake_objects(s3)) < 3:
        time.sleep(0.1)
    p.kill()
    p.wait()
    written = lake_objects(s3)
    assert 3 <= len(written) < 12
    fault_proxy.clear()
    time.sleep(2.5)  # the killed worker's messages become visible again
    r = etl(run_op, "consume", queue_url=url, bucket=SRC, idle_exit_s=3, wait_s=1)
    assert r.code == 0, r
    assert queue_count(sqs, url) == 0
    assert lake_objects(s3) == sorted(out_key(on, k) for k in keys for on in ("vehicle", "operating_period"))
    for i, k in enumerate(keys):
        _, got = read_both(s3.get_object(Bucket=LAKE, Key=out_key("vehicle", k))["Body"].read())
        assert got == [expected_vehicle(vehicle(i, i))]


def test_redrive_fifo_keeps_groups_and_dedup_ids(aws, run_op):
    s3, sqs = aws
    dlq = sqs.create_queue(QueueName="etl-fifo-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="etl-fifo.fifo", Attributes={
        "FifoQueue": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"})})["QueueUrl"]
    sent = [(f"g{i % 3}", f"d-{i}", f"incoming/k{i}") for i in range(14)]
    for g, d, body in sent:
        sqs.send_message(QueueUrl=dlq, MessageBody=body, MessageGroupId=g, MessageDeduplicationId=d)
    r = run_op("dw-etl", "redrive", {"queue_url": url})
    assert r.code == 0 and r.data["moved"] == 14 and r.data["failed"] == 0, r
    assert queue_count(sqs, dlq) == 0
    got = []
    while True:
        m = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"])
        msgs = m.get("Messages", [])
        if not msgs:
            break
        for x in msgs:
            got.append((x["Attributes"]["MessageGroupId"], x["Attributes"]["MessageDeduplicationId"],
                        x["Body"]))
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": x["ReceiptHandle"]} for i, x in enumerate(msgs)])
    assert sorted(got) == sorted(sent)
    for g in ("g0", "g1", "g2"):   # each group in its order
        assert [b for gg, _, b in got if gg == g] == [b for gg, _, b in sent if gg == g]
    # a FIFO queue with a standard dead-letter queue (or the reverse) is refused
    std = sqs.create_queue(QueueName="etl-std-dlq")["QueueUrl"]
    r = run_op("dw-etl", "redrive", {"queue_url": url, "dlq_url": std})
    assert r.code == 2 and r.error["field"] == "dlq_url", r
