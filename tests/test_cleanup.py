"""dw-cleanup against moto: warehouse copies, S3 rules, Glue tables, SQS
queues, the deletion guard, and one item failing while the others succeed.

moto cannot backdate creation or modification times, so ages are driven by
the request's `now` (documented for tests and what-if planning) and copy
expiry by the expires-at tag."""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from airflow_support import AIRFLOW_MAJORS, DAGS_DIR

DAG_FILE = DAGS_DIR / "dwops_cleanup.py"

UTC = dt.timezone.utc


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_from_now(days: float) -> str:
    return iso(dt.datetime.now(UTC) + dt.timedelta(days=days))


def targets(r, kind=None, status=None):
    return sorted(i["target"] for i in r.data["items"]
                  if (kind is None or i["kind"] == kind) and (status is None or i["status"] == status))


# ---------------------------------------------------------------- helpers ---

def make_instance(rds, name, tags):
    rds.create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="mysql",
        MasterUsername="admin", MasterUserPassword="not-a-real-pw-123", AllocatedStorage=20,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def managed(owner, expires_at):
    return {"managed-by": "dwops", "owner": owner, "expires-at": expires_at}


def instance_names(rds):
    return sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"])


def put_objects(s3, bucket, keys, workers=16):
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))


def all_keys(s3, bucket, prefix=""):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def make_table(glue, db, name, location):
    glue.create_table(DatabaseName=db, TableInput={
        "Name": name, "StorageDescriptor": {"Location": location, "Columns": [{"Name": "a", "Type": "int"}]}})


def table_names(glue, db):
    return sorted(t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"])


def queue_names(sqs, prefix=""):
    urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []) if prefix else \
        sqs.list_queues().get("QueueUrls", [])
    return sorted(u.rsplit("/", 1)[1] for u in urls)


# ------------------------------------------------------------- snapshots ---

def test_expired_copies_go_unexpired_and_unmanaged_stay(moto, run_op):
    rds = moto.client("rds")
    make_instance(rds, "dw-snapshot-ann", managed("ann", days_from_now(-1)))
    make_instance(rds, "dw-snapshot-bob", managed("bob", days_from_now(3)))
    # Looks exactly like an expired copy, but dwops does not manage it.
    make_instance(rds, "dw-snapshot-eve", {"owner": "eve", "expires-at": days_from_now(-5)})
    make_instance(rds, "dw-snapshot-mal", {"managed-by": "someone-else", "owner": "mal",
                                           "expires-at": days_from_now(-5)})

    r = run_op("dw-cleanup", "plan", {"snapshots": {}})
    assert r.code == 0, r
    assert targets(r) == ["dw-snapshot-ann"]
    item = r.data["items"][0]
    assert item["kind"] == "copy" and item["status"] == "planned" and "expired" in item["reason"]
    assert r.data["dry_run"] is True
    assert len(instance_names(rds)) == 4  # plan changed nothing

    r = run_op("dw-cleanup", "plan", {"snapshots": {"owner": "bob"}})
    assert r.code == 99, r  # bob's copy has not expired; ann's is not looked at

    r = run_op("dw-cleanup", "apply", {"snapshots": {}})
    assert r.code == 0, r
    assert targets(r, status="done") == ["dw-snapshot-ann"]
    assert "dw-snapshot-ann" in r.stderr and "expired" in r.stderr  # logged with its reason
    left = instance_names(rds)
    assert "dw-snapshot-bob" in left and "dw-snapshot-eve" in left and "dw-snapshot-mal" in left
    assert "dw-snapshot-ann" not in left or \
        rds.describe_db_instances(DBInstanceIdentifier="dw-snapshot-ann")["DBInstances"][0][
            "DBInstanceStatus"] == "deleting"


