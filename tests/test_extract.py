"""dw-extract: incremental extract from the bench MariaDB to moto's Kinesis,
Firehose and S3 with the watermark in moto's SSM or DynamoDB.  Streams are
read back with boto3 and compared with the table; partial PutRecords
answers come from the fault proxy (moto never returns them)."""

from __future__ import annotations

import gzip
import json
import os
import secrets as pysecrets
import signal
import subprocess
import tempfile
import time
from collections import Counter

import pytest

from conftest import BIN, REPO
from bench import services

DW_EXTRACT = str(BIN / "dw-extract")
EXAMPLES = REPO / "examples" / "dw-extract"
STREAM = "orders"
PARAM = "/dwops/extract/orders"
PW_ENV = "DWX_MYSQL_PASSWORD"
OLD = "2024-03-01 10:00:00.250000"   # far older than lag_s


@pytest.fixture
def db(bench, mysql):
    name = "dwx_" + pysecrets.token_hex(4)
    mysql(f"CREATE DATABASE `{name}`")
    mysql(f"""CREATE TABLE `{name}`.orders (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                updated_at DATETIME(6) NOT NULL,
                amount DECIMAL(14,4) NULL,
                note VARCHAR(200) CHARACTER SET utf8mb4 NULL,
                qty INT NULL,
                big BIGINT UNSIGNED NULL,
                KEY by_cursor (updated_at, id))""")
    try:
        yield name
    finally:
        mysql(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def aws(moto, run_op):
    r = run_op("dw-lock", "create-table", {})
    assert r.code == 0, r
    k = moto.client("kinesis")
    k.create_stream(StreamName=STREAM, ShardCount=1)
    return moto


def request(bench, db, **kw):
    req = {
        "mysql": {"host": bench.mysql_host, "port": bench.mysql_port, "user": "root",
                  "password_env": PW_ENV, "tls": {"mode": "disabled"}},
        "table": f"{db}.orders",
        "cursor": {"column": "updated_at"},
        "state": {"name": PARAM},
        "sink": {"type": "kinesis", "stream": STREAM},
        "page_rows": 100,
    }
    req.update(kw)
    return req


@pytest.fixture
def extract(bench, run_op):
    def run(action, req, env=None, **kw):
        e = {PW_ENV: bench.mysql_root_password}
        e.update(env or {})
        return run_op("dw-extract", action, req, env=e, **kw)
    return run


def stream_records(moto, stream=STREAM):
    k = moto.client("kinesis")
    out = []
    for shard in k.list_shards(StreamName=stream)["Shards"]:
        it = k.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = k.get_records(ShardIterator=it, Limit=10000)
            out += [json.loads(x["Data"]) for x in r["Records"]]
            if not r["Records"]:
                break
            it = r.get("NextShardIterator")
    return out


def table_ids(mysql, db, where="1"):
    return {int(r[0]) for r in mysql(f"SELECT id FROM `{db}`.orders WHERE {where}")}


def insert_same_time(mysql, db, n, ts=OLD):
    values = ",".join(f"('{ts}', {i}.5, 'n{i}', {i})" for i in range(n))
    mysql(f"INSERT INTO `{db}`.orders (updated_at, amount, note, qty) VALUES {values}")


def test_thousand_rows_sharing_one_timestamp_cross_pages(bench, db, aws, mysql, extract):
    insert_same_time(mysql, db, 1000)
    r = extract("run", request(bench, db, page_rows=64))
    assert r.code == 0, r
    d = r.data
    assert d["rows"] == 1000 and d["pages"] == 16 and d["records_sent"] == 1000, d
    assert d["watermark_from"] is None and d["complete"] is True
    assert d["watermark_to"] == {"cursor": OLD, "tiebreak": str(max(table_ids(mysql, db)))}
    assert d["index"] == "by_cursor" and d["state_version"] == 16
    recs = stream_records(aws)
    ids = Counter(x["pk"] for x in recs)
    assert set(ids) == table_ids(mysql, db) and set(ids.values()) == {1}
    x = recs[0]
    assert x["table"] == f"{db}.orders" and x["cursor"] == OLD and x["run_id"] == d["run_id"]
    assert set(x["row"]) == {"id", "updated_at", "amount", "note", "qty", "big"}
    p = aws.client("ssm").get_parameter(Name=PARAM)["Parameter"]
    assert p["Version"] == 16 and json.loads(p["Value"])["cursor"] == OLD
    # nothing new: 99, and the watermark stays
    r = extract("run", request(bench, db, page_rows=64))
    assert r.code == 99 and r.ok and r.data["rows"] == 0, r
    assert aws.client("ssm").get_parameter(Name=PARAM)["Parameter"]["Version"] == 16
    # a row at the same timestamp, later id: read by the keyset's (c = ? AND pk > ?)
    insert_same_time(mysql, db, 1)
    r = extract("run", request(bench, db))
    assert r.code == 0 and r.data["rows"] == 1, r
    assert len(stream_records(aws)) == 1001
    r = extract("status", {"table": f"{db}.orders", "state": {"name": PARAM}})
    assert r.code == 0 and r.data["state_version"] == 17, r
    assert r.data["watermark"]["tiebreak"] == str(max(table_ids(mysql, db)))


def test_values_keep_their_types(bench, db, aws, mysql, extract):
    note = "it's \"quoted\" \\ back\\slash, emoji \U0001F600 and \u00e9\ttab"
    esc = note.replace("\\", "\\\\").replace("'", "\\'").replace("\t", "\\t")
    mysql(f"""SET NAMES utf8mb4; INSERT INTO `{db}`.orders (updated_at, amount, note, qty, big) VALUES
              ('2024-01-02 03:04:05.123456', 12345678.0001, '{esc}', -42, 18446744073709551615),
              ('2024-01-02 03:04:05.000001', NULL, NULL, NULL, NULL)""")
    r = extract("run", request(bench, db))
    assert r.code == 0 and r.data["rows"] == 2, r
    recs = sorted(stream_records(aws), key=lambda x: x["cursor"])
    assert [x["cursor"] for x in recs] == ["2024-01-02 03:04:05.000001", "2024-01-02 03:04:05.123456"]
    empty, full = recs[0]["row"], recs[1]["row"]
    assert empty["amount"] is None and empty["note"] is None and empty["big"] is None
    assert full["amount"] == "12345678.0001" and full["note"] == note
    assert full["qty"] == -42 and full["big"] == 18446744073709551615
    assert full["updated_at"] == "2024-01-02 03:04:05.123456" and isinstance(full["id"], int)


class Session:
    """A second MySQL session kept open (the mysql client reading stdin)."""

    def __init__(self, bench, db):
        cmd = [services._which("mariadb", "mysql"), "--no-defaults", "--protocol=TCP",
               f"-h{bench.mysql_host}", f"-P{bench.mysql_port}", "-uroot", "-n", db]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, MYSQL_PWD=bench.mysql_root_password))

    def send(self, sql):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()

    def close(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=30) == 0, self.p.stderr.read()


