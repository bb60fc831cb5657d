"""dw-etl compact against moto's S3: small Avro files (written and read back
with fastavro) merged per partition folder, records identical, crash-safe
under kill -9, and waiting for a reader's dw-lock read lease."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter

import fastavro
import pytest

from conftest import BIN

BUCKET = "lake"
MB = 1 << 20
TABLE = "dwops-locks"
VEHICLE = {"type": "record", "name": "vehicle", "fields": [
    {"name": "id", "type": "long"}, {"name": "at", "type": "string"},
    {"name": "speed", "type": ["null", "double"], "default": None}]}
PERIOD = {"type": "record", "name": "operating_period", "fields": [
    {"name": "id", "type": "long"}, {"name": "state", "type": "string"}]}


def avro(records, schema, codec="deflate"):
    bio = io.BytesIO()
    fastavro.writer(bio, fastavro.parse_schema(schema), records, codec=codec)
    return bio.getvalue()


def put(s3, key, records, schema=VEHICLE, codec="deflate"):
    s3.put_object(Bucket=BUCKET, Key=key, Body=avro(records, schema, codec))


def listing(s3, prefix=""):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["Size"]
    return out


def records(s3, prefix="ev/"):
    """Every record under prefix, as a Counter of (folder, schema name, record)."""
    got = Counter()
    for key in listing(s3, prefix):
        if not key.endswith(".avro"):
            continue
        r = fastavro.reader(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        name = r.writer_schema["name"]
        for rec in r:
            got[(key.rsplit("/", 1)[0], name, json.dumps(rec, sort_keys=True))] += 1
    return got


def vehicles(first, n, pad=0):
    return [{"id": first + i, "at": f"2019-06-01T00:00:{i % 60:02d}Z" + "x" * pad,
             "speed": float(i) if i % 3 else None} for i in range(n)]


@pytest.fixture
def lake(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3


def small_lake(s3, days=("01", "02"), files=6):
    n = 0
    for day in days:
        folder = f"ev/vehicle/2019/06/{day}"
        for i in range(files):
            put(s3, f"{folder}/2019-06-{day}-00-{i}-0-events.avro", vehicles(n, 50))
            n += 50
        # another schema in the same folder, and another codec
        put(s3, f"{folder}/p1.avro", [{"id": 1, "state": "on"}], PERIOD)
        put(s3, f"{folder}/p2.avro", [{"id": 2, "state": "off"}], PERIOD)
        put(s3, f"{folder}/z-null-codec.avro", vehicles(10**6, 5), codec="null")
    s3.put_object(Bucket=BUCKET, Key="ev/vehicle/2019/06/01/_SUCCESS", Body=b"")


def compact(run_op, **kw):
    req = {"bucket": BUCKET, "prefix": "ev"}
    req.update(kw)
    return run_op("dw-etl", "compact", req)


def test_small_files_merged_per_folder_schema_and_codec(lake, run_op):
    small_lake(lake)
    before, keys_before = records(lake), listing(lake)
    r = compact(run_op, dry_run=True, target_mb=16)
    assert r.code == 0 and r.data["dry_run"] is True, r
    assert r.data["merges"] == 4 and r.data["files_in"] == 16 and r.data["left_alone"] == 2, r.data
    plan = {(p["folder"], len(p["inputs"])) for p in r.data["plan"]}
    assert plan == {("ev/vehicle/2019/06/01", 6), ("ev/vehicle/2019/06/01", 2),
                    ("ev/vehicle/2019/06/02", 6), ("ev/vehicle/2019/06/02", 2)}
    assert listing(lake) == keys_before  # the dry run changed nothing

    r = compact(run_op, target_mb=16)
    assert r.code == 0, r
    d = r.data
    assert (d["partitions"], d["merges"], d["files_in"], d["files_out"], d["left_alone"]) == (2, 4, 16, 4, 2)
    assert d["records"] == 2 * (6 * 50 + 2) and d["bytes_in"] == sum(
        v for k, v in keys_before.items() if k.endswith(".avro") and "null-codec" not in k)
    assert records(lake) == before
    after = listing(lake)
    # per folder: one vehicle file, one operating_period file, the null-codec file left alone
    for day in ("01", "02"):
        names = sorted(k.rsplit("/", 1)[1] for k in after if f"/06/{day}/" in k)
        merged = [n for n in names if n.startswith("compacted-")]
        assert len(merged) == 2 and "z-null-codec.avro" in names, names
    assert "ev/vehicle/2019/06/01/_SUCCESS" in after
    assert not [k for k in after if "_compaction/" in k]
    # merged files keep their codec, read by fastavro with the writer's schema
    for k in after:
        if "compacted-" in k:
            rd = fastavro.reader(io.BytesIO(lake.get_object(Bucket=BUCKET, Key=k)["Body"].read()))
            assert rd.codec == "deflate"
    # nothing left to merge: 99
    r = compact(run_op, target_mb=16)
    assert r.code == 99 and r.data["merges"] == 0, r


def test_target_size_and_big_files_left_alone(lake, run_op):
    rnd = random.Random(7)
    folder = "ev/vehicle/2019/06/03"
    # ~6 MB files of incompressible text (codec null) and one of ~20 MB:
    # two 6 MB files fit in 16 MB, three do not
    def blob(first, mb):
        n = int(mb * MB / 262)  # a record: 250 hex digits and a few bytes
        return [{"id": first + i, "at": "%0250x" % rnd.getrandbits(1000), "speed": None}
                for i in range(n)]
    for i in range(5):
        put(lake, f"{folder}/f{i}.avro", blob(i * 10**6, 6), codec="null")
    put(lake, f"{folder}/big.avro", blob(9 * 10**6, 20), codec="null")
    sizes = listing(lake)
    before = records(lake)
    r = compact(run_op, target_mb=16)
    assert r.code == 0, r
    assert (r.data["merges"], r.data["files_in"], r.data["files_out"], r.data["left_alone"]) == (2, 4, 2, 2), r.data
    after = listing(lake)
    assert records(lake) == before
    merged = {k: v for k, v in after.items() if "compacted-" in k}
    assert len(merged) == 2 and all(v <= 16 * MB for v in merged.values()), merged
    assert after[f"{folder}/big.avro"] == sizes[f"{folder}/big.avro"]
    assert f"{folder}/f4.avro" in after  # the fifth would have passed the target
    assert all(5.5 * MB < sizes[f"{folder}/f{i}.avro"] < 6.5 * MB for i in range(5)), sizes


@pytest.mark.parametrize("req, field", [
    ({"target_mb": 8}, "target_mb"),
    ({"target_mb": 512}, "target_mb"),
    ({"prefix": "/"}, "prefix"),
    ({"lock": {"ttl_s": 60}}, "lock.resource"),
    ({"lock": {"resource": "lake/events", "ttl_s": 1}}, "lock.ttl_s"),
    ({"lock": {"resource": "lake/events", "mode": "read"}}, "lock.mode"),
    ({"targetmb": 16}, "targetmb"),
])
def test_bad_requests_change_nothing(lake, run_op, req, field):
    small_lake(lake, days=("01",), files=2)
    keys = listing(lake)
    r = compact(run_op, **req)
    assert r.code == 2 and r.error["field"] == field, r
    assert listing(lake) == keys


# ------------------------------------------------------------------ crashes

def test_kill9_at_random_moments_then_rerun_converges(lake, run_op, tmp_path):
    days = tuple(f"{d:02d}" for d in range(1, 11))
    small_lake(lake, days=days, files=12)
    want = records(lake)
    rnd = random.Random(1515)
    req = tmp_path / "compact.json"
    req.write_text(json.dumps({"bucket": BUCKET, "prefix": "ev", "target_mb": 16}))
    kills, next_id = 0, 10**7
    for attempt in range(12):
        # fresh small files, so that every run has work to be cut short
        for day in rnd.sample(days, 4):
            folder = f"ev/vehicle/2019/06/{day}"
            recs = vehicles(next_id, 20)
            next_id += 20
            put(lake, f"{folder}/late-{attempt}.avro", recs)
            for rec in recs:
                want[(folder, "vehicle", json.dumps(rec, sort_keys=True))] += 1
        p = subprocess.Popen([str(BIN / "dw-etl"), "compact", "--request", str(req)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        # a run takes a fraction of a second on an idle machine: kill early in it
        time.sleep(rnd.uniform(0.02, 0.4))
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            kills += 1
        p.communicate()
        # at no moment is a record lost (while a merge is committed and its
        # inputs not yet deleted, a record may be there twice: compaction
        # runs under the write lease, so no reader sees that)
        now = records(lake)
        assert all(now[k] >= n for k, n in want.items()), "a record was lost"
    assert kills >= 3, "the kills all came too late to test anything"
    r = compact(run_op, target_mb=16)
    assert r.code in (0, 99), r
    assert records(lake) == want
    after = listing(lake)
    assert not [k for k in after if "_compaction/" in k]
    for day in days:
        names = [k for k in after if f"/06/{day}/" in k and k.endswith(".avro")]
        # one vehicle file, one operating_period file, the null-codec file
        assert len(names) == 3, names


# ------------------------------------------------------------------ the lock

@pytest.fixture
def locks(moto, run_op):
    r = run_op("dw-lock", "create-table", {"table": TABLE})
    assert r.code == 0, r


def test_a_reader_makes_compaction_wait(lake, locks, run_op, tmp_path):
    small_lake(lake, days=("01",), files=3)
    before, keys = records(lake), listing(lake)
    r = run_op("dw-lock", "acquire", {"resource": "lake/events", "holder": "hydrate-acme", "ttl_s": 60})
    assert r.code == 0, r
    req = tmp_path / "compact.json"
    req.write_text(json.dumps({"bucket": BUCKET, "prefix": "ev", "target_mb": 16,
                               "lock": {"resource": "lake/events", "ttl_s": 10, "wait_timeout_s": 60}}))
    p = subprocess.Popen([str(BIN / "dw-etl"), "compact", "--request", str(req)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        time.sleep(3)
        assert p.poll() is None and listing(lake) == keys  # waiting, nothing touched
        st = run_op("dw-lock", "status", {"resource": "lake/events"}).data
        assert st["waiting_writer"]["writer_priority"] is True
        # new readers hold back while compaction waits (writer_priority)
        r = run_op("dw-lock", "acquire", {"resource": "lake/events", "holder": "late"})
        assert r.code == 99, r
        assert run_op("dw-lock", "release", {"resource": "lake/events", "holder": "hydrate-acme"}).code == 0
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 0, err.decode()
    res = json.loads(out.decode().splitlines()[-1])["result"]
    assert res["merges"] == 2 and res["fencing_token"] >= 1
    assert records(lake) == before
    st = run_op("dw-lock", "status", {"resource": "lake/events"}).data
    assert st["holders"] == [] and st["fencing_token"] == res["fencing_token"]


def test_under_dw_lock_exec_and_a_stale_token_deletes_nothing(lake, locks, run_op, tmp_path):
    small_lake(lake, days=("01",), files=3)
    before, keys = records(lake), listing(lake)
    req = tmp_path / "compact.json"
    req.write_text(json.dumps({"bucket": BUCKET, "prefix": "ev", "target_mb": 16}))
    r = run_op("dw-lock", "exec", {"resource": "lake/events", "mode": "write", "ttl_s": 30},
               args=["--", str(BIN / "dw-etl"), "compact", "--request", str(req)])
    assert r.code == 0 and r.data["exit_code"] == 0, r
    assert '"merges":2' in r.stdout
    assert records(lake) == before
    # a fencing token that is no longer current: merged, checked, undone
    small_lake(lake, days=("02",), files=3)
    keys = listing(lake)
    before = records(lake)
    env = {"DW_LOCK_RESOURCE": "lake/events", "DW_LOCK_MODE": "write", "DW_LOCK_HOLDER": "gone",
           "DW_LOCK_FENCING_TOKEN": "0", "DW_LOCK_TABLE": TABLE}
    r = run_op("dw-etl", "compact", {"bucket": BUCKET, "prefix": "ev", "target_mb": 16}, env=env)
    assert r.code == 1 and r.error["code"] == "LeaseLost", r
    assert listing(lake) == keys and records(lake) == before
    # a read lease is not enough
    env["DW_LOCK_MODE"] = "read"
    r = run_op("dw-etl", "compact", {"bucket": BUCKET, "prefix": "ev"}, env=env)
    assert r.code == 2 and r.error["field"] == "lock", r
