"""dw-etl streams large outputs with S3 multipart uploads (moto): an output
past part_mb goes up in parts while the file is still being read, the object
is byte for byte the one a single PUT writes (and the same on every run), and
a part that fails aborts the upload, so no parts are left stored; one left
open by a kill -9 is aborted by the re-run."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import time

import fastavro

from conftest import BIN
from test_etl import LAKE, SRC, aws, lake_objects  # noqa: F401

MAPPING = {"blob": [{"name": "id", "type": "string"}, {"name": "n", "type": "bigint"},
                    {"name": "note", "type": "string", "path": "data.note"}]}
KEY = "incoming/2019-06-01-15-0-0-events.json"
RECORDS = 14000   # ~14 MiB of Avro with codec null: 2-3 parts of 5 MiB


def big_file() -> bytes:
    rnd = random.Random(14)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    out = []
    for i in range(RECORDS):
        note = "".join(rnd.choices(alphabet, k=1000))
        out.append(json.dumps({"on": "blob", "id": f"b-{i}", "n": i, "data": {"note": note}}))
    return ("\n".join(out) + "\n").encode()


def run(run_op, env=None, **over):
    req = {"bucket": SRC, "keys": [KEY], "dest_bucket": LAKE, "mapping": MAPPING, "codec": "null",
           "read_chunk_bytes": 1 << 20, "part_mb": 5}
    req.update(over)
    return run_op("dw-etl", "process", req, env=env, timeout=180)


def open_uploads(s3) -> list:
    return s3.list_multipart_uploads(Bucket=LAKE).get("Uploads", [])


def test_large_output_streams_in_parts(aws, run_op):
    s3, _ = aws
    s3.put_object(Bucket=SRC, Key=KEY, Body=big_file())
    r = run(run_op)
    assert r.code == 0, r
    key = "demo/blob/2019/06/01/2019-06-01-15-0-0-events.avro"
    parts = r.data["parts_uploaded"]
    assert r.data["multipart_objects"] == 1 and parts >= 2, r.data
    head = s3.head_object(Bucket=LAKE, Key=key)
    assert head["ETag"].strip('"').endswith(f"-{parts}") and head["ContentType"] == "avro/binary"
    assert r.data["bytes_written"] == head["ContentLength"] > 10 << 20
    streamed = s3.get_object(Bucket=LAKE, Key=key)["Body"].read()
    # The same file written with one PUT (parts larger than the output):
    # the same bytes.
    r = run(run_op, part_mb=1024, dest_prefix="single")
    assert r.code == 0 and r.data["multipart_objects"] == 0 and r.data["parts_uploaded"] == 0, r
    single = s3.get_object(Bucket=LAKE, Key=key.replace("demo/", "single/", 1))
    assert not single["ETag"].strip('"').count("-")
    assert single["Body"].read() == streamed
    recs = list(fastavro.reader(io.BytesIO(streamed)))
    assert len(recs) == RECORDS and recs[0]["id"] == "b-0" and recs[-1]["n"] == RECORDS - 1
    assert all(len(x["note"]) == 1000 for x in recs)
    # a redelivery rewrites the identical object, in the same parts
    r = run(run_op)
    assert r.code == 0 and r.data["parts_uploaded"] == parts, r
    assert s3.get_object(Bucket=LAKE, Key=key)["Body"].read() == streamed
    assert open_uploads(s3) == []


def test_failed_part_aborts_the_upload(aws, run_op, fault_proxy):
    s3, _ = aws
    s3.put_object(Bucket=SRC, Key=KEY, Body=big_file())
    # the first part goes through, the second is refused (not retryable)
    fault_proxy.set_rules([{"match": {"method": "PUT", "path_prefix": f"/{LAKE}/"}, "skip": 1,
                            "fault": "error", "status": 403, "code": "AccessDenied",
                            "message": "no more parts"}])
    r = run(run_op, env=fault_proxy.env)
    assert r.code == 1, r
    assert r.data["failed_files"] == 1 and r.data["objects_written"] == 0
    assert r.data["failures"][0]["code"] == "AccessDenied", r.data
    stats = fault_proxy.stats()
    assert stats["faulted"] == 1, stats
    assert open_uploads(s3) == []          # aborted: no part left stored
    assert lake_objects(s3) == []
    fault_proxy.clear()
    r = run(run_op)                        # a re-run finishes the job
    assert r.code == 0 and r.data["multipart_objects"] == 1, r
    assert open_uploads(s3) == []


def test_kill_9_midway_then_rerun_aborts_the_left_upload(aws, run_op, fault_proxy):
    """Killed while its second part is on the way, a worker leaves an open
    upload (part 1 stored, billed); the re-run of the file aborts it before
    starting its own, and writes the same object."""
    s3, _ = aws
    s3.put_object(Bucket=SRC, Key=KEY, Body=big_file())
    fault_proxy.set_rules([{"match": {"method": "PUT", "path_prefix": f"/{LAKE}/"}, "skip": 1,
                            "times": 1, "fault": "slow", "delay_ms": 20000}])
    req = {"bucket": SRC, "keys": [KEY], "dest_bucket": LAKE, "mapping": MAPPING, "codec": "null",
           "read_chunk_bytes": 1 << 20, "part_mb": 5}
    env = dict(os.environ, **fault_proxy.env)
    proc = subprocess.Popen([str(BIN / "dw-etl"), "process"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    proc.stdin.write(json.dumps(req).encode())
    proc.stdin.close()
    deadline = time.monotonic() + 60
    while fault_proxy.stats()["rules"][0]["seen"] < 2:   # part 2 is being held
        assert proc.poll() is None and time.monotonic() < deadline, "part 2 never came"
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    left = open_uploads(s3)
    assert len(left) == 1 and lake_objects(s3) == [], left
    fault_proxy.clear()
    r = run(run_op)
    assert r.code == 0 and r.data["stale_uploads_aborted"] == 1 and r.data["multipart_objects"] == 1, r
    assert open_uploads(s3) == []
    key = "demo/blob/2019/06/01/2019-06-01-15-0-0-events.avro"
    streamed = s3.get_object(Bucket=LAKE, Key=key)["Body"].read()
    r = run(run_op, part_mb=1024, dest_prefix="single")
    assert r.code == 0, r
    assert s3.get_object(Bucket=LAKE, Key=key.replace("demo/", "single/", 1))["Body"].read() == streamed