def test_transaction_committing_late_is_not_skipped(bench, db, aws, mysql, extract):
    insert_same_time(mysql, db, 3)
    late = Session(bench, db)
    try:
        late.send("START TRANSACTION WITH CONSISTENT SNAPSHOT; "
                  "INSERT INTO orders (updated_at, note) VALUES (UTC_TIMESTAMP(6), 'late');")
        for _ in range(100):
            if mysql("SELECT COUNT(*) FROM information_schema.INNODB_TRX")[0][0] != "0":
                break
            time.sleep(0.05)
        time.sleep(1.2)
        # committed after the late row was written, with a later timestamp
        mysql(f"INSERT INTO `{db}`.orders (updated_at, note) VALUES (UTC_TIMESTAMP(6), 'early')")
        r = extract("run", request(bench, db, lag_s=0))
        assert r.code == 0, r
        assert r.data["guarded_open_transactions"] is True and r.data["oldest_open_transaction"], r.data
        notes = {x["row"]["note"] for x in stream_records(aws)}
        assert notes == {"n0", "n1", "n2"}, notes   # 'early' waits below the open transaction
        late.send("COMMIT;")
    finally:
        late.close()
    r = extract("run", request(bench, db, lag_s=0))
    assert r.code == 0 and r.data["rows"] == 2, r
    assert r.data["oldest_open_transaction"] is None
    notes = Counter(x["row"]["note"] for x in stream_records(aws))
    assert notes == Counter({"n0": 1, "n1": 1, "n2": 1, "early": 1, "late": 1})


def test_lag_leaves_recent_rows_for_the_next_run(bench, db, aws, mysql, extract):
    insert_same_time(mysql, db, 2)
    mysql(f"INSERT INTO `{db}`.orders (updated_at, note) VALUES (UTC_TIMESTAMP(6), 'recent')")
    r = extract("run", request(bench, db, lag_s=3600))
    assert r.code == 0 and r.data["rows"] == 2, r
    assert r.data["upper_bound"] < r.data["source_now"]
    assert "recent" not in {x["row"]["note"] for x in stream_records(aws)}


