"""dw-snapshot: private warehouse copies (moto RDS + Secrets Manager, the
bench MariaDB standing in for the restored instance, the bench sshd as the
bastion)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import services  # tests/bench/services.py (on sys.path via conftest)

OP = "dw-snapshot"
# Quotes, backslashes, a backtick, a percent sign and unicode: every one of
# them must survive the trip into CREATE USER.
NASTY_PASSWORD = "p'a\"s\\s`w%o_rd ü€😀 '; DROP USER root; -- \\'"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def make_warehouse(rds, name="warehouse"):
    """An instance with backups on: moto gives it an automated snapshot."""
    rds.create_db_instance(
        DBInstanceIdentifier=name, Engine="mysql", DBInstanceClass="db.t3.large",
        MasterUsername="admin", MasterUserPassword="warehouse-master-pw",
        AllocatedStorage=20, BackupRetentionPeriod=7)
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier=name,
                                      SnapshotType="automated")["DBSnapshots"]
    assert len(snaps) == 1
    return snaps[0]["DBSnapshotIdentifier"]


def tags_of(rds, instance):
    arn = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]["DBInstanceArn"]
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def instance_ids(rds):
    return sorted(d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"])


def parse_iso(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def client_login(bench, user, password, sql, host=None, port=None, extra=()):
    """Log in with the mariadb client as user (password via MYSQL_PWD)."""
    client = services._which("mariadb", "mysql")
    cmd = [client, "--no-defaults", "--protocol=TCP", f"-h{host or bench.mysql_host}",
           f"-P{port or bench.mysql_port}", f"-u{user}", "--batch", "--skip-column-names",
           *extra, "-e", sql]
    env = dict(os.environ, MYSQL_PWD=password)
    return subprocess.run(cmd, capture_output=True, env=env, timeout=30)


class Names:
    """Unique MariaDB users and databases for one test, dropped afterwards."""

    def __init__(self, mysql):
        self.mysql = mysql
        self.users, self.databases = [], []

    def user(self):
        u = "eng_" + uuid.uuid4().hex[:10]
        self.users.append(u)
        return u

    def database(self, create=True):
        d = "wh_" + uuid.uuid4().hex[:10]
        self.databases.append(d)
        if create:
            self.mysql(f"CREATE DATABASE `{d}`")
        return d

    def cleanup(self):
        for u in self.users:
            self.mysql(f"DROP USER IF EXISTS '{u}'@'%'")
        for d in self.databases:
            self.mysql(f"DROP DATABASE IF EXISTS `{d}`")


@pytest.fixture
def names(mysql):
    n = Names(mysql)
    try:
        yield n
    finally:
        n.cleanup()


@pytest.fixture
def env_pw(secrets):
    """The engineer's password, handed over through the environment."""
    secrets.append(NASTY_PASSWORD)
    return {"DW_TEST_USER_PASSWORD": NASTY_PASSWORD}


def launch_request(bench, owner, user, database, **extra):
    req = {
        "source_instance": "warehouse",
        "owner": owner,
        "database": database,
        "user": {"name": user, "password_env": "DW_TEST_USER_PASSWORD"},
        "master": {"user": "root", "password_env": "DW_BENCH_MYSQL_ROOT_PASSWORD"},
        "endpoint_override": f"{bench.mysql_host}:{bench.mysql_port}",
        "tls": {"mode": "disabled"},
        "instance_class": "db.t3.medium",
        "poll_interval_s": 1,
        "wait_timeout_s": 60,
    }
    req.update(extra)
    return req


# --------------------------------------------------------------------------
# launch
# --------------------------------------------------------------------------

def test_launch_restores_newest_automated_snapshot_with_tags_and_login(
        bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    automated = make_warehouse(rds)
    time.sleep(1.1)
    # Newer, but manual: never picked.
    rds.create_db_snapshot(DBInstanceIdentifier="warehouse", DBSnapshotIdentifier="manual-newer")
    # Newer and automated, but another instance's.
    make_warehouse(rds, "other-warehouse")

    user, db = names.user(), names.database()
    before = datetime.now(timezone.utc)
    r = run_op(OP, "launch", launch_request(bench, "jane.doe@example.com", user, db),
               env=env_pw)
    assert r.code == 0, r
    d = r.data
    assert d["instance"] == "dw-snapshot-jane-doe-example-com"
    assert d["snapshot"] == automated
    assert d["source"] == "warehouse"
    assert d["created"] is True
    datetime.fromisoformat(d["created_at"].replace("Z", "+00:00"))
    assert d["status"] == "available"
    assert d["owner"] == "jane.doe@example.com"
    assert d["user"] == user and d["database"] == db
    assert d["address"] and d["port"]
    expires = parse_iso(d["expires_at"])
    assert timedelta(days=20, hours=23) < expires - before < timedelta(days=21, minutes=5)

    inst = rds.describe_db_instances(DBInstanceIdentifier=d["instance"])["DBInstances"][0]
    assert inst["BackupRetentionPeriod"] == 0
    assert inst["DBInstanceClass"] == "db.t3.medium"
    tags = tags_of(rds, d["instance"])
    assert tags == {"managed-by": "dwops", "owner": "jane.doe@example.com",
                    "source": "warehouse", "snapshot": automated,
                    "expires-at": d["expires_at"]}
    # A progress line per poll, with the status and the time so far.
    assert re.search(r"dw-snapshot-jane-doe-example-com: available \(\d+s elapsed\)",
                     r.stderr), r.stderr

    # The engineer logs in with the nasty password and may create tables,
    # indexes and grant.
    lr = client_login(bench, user, NASTY_PASSWORD,
                      f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT); "
                      f"CREATE INDEX iv ON `{db}`.t (v); "
                      f"SELECT COUNT(*) FROM `{db}`.t")
    assert lr.returncode == 0, lr.stderr
    grants = " ".join(r[0] for r in names.mysql(f"SHOW GRANTS FOR '{user}'@'%'"))
    assert "ALL PRIVILEGES" in grants and "WITH GRANT OPTION" in grants
    # The grant is for this database only: "_" is not a wildcard.
    lookalike = db.replace("_", "x", 1)
    names.databases.append(lookalike)
    names.mysql(f"CREATE DATABASE `{lookalike}`")
    lr = client_login(bench, user, NASTY_PASSWORD, f"CREATE TABLE `{lookalike}`.t (id INT)")
    assert lr.returncode != 0 and b"denied" in lr.stderr


