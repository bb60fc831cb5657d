"""kill -9 at random moments, then a re-run: the end state must be exact
(issue 12, "Keep the attack in the project").

dw-export promote and dw-cleanup apply are killed at a random moment of a
run (uniform over the time an uninterrupted run takes, measured first), a
bounded number of times (DW_CRASH_RUNS, default 3 each; the seed is
DW_CRASH_SEED or random, and printed), and run again until done.  The
expected end state is computed from what was arranged, not from the runs."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BIN, REPO

RUNS = int(os.environ.get("DW_CRASH_RUNS", "3"))
SEED = int(os.environ.get("DW_CRASH_SEED") or random.SystemRandom().randrange(1 << 30))


def put_many(s3, bucket, keys, body=b"PAR1 stand-in PAR1"):
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body), keys))


def all_keys(s3, bucket, prefix=""):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return set(keys)


def start(operator, action, request):
    """The operator running, its request on stdin; -> (Popen, start time)."""
    p = subprocess.Popen([str(BIN / operator), action], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         cwd=str(REPO), start_new_session=True)
    p.stdin.write(json.dumps(request).encode())
    p.stdin.close()
    return p, time.monotonic()


def killed_at_random(operator, action, request, duration, rng):
    """Run it and kill -9 it after a random part of duration; -> seconds
    waited, and whether it had finished by itself."""
    delay = rng.uniform(0.0, duration)
    p, t0 = start(operator, action, request)
    while time.monotonic() - t0 < delay and p.poll() is None:
        time.sleep(0.005)
    finished = p.poll() is not None
    if not finished:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    return delay, finished


def timed(run_op, *args, **kw):
    t0 = time.monotonic()
    r = run_op(*args, **kw)
    return r, time.monotonic() - t0


# ---- dw-export promote ------------------------------------------------------

EXPORT_BUCKET = "crash-exports"
ROLE = "arn:aws:iam::123456789012:role/rds-s3-export"
KMS = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def _warehouse(moto):
    rds = moto.client("rds")
    rds.create_db_instance(DBInstanceIdentifier="warehouse", Engine="postgres",
                           DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                           MasterUsername="admin", MasterUserPassword="not-a-secret-1",
                           BackupRetentionPeriod=7)
    moto.client("s3").create_bucket(Bucket=EXPORT_BUCKET)


def test_promote_killed_at_random_moments_then_rerun(moto, run_op):
    rng = random.Random(SEED)
    print(f"DW_CRASH_SEED={SEED}")
    s3 = moto.client("s3")
    _warehouse(moto)
    for run in range(RUNS + 1):
        main = f"main-{run}"
        req = {"source_instance": "warehouse", "s3_bucket": EXPORT_BUCKET,
               "s3_prefix": "exports", "iam_role_arn": ROLE, "kms_key_id": KMS,
               "main_prefix": main, "poll_s": 1, "wait_timeout_s": 30, "concurrency": 8}
        r = run_op("dw-export", "start", req)
        assert r.code == 0, r
        tid = r.data["export_task_id"]
        new = [f"exports/{tid}/warehouse/public.t{t}/part-{i:05d}.gz.parquet"
               for t in range(3) for i in range(80)]
        stale = [f"{main}/warehouse/public.dropped/part-{i:05d}.gz.parquet" for i in range(20)]
        put_many(s3, EXPORT_BUCKET, new + stale)
        expected = {k.replace(f"exports/{tid}/", f"{main}/") for k in new}
        if run == 0:  # uninterrupted: how long a run takes
            r, duration = timed(run_op, "dw-export", "promote", req, timeout=300)
            assert r.code == 0, r
        else:
            delay, finished = killed_at_random("dw-export", "promote", req, duration, rng)
            print(f"promote run {run}: killed after {delay:.2f}s of {duration:.2f}s"
                  f"{' (had finished)' if finished else ''}")
            r = run_op("dw-export", "promote", req, timeout=300)
            assert r.code == 0, (delay, r)
        got = all_keys(s3, EXPORT_BUCKET, f"{main}/")
        assert got == expected | {f"{main}/_dwops_export.json"}, (run, len(got ^ expected))
        assert all_keys(s3, EXPORT_BUCKET, f"exports/{tid}/") == set()
        marker = json.loads(s3.get_object(Bucket=EXPORT_BUCKET,
                                          Key=f"{main}/_dwops_export.json")["Body"].read())
        assert marker["source"] == f"s3://{EXPORT_BUCKET}/exports/{tid}/"
        again = run_op("dw-export", "promote", req)
        assert again.code == 0 and again.data["already_promoted"] is True, again


# ---- dw-cleanup apply -------------------------------------------------------

def test_cleanup_apply_killed_at_random_moments_then_rerun(moto, run_op):
    rng = random.Random(SEED + 1)
    print(f"DW_CRASH_SEED={SEED}")
    s3, sqs = moto.client("s3"), moto.client("sqs")
    duration = None
    for run in range(RUNS + 1):
        bucket = f"crash-work-{run}"
        s3.create_bucket(Bucket=bucket)
        old = [f"tmp/run-{i:04d}.csv" for i in range(1100)]
        keep = ["keep/a.csv", "tmpfile-not-under-prefix"]
        put_many(s3, bucket, old + keep, body=b"x")
        queues = [sqs.create_queue(QueueName=f"crash{run}-tmp-{i}")["QueueUrl"] for i in range(4)]
        kept_queue = sqs.create_queue(QueueName=f"crash{run}-keep")["QueueUrl"]
        policy = {"s3": [{"bucket": bucket, "prefix": "tmp/", "older_than_days": 1,
                          "keep_latest": 2}],
                  "queues": [{"prefix": f"crash{run}-tmp-", "unused_days": 1}],
                  "now": "2099-01-01T00:00:00Z", "max_deletions": 5000}
        plan = run_op("dw-cleanup", "plan", policy)
        assert plan.code == 0, plan
        assert plan.data["planned"] == len(old) - 2 + len(queues), plan
        survivors = set(keep) | {k for k in old if k not in
                                 {i["target"][len(f"s3://{bucket}/"):]
                                  for i in plan.data["items"] if i["kind"] == "s3-object"}}
        if run == 0:
            r, duration = timed(run_op, "dw-cleanup", "apply", policy, timeout=300)
            assert r.code == 0, r
        else:
            delay, finished = killed_at_random("dw-cleanup", "apply", policy, duration, rng)
            print(f"cleanup run {run}: killed after {delay:.2f}s of {duration:.2f}s"
                  f"{' (had finished)' if finished else ''}")
            r = run_op("dw-cleanup", "apply", policy, timeout=300)
            assert r.code in (0, 99), (delay, r)
        assert all_keys(s3, bucket) == survivors, run
        urls = sqs.list_queues(QueueNamePrefix=f"crash{run}-").get("QueueUrls", [])
        assert urls == [kept_queue], (run, urls)
        r = run_op("dw-cleanup", "apply", policy)
        assert r.code == 99, r  # nothing left to do
