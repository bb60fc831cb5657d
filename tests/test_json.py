"""The request's JSON through real operators: strict parsing (duplicate keys
by name, syntax errors with line and column and no request text), the size
limit, and integers exact and range-checked in 64 bits (issue 12: #4 #5 #6
#7 #12)."""

import json
import time

import pytest


FANOUT = {"bucket": "b", "hour": "2019-06-01T15", "queue_url": "http://127.0.0.1:9/q"}
LAUNCH = {"source_instance": "warehouse", "owner": "jane.doe", "database": "analytics",
          "user": {"name": "jane_doe", "password": "p"},
          "master": {"secret_id": "rds/warehouse/master"}}


def rejected(r, code, field):
    """Exit 2 with a one-line JSON result naming the code and the field."""
    assert r.code == 2, (r.code, r.stdout, r.stderr)
    last = r.stdout.strip().splitlines()[-1]
    assert json.loads(last) == r.result and "\n" not in last
    assert r.result["ok"] is False
    assert r.result["error"]["code"] == code, r.result
    assert r.result["error"]["field"] == field, r.result
    assert r.result["error"]["message"]


# ---- duplicate keys (issue 12 #6) ----------------------------------------

def test_duplicate_key_rejected_by_name_before_any_call(run_op, moto, fault_proxy):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="json-dup")
    s3.put_object(Bucket="json-dup", Key="tmp/old", Body=b"x")
    # The real deletion the issue saw: dry_run true, then false, in one request.
    text = ('{"dry_run": true, "s3": [{"bucket": "json-dup", "prefix": "tmp/", '
            '"older_than_days": 0}], "dry_run": false}')
    r = run_op("dw-cleanup", args=["apply"], stdin=text, env=fault_proxy.env)
    rejected(r, "DuplicateKey", "dry_run")
    assert '"dry_run"' in r.result["error"]["message"]
    assert fault_proxy.stats()["requests"] == 0
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="json-dup")["Contents"]] == ["tmp/old"]


@pytest.mark.parametrize("text, field", [
    # nested in an object of the action's fields
    ('{"source_instance": "w", "owner": "o", "database": "d", '
     '"user": {"name": "n", "password": "a", "password": "b"}, '
     '"master": {"secret_id": "s"}}', "user.password"),
    # in a common field's free map
    ('{"source_instance": "w", "owner": "o", "database": "d", "user": {"name": "n", '
     '"password": "a"}, "master": {"secret_id": "s"}, '
     '"endpoints": {"rds": "http://127.0.0.1:9", "rds": "http://127.0.0.1:8"}}', "endpoints.rds"),
    # the same key spelled with an escape is the same key
    ('{"source_instance": "w", "owner": "o", "ow\\u006eer": "x"}', "owner"),
])
def test_nested_duplicate_key_rejected_by_path(run_op, fault_proxy, text, field):
    r = run_op("dw-snapshot", args=["launch"], stdin=text, env=fault_proxy.env)
    rejected(r, "DuplicateKey", field)
    assert fault_proxy.stats()["requests"] == 0


def test_duplicate_key_in_array_of_objects(run_op, fault_proxy):
    text = ('{"s3": [{"bucket": "a", "prefix": "p/", "older_than_days": 1}, '
            '{"bucket": "b", "bucket": "c", "prefix": "p/", "older_than_days": 1}]}')
    r = run_op("dw-cleanup", args=["plan"], stdin=text, env=fault_proxy.env)
    rejected(r, "DuplicateKey", "s3[1].bucket")


# ---- syntax errors say where, never what (issue 12 #12) ------------------

@pytest.mark.parametrize("text, line, col", [
    ('{"source_instance": "w",\n "user": {"name": "n", "password": "D1rect-pw\\q"}}', 2, 47),  # at the bad escape
    ('{"source_instance": "w",\n "user": {"name": "n", "password": "D1rect-pw"}} trailing', 2, 50),
    ('{"source_instance": "w",\n "user": {"name": "n", "password": "D1rect-pw"\n', 3, 1),
    ('{"source_instance": "w",\n\n  "user": {"name": "n", "password": D1rect-pw}}', 3, 37),
])
def test_parse_error_has_line_and_column_and_no_request_text(run_op, fault_proxy, text, line, col):
    r = run_op("dw-snapshot", args=["launch"], stdin=text, env=fault_proxy.env)
    rejected(r, "InvalidJSON", None)
    msg = r.result["error"]["message"]
    assert f"line {line}, column {col}" in msg
    for leak in ("D1rect", "pw", "password", "trailing"):
        assert leak not in r.stdout, r.stdout
        assert leak not in r.stderr, r.stderr
    assert fault_proxy.stats()["requests"] == 0