def test_null_cursor_values_are_counted_not_extracted(bench, db, aws, mysql, extract):
    mysql(f"CREATE TABLE `{db}`.nullable (id INT PRIMARY KEY, ts TIMESTAMP(3) NULL, KEY (ts))")
    mysql(f"INSERT INTO `{db}`.nullable VALUES (1, '2024-01-01 00:00:00.5'), (2, NULL), "
          f"(3, NULL), (4, '2024-01-01 00:00:01')")
    r = extract("run", request(bench, db, table=f"{db}.nullable", cursor={"column": "ts"}))
    assert r.code == 0, r
    assert r.data["rows"] == 2 and r.data["null_cursor_rows"] == 2, r.data
    recs = stream_records(aws)
    assert sorted(x["pk"] for x in recs) == [1, 4]
    assert sorted(x["cursor"] for x in recs) == ["2024-01-01 00:00:00.500", "2024-01-01 00:00:01.000"]
    assert "NULL ts" in r.stderr


@pytest.mark.parametrize("change, field", [
    ({"table": "shop.ord`ers"}, "table"),
    ({"table": "shop`; DROP DATABASE mysql; --.orders"}, "table"),
    ({"table": "orders"}, "table"),
    ({"cursor": {"column": "updated_at`, (SELECT 1)"}}, "cursor.column"),
    ({"cursor": {"column": "updated_at", "tiebreak": "id' OR '1"}}, "cursor.tiebreak"),
    ({"columns": ["id", "note\" FROM x"]}, "columns"),
    ({"page_rows": 0}, "page_rows"),
    ({"sink": {"type": "kafka", "stream": "x"}}, "sink.type"),
    ({"state": {"name": "no-slash"}}, "state.name"),
])
def test_hostile_or_bad_requests_are_refused(bench, db, aws, extract, change, field):
    r = extract("run", request(bench, db, **change))
    assert r.code == 2 and r.error["field"] == field, r
    assert stream_records(aws) == []


def test_table_problems_are_refused(bench, db, aws, mysql, extract):
    mysql(f"CREATE TABLE `{db}`.`we``ird` (id INT PRIMARY KEY, ts DATETIME, `x``y` INT)")
    mysql(f"CREATE TABLE `{db}`.weird2 (id INT PRIMARY KEY, ts DATETIME, `x``y` INT)")
    mysql(f"CREATE TABLE `{db}`.nopk (id INT, ts DATETIME)")
    mysql(f"CREATE TABLE `{db}`.intcursor (id INT PRIMARY KEY, ts INT)")
    for table, cursor, field in [("we`ird", "ts", "table"), ("weird2", "ts", "columns"),
                                 ("nopk", "ts", "table"), ("intcursor", "ts", "cursor.column"),
                                 ("missing", "ts", "table"), ("orders", "nope", "cursor.column")]:
        r = extract("run", request(bench, db, table=f"{db}.{table}", cursor={"column": cursor}))
        assert r.code == 2 and r.error["field"] == field, (table, r)
    # the hostile column is fine when the columns are listed without it
    mysql(f"INSERT INTO `{db}`.weird2 VALUES (1, '2024-01-01', 5)")
    r = extract("run", request(bench, db, table=f"{db}.weird2", cursor={"column": "ts"},
                               columns=["id", "ts"]))
    assert r.code == 0 and r.data["rows"] == 1 and r.data["index"] is None, r
    assert stream_records(aws)[0]["row"] == {"id": 1, "ts": "2024-01-01 00:00:00"}


def test_partial_putrecords_failures_are_resent_once(bench, db, aws, mysql, extract, fault_proxy):
    insert_same_time(mysql, db, 20)
    # the first answer says its first three records failed (moto kept them)
    entry = r'\{"SequenceNumber": "[0-9]+", "ShardId": "[^"]+"\}'
    fault_proxy.set_rules([{
        "match": {"target": "Kinesis_20131202.PutRecords"}, "fault": "rewrite", "times": 1,
        "replace": [[r'^(\{"FailedRecordCount": )0(, "Records": \[)' + ", ".join([entry] * 3),
                     r'\g<1>3\g<2>' + ", ".join(['{"ErrorCode": "ProvisionedThroughputExceededException", '
                                                 '"ErrorMessage": "Rate exceeded"}'] * 3)]],
    }])
    r = extract("run", request(bench, db), env=fault_proxy.env)
    assert r.code == 0, r
    assert fault_proxy.stats()["rules"][0]["faulted"] == 1
    assert r.data["record_retries"] == 3 and r.data["records_sent"] == 20 and r.data["calls"] == 2
    ids = Counter(x["pk"] for x in stream_records(aws))
    first3 = sorted(table_ids(mysql, db))[:3]
    assert set(ids) == table_ids(mysql, db)
    assert {i: ids[i] for i in first3} == {i: 2 for i in first3}
    assert sum(ids.values()) == 23