def test_idle_copies_by_cloudwatch_connections(moto, run_op):
    rds, cw = moto.client("rds"), moto.client("cloudwatch")
    for name in ("dw-snapshot-idle", "dw-snapshot-busy", "dw-snapshot-nodata"):
        make_instance(rds, name, managed(name[12:], days_from_now(30)))
    now = dt.datetime.now(UTC) + dt.timedelta(days=2)
    for name, value in (("dw-snapshot-idle", 0), ("dw-snapshot-busy", 3)):
        cw.put_metric_data(Namespace="AWS/RDS", MetricData=[{
            "MetricName": "DatabaseConnections", "Timestamp": now - dt.timedelta(hours=h),
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": name}],
            "Value": value if h == 2 else 0} for h in (1, 2, 5)])

    r = run_op("dw-cleanup", "plan", {"snapshots": {"idle_hours": 24}, "now": iso(now)})
    assert r.code == 0, r
    # no data is not taken for idle; one busy hour keeps a copy
    assert targets(r) == ["dw-snapshot-idle"]
    assert "no database connections for 24 hours" in r.data["items"][0]["reason"]

    # Without idle_hours only expiry counts.
    r = run_op("dw-cleanup", "plan", {"snapshots": {}, "now": iso(now)})
    assert r.code == 99, r
    assert r.data["items"] == []


# --------------------------------------------------------------------- S3 ---

def test_s3_rule_across_pages_keeps_latest_in_batches(moto, fault_proxy, run_op):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="dw-work")
    old = [f"tmp/run-{i:05d}.csv" for i in range(2600)]
    put_objects(s3, "dw-work", old + ["keep/elsewhere.csv", "tmpfile-not-under-prefix"])
    time.sleep(1.2)  # S3 times have one-second resolution
    newest = [f"tmp/newest-{i}.csv" for i in range(3)]
    put_objects(s3, "dw-work", newest)
    # Count DeleteObjects calls through the proxy (the rule only observes).
    fault_proxy.set_rules([{"match": {"method": "POST", "path_prefix": "/dw-work"},
                            "fault": "slow", "delay_ms": 0}])
    policy = {"s3": [{"bucket": "dw-work", "prefix": "tmp/", "older_than_days": 30,
                      "keep_latest": 5}],
              "now": days_from_now(31), "max_deletions": 5000}

    r = run_op("dw-cleanup", "plan", policy, env=fault_proxy.env)
    assert r.code == 0, r
    assert r.data["planned"] == 2598
    assert "2603 objects in 3 pages" in r.stderr
    assert len(all_keys(s3, "dw-work")) == 2605  # plan changed nothing
    planned = set(targets(r))
    assert not planned & {f"s3://dw-work/{k}" for k in newest}
    assert len({f"s3://dw-work/{k}" for k in old} - planned) == 2  # the 2 newest old ones
    assert all("not among the 5 newest" in i["reason"] for i in r.data["items"])

    r = run_op("dw-cleanup", "apply", policy, env=fault_proxy.env)
    assert r.code == 0, r
    assert r.data["deleted"] == 2598 and r.data["failed"] == 0
    left = all_keys(s3, "dw-work")
    assert len(left) == 7
    assert set(left) >= {"keep/elsewhere.csv", "tmpfile-not-under-prefix", *newest}
    posts = fault_proxy.stats()["rules"][0]["seen"]
    assert posts == 3  # 2598 keys in DeleteObjects calls of at most 1000

    # The same rule measured against the real clock finds nothing old.
    del policy["now"]
    r = run_op("dw-cleanup", "apply", policy)
    assert r.code == 99, r


def test_deletion_guard_refuses_a_large_plan(moto, run_op):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="dw-guard")
    put_objects(s3, "dw-guard", [f"stage/{i}" for i in range(8)])
    policy = {"s3": [{"bucket": "dw-guard", "prefix": "stage/", "older_than_days": 1}],
              "now": days_from_now(2), "max_deletions": 5}

    r = run_op("dw-cleanup", "plan", policy)
    assert r.code == 0, r
    assert r.data["over_limit"] is True and r.data["planned"] == 8

    r = run_op("dw-cleanup", "apply", policy)
    assert r.code == 2, r
    assert r.error["code"] == "TooManyDeletions" and r.error["field"] == "max_deletions"
    assert r.data["planned"] == 8 and r.data["deleted"] == 0
    assert len(all_keys(s3, "dw-guard")) == 8

    r = run_op("dw-cleanup", "apply", dict(policy, max_deletions=8))
    assert r.code == 0, r
    assert all_keys(s3, "dw-guard") == []