# ---- size limit (issue 12 #7) --------------------------------------------

def test_request_from_dev_zero_is_refused_at_once(run_op):
    t0 = time.monotonic()
    r = run_op("dw-fanout", args=["--request", "/dev/zero"], timeout=30)
    rejected(r, "RequestTooLarge", None)
    assert "4 MiB" in r.result["error"]["message"]
    assert time.monotonic() - t0 < 20


def test_request_over_4_mib_on_stdin_is_refused(run_op, fault_proxy):
    big = json.dumps(dict(FANOUT, pad=" " * 4096)).encode()
    big = big[:-1] + b" " * (4 * 1024 * 1024 + 1 - len(big)) + b"}"
    assert len(big) == 4 * 1024 * 1024 + 1
    r = run_op("dw-fanout", args=["fanout"], stdin=big, env=fault_proxy.env)
    rejected(r, "RequestTooLarge", None)
    # Just under the limit is read and parsed (and then judged on its fields).
    ok = big[:-2] + b"}"
    assert len(ok) == 4 * 1024 * 1024
    r = run_op("dw-fanout", args=["fanout"], stdin=ok, env=fault_proxy.env)
    rejected(r, "InvalidRequest", "pad")
    assert fault_proxy.stats()["requests"] == 0


# ---- integers: range-checked in 64 bits, exact (issue 12 #4, #5) ---------

@pytest.mark.parametrize("op, action, req, field", [
    ("dw-fanout", "fanout", dict(FANOUT, concurrency=4294967297), "concurrency"),
    ("dw-fanout", "fanout", dict(FANOUT, concurrency=-4294967295), "concurrency"),
    ("dw-snapshot", "launch", dict(LAUNCH, ttl_days=-2147483649), "ttl_days"),
    ("dw-snapshot", "launch", dict(LAUNCH, ttl_days=4294967297), "ttl_days"),
    ("dw-fanout", "fanout", dict(FANOUT, timeout_s=9223372036854775807), "timeout_s"),
    ("dw-fanout", "fanout", dict(FANOUT, timeout_s=86401), "timeout_s"),
    ("dw-fanout", "fanout", dict(FANOUT, timeout_s=0), "timeout_s"),
    ("dw-snapshot", "launch", dict(LAUNCH, timeout_s=9223372036854775807), "timeout_s"),
    ("dw-fanout", "fanout", dict(FANOUT, max_attempts=4294967297), "max_attempts"),
    ("dw-fanout", "fanout", dict(FANOUT, max_attempts=21), "max_attempts"),
    ("dw-fanout", "fanout", dict(FANOUT, concurrency=2.0), "concurrency"),
    ("dw-fanout", "fanout", dict(FANOUT, concurrency=1e1), "concurrency"),
])
def test_integers_out_of_range_are_refused(run_op, fault_proxy, op, action, req, field):
    r = run_op(op, action, req, env=fault_proxy.env)
    rejected(r, "InvalidRequest", field)
    assert fault_proxy.stats()["requests"] == 0


def test_big_integer_read_and_written_exactly(run_op, moto):
    """max_deletions beyond 32 bits goes in as text and comes back out exact."""
    for n in (6442450944, 4294967297, 9007199254740991):
        r = run_op("dw-cleanup", "plan", {"queues": [{"prefix": "json-none-", "unused_days": 1}],
                                           "max_deletions": n})
        assert r.code == 99, r.stderr  # nothing to delete, and the plan is printed
        last = r.stdout.strip().splitlines()[-1]
        assert f'"max_deletions":{n},' in last
        assert r.result["result"]["max_deletions"] == n
    # 2^53 + 1 cannot be held exactly: refused, not rounded.
    r = run_op("dw-cleanup", "plan", {"queues": [{"prefix": "json-none-", "unused_days": 1}],
                                       "max_deletions": 9007199254740993})
    rejected(r, "InvalidRequest", "max_deletions")