def spawn(bench, req):
    fd, path = tempfile.mkstemp(prefix="dwx-req-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(req, f)
    p = subprocess.Popen([DW_EXTRACT, "run", "--request", path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                         env=dict(os.environ, **{PW_ENV: bench.mysql_root_password},
                                  AWS_ENDPOINT_URL=os.environ.get("DWX_ENDPOINT", "")))
    p.req_path = path
    return p


def slow_puts(fault_proxy, ms):
    fault_proxy.set_rules([{"match": {"target": "Kinesis_20131202.PutRecords"},
                            "fault": "slow", "delay_ms": ms}])


def test_kill_midway_then_rerun_loses_nothing(bench, db, aws, mysql, extract, fault_proxy):
    insert_same_time(mysql, db, 500)
    slow_puts(fault_proxy, 250)
    os.environ["DWX_ENDPOINT"] = fault_proxy.url
    try:
        p = spawn(bench, request(bench, db, page_rows=25, lock={"ttl_s": 5}))
        time.sleep(2.0)
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
    finally:
        os.environ.pop("DWX_ENDPOINT")
        os.unlink(p.req_path)
    fault_proxy.clear()
    before = stream_records(aws)
    assert 0 < len(before) < 500
    wm = json.loads(aws.client("ssm").get_parameter(Name=PARAM)["Parameter"]["Value"])
    # the re-run waits for the dead run's lease to run out, then finishes
    r = extract("run", request(bench, db, page_rows=25, lock={"ttl_s": 5, "wait_timeout_s": 30}))
    assert r.code == 0, r
    assert r.data["watermark_from"] == {"cursor": wm["cursor"], "tiebreak": wm["tiebreak"]}
    ids = Counter(x["pk"] for x in stream_records(aws))
    assert set(ids) == table_ids(mysql, db)          # none lost
    assert sum(ids.values()) - 500 <= 25             # at most the unacknowledged page again


def test_two_runs_at_once_one_is_refused(bench, db, aws, mysql, extract, fault_proxy):
    insert_same_time(mysql, db, 200)
    slow_puts(fault_proxy, 300)
    os.environ["DWX_ENDPOINT"] = fault_proxy.url
    try:
        p = spawn(bench, request(bench, db, page_rows=20))
        for _ in range(100):
            if stream_records(aws):
                break
            time.sleep(0.1)
        r = extract("run", request(bench, db, page_rows=20))
        assert r.code == 75 and r.error["code"] == "Locked", r
        reset = extract("reset", {"table": f"{db}.orders", "state": {"name": PARAM}})
        assert reset.code == 75 and reset.error["code"] == "Locked", reset
        out, err = p.communicate(timeout=60)
    finally:
        os.environ.pop("DWX_ENDPOINT")
        os.unlink(p.req_path)
    assert p.returncode == 0, err.decode()[-2000:]
    ids = Counter(x["pk"] for x in stream_records(aws))
    assert set(ids) == table_ids(mysql, db) and set(ids.values()) == {1}


def test_s3_sink_pages_dry_run_and_reset(bench, db, aws, mysql, extract):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="landing")
    insert_same_time(mysql, db, 250)
    sink = {"type": "s3", "bucket": "landing", "prefix": "extract/"}
    r = extract("run", request(bench, db, sink=sink, dry_run=True))
    assert r.code == 0 and r.data["rows"] == 250 and r.data["records_sent"] == 0, r
    assert r.data["dry_run"] is True and "Contents" not in s3.list_objects_v2(Bucket="landing")
    ssm = aws.client("ssm")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=PARAM)
    r = extract("run", request(bench, db, sink=sink))
    assert r.code == 0 and r.data["pages"] == 3, r
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="landing")["Contents"])
    assert len(keys) == 3 and all(k.startswith(f"extract/{db}.orders/20240301T100000.250000Z-")
                                  for k in keys), keys
    rows = [json.loads(line) for k in keys for line in
            gzip.decompress(s3.get_object(Bucket="landing", Key=k)["Body"].read()).splitlines()]
    assert sorted(x["pk"] for x in rows) == sorted(table_ids(mysql, db))
    # back to the start: the re-run writes the same objects over
    r = extract("reset", {"table": f"{db}.orders", "state": {"name": PARAM}})
    assert r.code == 0 and r.data["watermark"] is None and r.data["state_version"] == 4, r
    r = extract("run", request(bench, db, sink=sink))
    assert r.code == 0 and r.data["rows"] == 250, r
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="landing")["Contents"]) == keys
    # a backfill from a cursor value: every row at it is read again
    r = extract("reset", {"table": f"{db}.orders", "state": {"name": PARAM}, "cursor_value": OLD})
    assert r.code == 0 and r.data["watermark"] == {"cursor": OLD, "tiebreak": None}, r
    r = extract("run", request(bench, db, sink=sink, max_rows=100))
    assert r.code == 0 and r.data["rows"] == 100 and r.data["complete"] is False, r