def test_dry_run_apply_and_plan_change_nothing(moto, run_op):
    s3, sqs, glue = moto.client("s3"), moto.client("sqs"), moto.client("glue")
    rds = moto.client("rds")
    s3.create_bucket(Bucket="dw-dry")
    put_objects(s3, "dw-dry", ["w/a", "w/b"])
    sqs.create_queue(QueueName="dw-tmp-dry")
    glue.create_database(DatabaseInput={"Name": "scratch"})
    make_table(glue, "scratch", "tmp_dry", "s3://dw-dry/nothing-here/")
    make_instance(rds, "dw-snapshot-dry", managed("dry", days_from_now(-1)))
    policy = {"snapshots": {}, "s3": [{"bucket": "dw-dry", "prefix": "w/", "older_than_days": 1}],
              "tables": [{"database": "scratch", "pattern": "tmp_*", "location_empty": True}],
              "queues": [{"prefix": "dw-tmp-", "unused_days": 1}], "now": days_from_now(3)}

    for action, extra in (("plan", {}), ("apply", {"dry_run": True})):
        r = run_op("dw-cleanup", action, dict(policy, **extra))
        assert r.code == 0, r
        assert r.data["dry_run"] is True
        assert r.data["counts"] == {"copy": 1, "s3-object": 2, "glue-table": 1, "sqs-queue": 1}
        assert {i["status"] for i in r.data["items"]} == {"planned"}
    assert all_keys(s3, "dw-dry") == ["w/a", "w/b"]
    assert queue_names(sqs) == ["dw-tmp-dry"]
    assert table_names(glue, "scratch") == ["tmp_dry"]
    assert instance_names(rds) == ["dw-snapshot-dry"]


# ----------------------------------------------------------------- tables ---

def test_apply_holds_to_the_reviewed_plan(moto, run_op):
    """issue 12 #16: apply with expect_plan (the plan's plan_hash) deletes
    exactly that plan, or refuses and deletes nothing."""
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="dw-reviewed")
    put_objects(s3, "dw-reviewed", [f"tmp/a-{i}.csv" for i in range(5)] + ["keep/x.csv"])
    policy = {"s3": [{"bucket": "dw-reviewed", "prefix": "tmp/", "older_than_days": 1}],
              "now": days_from_now(2)}
    plan = run_op("dw-cleanup", "plan", policy)
    assert plan.code == 0, plan
    reviewed = plan.data["plan_hash"]
    assert len(reviewed) == 64
    # the same plan again has the same hash (reasons and order left out)
    assert run_op("dw-cleanup", "plan", policy).data["plan_hash"] == reviewed

    # something new to delete since the review: refused, nothing deleted
    put_objects(s3, "dw-reviewed", ["tmp/late.csv"])
    r = run_op("dw-cleanup", "apply", dict(policy, expect_plan=reviewed))
    assert r.code == 2, r
    assert r.error["code"] == "PlanChanged" and r.error["field"] == "expect_plan", r
    assert r.data is None or r.data.get("deleted", 0) == 0
    assert len(all_keys(s3, "dw-reviewed")) == 7
    # something reviewed is gone since: refused too
    s3.delete_object(Bucket="dw-reviewed", Key="tmp/late.csv")
    s3.delete_object(Bucket="dw-reviewed", Key="tmp/a-0.csv")
    r = run_op("dw-cleanup", "apply", dict(policy, expect_plan=reviewed))
    assert r.code == 2 and r.error["code"] == "PlanChanged", r
    assert len(all_keys(s3, "dw-reviewed")) == 5

    # the plan as reviewed: applied, exactly
    s3.put_object(Bucket="dw-reviewed", Key="tmp/a-0.csv", Body=b"x")
    r = run_op("dw-cleanup", "apply", dict(policy, expect_plan=reviewed))
    assert r.code == 0, r
    assert r.data["plan_hash"] == reviewed and r.data["deleted"] == 5
    assert all_keys(s3, "dw-reviewed") == ["keep/x.csv"]

    # a reviewed plan that is empty now: refused, not "nothing to do"
    r = run_op("dw-cleanup", "apply", dict(policy, expect_plan=reviewed))
    assert r.code == 2 and r.error["code"] == "PlanChanged", r
    for bad in ("abc", "G" * 64, reviewed.upper()):
        r = run_op("dw-cleanup", "apply", dict(policy, expect_plan=bad))
        assert r.code == 2 and r.error["field"] == "expect_plan", r