def test_launch_with_master_from_secrets_manager(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    sm = moto.client("secretsmanager")
    sm.create_secret(Name="warehouse/master", SecretString=json.dumps(
        {"username": "root", "password": bench.mysql_root_password, "engine": "mysql"}))
    user, db = names.user(), names.database()
    req = launch_request(bench, "sam", user, db, master={"secret_id": "warehouse/master"})
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 0, r
    assert r.data["instance"] == "dw-snapshot-sam"
    assert client_login(bench, user, NASTY_PASSWORD, "SELECT 1").returncode == 0


def test_missing_master_secret_changes_nothing(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    req = launch_request(bench, "sam", names.user(), names.database(),
                         master={"secret_id": "no/such/secret"})
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "ResourceNotFoundException"
    assert instance_ids(rds) == ["warehouse"]


def test_master_secret_that_is_not_a_login_changes_nothing(bench, moto, run_op, names,
                                                           env_pw, secrets):
    rds = moto.client("rds")
    make_warehouse(rds)
    text = "just-a-password-" + uuid.uuid4().hex
    secrets.append(text)
    moto.client("secretsmanager").create_secret(Name="warehouse/plain", SecretString=text)
    req = launch_request(bench, "sam", names.user(), names.database(),
                         master={"secret_id": "warehouse/plain"})
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "SecretNotLogin"
    assert instance_ids(rds) == ["warehouse"]


def test_master_secret_naming_password_twice_is_refused(bench, moto, run_op, names,
                                                       env_pw, secrets):
    """A login secret that says "password" twice is ambiguous: refused
    before anything is made, naming the key, never the values."""
    rds = moto.client("rds")
    make_warehouse(rds)
    first, second = ("pw-one-" + uuid.uuid4().hex, "pw-two-" + uuid.uuid4().hex)
    secrets.extend([first, second])
    moto.client("secretsmanager").create_secret(
        Name="warehouse/twice",
        SecretString=f'{{"username": "admin", "password": "{first}", "password": "{second}"}}')
    req = launch_request(bench, "sam", names.user(), names.database(),
                         master={"secret_id": "warehouse/twice"})
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "SecretNotLogin"
    assert '"password" twice' in r.error["message"], r
    assert first not in r.stdout + r.stderr and second not in r.stdout + r.stderr
    assert instance_ids(rds) == ["warehouse"]


def test_relaunch_returns_the_same_copy_and_resets_the_password(
        bench, moto, run_op, names, env_pw, secrets):
    rds = moto.client("rds")
    make_warehouse(rds)
    user, db = names.user(), names.database()
    req = launch_request(bench, "kim", user, db)
    first = run_op(OP, "launch", req, env=env_pw)
    assert first.code == 0, first
    assert first.data["created"] is True

    new_pw = "second-password-'\\-" + uuid.uuid4().hex
    secrets.append(new_pw)
    again = run_op(OP, "launch", req, env={"DW_TEST_USER_PASSWORD": new_pw})
    assert again.code == 0, again
    assert again.data["created"] is False
    assert again.data["instance"] == first.data["instance"]
    assert again.data["expires_at"] == first.data["expires_at"]
    assert instance_ids(rds) == ["dw-snapshot-kim", "warehouse"]
    assert client_login(bench, user, new_pw, "SELECT 1").returncode == 0
    assert client_login(bench, user, NASTY_PASSWORD, "SELECT 1").returncode != 0


def test_launch_racing_another_launch_shares_its_copy(bench, moto, fault_proxy, run_op,
                                                     names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    user, db = names.user(), names.database()
    req = launch_request(bench, "kim", user, db)
    assert run_op(OP, "launch", req, env=env_pw).code == 0
    # The second launch looks before the first one's restore shows up.
    fault_proxy.set_rules([{"match": {"action": "DescribeDBInstances"}, "fault": "error",
                            "status": 404, "code": "DBInstanceNotFound",
                            "message": "DBInstance dw-snapshot-kim not found.", "times": 1}])
    r = run_op(OP, "launch", req, env=dict(env_pw, **fault_proxy.env))
    assert r.code == 0, r
    assert r.data["created"] is False
    assert instance_ids(rds) == ["dw-snapshot-kim", "warehouse"]


def test_relaunch_starts_a_stopped_copy_and_refuses_other_owners(
        bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    user, db = names.user(), names.database()
    req = launch_request(bench, "kim", user, db)
    assert run_op(OP, "launch", req, env=env_pw).code == 0
    rds.stop_db_instance(DBInstanceIdentifier="dw-snapshot-kim")
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 0, r
    assert r.data["created"] is False and r.data["status"] == "available"
    assert "is stopped: starting it" in r.stderr

    # Someone else asking for kim's instance by name gets nothing.
    r = run_op(OP, "launch", dict(req, owner="mallory", instance_name="dw-snapshot-kim"),
               env=env_pw)
    assert r.code == 2, r
    assert r.error["code"] == "NotOwner"
    assert tags_of(rds, "dw-snapshot-kim")["owner"] == "kim"


def test_aws_failure_after_restore_deletes_the_new_copy(
        bench, moto, fault_proxy, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    # The first DescribeDBInstances (is there a copy already?) goes through;
    # waiting for the restored copy then meets nothing but throttling.
    fault_proxy.set_rules([{"match": {"action": "DescribeDBInstances"}, "fault": "throttle",
                            "skip": 1}])
    req = launch_request(bench, "lee", names.user(), names.database(), max_attempts=2)
    r = run_op(OP, "launch", req, env=dict(env_pw, **fault_proxy.env))
    assert r.code == 75, r
    assert "dw-snapshot-lee was deleted" in r.error["message"]
    assert instance_ids(rds) == ["warehouse"]


# Slow and failed restores: moto's restores are available at once (and it
# has no way to hold an RDS instance in another state), so the waiter's
# decisions on each poll -- available, the failed states, the transitional
# ones and the wait_timeout_s boundary (exit 75, WaitTimeout) -- are tested
# in tests/unit/test_copy.c (dw_copy_wait_verdict).  Rolling back a new copy
# when the wait ends in a transient error is tested above, with throttling
# from the fault proxy (test_aws_failure_after_restore_deletes_the_new_copy).


def test_failed_grant_deletes_the_new_copy(bench, moto, run_op, names, mysql, env_pw, secrets):
    rds = moto.client("rds")
    make_warehouse(rds)
    # A master login that may create users but not grant rights on the database.
    weak, weak_pw = names.user(), "weak-master-" + uuid.uuid4().hex
    secrets.append(weak_pw)
    mysql(f"CREATE USER '{weak}'@'%' IDENTIFIED BY '{weak_pw}'")
    mysql(f"GRANT CREATE USER ON *.* TO '{weak}'@'%'")
    user, db = names.user(), names.database()
    req = launch_request(bench, "lee", user, db,
                         master={"user": weak, "password_env": "DW_TEST_MASTER_PW"})
    r = run_op(OP, "launch", req, env=dict(env_pw, DW_TEST_MASTER_PW=weak_pw))
    assert r.code == 1, r
    assert r.error["code"] == "MySQLError"
    assert "granting" in r.error["message"]
    assert "dw-snapshot-lee was deleted" in r.error["message"]
    assert instance_ids(rds) == ["warehouse"]


def test_keep_on_failure_keeps_the_copy(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    # TLS verification is on by default and the bench MariaDB has no TLS.
    req = launch_request(bench, "lee", names.user(), names.database(), keep_on_failure=True)
    del req["tls"]
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "MySQLError"
    assert "kept (keep_on_failure)" in r.error["message"]
    assert instance_ids(rds) == ["dw-snapshot-lee", "warehouse"]


@pytest.mark.parametrize("field,value", [
    ("user", {"name": "bob'; DROP USER root; --", "password_env": "DW_TEST_USER_PASSWORD"}),
    ("user", {"name": "bob`x", "password_env": "DW_TEST_USER_PASSWORD"}),
    ("database", "wh`; DROP DATABASE mysql; --"),
    ("database", "wh.sales"),
    ("user", {"name": "root", "password_env": "DW_TEST_USER_PASSWORD"}),
    ("user", {"name": "RDSADMIN", "password_env": "DW_TEST_USER_PASSWORD"}),
    ("instance_name", "Bad--Name"),
    ("ttl_days", 0),
])
def test_unsafe_names_are_refused_before_anything_changes(bench, moto, run_op, names,
                                                          env_pw, field, value):
    rds = moto.client("rds")
    make_warehouse(rds)
    req = launch_request(bench, "eve", names.user(), names.database())
    req[field] = value
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 2, r
    assert r.error["field"].split(".")[0] == field
    assert instance_ids(rds) == ["warehouse"]


def test_request_errors_are_rejected(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    base = launch_request(bench, "eve", names.user(), names.database())
    r = run_op(OP, "launch", dict(base, colour="blue"), env=env_pw)
    assert r.code == 2 and r.error["field"] == "colour", r
    r = run_op(OP, "launch", dict(base, snapshot="x"), env=env_pw)
    assert r.code == 2 and r.error["field"] == "source_instance", r
    r = run_op(OP, "launch", dict(base, user={"name": "eve"}), env=env_pw)
    assert r.code == 2 and r.error["field"] == "user.password", r
    r = run_op(OP, "launch", base, env={"DW_TEST_USER_PASSWORD": None})
    assert r.code == 2 and r.error["field"] == "user.password_env", r
    r = run_op(OP, "launch", dict(base, tls={"mode": "sometimes"}), env=env_pw)
    assert r.code == 2 and r.error["field"] == "tls.mode", r
    assert instance_ids(rds) == ["warehouse"]


def test_launch_from_explicit_snapshot_and_dry_run(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    rds.create_db_snapshot(DBInstanceIdentifier="warehouse", DBSnapshotIdentifier="before-migration")
    user, db = names.user(), names.database()
    req = launch_request(bench, "ana", user, db, snapshot="before-migration")
    del req["source_instance"]
    dry = run_op(OP, "launch", dict(req, dry_run=True), env=env_pw)
    assert dry.code == 0, dry
    assert dry.data["dry_run"] is True and dry.data["snapshot"] == "before-migration"
    assert instance_ids(rds) == ["warehouse"]
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 0, r
    assert tags_of(rds, "dw-snapshot-ana")["snapshot"] == "before-migration"


def test_no_automated_snapshot_fails_cleanly(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    # An instance that is gone, with no snapshots left.
    req = launch_request(bench, "ana", names.user(), names.database(),
                         source_instance="retired-warehouse")
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "SnapshotNotFound"
    assert instance_ids(rds) == ["warehouse"]


def test_launch_ttl_days_obeys_max_ttl_days(bench, moto, run_op, names, env_pw):
    """issue 12 #3: a copy that never expires is never cleaned up."""
    rds = moto.client("rds")
    make_warehouse(rds)
    base = launch_request(bench, "ana", names.user(), names.database())
    for extra in ({"ttl_days": 2000000000}, {"ttl_days": 31},
                  {"ttl_days": 40, "max_ttl_days": 39}):
        r = run_op(OP, "launch", dict(base, **extra), env=env_pw)
        assert r.code == 2, (extra, r)
        assert r.error["field"] == "ttl_days", r
        assert "max_ttl_days" in r.error["message"]
    r = run_op(OP, "launch", dict(base, max_ttl_days=0), env=env_pw)
    assert r.code == 2 and r.error["field"] == "max_ttl_days", r
    assert instance_ids(rds) == ["warehouse"]
    # Within the cap it goes ahead (a dry run says when it would expire).
    r = run_op(OP, "launch", dict(base, ttl_days=30, dry_run=True), env=env_pw)
    assert r.code == 0, r
    expires = parse_iso(r.data["expires_at"])
    now = datetime.now(timezone.utc)
    assert now + timedelta(days=29, hours=23) < expires <= now + timedelta(days=30)
    assert instance_ids(rds) == ["warehouse"]


@pytest.mark.parametrize("field,value", [
    ("database", "no such database!"), ("ttl_days", 0), ("ttl_days", 1000),
    ("wait_timeout_s", 0), ("owner", ""),
])
def test_bad_request_with_master_secret_is_rejected_when_aws_is_down(
        bench, run_op, names, env_pw, field, value):
    """issue 12 #14: the request is checked before Secrets Manager is read,
    so a bad one exits 2 (not 75) when AWS cannot be reached."""
    down = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{services.free_port()}"}
    req = launch_request(bench, "ana", names.user(), names.database(),
                         master={"secret_id": "warehouse/master"})
    req[field] = value
    r = run_op(OP, "launch", req, env=dict(env_pw, **down))
    assert r.code == 2, r
    assert r.error["field"] == field, r


def test_good_request_with_master_secret_and_aws_down_is_temporary(
        bench, run_op, names, env_pw):
    down = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{services.free_port()}"}
    req = launch_request(bench, "ana", names.user(), names.database(),
                         master={"secret_id": "warehouse/master"})
    r = run_op(OP, "launch", req, env=dict(env_pw, **down))
    assert r.code == 75, r


# --------------------------------------------------------------------------
# TLS: verification is on by default
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)

    for ca in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
            "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=dwops {ca}")
    # "server" names the address connected to; "elsewhere" another host.
    for name, san in (("server", "IP:127.0.0.1,DNS:localhost"),
                      ("elsewhere", "DNS:elsewhere.example.com")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return d


class TLSMariaDB:
    """A throwaway MariaDB from Debian (the bench's MariaDB service class)
    with TLS on and required, serving the certificate use_cert() puts in
    place (FLUSH SSL reloads it without a restart)."""

    def __init__(self, run_dir, certs):
        self.certs = certs
        self.live = certs / "live"
        self.live.mkdir(exist_ok=True)
        self._copy_cert("server")
        self.db = services.MariaDB(run_dir, extra_opts=[
            f"--ssl-ca={certs / 'ca.pem'}",
            f"--ssl-cert={self.live / 'cert.pem'}",
            f"--ssl-key={self.live / 'key.pem'}",
            "--require-secure-transport=ON",
        ])
        self.db.own_run_dir = True
        self.db.start()
        self.port = self.db.port
        self.root_password = self.db.root_password

    def _copy_cert(self, name):
        shutil.copyfile(self.certs / f"{name}.pem", self.live / "cert.pem.tmp")
        shutil.copyfile(self.certs / f"{name}.key", self.live / "key.pem.tmp")
        os.replace(self.live / "cert.pem.tmp", self.live / "cert.pem")
        os.replace(self.live / "key.pem.tmp", self.live / "key.pem")

    def sql(self, sql):
        """Run sql as root over the socket; the rows as lists of strings."""
        r = self.db._client("--batch", "--skip-column-names",
                            password=self.root_password, sql=sql)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return [line.split("\t") for line in r.stdout.decode().splitlines()]

    def use_cert(self, name):
        self._copy_cert(name)
        self.sql("FLUSH SSL")

    def stop(self):
        self.db.stop()


@pytest.fixture(scope="module")
def tls_mariadb(tls_certs, tmp_path_factory):
    server = TLSMariaDB(tmp_path_factory.mktemp("tls-mariadb"), tls_certs)
    try:
        assert server.sql("SHOW VARIABLES LIKE 'have_ssl'") == [["have_ssl", "YES"]]
        assert server.sql("SELECT @@require_secure_transport") == [["1"]]
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("cert,tls,reaches_login", [
    ("server", "ca", True),          # the right CA and host: TLS passes
    ("server", "other-ca", False),   # another CA: refused
    ("server", "system", False),     # the system CAs (the default): refused
    ("elsewhere", "ca", False),      # the right CA, another host's certificate: refused
    ("elsewhere", "required", True), # TLS without checks (tunnels, proxies)
])
def test_tls_certificate_is_verified_by_default(bench, moto, run_op, names, env_pw, secrets,
                                                tls_certs, tls_mariadb, cert, tls,
                                                reaches_login):
    rds = moto.client("rds")
    make_warehouse(rds)
    secrets.append(tls_mariadb.root_password)
    tls_mariadb.use_cert(cert)
    user, db = names.user(), names.database(create=False)
    tls_mariadb.sql(f"CREATE DATABASE `{db}`")
    req = launch_request(bench, "tia", user, db,
                         endpoint_override=f"127.0.0.1:{tls_mariadb.port}",
                         master={"user": "root", "password_env": "DW_TEST_TLS_ROOT_PW"})
    if tls == "system":
        del req["tls"]
    elif tls == "required":
        req["tls"] = {"mode": "required"}
    else:
        req["tls"] = {"ca_file": str(tls_certs / f"{tls}.pem")}
    try:
        r = run_op(OP, "launch", req,
                   env=dict(env_pw, DW_TEST_TLS_ROOT_PW=tls_mariadb.root_password))
        if reaches_login:
            assert r.code == 0, r
            assert r.data["instance"] == "dw-snapshot-tia" and r.data["created"] is True
            assert r.data["user"] == user and r.data["database"] == db
            # The master's and the new login's connections were both encrypted
            # (the server requires it anyway).
            assert r.stderr.count(f"as {user}@127.0.0.1:{tls_mariadb.port} (TLS)") == 1, r.stderr
            assert f"as root@127.0.0.1:{tls_mariadb.port} (TLS)" in r.stderr, r.stderr
            assert "(no TLS)" not in r.stderr
            assert instance_ids(rds) == ["dw-snapshot-tia", "warehouse"]
            # The engineer logs in (over TLS) and may create tables.
            ssl_args = ["--ssl", f"--ssl-ca={tls_certs / 'ca.pem'}"]
            if cert == "server":
                ssl_args.append("--ssl-verify-server-cert")
            lr = client_login(bench, user, NASTY_PASSWORD,
                              f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY); "
                              f"SELECT COUNT(*) FROM `{db}`.t",
                              host="127.0.0.1", port=tls_mariadb.port, extra=ssl_args)
            assert lr.returncode == 0, lr.stderr
            assert lr.stdout.split() == [b"0"]
        else:
            assert r.code == 1, r
            assert r.error["code"] == "MySQLError"
            assert "TLS/SSL error" in r.error["message"], r.error
            assert "dw-snapshot-tia was deleted" in r.error["message"]
            assert instance_ids(rds) == ["warehouse"]
            # Refused before logging in: no login was made.
            assert tls_mariadb.sql(
                f"SELECT COUNT(*) FROM mysql.global_priv WHERE User = '{user}'") == [["0"]]
    finally:
        tls_mariadb.sql(f"DROP USER IF EXISTS '{user}'@'%'; DROP DATABASE IF EXISTS `{db}`")


# --------------------------------------------------------------------------
# the SSH tunnel
# --------------------------------------------------------------------------

def tunnel(bench, **extra):
    t = {"host": bench.ssh_host, "port": bench.ssh_port, "user": bench.ssh_user,
         "private_key_file": bench.ssh_private_key, "known_hosts_file": bench.ssh_known_hosts}
    t.update(extra)
    return t


def test_launch_through_ssh_tunnel(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    user, db = names.user(), names.database()
    # endpoint_override is the address as the bastion sees it.
    req = launch_request(bench, "tom", user, db, ssh_tunnel=tunnel(bench))
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 0, r
    assert "SSH tunnel 127.0.0.1:" in r.stderr
    assert client_login(bench, user, NASTY_PASSWORD, "SELECT 1").returncode == 0


def test_tunnel_refuses_unknown_host_key(bench, moto, run_op, names, env_pw, tmp_path):
    rds = moto.client("rds")
    make_warehouse(rds)
    other = tmp_path / "known_hosts"
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    pub = (tmp_path / "k.pub").read_text().split()
    # The right host, the wrong key.
    other.write_text(f"[{bench.ssh_host}]:{bench.ssh_port} {pub[0]} {pub[1]}\n")
    req = launch_request(bench, "tom", names.user(), names.database(),
                         ssh_tunnel=tunnel(bench, known_hosts_file=str(other)))
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "SSHHostKeyMismatch"
    assert instance_ids(rds) == ["warehouse"]

    other.write_text("")
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "SSHHostKeyUnknown"
    assert instance_ids(rds) == ["warehouse"]


def test_tunnel_to_a_closed_port_fails_fast_and_rolls_back(bench, moto, run_op, names,
                                                          env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    closed = services.free_port()
    req = launch_request(bench, "tom", names.user(), names.database(),
                         ssh_tunnel=tunnel(bench, port=closed))
    start = time.monotonic()
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert r.error["code"] == "SSHError"
    assert "dw-snapshot-tom was deleted" in r.error["message"]
    assert time.monotonic() - start < 20
    assert instance_ids(rds) == ["warehouse"]


def test_bastion_that_cannot_reach_the_copy_says_so(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    closed = services.free_port()
    req = launch_request(bench, "tom", names.user(), names.database(), ssh_tunnel=tunnel(bench),
                         endpoint_override=f"127.0.0.1:{closed}")
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 1, r
    assert "through the SSH tunnel" in r.error["message"]
    assert "Channel open failure" in r.error["message"]
    assert "dw-snapshot-tom was deleted" in r.error["message"]
    assert instance_ids(rds) == ["warehouse"]


def test_tunnel_with_missing_key_file_is_rejected(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    req = launch_request(bench, "tom", names.user(), names.database(),
                         ssh_tunnel=tunnel(bench, private_key_file="/nonexistent/key"))
    r = run_op(OP, "launch", req, env=env_pw)
    assert r.code == 2, r
    assert r.error["field"] == "ssh_tunnel.private_key_file"
    assert instance_ids(rds) == ["warehouse"]


# --------------------------------------------------------------------------
# destroy, list, extend, status
# --------------------------------------------------------------------------

def restore_copy(rds, name, owner, expires_at=None, managed=True):
    """A copy made directly with boto3 (faster than a full launch)."""
    snap = rds.describe_db_snapshots(DBInstanceIdentifier="warehouse",
                                     SnapshotType="automated")["DBSnapshots"][0]
    tags = [{"Key": "owner", "Value": owner}, {"Key": "source", "Value": "warehouse"},
            {"Key": "snapshot", "Value": snap["DBSnapshotIdentifier"]},
            {"Key": "expires-at", "Value": expires_at or "2030-01-01T00:00:00Z"}]
    if managed:
        tags.append({"Key": "managed-by", "Value": "dwops"})
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=name, DBSnapshotIdentifier=snap["DBSnapshotIdentifier"], Tags=tags)


def test_destroy_by_owner(bench, moto, run_op):
    rds = moto.client("rds")
    make_warehouse(rds)
    restore_copy(rds, "dw-snapshot-alice", "alice")
    r = run_op(OP, "destroy", {"owner": "alice", "poll_interval_s": 1})
    assert r.code == 0, r
    assert r.data["instance"] == "dw-snapshot-alice" and r.data["status"] == "deleted"
    assert "dw-snapshot-alice: gone" in r.stderr
    assert instance_ids(rds) == ["warehouse"]
    # Again: nothing to do.
    r = run_op(OP, "destroy", {"owner": "alice", "poll_interval_s": 1})
    assert r.code == 99, r


def test_destroy_refuses_other_owners_and_unmanaged(bench, moto, run_op):
    rds = moto.client("rds")
    make_warehouse(rds)
    restore_copy(rds, "dw-snapshot-alice", "alice")
    restore_copy(rds, "hand-made", "alice", managed=False)

    r = run_op(OP, "destroy", {"owner": "bob", "instance_name": "dw-snapshot-alice"})
    assert r.code == 2, r
    assert r.error["code"] == "NotOwner"
    r = run_op(OP, "destroy", {"owner": "bob", "instance_name": "dw-snapshot-alice",
                               "dry_run": True})
    assert r.code == 2, r
    assert instance_ids(rds) == ["dw-snapshot-alice", "hand-made", "warehouse"]

    # Not even an admin touches an unmanaged instance, or the warehouse.
    for name in ("hand-made", "warehouse"):
        r = run_op(OP, "destroy", {"owner": "alice", "instance_name": name, "as_admin": True})
        assert r.code == 2, r
        assert r.error["code"] == "NotManaged"
    assert instance_ids(rds) == ["dw-snapshot-alice", "hand-made", "warehouse"]

    r = run_op(OP, "destroy", {"owner": "admin", "instance_name": "dw-snapshot-alice",
                               "as_admin": True, "poll_interval_s": 1})
    assert r.code == 0, r
    assert instance_ids(rds) == ["hand-made", "warehouse"]


def test_list_newest_first_and_by_owner(bench, moto, run_op):
    rds = moto.client("rds")
    make_warehouse(rds)
    restore_copy(rds, "dw-snapshot-alice", "alice")
    time.sleep(1.1)
    restore_copy(rds, "dw-snapshot-bob", "bob")
    restore_copy(rds, "hand-made", "alice", managed=False)

    r = run_op(OP, "list", {})
    assert r.code == 0, r
    assert [c["instance"] for c in r.data["copies"]] == ["dw-snapshot-bob", "dw-snapshot-alice"]
    assert r.data["count"] == 2
    c = r.data["copies"][1]
    assert c["owner"] == "alice" and c["status"] == "available"
    assert c["snapshot"].startswith("rds:warehouse-")
    assert c["expires_at"] == "2030-01-01T00:00:00Z" and c["expired"] is False
    assert c["created_at"] and c["address"] and c["port"]
    # a timestamp, under its own name: "created" is launch's boolean
    datetime.fromisoformat(c["created_at"].replace("Z", "+00:00"))
    assert "created" not in c

    r = run_op(OP, "list", {"owner": "alice"})
    assert [c["instance"] for c in r.data["copies"]] == ["dw-snapshot-alice"]

    r = run_op(OP, "status", {"owner": "bob"})
    assert r.code == 0, r
    assert r.data["instance"] == "dw-snapshot-bob" and r.data["owner"] == "bob"
    r = run_op(OP, "status", {"instance_name": "hand-made"})
    assert r.code == 2, r


def test_list_reads_every_page(bench, moto, fault_proxy, run_op):
    rds = moto.client("rds")
    make_warehouse(rds)
    # More than one page of DescribeDBInstances (100 a page).
    for i in range(105):
        restore_copy(rds, f"copy-{i:03d}", "alice" if i % 5 == 0 else "bob",
                     managed=i != 7)
    # A rule that only counts the calls.
    fault_proxy.set_rules([{"match": {"action": "DescribeDBInstances"}, "fault": "slow",
                            "delay_ms": 1}])
    r = run_op(OP, "list", {}, env=fault_proxy.env)
    assert r.code == 0, r
    assert fault_proxy.stats()["rules"][0]["seen"] == 2
    assert r.data["count"] == 104
    assert "copy-007" not in [c["instance"] for c in r.data["copies"]]
    r = run_op(OP, "list", {"owner": "alice"})
    assert sorted(c["instance"] for c in r.data["copies"]) == \
        [f"copy-{i:03d}" for i in range(0, 105, 5)]


def test_extend_moves_expiry_forward_capped(bench, moto, run_op):
    rds = moto.client("rds")
    make_warehouse(rds)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now + timedelta(days=3)
    restore_copy(rds, "dw-snapshot-alice", "alice", start.strftime("%Y-%m-%dT%H:%M:%SZ"))

    r = run_op(OP, "extend", {"owner": "alice", "ttl_days": 5})
    assert r.code == 0, r
    assert parse_iso(r.data["expires_at"]) == start + timedelta(days=5)
    assert tags_of(rds, "dw-snapshot-alice")["expires-at"] == r.data["expires_at"]

    r = run_op(OP, "extend", {"owner": "alice", "ttl_days": 60, "max_ttl_days": 10})
    assert r.code == 0, r
    got = parse_iso(r.data["expires_at"])
    assert now + timedelta(days=10) <= got <= now + timedelta(days=10, minutes=5)

    # Already later than max_ttl_days allows: nothing to do.  (A cap of 9
    # days, not 10: the cap counts from now, and a second later "10 days
    # from now" is a second past the expiry just set.)
    r = run_op(OP, "extend", {"owner": "alice", "ttl_days": 1, "max_ttl_days": 9})
    assert r.code == 99, r
    assert tags_of(rds, "dw-snapshot-alice")["expires-at"] == \
        got.strftime("%Y-%m-%dT%H:%M:%SZ")

    r = run_op(OP, "extend", {"owner": "bob", "instance_name": "dw-snapshot-alice"})
    assert r.code == 2, r
    assert tags_of(rds, "dw-snapshot-alice")["expires-at"] == \
        got.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_extend_defaults_to_21_days_capped_at_30(bench, moto, run_op):
    rds = moto.client("rds")
    make_warehouse(rds)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now + timedelta(days=3)
    restore_copy(rds, "dw-snapshot-carl", "carl", start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    # An expired copy: the 21 days count from now.
    restore_copy(rds, "dw-snapshot-dora", "dora",
                 (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))

    # No ttl_days: 21 days, as for launch (3 + 21 = 24, under the cap).
    r = run_op(OP, "extend", {"owner": "carl"})
    assert r.code == 0, r
    assert parse_iso(r.data["expires_at"]) == start + timedelta(days=21)
    assert tags_of(rds, "dw-snapshot-carl")["expires-at"] == r.data["expires_at"]

    # Again: 24 + 21 = 45 days, capped by the default max_ttl_days (30).
    r = run_op(OP, "extend", {"owner": "carl"})
    assert r.code == 0, r
    capped = parse_iso(r.data["expires_at"])
    assert now + timedelta(days=30) <= capped <= now + timedelta(days=30, minutes=5)
    assert tags_of(rds, "dw-snapshot-carl")["expires-at"] == r.data["expires_at"]

    # At (here: past) the cap: nothing to do, nothing changed.  29 days, as
    # "30 days from now" moves on by the second.
    r = run_op(OP, "extend", {"owner": "carl", "max_ttl_days": 29})
    assert r.code == 99, r
    assert tags_of(rds, "dw-snapshot-carl")["expires-at"] == \
        capped.strftime("%Y-%m-%dT%H:%M:%SZ")

    before = datetime.now(timezone.utc).replace(microsecond=0)
    r = run_op(OP, "extend", {"owner": "dora"})
    assert r.code == 0, r
    got = parse_iso(r.data["expires_at"])
    assert before + timedelta(days=21) <= got <= before + timedelta(days=21, minutes=5)
    assert tags_of(rds, "dw-snapshot-dora")["expires-at"] == r.data["expires_at"]


def test_extend_help_states_the_defaults(bench, run_op):
    r = run_op(OP, args=["--help"])
    assert r.code == 0, r
    section = r.stdout.split("dw-snapshot extend:", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"ttl_days +integer +days to add \(default 21\)", section), section
    assert "never more than this many days from now (default 30)" in section, section


def test_launch_destroy_round_trip(bench, moto, run_op, names, env_pw):
    rds = moto.client("rds")
    make_warehouse(rds)
    user, db = names.user(), names.database()
    r = run_op(OP, "launch", launch_request(bench, "zoe", user, db), env=env_pw)
    assert r.code == 0, r
    r = run_op(OP, "list", {"owner": "zoe"})
    assert [c["instance"] for c in r.data["copies"]] == ["dw-snapshot-zoe"]
    r = run_op(OP, "destroy", {"owner": "zoe", "poll_interval_s": 1})
    assert r.code == 0, r
    assert instance_ids(rds) == ["warehouse"]
    # The instance is gone and so are its automated backups.
    assert rds.describe_db_snapshots(DBInstanceIdentifier="dw-snapshot-zoe")["DBSnapshots"] == []


def test_owner_of_the_longest_allowed_length_keeps_its_copy(bench, moto, run_op, names,
                                                            env_pw):
    """An owner of exactly 128 characters (the most launch accepts) is read
    back whole from the tag: extend and destroy see the copy as theirs."""
    rds = moto.client("rds")
    make_warehouse(rds)
    owner = "o" * 120 + "@ex.com!"
    assert len(owner) == 128
    user, db = names.user(), names.database()
    r = run_op(OP, "launch", launch_request(bench, owner, user, db), env=env_pw)
    assert r.code == 0, r
    name = r.data["instance"]
    assert r.data["owner"] == owner and tags_of(rds, name)["owner"] == owner
    r = run_op(OP, "status", {"owner": owner})
    assert r.code == 0, r
    assert r.data["owner"] == owner
    r = run_op(OP, "list", {"owner": owner})
    assert [c["instance"] for c in r.data["copies"]] == [name]
    r = run_op(OP, "extend", {"owner": owner, "ttl_days": 1})
    assert r.code in (0, 99), r
    # One character short (a prefix of it) is someone else.
    r = run_op(OP, "destroy", {"owner": owner[:127], "instance_name": name})
    assert r.code == 2, r
    assert r.error["code"] == "NotOwner"
    r = run_op(OP, "destroy", {"owner": owner, "poll_interval_s": 1})
    assert r.code == 0, r
    assert instance_ids(rds) == ["warehouse"]
    # One character more is refused before anything is made.
    r = run_op(OP, "launch", launch_request(bench, owner + "x", user, db), env=env_pw)
    assert r.code == 2, r
    assert r.error["field"] == "owner"
    assert instance_ids(rds) == ["warehouse"]


# --------------------------------------------------------------------------
# the example requests
# --------------------------------------------------------------------------

def example_files():
    from pathlib import Path
    return sorted((Path(__file__).resolve().parent.parent / "examples" / "dw-snapshot").glob("*.json"))


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_example_requests_match_the_schema(bench, moto, run_op, path):
    """Every example passes the request schema; read-only ones run."""
    req = json.loads(path.read_text())
    if req["action"] in ("launch", "destroy"):
        req["dry_run"] = True
    r = run_op(OP, request=req)
    if r.code == 2:
        # Rejected for what the bench lacks (files, environment), never for
        # the shape of the request.
        assert "unknown field" not in r.error["message"], r
        assert " must be " not in r.error["message"], r
    else:
        assert r.code in (0, 1, 99), r