def test_dynamodb_state_and_firehose_sink(bench, db, aws, mysql, extract):
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName="dwops-extract-state", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}])
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="firehose-landing")
    aws.client("firehose").create_delivery_stream(
        DeliveryStreamName="orders-fh",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/fh",
                                            "BucketARN": "arn:aws:s3:::firehose-landing"})
    insert_same_time(mysql, db, 120)
    state = {"store": "dynamodb", "name": "orders"}
    req = request(bench, db, state=state, sink={"type": "firehose", "stream": "orders-fh"},
                  page_rows=50)
    r = extract("run", req)
    assert r.code == 0 and r.data["pages"] == 3 and r.data["state_version"] == 3, r
    item = ddb.get_item(TableName="dwops-extract-state", Key={"name": {"S": "orders"}})["Item"]
    assert item["ver"] == {"N": "3"} and json.loads(item["value"]["S"])["cursor"] == OLD
    landed = []
    for o in s3.list_objects_v2(Bucket="firehose-landing").get("Contents", []):
        body = s3.get_object(Bucket="firehose-landing", Key=o["Key"])["Body"].read().decode()
        landed += [json.loads(line) for line in body.splitlines() if line]
    assert sorted(x["pk"] for x in landed) == sorted(table_ids(mysql, db))
    r = extract("status", {"table": f"{db}.orders", "state": state,
                           "mysql": req["mysql"]})
    assert r.code == 0 and r.data["state_version"] == 3 and r.data["lag_s"] > 86400, r


def test_watermark_conflict_in_ssm(bench, db, aws, mysql, extract, fault_proxy):
    insert_same_time(mysql, db, 30)
    # someone else wrote the parameter in between: the version answered skips one
    fault_proxy.set_rules([{"match": {"target": "AmazonSSM.PutParameter"}, "fault": "rewrite",
                            "skip": 1, "times": 1,
                            "replace": [[r'"Version": ?2', '"Version": 3']]}])
    r = extract("run", request(bench, db, page_rows=10), env=fault_proxy.env)
    assert r.code == 1 and r.error["code"] == "WatermarkConflict", r
    assert fault_proxy.stats()["rules"][0]["faulted"] == 1
    assert r.data["rows"] == 10 and r.data["watermark_to"]["tiebreak"] == str(sorted(table_ids(mysql, db))[9])


def test_examples(bench, db, aws, mysql, extract):
    names = sorted(p.name for p in EXAMPLES.glob("*.json"))
    assert names == ["reset.json", "run.json", "status.json"]
    ex = {n[:-5]: json.loads((EXAMPLES / n).read_text()) for n in names}
    assert all(ex[a]["action"] == a and ex[a]["table"] == "shop.orders" for a in ex)
    insert_same_time(mysql, db, 10)
    # the examples as they are, pointed at the bench's database and login
    run = ex["run"]
    run["mysql"].update(host=bench.mysql_host, port=bench.mysql_port, user="root",
                        password_env=PW_ENV, tls={"mode": "disabled"})
    for req in ex.values():
        req["table"] = f"{db}.orders"
    r = extract("run", run)
    assert r.code == 0 and r.data["rows"] == 10 and r.data["state_version"] == 1, r
    r = extract("status", ex["status"])
    assert r.code == 0 and r.data["watermark"]["cursor"] == OLD, r
    r = extract("reset", ex["reset"])
    assert r.code == 0 and r.data["watermark"] == {"cursor": "2024-03-01 00:00:00",
                                                   "tiebreak": None}, r
    r = extract("run", run)
    assert r.code == 0 and r.data["rows"] == 10, r
    assert len(stream_records(aws)) == 20


