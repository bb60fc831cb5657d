"""dw-snapshot for Aurora: copy-on-write clones (and cluster snapshot
restores) against moto's RDS, the bench MariaDB standing in for the clone's
writer endpoint (endpoint_override, as for instance copies).

moto answers every cluster and instance as available at once and silently
replaces a cluster restored over an existing id; so idempotence is checked
here by the cluster staying the same one (its resource id and create time),
and the waiters' decisions on the other states are unit-tested
(tests/unit/test_copy.c)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import BIN, REPO
from test_snapshot import NASTY_PASSWORD, client_login, env_pw, names, parse_iso  # noqa: F401

OP = "dw-snapshot"
UTC = dt.timezone.utc
SOURCE = "warehouse-aurora"


def make_aurora(rds, name=SOURCE, instances=1, tags=()):
    rds.create_db_cluster(
        DBClusterIdentifier=name, Engine="aurora-mysql", MasterUsername="admin",
        MasterUserPassword="warehouse-master-pw", BackupRetentionPeriod=7,
        Tags=[{"Key": k, "Value": v} for k, v in tags])
    for i in range(instances):
        rds.create_db_instance(DBInstanceIdentifier=f"{name}-{i + 1}", DBClusterIdentifier=name,
                               Engine="aurora-mysql", DBInstanceClass="db.r6g.large")


def clusters(rds):
    return sorted(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"])


def instances(rds):
    return sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"])


def cluster(rds, name):
    return rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]


def cluster_tags(rds, name):
    arn = cluster(rds, name)["DBClusterArn"]
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def clone_request(bench, owner, user, database, **extra):
    req = {
        "source_cluster": SOURCE,
        "owner": owner,
        "database": database,
        "user": {"name": user, "password_env": "DW_TEST_USER_PASSWORD"},
        "master": {"user": "root", "password_env": "DW_BENCH_MYSQL_ROOT_PASSWORD"},
        "endpoint_override": f"{bench.mysql_host}:{bench.mysql_port}",
        "tls": {"mode": "disabled"},
        "poll_interval_s": 1,
        "wait_timeout_s": 60,
    }
    req.update(extra)
    return req


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restore_clone(rds, name, owner, expires_at="2030-01-01T00:00:00Z", managed=True,
                  writer=True):
    """A clone made directly with boto3 (faster than a full launch)."""
    tags = [{"Key": "owner", "Value": owner}, {"Key": "source", "Value": SOURCE},
            {"Key": "method", "Value": "clone"}, {"Key": "expires-at", "Value": expires_at}]
    if managed:
        tags.append({"Key": "managed-by", "Value": "dwops"})
    rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier=name, SourceDBClusterIdentifier=SOURCE, RestoreType="copy-on-write",
        UseLatestRestorableTime=True, Tags=tags)
    if writer:
        rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier=name,
                               Engine="aurora-mysql", DBInstanceClass="db.r6g.large",
                               Tags=tags[:3] + tags[4:])


# --------------------------------------------------------------------------
# launch
# --------------------------------------------------------------------------

def test_clone_launch_login_list_status_extend_destroy(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_aurora(rds)
    user, db = names.user(), names.database()
    before = dt.datetime.now(UTC)
    r = run_op(OP, "launch", clone_request(bench, "jane.doe@example.com", user, db,
                                           subnet_group="default",
                                           security_group_ids=["sg-0123456789abcdef0"]),
               env=env_pw)
    assert r.code == 0, r
    d = r.data
    name = "dw-snapshot-jane-doe-example-com"
    assert d["instance"] == name and d["cluster"] == name and d["writer"] == name
    assert d["method"] == "clone" and d["snapshot"] is None
    assert d["source"] == SOURCE and d["owner"] == "jane.doe@example.com"
    assert d["created"] is True and d["status"] == "available"
    assert d["writer_status"] == "available"
    assert d["instance_class"] == "db.r6g.large"  # the source writer's
    c = cluster(rds, name)
    assert d["writer_endpoint"] == c["Endpoint"] and d["reader_endpoint"] == c["ReaderEndpoint"]
    assert d["address"] == c["Endpoint"] and d["port"] == c["Port"]
    assert d["user"] == user and d["database"] == db
    expires = parse_iso(d["expires_at"])
    assert dt.timedelta(days=20, hours=23) < expires - before < dt.timedelta(days=21, minutes=5)
    # Throwaway settings: the least backup retention Aurora allows, no
    # deletion protection.
    assert c["BackupRetentionPeriod"] == 1 and c["DeletionProtection"] is False
    assert cluster_tags(rds, name) == {
        "managed-by": "dwops", "owner": "jane.doe@example.com", "source": SOURCE,
        "method": "clone", "expires-at": d["expires_at"]}
    assert [(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in c["DBClusterMembers"]] \
        == [(name, True)]
    writer = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert writer["DBClusterIdentifier"] == name and writer["DBInstanceClass"] == "db.r6g.large"
    assert writer["PubliclyAccessible"] is False
    assert "cluster " + name + ": available" in r.stderr, r.stderr
    # The source is untouched.
    assert cluster(rds, SOURCE)["Status"] == "available"
    assert clusters(rds) == sorted([SOURCE, name])

    # The engineer logs in with the nasty password and may create tables.
    lr = client_login(bench, user, NASTY_PASSWORD,
                      f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY); SELECT COUNT(*) FROM `{db}`.t")
    assert lr.returncode == 0, lr.stderr

    # list: the clone once (its writer is no copy by itself), not the source.
    r = run_op(OP, "list", {})
    assert r.code == 0, r
    assert [x["instance"] for x in r.data["copies"]] == [name]
    x = r.data["copies"][0]
    assert x["method"] == "clone" and x["cluster"] == name
    assert x["instance_class"] == "db.r6g.large" and x["writer_status"] == "available"
    r = run_op(OP, "status", {"owner": "jane.doe@example.com"})
    assert r.code == 0, r
    assert r.data["cluster"] == name and r.data["reader_endpoint"] == c["ReaderEndpoint"]

    # extend moves the cluster's expires-at tag.
    r = run_op(OP, "extend", {"owner": "jane.doe@example.com", "ttl_days": 2,
                              "max_ttl_days": 60})
    assert r.code == 0, r
    assert parse_iso(r.data["expires_at"]) == expires + dt.timedelta(days=2)
    assert cluster_tags(rds, name)["expires-at"] == r.data["expires_at"]
    r = run_op(OP, "extend", {"owner": "bob", "instance_name": name})
    assert r.code == 2 and r.error["code"] == "NotOwner", r

    # destroy: someone else may not; the owner deletes writer then cluster.
    r = run_op(OP, "destroy", {"owner": "bob", "instance_name": name})
    assert r.code == 2 and r.error["code"] == "NotOwner", r
    assert clusters(rds) == sorted([SOURCE, name])
    r = run_op(OP, "destroy", {"owner": "jane.doe@example.com", "poll_interval_s": 1})
    assert r.code == 0, r
    assert r.data["status"] == "deleted" and r.data["cluster"] == name
    assert f"deleting {name}'s instance {name}" in r.stderr
    assert f"{name}: gone" in r.stderr
    assert clusters(rds) == [SOURCE]
    assert instances(rds) == [f"{SOURCE}-1"]
    r = run_op(OP, "destroy", {"owner": "jane.doe@example.com", "poll_interval_s": 1})
    assert r.code == 99, r


def test_serverless_clone_scales_from_zero(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_aurora(rds)
    req = clone_request(bench, "sam", names.user(), names.database(),
                        serverless={"min_acu": 0, "max_acu": 4.5,
                                    "seconds_until_auto_pause": 900})
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 0, r
    assert r.data["instance_class"] == "db.serverless"
    c = cluster(rds, "dw-snapshot-sam")
    assert c["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": 0.0, "MaxCapacity": 4.5, "SecondsUntilAutoPause": 900}
    w = rds.describe_db_instances(DBInstanceIdentifier="dw-snapshot-sam")["DBInstances"][0]
    assert w["DBInstanceClass"] == "db.serverless"


def test_aurora_snapshot_mode_restores_the_newest_automated_cluster_snapshot(
        bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_aurora(rds)
    automated = rds.describe_db_cluster_snapshots(
        DBClusterIdentifier=SOURCE, SnapshotType="automated")["DBClusterSnapshots"]
    assert len(automated) == 1
    time.sleep(1.1)
    # Newer, but manual: never picked.
    rds.create_db_cluster_snapshot(DBClusterIdentifier=SOURCE,
                                   DBClusterSnapshotIdentifier="manual-newer")
    req = clone_request(bench, "kim", names.user(), names.database(), method="snapshot",
                        instance_class="db.r6g.xlarge")
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 0, r
    snap = automated[0]["DBClusterSnapshotIdentifier"]
    assert r.data["method"] == "snapshot" and r.data["snapshot"] == snap
    assert r.data["instance_class"] == "db.r6g.xlarge"
    tags = cluster_tags(rds, "dw-snapshot-kim")
    assert tags["method"] == "snapshot" and tags["snapshot"] == snap
    assert cluster(rds, "dw-snapshot-kim")["BackupRetentionPeriod"] == 1
    # The same owner asking for a clone now gets told, not a second copy.
    r = run_op(OP, "launch", clone_request(bench, "kim", names.user(), names.database()),
               env=env_pw)
    assert r.code == 2 and r.error["code"] == "CopyExists", r
    assert clusters(rds) == sorted([SOURCE, "dw-snapshot-kim"])


def test_relaunch_returns_the_same_clone_and_starts_a_stopped_one(
        bench, moto, run_op, names, env_pw, secrets):
    rds = moto.client("rds")
    make_aurora(rds)
    user, db = names.user(), names.database()
    req = clone_request(bench, "kim", user, db)
    first = run_op(OP, "launch", req, env=env_pw)
    assert first.code == 0 and first.data["created"] is True, first
    c = cluster(rds, "dw-snapshot-kim")

    new_pw = "second-password-" + uuid.uuid4().hex
    secrets.append(new_pw)
    again = run_op(OP, "launch", req, env={"DW_TEST_USER_PASSWORD": new_pw})
    assert again.code == 0, again
    assert again.data["created"] is False
    assert again.data["expires_at"] == first.data["expires_at"]
    # Described before restoring: the very same cluster (moto would have
    # replaced it silently had the launch restored over it).
    c2 = cluster(rds, "dw-snapshot-kim")
    assert c2["DbClusterResourceId"] == c["DbClusterResourceId"]
    assert c2["ClusterCreateTime"] == c["ClusterCreateTime"]
    assert instances(rds) == sorted([f"{SOURCE}-1", "dw-snapshot-kim"])
    assert client_login(bench, user, new_pw, "SELECT 1").returncode == 0

    rds.stop_db_cluster(DBClusterIdentifier="dw-snapshot-kim")
    r = run_op(OP, "launch", req, env={"DW_TEST_USER_PASSWORD": new_pw})
    assert r.code == 0, r
    assert r.data["created"] is False and r.data["status"] == "available"
    assert "cluster dw-snapshot-kim is stopped: starting it" in r.stderr
    assert cluster(rds, "dw-snapshot-kim")["Status"] == "available"

    # Another owner asking for kim's clone by name gets nothing.
    r = run_op(OP, "launch", dict(req, owner="mallory", instance_name="dw-snapshot-kim"),
               env=env_pw)
    assert r.code == 2 and r.error["code"] == "NotOwner", r
    assert cluster_tags(rds, "dw-snapshot-kim")["owner"] == "kim"


def test_relaunch_after_a_crash_before_the_writer_finishes_the_job(
        bench, moto, run_op, names, env_pw):
    """What a crash right after the restore leaves (a tagged cluster without
    an instance) is finished by the next launch, not restored again."""
    rds = moto.client("rds")
    make_aurora(rds)
    restore_clone(rds, "dw-snapshot-lee", "lee", writer=False)
    before = cluster(rds, "dw-snapshot-lee")["DbClusterResourceId"]
    r = run_op(OP, "launch", clone_request(bench, "lee", names.user(), names.database()),
               env=env_pw)
    assert r.code == 0, r
    assert r.data["created"] is False and r.data["writer"] == "dw-snapshot-lee"
    assert cluster(rds, "dw-snapshot-lee")["DbClusterResourceId"] == before
    assert instances(rds) == sorted([f"{SOURCE}-1", "dw-snapshot-lee"])


def test_kill_9_during_the_launch_then_a_rerun_leaves_one_clone(
        bench, moto, fault_proxy, run_op, names, env_pw):
    rds = moto.client("rds")
    make_aurora(rds)
    user, db = names.user(), names.database()
    req = dict(clone_request(bench, "ida", user, db), action="launch")
    # The writer's creation hangs in the proxy (and is never forwarded: a
    # "drop" after the delay): the kill comes after the restore, while the
    # writer is being asked for.
    fault_proxy.set_rules([{"match": {"action": "CreateDBInstance"}, "fault": "drop",
                            "delay_ms": 20000}])
    p = subprocess.Popen([str(BIN / OP)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=str(REPO), start_new_session=True,
                         env=dict(os.environ, **env_pw, **fault_proxy.env))
    p.stdin.write(json.dumps(req).encode())
    p.stdin.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "dw-snapshot-ida" not in clusters(rds):
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    assert "dw-snapshot-ida" in clusters(rds)
    assert fault_proxy.stats()["rules"][0]["seen"] == 1  # killed while asking for the writer
    assert "dw-snapshot-ida" not in instances(rds)
    fault_proxy.set_rules([])
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 0, r
    assert r.data["created"] is False
    assert clusters(rds) == sorted([SOURCE, "dw-snapshot-ida"])
    assert instances(rds) == sorted([f"{SOURCE}-1", "dw-snapshot-ida"])
    assert client_login(bench, user, NASTY_PASSWORD, "SELECT 1").returncode == 0


def test_bad_master_secret_after_the_restore_leaves_no_cluster_and_no_instance(
        bench, moto, run_op, names, env_pw, secrets):
    rds = moto.client("rds")
    make_aurora(rds)
    wrong = "wrong-master-" + uuid.uuid4().hex
    secrets.append(wrong)
    moto.client("secretsmanager").create_secret(
        Name="warehouse/master", SecretString=json.dumps({"username": "root", "password": wrong}))
    req = clone_request(bench, "lee", names.user(), names.database(),
                        master={"secret_id": "warehouse/master"})
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "MySQLError"
    assert "dw-snapshot-lee was deleted (writer and cluster)" in r.error["message"]
    assert clusters(rds) == [SOURCE]
    assert instances(rds) == [f"{SOURCE}-1"]


def test_keep_on_failure_keeps_the_clone(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_aurora(rds)
    req = clone_request(bench, "lee", names.user(), names.database(), keep_on_failure=True)
    del req["tls"]  # verify by default; the bench MariaDB has no TLS
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert "kept (keep_on_failure)" in r.error["message"]
    assert clusters(rds) == sorted([SOURCE, "dw-snapshot-lee"])


def test_failure_on_an_existing_clone_never_deletes_it(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_aurora(rds)
    restore_clone(rds, "dw-snapshot-lee", "lee")
    req = clone_request(bench, "lee", names.user(), names.database())
    del req["tls"]
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert "deleted" not in r.error["message"]
    assert clusters(rds) == sorted([SOURCE, "dw-snapshot-lee"])
    assert instances(rds) == sorted([f"{SOURCE}-1", "dw-snapshot-lee"])


def test_source_without_instance_is_refused_and_nothing_is_made(bench, moto, run_op, names,
                                                                env_pw):
    rds = moto.client("rds")
    make_aurora(rds, instances=0)
    r = run_op(OP, "launch", clone_request(bench, "lee", names.user(), names.database()),
               env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "SourceNotAvailable" and "no instance" in r.error["message"]
    assert clusters(rds) == [SOURCE]
    r = run_op(OP, "launch", clone_request(bench, "lee", names.user(), names.database(),
                                           source_cluster="no-such-cluster"), env=env_pw)
    assert r.code == 1, r
    assert clusters(rds) == [SOURCE]


@pytest.mark.parametrize("extra,field", [
    ({"source_instance": "warehouse"}, "source_instance"),
    ({"method": "thin"}, "method"),
    ({"serverless": {"min_acu": 0.3, "max_acu": 4}}, "serverless.min_acu"),
    ({"serverless": {"min_acu": 0, "max_acu": 0.5}}, "serverless.max_acu"),
    ({"serverless": {"min_acu": 8, "max_acu": 4}}, "serverless.max_acu"),
    ({"serverless": {"min_acu": 0, "max_acu": 4, "seconds_until_auto_pause": 60}},
     "serverless.seconds_until_auto_pause"),
    ({"serverless": {"min_acu": 1, "max_acu": 4, "seconds_until_auto_pause": 600}},
     "serverless.seconds_until_auto_pause"),
    ({"serverless": {"max_acu": 4}}, "serverless.min_acu"),
    ({"serverless": {"min_acu": 0, "max_acu": 4}, "instance_class": "db.r6g.large"},
     "instance_class"),
])
def test_bad_clone_requests_are_rejected(bench, moto, run_op, names, env_pw, extra, field):
    rds = moto.client("rds")
    make_aurora(rds)
    r = run_op(OP, "launch", clone_request(bench, "lee", names.user(), names.database(), **extra),
               env=env_pw)
    assert r.code == 2, r
    assert r.error["field"] == field, r
    assert clusters(rds) == [SOURCE]


def test_clone_method_needs_a_cluster(bench, moto, run_op, names, env_pw):
    req = clone_request(bench, "lee", names.user(), names.database(), method="clone",
                        source_instance="warehouse")
    del req["source_cluster"]
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 2 and r.error["field"] == "method", r


def test_dry_run_clone_changes_nothing(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_aurora(rds)
    r = run_op(OP, "launch", clone_request(bench, "lee", names.user(), names.database(),
                                           dry_run=True), env=env_pw)
    assert r.code == 0, r
    assert r.data["status"] == "dry-run" and r.data["method"] == "clone"
    assert r.data["cluster"] == "dw-snapshot-lee" and r.data["instance_class"] == "db.r6g.large"
    assert clusters(rds) == [SOURCE]


# --------------------------------------------------------------------------
# what dwops does not own
# --------------------------------------------------------------------------

def test_unmanaged_cluster_is_never_touched(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_aurora(rds)
    restore_clone(rds, "dw-snapshot-hand", "alice", managed=False,
                  expires_at="2020-01-01T00:00:00Z")
    for req in ({"owner": "alice", "instance_name": "dw-snapshot-hand"},
                {"owner": "admin", "instance_name": "dw-snapshot-hand", "as_admin": True},
                {"owner": "admin", "instance_name": SOURCE, "as_admin": True},
                {"owner": "admin", "instance_name": f"{SOURCE}-1", "as_admin": True}):
        r = run_op(OP, "destroy", req)
        assert r.code == 2 and r.error["code"] == "NotManaged", r
    r = run_op(OP, "extend", {"owner": "alice", "instance_name": "dw-snapshot-hand",
                              "as_admin": True})
    assert r.code == 2 and r.error["code"] == "NotManaged", r
    r = run_op(OP, "launch", clone_request(bench, "alice", names.user(), names.database(),
                                           instance_name="dw-snapshot-hand"), env=env_pw)
    assert r.code == 2 and r.error["code"] == "NotManaged", r
    r = run_op(OP, "list", {})
    assert r.code == 0 and r.data["copies"] == [], r
    # Expired by its tag, but not dwops's: dw-cleanup leaves it.
    r = run_op("dw-cleanup", "apply", {"snapshots": {}})
    assert r.code == 99, r
    assert clusters(rds) == sorted([SOURCE, "dw-snapshot-hand"])
    assert instances(rds) == sorted([f"{SOURCE}-1", "dw-snapshot-hand"])
    assert cluster_tags(rds, "dw-snapshot-hand")["expires-at"] == "2020-01-01T00:00:00Z"


# --------------------------------------------------------------------------
# dw-cleanup
# --------------------------------------------------------------------------

def test_cleanup_deletes_expired_and_idle_clones(bench, moto, run_op):
    rds, cw = moto.client("rds"), moto.client("cloudwatch")
    make_aurora(rds)
    now = dt.datetime.now(UTC)
    restore_clone(rds, "dw-snapshot-old", "ann", expires_at=iso(now - dt.timedelta(hours=1)))
    restore_clone(rds, "dw-snapshot-idle", "bob")
    restore_clone(rds, "dw-snapshot-busy", "eve")
    later = now + dt.timedelta(days=2)
    for name, value in (("dw-snapshot-idle", 0), ("dw-snapshot-busy", 3)):
        cw.put_metric_data(Namespace="AWS/RDS", MetricData=[{
            "MetricName": "DatabaseConnections", "Timestamp": later - dt.timedelta(hours=h),
            "Dimensions": [{"Name": "DBClusterIdentifier", "Value": name}],
            "Value": value if h == 2 else 0} for h in (1, 2, 5)])
    r = run_op("dw-cleanup", "plan", {"snapshots": {"idle_hours": 24}, "now": iso(later)})
    assert r.code == 0, r
    assert sorted(i["target"] for i in r.data["items"]) == ["dw-snapshot-idle", "dw-snapshot-old"]

    r = run_op("dw-cleanup", "apply", {"snapshots": {}})
    assert r.code == 0, r
    assert [i["target"] for i in r.data["items"] if i["status"] == "done"] == ["dw-snapshot-old"]
    assert clusters(rds) == sorted([SOURCE, "dw-snapshot-busy", "dw-snapshot-idle"])
    assert "dw-snapshot-old" not in instances(rds)
    r = run_op("dw-cleanup", "apply", {"snapshots": {"idle_hours": 24}, "now": iso(later)})
    assert r.code == 0, r
    assert clusters(rds) == sorted([SOURCE, "dw-snapshot-busy"])
    assert instances(rds) == sorted([f"{SOURCE}-1", "dw-snapshot-busy"])


def _without_cluster(name):
    """A rewrite pair that takes one cluster out of a DescribeDBClusters answer."""
    return [r"<DBCluster>(?:(?!</DBCluster>).)*?<DBClusterIdentifier>" + name +
            r"</DBClusterIdentifier>.*?</DBCluster>", ""]


def test_list_reads_every_page_of_clusters(bench, moto, fault_proxy, run_op):
    """moto answers DescribeDBClusters in one page: the proxy splits it in
    two, the first with a Marker, the second only for that Marker."""
    rds = moto.client("rds")
    make_aurora(rds)
    restore_clone(rds, "dw-snapshot-ann", "ann")
    restore_clone(rds, "dw-snapshot-bob", "bob")
    fault_proxy.set_rules([
        {"match": {"action": "DescribeDBClusters", "body_contains": "Marker=page-2"},
         "fault": "rewrite", "replace": [_without_cluster("dw-snapshot-ann")]},
        {"match": {"action": "DescribeDBClusters", "body_contains": "MaxRecords"},
         "fault": "rewrite", "times": 1,
         "replace": [_without_cluster("dw-snapshot-bob"),
                     ["</DBClusters>", "</DBClusters><Marker>page-2</Marker>"]]},
    ])
    r = run_op(OP, "list", {}, env=fault_proxy.env)
    assert r.code == 0, r
    assert sorted(c["instance"] for c in r.data["copies"]) == ["dw-snapshot-ann", "dw-snapshot-bob"]
    rules = fault_proxy.stats()["rules"]
    assert rules[0]["faulted"] == 1 and rules[1]["faulted"] == 1


def test_cluster_tags_are_read_when_the_answer_leaves_them_out(bench, moto, fault_proxy, run_op):
    rds = moto.client("rds")
    make_aurora(rds)
    restore_clone(rds, "dw-snapshot-ann", "ann")
    fault_proxy.set_rules([{"match": {"action": "DescribeDBClusters"}, "fault": "rewrite",
                            "replace": [[r"<TagList>.*?</TagList>|<TagList/>", ""]]},
                           # only counts the calls
                           {"match": {"action": "ListTagsForResource"}, "fault": "slow",
                            "delay_ms": 1}])
    r = run_op(OP, "status", {"owner": "ann"}, env=fault_proxy.env)
    assert r.code == 0, r
    assert r.data["owner"] == "ann" and r.data["method"] == "clone"
    rules = fault_proxy.stats()["rules"]
    assert rules[0]["faulted"] >= 1 and rules[1]["seen"] >= 1
    r = run_op(OP, "destroy", {"owner": "bob", "instance_name": "dw-snapshot-ann"},
               env=fault_proxy.env)
    assert r.code == 2 and r.error["code"] == "NotOwner", r


def test_a_clone_that_kept_more_backups_is_brought_down_to_one_day(
        bench, moto, fault_proxy, run_op, names, env_pw):
    """An endpoint that ignores BackupRetentionPeriod on the restore (the
    proxy makes moto's first answer say 7 days): ModifyDBCluster sets 1."""
    rds = moto.client("rds")
    make_aurora(rds)
    fault_proxy.set_rules([
        {"match": {"action": "DescribeDBClusters",
                   "body_contains": "DBClusterIdentifier=dw-snapshot-lee"},
         # the first call is the look for an existing copy (none)
         "fault": "rewrite", "skip": 1, "times": 1,
         "replace": [["<BackupRetentionPeriod>1</BackupRetentionPeriod>",
                      "<BackupRetentionPeriod>7</BackupRetentionPeriod>"]]},
        {"match": {"action": "ModifyDBCluster"}, "fault": "slow", "delay_ms": 1},
    ])
    r = run_op(OP, "launch", clone_request(bench, "lee", names.user(), names.database()),
               env=dict(env_pw, **fault_proxy.env))
    assert r.code == 0, r
    rules = fault_proxy.stats()["rules"]
    assert rules[0]["faulted"] == 1 and rules[1]["seen"] == 1
    assert "keeps 7 days of backups: down to 1" in r.stderr
    assert cluster(rds, "dw-snapshot-lee")["BackupRetentionPeriod"] == 1