def test_table_rule_by_age_and_empty_location(moto, run_op):
    s3, glue = moto.client("s3"), moto.client("glue")
    s3.create_bucket(Bucket="dw-lake")
    put_objects(s3, "dw-lake", ["tables/full/part-0.parquet", "tables/fullish-sibling/x"])
    glue.create_database(DatabaseInput={"Name": "scratch"})
    make_table(glue, "scratch", "tmp_full", "s3://dw-lake/tables/full")
    make_table(glue, "scratch", "tmp_empty", "s3://dw-lake/tables/empty/")
    make_table(glue, "scratch", "tmp_gone", "s3://dw-deleted-bucket/t/")
    make_table(glue, "scratch", "tmp_ful", "s3://dw-lake/tables/ful")  # "ful" is not "fullish-sibling/"
    make_table(glue, "scratch", "orders", "s3://dw-lake/tables/orders/")  # empty, but not matched

    r = run_op("dw-cleanup", "plan", {"tables": [
        {"database": "scratch", "pattern": "tmp_*", "location_empty": True}]})
    assert r.code == 0, r
    assert targets(r) == ["scratch.tmp_empty", "scratch.tmp_ful", "scratch.tmp_gone"]
    reasons = {i["target"]: i["reason"] for i in r.data["items"]}
    assert "holds no objects" in reasons["scratch.tmp_empty"]
    assert "no longer exists" in reasons["scratch.tmp_gone"]

    # By age: every tmp_ table is old 40 days from now; orders never matches.
    age_rule = {"tables": [{"database": "scratch", "pattern": "tmp_*", "older_than_days": 30}],
                "now": days_from_now(40)}
    r = run_op("dw-cleanup", "apply", age_rule)
    assert r.code == 0, r
    assert targets(r, status="done") == ["scratch.tmp_empty", "scratch.tmp_ful",
                                         "scratch.tmp_full", "scratch.tmp_gone"]
    assert all("older than 30 days" in i["reason"] for i in r.data["items"])
    assert table_names(glue, "scratch") == ["orders"]


# ----------------------------------------------------------------- queues ---

def test_queue_rule_empty_and_unused(moto, run_op):
    sqs, cw = moto.client("sqs"), moto.client("cloudwatch")
    urls = {n: sqs.create_queue(QueueName=n)["QueueUrl"]
            for n in ("dw-tmp-idle", "dw-tmp-full", "dw-tmp-busy", "orders-dlq")}
    sqs.send_message(QueueUrl=urls["dw-tmp-full"], MessageBody="still here")
    now = dt.datetime.now(UTC) + dt.timedelta(days=20)
    cw.put_metric_data(Namespace="AWS/SQS", MetricData=[{
        "MetricName": "NumberOfMessagesSent", "Timestamp": now - dt.timedelta(days=3),
        "Dimensions": [{"Name": "QueueName", "Value": "dw-tmp-busy"}], "Value": 7}])
    policy = {"queues": [{"prefix": "dw-tmp-", "unused_days": 14}], "now": iso(now)}

    r = run_op("dw-cleanup", "plan", policy)
    assert r.code == 0, r
    assert targets(r) == [urls["dw-tmp-idle"]]
    assert "empty" in r.data["items"][0]["reason"]

    r = run_op("dw-cleanup", "apply", policy)
    assert r.code == 0, r
    assert queue_names(sqs) == ["dw-tmp-busy", "dw-tmp-full", "orders-dlq"]

    # Queues created today are not unused for 14 days.
    r = run_op("dw-cleanup", "plan", {"queues": [{"prefix": "dw-tmp-", "unused_days": 14}]})
    assert r.code == 99, r


