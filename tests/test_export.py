"""dw-export against moto: snapshot choice, idempotent start, wait, promote
(many objects, stale files, interruptions), and both catalog paths.

moto completes an export task as soon as it starts and writes no Parquet, so
the tests put objects under the export folder with boto3 to stand in for
what RDS writes (<task id>/<database>/<schema.table>/part-*.parquet).  The
task states moto never shows (STARTING, IN_PROGRESS, FAILED, CANCELING) are
its DescribeExportTasks answers rewritten by the fault proxy."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from pathlib import Path

import pytest

from airflow_support import AIRFLOW_MAJORS, DAGS_DIR

BUCKET = "analytics-exports"
ROLE = "arn:aws:iam::123456789012:role/rds-s3-export"
KMS = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
MARKER = "_dwops_export.json"


def make_instance(rds, name):
    rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres",
                           DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                           MasterUsername="admin", MasterUserPassword="not-a-secret-1",
                           BackupRetentionPeriod=7)


def automated_snapshot(rds, name):
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier=name,
                                      SnapshotType="automated")["DBSnapshots"]
    assert len(snaps) == 1
    return snaps[0]


def task_id_for(source, snap_time):
    """The id dw-export derives: <source>-YYYY-MM-DD-HHMMSS (UTC)."""
    return f"{source}-{snap_time.astimezone(timezone.utc):%Y-%m-%d-%H%M%S}"


def base_request(**kw):
    req = {"source_instance": "warehouse", "s3_bucket": BUCKET, "s3_prefix": "exports",
           "iam_role_arn": ROLE, "kms_key_id": KMS, "main_prefix": "warehouse/main",
           "poll_s": 1, "wait_timeout_s": 30}
    req.update(kw)
    return req


def put_many(s3, keys, body=b"PAR1 stand-in PAR1"):
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=body), keys))


def all_keys(s3, prefix):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


@pytest.fixture
def warehouse(moto):
    """The warehouse instance (one automated snapshot), the bucket, and the
    derived export task id."""
    rds = moto.client("rds")
    make_instance(rds, "warehouse")
    moto.client("s3").create_bucket(Bucket=BUCKET)
    snap = automated_snapshot(rds, "warehouse")
    return {"snapshot": snap, "task_id": task_id_for("warehouse", snap["SnapshotCreateTime"])}


def export_files(task_id, tables=(("warehouse", "public.orders", 3),)):
    keys = []
    for db, table, n in tables:
        keys += [f"exports/{task_id}/{db}/{table}/part-{i:05d}.gz.parquet" for i in range(n)]
    return keys


# --------------------------------------------------------------------- start

def test_start_picks_newest_automated_snapshot_and_is_idempotent(moto, warehouse, run_op):
    rds = moto.client("rds")
    # Newer snapshots that must not be chosen: a manual one of the warehouse
    # and the automated one of another instance.
    rds.create_db_snapshot(DBInstanceIdentifier="warehouse", DBSnapshotIdentifier="manual-later")
    make_instance(rds, "other-db")

    r = run_op("dw-export", "start", base_request(export_only=["warehouse.public.orders"]))
    assert r.code == 0, r
    d = r.data
    assert d["snapshot"] == warehouse["snapshot"]["DBSnapshotIdentifier"]
    assert d["snapshot"].startswith("rds:warehouse-")
    assert d["export_task_id"] == warehouse["task_id"]
    assert d["started"] is True
    assert d["status"] == "COMPLETE"
    assert d["export_folder"] == f"s3://{BUCKET}/exports/{warehouse['task_id']}/"

    tasks = rds.describe_export_tasks()["ExportTasks"]
    assert [t["ExportTaskIdentifier"] for t in tasks] == [warehouse["task_id"]]
    assert tasks[0]["SourceArn"] == warehouse["snapshot"]["DBSnapshotArn"]
    assert tasks[0]["S3Bucket"] == BUCKET

    again = run_op("dw-export", "start", base_request())
    assert again.code == 0, again
    assert again.data["started"] is False
    assert again.data["export_task_id"] == warehouse["task_id"]
    assert "already exists" in again.stderr
    assert len(rds.describe_export_tasks()["ExportTasks"]) == 1


def test_start_from_an_aurora_cluster_snapshot(moto, run_op):
    rds = moto.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="lake", Engine="aurora-postgresql",
                          MasterUsername="admin", MasterUserPassword="not-a-secret-1")
    moto.client("s3").create_bucket(Bucket=BUCKET)
    snap = rds.describe_db_cluster_snapshots(DBClusterIdentifier="lake",
                                             SnapshotType="automated")["DBClusterSnapshots"][0]
    r = run_op("dw-export", "start", base_request(source_instance=None, source_cluster="lake"))
    assert r.code == 0, r
    assert r.data["export_task_id"] == task_id_for("lake", snap["SnapshotCreateTime"])
    task = rds.describe_export_tasks(ExportTaskIdentifier=r.data["export_task_id"])["ExportTasks"][0]
    assert task["SourceArn"] == snap["DBClusterSnapshotArn"]


def test_task_id_of_a_long_source_fits_rds_limit(moto, run_op):
    rds = moto.client("rds")
    long_a, long_b = "w" * 62 + "a", "w" * 62 + "b"
    make_instance(rds, long_a)
    make_instance(rds, long_b)
    moto.client("s3").create_bucket(Bucket=BUCKET)
    ids = []
    for name in (long_a, long_b):
        r = run_op("dw-export", "start", base_request(source_instance=name))
        assert r.code == 0, r
        ids.append(r.data["export_task_id"])
    snap_time = automated_snapshot(rds, long_a)["SnapshotCreateTime"]
    assert all(len(i) == 60 for i in ids)
    assert ids[0] != ids[1]
    assert ids[0].endswith(task_id_for("", snap_time))


def test_start_without_an_automated_snapshot_fails(moto, run_op):
    moto.client("s3").create_bucket(Bucket=BUCKET)
    r = run_op("dw-export", "start", base_request(source_instance="nope"))
    assert r.code == 1, r
    assert r.error["code"] == "SnapshotNotFound"


@pytest.mark.parametrize("change,field", [
    ({"iam_role_arn": None}, "iam_role_arn"),
    ({"source_instance": None}, "source_instance"),
    ({"source_cluster": "lake"}, "source_cluster"),
    ({"export_task_id": "9-bad--id"}, "export_task_id"),
    ({"colour": "blue"}, "colour"),
    ({"concurrency": 0}, "concurrency"),
])
def test_start_rejects_bad_requests(moto, run_op, change, field):
    req = base_request()
    for k, v in change.items():
        if v is None:
            req.pop(k)
        else:
            req[k] = v
    r = run_op("dw-export", "start", req)
    assert r.code == 2, r
    assert r.error["field"] == field
    assert moto.client("rds").describe_export_tasks()["ExportTasks"] == []


@pytest.mark.parametrize("main_prefix", ["exports", "exports/main", "/", ""])
def test_promote_rejects_a_main_prefix_overlapping_the_exports(moto, run_op, main_prefix):
    r = run_op("dw-export", "promote", base_request(main_prefix=main_prefix))
    assert r.code == 2, r
    assert r.error["field"] == "main_prefix"


@pytest.mark.parametrize("s3_prefix,main_prefix", [
    ("rds", "rds/current"), ("", "rds-snapshot-export"), ("/", "main"),
    ("warehouse/exports", "warehouse")])
def test_promote_rejects_prefixes_where_one_is_the_others_folder(moto, run_op, s3_prefix,
                                                                 main_prefix):
    """By path segments: an empty s3_prefix (the bucket's root) holds
    main_prefix as "rds" holds "rds/current"."""
    r = run_op("dw-export", "promote", base_request(s3_prefix=s3_prefix, main_prefix=main_prefix))
    assert r.code == 2, r
    assert r.error["field"] == "main_prefix"
    assert "overlap" in r.error["message"]


def test_promote_accepts_prefixes_side_by_side(moto, run_op):
    """"rds" and "rds-snapshot-export" share characters, not a folder: the
    request passes the check (and fails later, for want of the export)."""
    r = run_op("dw-export", "promote", base_request(s3_prefix="rds",
                                                    main_prefix="rds-snapshot-export"))
    assert r.code == 1, r
    assert r.error["code"] == "SnapshotNotFound", r


# ---------------------------------------------------------------------- wait

def test_wait_on_a_completed_export(moto, warehouse, run_op):
    assert run_op("dw-export", "start", base_request()).code == 0
    r = run_op("dw-export", "wait", base_request())
    assert r.code == 0, r
    assert r.data["status"] == "COMPLETE"
    assert r.data["export_task_id"] == warehouse["task_id"]
    assert "COMPLETE" in r.stderr and "elapsed" in r.stderr


def test_wait_on_a_canceled_export_fails(moto, warehouse, run_op):
    assert run_op("dw-export", "start", base_request()).code == 0
    moto.client("rds").cancel_export_task(ExportTaskIdentifier=warehouse["task_id"])
    r = run_op("dw-export", "wait", {"export_task_id": warehouse["task_id"], "poll_s": 1})
    assert r.code == 1, r
    assert r.error["code"] == "Canceled"
    assert r.data["status"] == "CANCELED"

    again = run_op("dw-export", "start", base_request())
    assert again.code == 0 and again.data["started"] is False, again
    assert "another export_task_id" in again.stderr
    retry = run_op("dw-export", "start", base_request(export_task_id="warehouse-retry-1"))
    assert retry.code == 0 and retry.data["started"] is True, retry
    assert run_op("dw-export", "wait", base_request(export_task_id="warehouse-retry-1")).code == 0


def test_cancel_action_and_wait_on_a_missing_task(moto, warehouse, run_op):
    assert run_op("dw-export", "wait", base_request()).error["code"] == "ExportTaskNotFound"
    assert run_op("dw-export", "start", base_request()).code == 0
    r = run_op("dw-export", "cancel", base_request())
    assert r.code == 0, r
    assert r.data["status"] == "CANCELED"


# moto completes an export task as soon as it starts (Status "complete", no
# PercentProgress, no FailureCause).  The states it never shows are moto's own
# DescribeExportTasks answer rewritten by the fault proxy in front of it: each
# rule edits the answer's <Status> for "times" polls, then the next rule (or,
# once every rule is spent, moto's real COMPLETE) answers.

def describe_as(status, percent=None, gb=None, cause=None, times=None, skip=0):
    """A fault-proxy rule: DescribeExportTasks answers with the task in
    status (and PercentProgress, TotalExtractedDataInGB, FailureCause)."""
    extra = "".join(f"<{tag}>{v}</{tag}>" for tag, v in (
        ("PercentProgress", percent), ("TotalExtractedDataInGB", gb), ("FailureCause", cause))
        if v is not None)
    rule = {"match": {"action": "DescribeExportTasks"}, "fault": "rewrite",
            "replace": [[r"<Status>[^<]*</Status>", f"<Status>{status}</Status>{extra}"]],
            "skip": skip}
    if times is not None:
        rule["times"] = times
    return rule


def polls_of(fault_proxy):
    return fault_proxy.stats()["rules"][0]["seen"]


@pytest.mark.parametrize("action", ["wait", "run"])
def test_wait_reports_progress_until_complete(moto, warehouse, run_op, fault_proxy, action):
    """STARTING, then IN_PROGRESS at 10% and 55% for a few polls, then moto's
    COMPLETE.  run's start looks the task up once first (not found): that
    answer passes unchanged."""
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    skip = 1 if action == "run" else 0
    if action == "run":
        put_many(s3, export_files(tid))
    else:
        assert run_op("dw-export", "start", base_request()).code == 0
    fault_proxy.set_rules([describe_as("STARTING", times=1, skip=skip),
                           describe_as("IN_PROGRESS", percent=10, gb=1, times=2, skip=skip),
                           describe_as("IN_PROGRESS", percent=55, gb=4, times=2, skip=skip)])
    r = run_op("dw-export", action, base_request(poll_s=1), env=fault_proxy.env)
    assert r.code == 0, r
    assert r.data["status"] == "COMPLETE"
    assert r.data["export_task_id"] == tid
    assert r.data["export_folder"] == f"s3://{BUCKET}/exports/{tid}/"
    assert [x["faulted"] for x in fault_proxy.stats()["rules"]] == [1, 2, 2]
    assert polls_of(fault_proxy) == 6 + skip
    assert "STARTING" in r.stderr
    assert "IN_PROGRESS, 10%, 1 GB extracted" in r.stderr
    assert "IN_PROGRESS, 55%, 4 GB extracted" in r.stderr
    assert r.stderr.index("10%") < r.stderr.index("55%") < r.stderr.rindex("COMPLETE")
    if action == "run":
        assert r.data["started"] is True
        assert r.data["copied"] == 3
        assert all_keys(s3, f"exports/{tid}/") == []


def test_wait_on_a_failed_export_fails_with_its_cause(moto, warehouse, run_op, fault_proxy):
    assert run_op("dw-export", "start", base_request()).code == 0
    xml_cause = ("The IAM role arn:aws:iam::123456789012:role/rds-s3-export cannot write to "
                 "the bucket (s3:PutObject &amp; kms:GenerateDataKey denied)")
    cause = xml_cause.replace("&amp;", "&")  # what RDS means, XML-escaped in its answer
    fault_proxy.set_rules([describe_as("IN_PROGRESS", percent=30, times=1),
                           describe_as("FAILED", percent=30, cause=xml_cause)])
    r = run_op("dw-export", "wait", base_request(poll_s=1), env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "ExportFailed"
    assert cause in r.error["message"]
    assert r.data["status"] == "FAILED"
    assert polls_of(fault_proxy) == 2

    # run finds the task FAILED (start warns, starts no other) and stops at
    # its wait step: nothing is promoted.
    fault_proxy.set_rules([describe_as("FAILED", cause=xml_cause)])
    r = run_op("dw-export", "run", base_request(poll_s=1), env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "ExportFailed"
    assert r.data["started"] is False
    assert "another export_task_id" in r.stderr
    assert "copied" not in r.data


def test_wait_on_an_export_still_running_times_out(moto, warehouse, run_op, fault_proxy):
    assert run_op("dw-export", "start", base_request()).code == 0
    fault_proxy.set_rules([describe_as("IN_PROGRESS", percent=42, gb=7)])
    r = run_op("dw-export", "wait", base_request(poll_s=1, wait_timeout_s=3),
               env=fault_proxy.env)
    assert r.code == 75, r
    assert r.error["code"] == "WaitTimeout"
    assert "IN_PROGRESS, 42%" in r.error["message"]
    assert "wait again later" in r.error["message"]
    assert polls_of(fault_proxy) >= 2
    assert r.data["status"] == "IN_PROGRESS"
    assert r.data["percent"] == 42


@pytest.mark.parametrize("status", ["CANCELING", "CANCELED"])
def test_wait_on_an_export_being_canceled_fails(moto, warehouse, run_op, fault_proxy, status):
    """Someone cancels the export while wait runs: CANCELING already ends
    the wait (RDS never goes back from it)."""
    assert run_op("dw-export", "start", base_request()).code == 0
    fault_proxy.set_rules([describe_as("IN_PROGRESS", percent=20, times=1),
                           describe_as(status, percent=20,
                                       cause="Canceled by user request")])
    r = run_op("dw-export", "wait", base_request(poll_s=1), env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "Canceled"
    assert "Canceled by user request" in r.error["message"]
    assert ("is being canceled" if status == "CANCELING" else "was canceled") in r.error["message"]
    assert r.data["status"] == status
    assert polls_of(fault_proxy) == 2


# ------------------------------------------------------------------- promote

def test_promote_many_objects_removes_stale_and_the_dated_folder(moto, warehouse, run_op):
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    assert run_op("dw-export", "start", base_request()).code == 0
    new = export_files(tid, [("warehouse", "public.orders", 1800),
                             ("warehouse", "public.customers", 300)])
    new.append(f"exports/{tid}/export_info_{tid}.json")
    put_many(s3, new)
    # Last night's promotion: one table gone since, one file that stays.
    stale = [f"warehouse/main/warehouse/public.dropped/part-{i:05d}.gz.parquet" for i in range(5)]
    put_many(s3, stale + ["warehouse/main/warehouse/public.orders/part-00000.gz.parquet"])
    other = f"exports/{'older-task'}/keep-me.parquet"
    put_many(s3, [other])

    r = run_op("dw-export", "promote", base_request(concurrency=16), timeout=300)
    assert r.code == 0, r
    d = r.data
    assert d["copied"] + d["unchanged"] == len(new) == 2101
    assert d["stale_deleted"] == 5
    assert d["export_deleted"] == 2101
    assert d["already_promoted"] is False

    main = set(all_keys(s3, "warehouse/main/"))
    expected = {k.replace(f"exports/{tid}/", "warehouse/main/") for k in new}
    assert main == expected | {f"warehouse/main/{MARKER}"}
    assert all_keys(s3, f"exports/{tid}/") == []
    assert all_keys(s3, "exports/") == [other]
    marker = json.loads(s3.get_object(Bucket=BUCKET, Key=f"warehouse/main/{MARKER}")["Body"].read())
    assert marker["source"] == f"s3://{BUCKET}/exports/{tid}/"

    again = run_op("dw-export", "promote", base_request())
    assert again.code == 0, again
    assert again.data["already_promoted"] is True
    assert again.data["copied"] == 0 and again.data["stale_deleted"] == 0


def test_promote_retries_throttled_copies(moto, warehouse, run_op, fault_proxy):
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    assert run_op("dw-export", "start", base_request()).code == 0
    put_many(s3, export_files(tid, [("warehouse", "public.orders", 40)]))
    fault_proxy.set_rules([{"match": {"method": "PUT", "path_prefix": f"/{BUCKET}/warehouse/main/"},
                            "fault": "throttle", "times": 6}])
    r = run_op("dw-export", "promote", base_request(), env=fault_proxy.env)
    assert r.code == 0, r
    assert r.data["copied"] == 40
    assert fault_proxy.stats()["faulted"] == 6
    assert len(all_keys(s3, "warehouse/main/warehouse/public.orders/")) == 40


MIB = 1024 * 1024


def test_promote_copies_large_objects_in_parts(moto, warehouse, run_op):
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    assert run_op("dw-export", "start", base_request()).code == 0
    put_many(s3, export_files(tid, [("warehouse", "public.orders", 2)]))
    big = bytes(range(256)) * (11 * MIB // 256) + b"tail"
    big_key = f"exports/{tid}/warehouse/public.events/part-00000.gz.parquet"
    s3.put_object(Bucket=BUCKET, Key=big_key, Body=big)

    r = run_op("dw-export", "promote", base_request(multipart_threshold_mb=6, part_size_mb=5))
    assert r.code == 0, r
    assert r.data["copied"] == 3
    assert r.data["bytes_copied"] == len(big) + 2 * len(b"PAR1 stand-in PAR1")
    assert "in 3 parts" in r.stderr
    copied = s3.get_object(Bucket=BUCKET, Key="warehouse/main/warehouse/public.events/part-00000.gz.parquet")
    assert copied["Body"].read() == big
    assert all_keys(s3, f"exports/{tid}/") == []
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_promote_aborts_a_failed_copy_in_parts(moto, warehouse, run_op, fault_proxy):
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    assert run_op("dw-export", "start", base_request()).code == 0
    big_key = f"exports/{tid}/warehouse/public.events/part-00000.gz.parquet"
    s3.put_object(Bucket=BUCKET, Key=big_key, Body=b"x" * (11 * MIB))
    fault_proxy.set_rules([{"match": {"header": {"x-amz-copy-source-range": f"bytes={5 * MIB}-{10 * MIB - 1}"}},
                            "fault": "error", "status": 403, "code": "AccessDenied",
                            "message": "denied by the test"}])
    r = run_op("dw-export", "promote", base_request(multipart_threshold_mb=6, part_size_mb=5),
               env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "AccessDenied"
    assert "nothing was deleted" in r.error["message"]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert all_keys(s3, "warehouse/main/") == []
    assert all_keys(s3, f"exports/{tid}/") == [big_key]


def test_promote_refuses_an_export_that_is_not_complete(moto, warehouse, run_op):
    assert run_op("dw-export", "start", base_request()).code == 0
    moto.client("rds").cancel_export_task(ExportTaskIdentifier=warehouse["task_id"])
    r = run_op("dw-export", "promote", base_request())
    assert r.code == 1, r
    assert r.error["code"] == "ExportNotComplete"


def test_promote_rerun_after_failed_copies(moto, warehouse, run_op, fault_proxy):
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    assert run_op("dw-export", "start", base_request()).code == 0
    new = export_files(tid, [("warehouse", "public.orders", 50)])
    put_many(s3, new)
    put_many(s3, ["warehouse/main/warehouse/public.old/part-0.parquet"])
    fault_proxy.set_rules([{"match": {"method": "PUT", "path_prefix": f"/{BUCKET}/warehouse/main/"},
                            "fault": "error", "status": 403, "code": "AccessDenied",
                            "message": "denied by the test", "skip": 10, "times": 1}])
    r = run_op("dw-export", "promote", base_request(), env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "AccessDenied"
    # Nothing was deleted: the old table and the whole export are still there.
    assert "warehouse/main/warehouse/public.old/part-0.parquet" in all_keys(s3, "warehouse/main/")
    assert len(all_keys(s3, f"exports/{tid}/")) == 50

    fault_proxy.clear()
    r = run_op("dw-export", "promote", base_request())
    assert r.code == 0, r
    assert r.data["stale_deleted"] == 1
    assert len(all_keys(s3, "warehouse/main/warehouse/public.orders/")) == 50
    assert all_keys(s3, f"exports/{tid}/") == []


def test_promote_rerun_after_interrupted_export_deletion(moto, warehouse, run_op, fault_proxy):
    """The dangerous crash: the dated folder half deleted.  The re-run must not
    take the partial folder for the truth and delete promoted files."""
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    assert run_op("dw-export", "start", base_request()).code == 0
    new = export_files(tid, [("warehouse", "public.orders", 2100)])
    put_many(s3, new)
    # Let the first DeleteObjects of the export folder through, fail the second.
    fault_proxy.set_rules([{"match": {"method": "POST", "body_contains": f"exports/{tid}/"},
                            "fault": "error", "status": 403, "code": "AccessDenied",
                            "message": "denied by the test", "skip": 1, "times": 1}])
    r = run_op("dw-export", "promote", base_request(), env=fault_proxy.env, timeout=300)
    assert r.code == 1, r
    left = all_keys(s3, f"exports/{tid}/")
    assert 0 < len(left) < 2100
    assert len(all_keys(s3, "warehouse/main/warehouse/")) == 2100

    fault_proxy.clear()
    r = run_op("dw-export", "promote", base_request(), timeout=300)
    assert r.code == 0, r
    assert r.data["stale_deleted"] == 0
    assert r.data["export_deleted"] == len(left)
    assert "finishing an interrupted move" in r.stderr
    main = set(all_keys(s3, "warehouse/main/"))
    assert main == {k.replace(f"exports/{tid}/", "warehouse/main/") for k in new} | {
        f"warehouse/main/{MARKER}"}
    assert all_keys(s3, f"exports/{tid}/") == []


def test_promote_refuses_an_export_older_than_the_promoted_one(moto, warehouse, run_op):
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    assert run_op("dw-export", "start", base_request()).code == 0
    put_many(s3, export_files(tid))
    marker = {"source": f"s3://{BUCKET}/exports/warehouse-2999-01-01-000000/",
              "version": "2999-01-01T00:00:00Z", "objects": 1}
    s3.put_object(Bucket=BUCKET, Key=f"warehouse/main/{MARKER}", Body=json.dumps(marker))
    r = run_op("dw-export", "promote", base_request())
    assert r.code == 1, r
    assert r.error["code"] == "NewerInPlace"
    assert len(all_keys(s3, f"exports/{tid}/")) == 3


# ------------------------------------------------------------------- catalog

def _state_manager(moto, verb, doc):
    req = urllib.request.Request(f"{moto.url}/moto-api/state-manager/{verb}",
                                 data=json.dumps(doc).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


@pytest.fixture
def crawl_transition(moto):
    """crawl_transition({...}) sets how moto's crawls progress; moto's
    default comes back after the test."""
    def set_transition(transition):
        _state_manager(moto, "set-transition", {"model_name": "glue::crawl",
                                                "transition": transition})
    yield set_transition
    _state_manager(moto, "unset-transition", {"model_name": "glue::crawl"})


def make_crawler(glue):
    glue.create_database(DatabaseInput={"Name": "warehouse"})
    glue.create_crawler(Name="warehouse-main", Role=ROLE, DatabaseName="warehouse",
                        Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/warehouse/main/"}]})


def test_catalog_with_a_crawler(moto, warehouse, run_op, crawl_transition):
    glue = moto.client("glue")
    make_crawler(glue)
    crawl_transition({"progression": "immediate"})
    r = run_op("dw-export", "catalog", base_request(crawler="warehouse-main"))
    assert r.code == 0, r
    assert r.data["crawler"] == "warehouse-main"
    assert r.data["crawl_status"] in ("SUCCEEDED", "COMPLETED")
    crawls = glue.list_crawls(CrawlerName="warehouse-main")["Crawls"]
    assert len(crawls) == 1


def test_catalog_waits_out_a_crawl_already_running(moto, run_op, crawl_transition):
    glue = moto.client("glue")
    make_crawler(glue)
    crawl_transition({"progression": "time", "seconds": 2})
    glue.start_crawler(Name="warehouse-main")  # someone else's crawl
    r = run_op("dw-export", "catalog", base_request(crawler="warehouse-main"))
    assert r.code == 0, r
    assert "waiting for it to end" in r.stderr
    assert len(glue.list_crawls(CrawlerName="warehouse-main")["Crawls"]) == 2


def test_catalog_crawler_timeout_is_temporary(moto, run_op, crawl_transition):
    glue = moto.client("glue")
    make_crawler(glue)
    crawl_transition({"progression": "manual", "times": 1000000})
    r = run_op("dw-export", "catalog", base_request(crawler="warehouse-main", wait_timeout_s=2))
    assert r.code == 75, r
    assert r.error["code"] == "WaitTimeout"
    assert "RUNNING" in r.stderr


def test_catalog_with_an_unknown_crawler_fails(moto, run_op):
    r = run_op("dw-export", "catalog", base_request(crawler="missing"))
    assert r.code == 1, r
    assert r.error["code"] == "EntityNotFoundException"


TABLES_INFO = {
    "perTableStatus": [
        {"target": "warehouse.public.orders", "status": "COMPLETE",
         "schemaMetadata": {"originalTypeMappings": [
             {"columnName": "id", "originalType": "bigint", "expectedExportedType": "int64"},
             {"columnName": "note", "originalType": "text", "expectedExportedType": "binary (UTF8)"},
             {"columnName": "total", "originalType": "numeric",
              "expectedExportedType": "fixed_len_byte_array(9) (DECIMAL(20,2))"},
             {"columnName": "placed", "originalType": "timestamp",
              "expectedExportedType": "int64 (TIMESTAMP_MICROS)"}]}},
    ]}


def test_run_with_the_table_path_creates_then_updates_tables(moto, warehouse, run_op):
    s3 = moto.client("s3")
    glue = moto.client("glue")
    tid = warehouse["task_id"]
    files = export_files(tid, [("warehouse", "public.orders", 4), ("warehouse", "public.customers", 2)])
    put_many(s3, files)
    s3.put_object(Bucket=BUCKET, Key=f"exports/{tid}/export_tables_info_{tid}_from_1_to_2.json",
                  Body=json.dumps(TABLES_INFO))

    r = run_op("dw-export", "run", base_request(glue_database="warehouse_lake", table_prefix="wh_"))
    assert r.code == 0, r
    d = r.data
    assert d["export_task_id"] == tid and d["started"] is True and d["status"] == "COMPLETE"
    assert d["copied"] == 7 and d["export_deleted"] == 7
    tables = {t["name"]: t for t in d["tables"]}
    assert set(tables) == {"wh_public_orders", "wh_public_customers"}
    assert all(t["created"] for t in tables.values())

    t = glue.get_table(DatabaseName="warehouse_lake", Name="wh_public_orders")["Table"]
    sd = t["StorageDescriptor"]
    assert sd["Location"] == f"s3://{BUCKET}/warehouse/main/warehouse/public.orders/"
    assert "Parquet" in sd["SerdeInfo"]["SerializationLibrary"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        ("id", "bigint"), ("note", "string"), ("total", "decimal(20,2)"), ("placed", "timestamp")]
    assert "no column list" in r.stderr  # customers has none in the table file

    again = run_op("dw-export", "catalog", base_request(glue_database="warehouse_lake", table_prefix="wh_"))
    assert again.code == 0, again
    assert [t["created"] for t in again.data["tables"]] == [False, False]
    assert len(glue.get_tables(DatabaseName="warehouse_lake")["TableList"]) == 2


def test_catalog_table_path_before_promote_fails(moto, warehouse, run_op):
    r = run_op("dw-export", "catalog", base_request(glue_database="warehouse_lake"))
    assert r.code == 1, r
    assert r.error["code"] == "NoTables"


def test_catalog_needs_a_crawler_or_a_database(moto, run_op):
    r = run_op("dw-export", "catalog", base_request())
    assert r.code == 2, r
    r = run_op("dw-export", "catalog", base_request(crawler="c", glue_database="d"))
    assert r.code == 2, r
    assert r.error["field"] == "glue_database"


# ------------------------------------------------------------------ examples

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples" / "dw-export").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_requests_are_valid(moto, run_op, path):
    """Each example passes validation; against an empty account it then
    fails for want of the resources it names (exit 1), changing nothing."""
    r = run_op("dw-export", args=["--request", str(path)])
    assert r.code == 1, r
    assert r.error["code"] in ("SnapshotNotFound", "ExportTaskNotFound", "EntityNotFoundException",
                               "NoSuchBucket"), r


# ------------------------------------------------------------------- Airflow

@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_daily_dag_runs_start_wait_promote_catalog(major, airflow_factory, moto, warehouse):
    s3 = moto.client("s3")
    tid = warehouse["task_id"]
    put_many(s3, export_files(tid, [("warehouse", "public.orders", 3), ("warehouse", "public.items", 2)]))
    af = airflow_factory(major, [DAGS_DIR / "dwops_export.py", DAGS_DIR / "dwops_common.py"])
    request = base_request(glue_database="warehouse_lake", crawler="", action="run")

    r = af.run_dag_test("dwops_export", "2024-01-02", variables={"dwops_export_request": request})
    assert r.states == {"start": "success", "wait": "success", "promote": "success",
                        "catalog": "success"}, r
    assert r.results["start"]["result"]["export_task_id"] == tid
    assert r.results["wait"]["result"]["status"] == "COMPLETE"
    assert r.results["promote"]["result"]["copied"] == 5
    assert sorted(t["name"] for t in r.results["catalog"]["result"]["tables"]) == \
        ["public_items", "public_orders"]
    assert all_keys(s3, f"exports/{tid}/") == []

    # The next night without a new snapshot: the same export is found and
    # promote has nothing left to move; every task still succeeds.
    r = af.run_dag_test("dwops_export", "2024-01-03", variables={"dwops_export_request": request})
    assert r.states["promote"] == "success", r
    assert r.results["start"]["result"]["started"] is False
    assert r.results["promote"]["result"]["already_promoted"] is True