def test_source_through_ssh_tunnel_and_secret(bench, db, aws, mysql, extract, tmp_path):
    """The mysql object's fields are dw-snapshot's: an SSH bastion, and the
    login from Secrets Manager (never printed)."""
    insert_same_time(mysql, db, 5)
    aws.client("secretsmanager").create_secret(
        Name="extract/login", SecretString=json.dumps({"username": "root",
                                                       "password": bench.mysql_root_password}))
    tunnel = {"host": bench.ssh_host, "port": bench.ssh_port, "user": bench.ssh_user,
              "private_key_file": bench.ssh_private_key, "known_hosts_file": bench.ssh_known_hosts}
    src = {"endpoint": f"{bench.mysql_host}:{bench.mysql_port}", "secret_id": "extract/login",
           "tls": {"mode": "disabled"}, "ssh_tunnel": tunnel}
    r = extract("run", request(bench, db, mysql=src))
    assert r.code == 0 and r.data["rows"] == 5, r
    assert "SSH tunnel 127.0.0.1:" in r.stderr
    bad = dict(src, ssh_tunnel=dict(tunnel, known_hosts_file=str(tmp_path / "none")))
    r = extract("run", request(bench, db, mysql=bad))
    assert r.code == 2 and r.error["field"] == "mysql.ssh_tunnel.known_hosts_file", r
    r = extract("run", request(bench, db, mysql=dict(src, user="root")))
    assert r.code == 2 and r.error["field"] == "mysql.secret_id", r
    r = extract("run", request(bench, db, mysql=dict(src, password="x-not-printed")))
    assert r.code == 2 and r.error["field"] == "mysql.secret_id", r
    assert "x-not-printed" not in r.stdout + r.stderr


def test_source_login_is_one_of_secret_or_user_and_password(bench, db, extract, monkeypatch):
    """The login's fields are bound by the mysql table; what it cannot say
    (one login, both parts of it) is refused naming the missing field."""
    base = {"host": bench.mysql_host, "port": bench.mysql_port, "tls": {"mode": "disabled"}}
    r = extract("run", request(bench, db, mysql=dict(base, password_env=PW_ENV)))
    assert r.code == 2 and r.error["field"] == "mysql.user", r
    r = extract("run", request(bench, db, mysql=dict(base, user="root")))
    assert r.code == 2 and r.error["field"] == "mysql.password", r
    monkeypatch.delenv("DW_TEST_UNSET_PW", raising=False)
    r = extract("run", request(bench, db, mysql=dict(base, user="root",
                                                     password_env="DW_TEST_UNSET_PW")))
    assert r.code == 2 and r.error["field"].startswith("mysql.password"), r
    r = extract("run", request(bench, db, mysql=dict(base, user=7, password_env=PW_ENV)))
    assert r.code == 2 and r.error["field"] == "mysql.user", r


def test_dates_times_doubles_and_binary(bench, db, aws, mysql, extract):
    mysql(f"CREATE TABLE `{db}`.kinds (id INT PRIMARY KEY, ts DATETIME(3) NOT NULL, d DATE, "
          f"tm TIME(2), f DOUBLE, b VARBINARY(4), KEY (ts))")
    mysql(f"INSERT INTO `{db}`.kinds VALUES (1, '2024-02-29 23:59:59.999', '2024-02-29', "
          f"'-838:59:59.5', 0.1, 0x00ff10), (2, '2024-03-01 00:00:00', NULL, '01:02:03', -2.5e300, '')")
    r = extract("run", request(bench, db, table=f"{db}.kinds", cursor={"column": "ts"}))
    assert r.code == 0 and r.data["rows"] == 2, r
    rows = {x["pk"]: x["row"] for x in stream_records(aws)}
    assert rows[1] == {"id": 1, "ts": "2024-02-29 23:59:59.999", "d": "2024-02-29",
                       "tm": "-838:59:59.50", "f": 0.1, "b": "AP8Q"}
    assert rows[2] == {"id": 2, "ts": "2024-03-01 00:00:00.000", "d": None, "tm": "01:02:03.00",
                       "f": -2.5e300, "b": ""}