# ------------------------------------------------------------ one failing ---

def test_one_item_failing_does_not_stop_the_others(moto, fault_proxy, run_op):
    s3, sqs, glue = moto.client("s3"), moto.client("sqs"), moto.client("glue")
    s3.create_bucket(Bucket="dw-mixed")
    put_objects(s3, "dw-mixed", ["tmp/1", "tmp/2"])
    for n in ("dw-tmp-a", "dw-tmp-stuck", "dw-tmp-c"):
        sqs.create_queue(QueueName=n)
    glue.create_database(DatabaseInput={"Name": "scratch"})
    make_table(glue, "scratch", "tmp_t", "s3://dw-mixed/none/")
    s3.create_bucket(Bucket="dw-locked")
    put_objects(s3, "dw-locked", ["tmp/x", "tmp/y"])
    fault_proxy.set_rules([{"match": {"target": "AmazonSQS.DeleteQueue",
                                      "body_contains": "dw-tmp-stuck"},
                            "fault": "error", "status": 403, "code": "AccessDenied",
                            "message": "not allowed"},
                           {"match": {"method": "POST", "path_prefix": "/dw-locked"},
                            "fault": "error", "status": 403, "code": "AccessDenied",
                            "message": "bucket policy says no"}])
    policy = {"s3": [{"bucket": "dw-mixed", "prefix": "tmp/", "older_than_days": 1},
                     {"bucket": "dw-locked", "prefix": "tmp/", "older_than_days": 1}],
              "tables": [{"database": "scratch", "pattern": "tmp_*", "location_empty": True}],
              "queues": [{"prefix": "dw-tmp-", "unused_days": 1}], "now": days_from_now(2)}

    r = run_op("dw-cleanup", "apply", policy, env=fault_proxy.env)
    assert r.code == 1, r
    assert r.ok is False and r.error["code"] == "CleanupIncomplete"
    failed = [i for i in r.data["items"] if i["status"] == "failed"]
    assert [i["target"].rsplit("/", 1)[-1] if i["kind"] == "sqs-queue" else i["target"]
            for i in failed] == ["s3://dw-locked/tmp/x", "s3://dw-locked/tmp/y", "dw-tmp-stuck"]
    assert all("AccessDenied" in i["error"] for i in failed)
    assert r.data["deleted"] == 5 and r.data["failed"] == 3
    assert all_keys(s3, "dw-locked") == ["tmp/x", "tmp/y"]
    assert queue_names(sqs) == ["dw-tmp-stuck"]
    assert all_keys(s3, "dw-mixed") == []
    assert table_names(glue, "scratch") == []


# ------------------------------------------------------------ the request ---

@pytest.mark.parametrize("request_, field", [
    ({}, None),
    ({"s3": [{"bucket": "b", "prefix": "", "older_than_days": 3}]}, "s3[0].prefix"),
    ({"s3": [{"bucket": "b", "prefix": "p/", "older_than_days": 0}]}, "s3[0].older_than_days"),
    ({"s3": [{"bucket": "b", "prefix": "p/", "older_than_days": 3, "keep": 1}]}, "s3[0].keep"),
    ({"tables": [{"database": "d", "pattern": "*"}]}, "tables[0]"),
    ({"queues": [{"prefix": "q", "unused_days": 0}]}, "queues[0].unused_days"),
    ({"snapshots": {}, "max_deletions": 0}, "max_deletions"),
    ({"snapshots": {}, "now": "yesterday"}, "now"),
    ({"snapshots": {"idle": 3}}, "snapshots.idle"),
])
def test_bad_requests_are_rejected_before_anything(moto, run_op, request_, field):
    r = run_op("dw-cleanup", "apply", request_)
    assert r.code == 2, r
    assert r.error["field"] == field


def test_nothing_to_do_exits_99(moto, run_op):
    moto.client("s3").create_bucket(Bucket="dw-empty")
    r = run_op("dw-cleanup", "apply", {"snapshots": {}, "s3": [
        {"bucket": "dw-empty", "prefix": "tmp/", "older_than_days": 1}]})
    assert r.code == 99, r
    assert r.ok is True and r.result["nothing_to_do"]
    assert r.data["planned"] == 0


# ------------------------------------------------------------ integration ---

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples" / "dw-cleanup").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_requests_are_accepted(moto, run_op, path):
    moto.client("s3").create_bucket(Bucket="dwops-work")
    moto.client("glue").create_database(DatabaseInput={"Name": "dwops_scratch"})
    action = [] if "action" in json.loads(path.read_text()) else ["plan"]
    r = run_op("dw-cleanup", args=action + ["--request", str(path)])
    assert r.code == 99, r  # a valid request, against an account with nothing to clean up


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_daily_dag_applies_the_policy(major, airflow_factory, bench, moto, tmp_path):
    rds, glue = moto.client("rds"), moto.client("glue")
    make_instance(rds, "dw-snapshot-old", managed("old", days_from_now(-1)))
    make_instance(rds, "dw-snapshot-new", managed("new", days_from_now(1)))
    glue.create_database(DatabaseInput={"Name": "scratch"})
    make_table(glue, "scratch", "tmp_gone", "s3://dw-no-bucket/t/")
    (tmp_path / "policy.json").write_text(json.dumps({
        "snapshots": {}, "tables": [{"database": "scratch", "pattern": "tmp_*",
                                     "location_empty": True}]}))
    af = airflow_factory(major, [DAG_FILE, DAG_FILE.parent / "dwops_common.py"])
    env = {"DWOPS_CLEANUP_POLICY_DIR": str(tmp_path)}

    r = af.run_dag_test("dwops_cleanup", "2024-01-02", env=env)
    assert r.states == {"apply_policy": "success"}, r
    result = r.results["apply_policy"]
    assert result["ok"] is True and result["action"] == "apply", r
    assert sorted(i["target"] for i in result["result"]["items"] if i["status"] == "done") == \
        ["dw-snapshot-old", "scratch.tmp_gone"]
    assert glue.get_tables(DatabaseName="scratch")["TableList"] == []

    # The next day there is nothing left: the task is skipped.
    r = af.run_dag_test("dwops_cleanup", "2024-01-03", env=env)
    assert r.states == {"apply_policy": "skipped"}, r
    assert "dw-snapshot-new" in instance_names(rds)


def test_planning_failure_deletes_nothing(moto, run_op):
    rds = moto.client("rds")
    make_instance(rds, "dw-snapshot-ann", managed("ann", days_from_now(-1)))
    r = run_op("dw-cleanup", "apply", {"snapshots": {}, "s3": [
        {"bucket": "dw-no-such-bucket", "prefix": "tmp/", "older_than_days": 1}]})
    assert r.code == 1, r
    assert r.error["code"] == "NoSuchBucket" and "planning s3[0]" in r.error["message"]
    # The copy was planned before the S3 rule failed, but nothing was deleted.
    assert [(i["target"], i["status"]) for i in r.data["items"]] == [("dw-snapshot-ann", "planned")]
    assert instance_names(rds) == ["dw-snapshot-ann"]
    assert "deleting" not in r.stderr
