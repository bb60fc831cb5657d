"""dw-lock: reader/writer lease locks over moto's DynamoDB, with real
processes (contention, kill -9 of a holder, answers lost by the fault
proxy).  Lease lengths are short (2-4 s) to keep the run modest."""

from __future__ import annotations

import atexit
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BIN, REPO

TABLE = "dwops-locks"
EXAMPLES = REPO / "examples" / "dw-lock"
DW_LOCK = str(BIN / "dw-lock")


@pytest.fixture
def table(moto, run_op):
    r = run_op("dw-lock", "create-table", {"table": TABLE})
    assert r.code == 0 and r.data == {"table": TABLE, "created": True}, r
    r = run_op("dw-lock", "create-table", {})
    assert r.code == 0 and r.data["created"] is False, r
    d = moto.client("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert d["KeySchema"] == [{"AttributeName": "resource", "KeyType": "HASH"}]
    return moto


_SPAWNED = [0]


def spawn(action, req, cmd=()):
    """dw-lock in the background, its request in a file (so that stdin is
    free, as with exec in a shell)."""
    import tempfile
    _SPAWNED[0] += 1
    fd, path = tempfile.mkstemp(prefix=f"dw-lock-req-{_SPAWNED[0]}-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(req, f)
    argv = [DW_LOCK, action, "--request", path] + (["--"] + [str(c) for c in cmd] if cmd else [])
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return p


def lock(run_op, action, **req):
    return run_op("dw-lock", action, req)


def status(run_op, resource="res"):
    r = lock(run_op, "status", resource=resource)
    assert r.code == 0, r
    return r.data


def item(moto, resource="res"):
    return moto.client("dynamodb").get_item(TableName=TABLE, Key={"resource": {"S": resource}},
                                            ConsistentRead=True).get("Item")


def example(name):
    return json.loads((EXAMPLES / name).read_text())


def test_examples_in_order(table, run_op):
    names = sorted(p.name for p in EXAMPLES.glob("*.json"))
    assert names == ["acquire-read.json", "acquire-write.json", "break.json", "check.json",
                     "create-table.json", "exec.json", "release.json", "renew.json", "status.json"]
    run = lambda name: run_op("dw-lock", args=["--request", str(EXAMPLES / name)])  # noqa: E731

    r = run("create-table.json")
    assert r.code == 0 and r.data["created"] is False, r
    r = run("acquire-read.json")
    assert r.code == 0 and r.data["granted"] is True, r
    lease = r.data["lease"]
    assert lease["holder"] == "hydrate-acme" and lease["mode"] == "read" and lease["ttl_s"] == 600
    assert lease["fencing_token"] == 0 and len(lease["lease_id"]) == 32
    r = run("renew.json")
    assert r.code == 0 and r.data["renewed"] is True, r
    assert r.data["lease"]["lease_id"] == lease["lease_id"]
    assert r.data["lease"]["expires_ms"] >= lease["expires_ms"]
    r = run("check.json")
    assert r.code == 0 and r.data["current"] is True, r
    r = run("status.json")
    assert r.code == 0, r
    assert [(h["holder"], h["mode"], h["live"]) for h in r.data["holders"]] == [("hydrate-acme", "read", True)]
    assert r.data["free_for_read"] is True and r.data["free_for_write"] is False
    # the writer is not granted with wait off: 99, so Airflow skips
    r = run("acquire-write.json")
    assert r.code == 99 and r.ok is True and r.data["granted"] is False, r
    assert "hydrate-acme" in r.data["blocked_by"] and "not granted" in r.result["nothing_to_do"]
    r = run("break.json")
    assert r.code == 0 and r.data["broken"] is True, r
    assert "break: removing the read lease" in r.stderr and "decommissioned" in r.stderr
    r = run("check.json")
    assert r.code == 1 and r.error["code"] == "LeaseLost" and r.data["current"] is False, r
    r = run("release.json")
    assert r.code == 0 and r.data["released"] is False, r
    r = run("exec.json")
    assert r.code == 0 and r.data["exit_code"] == 0 and r.data["released"] is True, r
    assert "compacting under the write lease" in r.stdout
    assert r.data["lease"]["fencing_token"] == 1


def test_readers_share_writers_exclude_and_exit_codes(table, run_op, moto):
    a = lock(run_op, "acquire", resource="res", holder="r1", ttl_s=30)
    b = lock(run_op, "acquire", resource="res", holder="r2", ttl_s=30)
    assert a.code == 0 and b.code == 0, (a, b)
    w = lock(run_op, "acquire", resource="res", mode="write", holder="w", ttl_s=30)
    assert w.code == 99 and "2 readers hold it" in w.data["blocked_by"], w
    t0 = time.monotonic()
    w = lock(run_op, "acquire", resource="res", mode="write", holder="w", ttl_s=30, wait=True,
             wait_timeout_s=1)
    assert w.code == 75 and w.error["code"] == "WaitTimeout", w
    assert 1 <= time.monotonic() - t0 < 10
    # a waiting writer that gave up leaves no waiter slot behind
    assert status(run_op)["waiting_writer"] is None
    for h in ("r1", "r2"):
        r = lock(run_op, "release", resource="res", holder=h)
        assert r.code == 0 and r.data["released"] is True, r
    w = lock(run_op, "acquire", resource="res", mode="write", holder="w", ttl_s=30)
    assert w.code == 0 and w.data["lease"]["fencing_token"] == 1, w
    r = lock(run_op, "acquire", resource="res", holder="r1")
    assert r.code == 99 and "writer w holds it" in r.data["blocked_by"], r
    r = lock(run_op, "acquire", resource="res", mode="write", holder="w2")
    assert r.code == 99, r
    # renewing what one does not hold: lease lost, exit 1
    r = lock(run_op, "renew", resource="res", holder="nobody")
    assert r.code == 1 and r.error["code"] == "LeaseLost", r
    r = lock(run_op, "renew", resource="res", holder="w", lease_id="0" * 32)
    assert r.code == 1 and r.error["code"] == "LeaseLost", r
    # the item as stored: one writer, the token, a version per write
    it = item(moto)
    assert it["writer"]["M"]["holder"]["S"] == "w" and it["fence"]["N"] == "1"
    assert it["readers"]["M"] == {}


@pytest.mark.parametrize("req, field", [
    ({"resource": "res", "mode": "exclusive"}, "mode"),
    ({"resource": "res", "ttl_s": 0}, "ttl_s"),
    ({"resource": "res", "ttl_s": 4, "clock_skew_ms": 3000}, "clock_skew_ms"),
    ({"resource": "res", "writer_priority": True}, "writer_priority"),
    ({"resource": "res", "wait_timeout_s": 5}, "wait_timeout_s"),
    ({"resource": "", "mode": "read"}, "resource"),
    ({"resource": "res", "holder": "a\nb"}, "holder"),
    ({"resource": "res", "table": "no spaces please"}, "table"),
    ({"resource": "res", "wait": "yes"}, "wait"),
    ({"mode": "read"}, "resource"),
    ({"resource": "res", "lease": "x"}, "lease"),
])
def test_bad_acquire_requests_are_rejected(table, run_op, moto, req, field):
    r = lock(run_op, "acquire", **req)
    assert r.code == 2 and r.error["field"] == field, r
    assert item(moto) is None


def test_other_rejections(table, run_op):
    r = lock(run_op, "renew", resource="res")
    assert r.code == 2 and r.error["field"] == "holder", r
    r = lock(run_op, "break", resource="res", holder="x")
    assert r.code == 2 and r.error["field"] == "reason", r
    r = lock(run_op, "exec", resource="res")
    assert r.code == 2 and r.error["field"] == "command", r
    r = run_op("dw-lock", "exec", {"resource": "res", "command": ["true"]}, args=["--", "true"])
    assert r.code == 2 and r.error["field"] == "command", r
    r = lock(run_op, "check", resource="res", holder="x", fencing_token=-5)
    assert r.code == 2 and r.error["field"] == "fencing_token", r


def test_fencing_token_and_check(table, run_op):
    a = lock(run_op, "acquire", resource="res", mode="write", holder="a", ttl_s=30)
    t1 = a.data["lease"]["fencing_token"]
    r = lock(run_op, "check", resource="res", holder="a", fencing_token=t1,
             lease_id=a.data["lease"]["lease_id"])
    assert r.code == 0 and r.data["current"] is True, r
    assert lock(run_op, "release", resource="res", holder="a").code == 0
    b = lock(run_op, "acquire", resource="res", mode="write", holder="b", ttl_s=30)
    t2 = b.data["lease"]["fencing_token"]
    assert t2 > t1
    r = lock(run_op, "check", resource="res", holder="a", fencing_token=t1)
    assert r.code == 1 and r.error["code"] == "LeaseLost", r
    # the same holder re-acquiring is a new write grant: a new token
    c = lock(run_op, "acquire", resource="res", mode="write", holder="b", ttl_s=30)
    assert c.code == 0 and c.data["lease"]["fencing_token"] == t2 + 1, c
    r = lock(run_op, "check", resource="res", holder="b", fencing_token=t2)
    assert r.code == 1 and "fencing token is" in r.error["message"], r
    r = lock(run_op, "check", resource="res", holder="b", fencing_token=t2 + 1)
    assert r.code == 0, r
    # an expired lease is not current for its holder, even before anyone takes it
    lock(run_op, "release", resource="res", holder="b")
    d = lock(run_op, "acquire", resource="res", mode="write", holder="d", ttl_s=1, clock_skew_ms=0)
    assert d.code == 0, d
    time.sleep(1.2)
    r = lock(run_op, "check", resource="res", holder="d")
    assert r.code == 1 and "expired" in r.error["message"], r
    r = lock(run_op, "renew", resource="res", holder="d")
    assert r.code == 1 and r.error["code"] == "LeaseLost", r


def test_writer_priority_holds_new_readers_back(table, run_op):
    assert lock(run_op, "acquire", resource="res", holder="r1", ttl_s=30).code == 0
    # without priority a waiting writer does not stop readers
    w = spawn("acquire", {"resource": "res", "mode": "write", "holder": "w", "ttl_s": 30,
                              "wait": True, "wait_timeout_s": 60, "writer_priority": True})
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not (status(run_op)["waiting_writer"] or {}).get("live"):
            time.sleep(0.2)
        st = status(run_op)
        assert st["waiting_writer"]["holder"] == "w" and st["waiting_writer"]["writer_priority"] is True
        r = lock(run_op, "acquire", resource="res", holder="r2", ttl_s=30)
        assert r.code == 99 and "writer_priority" in r.data["blocked_by"], r
        assert lock(run_op, "release", resource="res", holder="r1").code == 0
        out, err = w.communicate(timeout=30)
        assert w.returncode == 0, err.decode()
        res = json.loads(out.decode().splitlines()[-1])
        assert res["result"]["granted"] is True and res["result"]["lease"]["mode"] == "write"
        assert status(run_op)["waiting_writer"] is None
    finally:
        if w.poll() is None:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait()
    # and without writer_priority the default favours readers
    assert lock(run_op, "release", resource="res", holder="w").code == 0
    assert lock(run_op, "acquire", resource="res", holder="r1", ttl_s=30).code == 0
    w = spawn("acquire", {"resource": "res", "mode": "write", "holder": "w", "ttl_s": 30,
                              "wait": True, "wait_timeout_s": 3})
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not status(run_op)["waiting_writer"]:
            time.sleep(0.2)
        assert status(run_op)["waiting_writer"]["writer_priority"] is False
        r = lock(run_op, "acquire", resource="res", holder="r2", ttl_s=30)
        assert r.code == 0, r
        w.communicate(timeout=30)
        assert w.returncode == 75
    finally:
        if w.poll() is None:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait()


def test_exec_passes_the_exit_code_and_exports_the_lease(table, run_op, tmp_path):
    env_file = tmp_path / "env.json"
    code = ("import json, os, sys; json.dump({k: v for k, v in os.environ.items() "
            "if k.startswith('DW_LOCK_')}, open(sys.argv[1], 'w')); sys.exit(3)")
    r = run_op("dw-lock", "exec", {"resource": "res", "mode": "write", "ttl_s": 3},
               args=["--", sys.executable, "-c", code, str(env_file)])
    assert r.code == 3 and r.error["code"] == "CommandFailed", r
    assert r.data["exit_code"] == 3 and r.data["released"] is True and r.data["lease_lost"] is False
    env = json.loads(env_file.read_text())
    lease = r.data["lease"]
    assert env == {"DW_LOCK_RESOURCE": "res", "DW_LOCK_TABLE": TABLE, "DW_LOCK_HOLDER": lease["holder"],
                   "DW_LOCK_LEASE_ID": lease["lease_id"], "DW_LOCK_MODE": "write",
                   "DW_LOCK_FENCING_TOKEN": str(lease["fencing_token"])}
    # the default holder: host, pid and a random id
    host, pid, rnd = lease["holder"].split(":")
    assert pid.isdigit() and len(rnd) == 8
    assert status(run_op)["holders"] == []
    # a command killed by a signal: 128 + N
    r = run_op("dw-lock", "exec", {"resource": "res", "ttl_s": 3},
               args=["--", "sh", "-c", "kill -USR1 $$"])
    assert r.code == 128 + signal.SIGUSR1 and r.data["signal"] == signal.SIGUSR1, r
    # a command that cannot be run: 127, lease released
    r = run_op("dw-lock", "exec", {"resource": "res", "ttl_s": 3},
               args=["--", "/nonexistent/command"])
    assert r.code == 127 and "cannot run" in r.stderr, r
    assert status(run_op)["holders"] == []
    # not granted with wait off: 99 and the command never ran
    assert lock(run_op, "acquire", resource="res", mode="write", holder="w", ttl_s=30).code == 0
    marker = tmp_path / "ran"
    r = run_op("dw-lock", "exec", {"resource": "res", "ttl_s": 3},
               args=["--", "touch", str(marker)])
    assert r.code == 99 and r.data["granted"] is False and not marker.exists(), r


def test_exec_renews_while_the_command_runs(table, run_op):
    r = run_op("dw-lock", "exec", {"resource": "res", "ttl_s": 2, "clock_skew_ms": 200},
               args=["--", "sleep", "3.5"])
    assert r.code == 0 and r.data["renewals"] >= 4 and r.data["released"] is True, r
    assert r.data["ran_ms"] >= 3500


@pytest.mark.parametrize("ignore_term", [False, True], ids=["term", "kill"])
def test_exec_lease_lost_stops_the_command(table, run_op, ignore_term):
    script = "trap '' TERM; sleep 60; sleep 60" if ignore_term else "sleep 60"
    p = spawn("exec", {"resource": "res", "mode": "write", "holder": "victim", "ttl_s": 3,
                              "grace_s": 1}, cmd=["sh", "-c", script])
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not status(run_op)["holders"]:
            time.sleep(0.1)
        r = lock(run_op, "break", resource="res", holder="victim", reason="test")
        assert r.code == 0 and r.data["broken"], r
        t0 = time.monotonic()
        out, err = p.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    res = json.loads(out.decode().splitlines()[-1])
    assert p.returncode == 1 and res["error"]["code"] == "LeaseLost", (res, err.decode())
    assert res["result"]["lease_lost"] is True
    # noticed at the next renewal (every ttl/3 = 1 s), stopped with the grace
    assert took < 6, took
    if ignore_term:
        assert "SIGKILL" in err.decode()
        assert res["result"]["signal"] == signal.SIGKILL
    else:
        assert res["result"]["signal"] == signal.SIGTERM


# ----------------------------------------------------------------- contention

HOLD = r"""
import json, os, random, sys, time
log, name, lo, hi = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
start = time.time()
time.sleep(random.uniform(lo, hi))
end = time.time()
with open(log, "a") as f:
    f.write(json.dumps({"name": name, "mode": os.environ["DW_LOCK_MODE"], "start": start, "end": end,
                        "token": int(os.environ["DW_LOCK_FENCING_TOKEN"])}) + "\n")
"""


def test_twenty_two_processes_contend(table, run_op, tmp_path):
    log = tmp_path / "held.jsonl"
    hold = tmp_path / "hold.py"
    hold.write_text(HOLD)
    rnd = random.Random(15)
    procs = []
    modes = ["write"] * 6 + ["read"] * 16
    rnd.shuffle(modes)
    for i, mode in enumerate(modes):
        req = {"resource": "lake/events", "mode": mode, "holder": f"p{i}", "ttl_s": 3,
               "clock_skew_ms": 300, "wait": True, "wait_timeout_s": 240}
        if mode == "write" and i % 2:
            req["writer_priority"] = True
        p = spawn("exec", req, cmd=[sys.executable, str(hold), str(log), f"p{i}",
                              "0.1", "0.6"])
        procs.append((p, mode))
        time.sleep(rnd.uniform(0, 0.15))
    results = []
    try:
        for p, mode in procs:
            out, err = p.communicate(timeout=300)
            results.append((p.returncode, out.decode(), err.decode()))
    finally:
        for p, _ in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    for code, out, err in results:
        assert code == 0, err[-3000:]
    held = [json.loads(l) for l in log.read_text().splitlines()]
    # every process was served, once
    assert sorted(h["name"] for h in held) == sorted(f"p{i}" for i in range(len(modes)))
    for a in held:
        for b in held:
            if a is b:
                continue
            overlap = a["start"] < b["end"] and b["start"] < a["end"]
            if a["mode"] == "write" and overlap:
                pytest.fail(f"{a['name']} wrote while {b['name']} held a {b['mode']} lease: {a} {b}")
    writes = sorted((h for h in held if h["mode"] == "write"), key=lambda h: h["start"])
    tokens = [w["token"] for w in writes]
    assert all(x < y for x, y in zip(tokens, tokens[1:])), tokens
    # readers really shared (the check above is not vacuous)
    reads = [h for h in held if h["mode"] == "read"]
    assert any(a["start"] < b["end"] and b["start"] < a["end"]
               for a in reads for b in reads if a is not b)
    assert status(run_op, "lake/events")["holders"] == []


def test_kill9_of_a_holder_frees_the_resource_after_its_lease(table, run_op):
    ttl_s, skew = 3, 500
    a = spawn("exec", {"resource": "res", "mode": "write", "holder": "a", "ttl_s": ttl_s,
                              "clock_skew_ms": skew}, cmd=["sleep", "61.37"])
    b = None
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not status(run_op)["holders"]:
            time.sleep(0.1)
        time.sleep(1.5)  # at least one renewal
        b = spawn("acquire", {"resource": "res", "mode": "read", "holder": "b", "ttl_s": 30,
                                  "clock_skew_ms": skew, "wait": True,
                                  "wait_timeout_s": 30})
        time.sleep(0.5)
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        # the command died with its dw-lock (it must not run on unlocked)
        time.sleep(0.3)
        assert subprocess.run(["pgrep", "-f", "sleep 61.37"], capture_output=True).returncode == 1
        # a's last renewal, as the item says
        it = item(table)
        assert it["writer"]["M"]["holder"]["S"] == "a"
        a_exp = int(it["writer"]["M"]["exp"]["N"])
        out, err = b.communicate(timeout=40)
        assert b.returncode == 0, err.decode()
        lease = json.loads(out.decode().splitlines()[-1])["result"]["lease"]
        assert lease["mode"] == "read"
        # granted only once a's lease had run out plus the skew margin, and soon after
        assert lease["granted_ms"] >= a_exp + skew, (lease, a_exp)
        assert lease["granted_ms"] <= a_exp + skew + 3000, (lease, a_exp)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


# --------------------------------------------------------- lost answers

def test_lost_answers_leave_no_phantom_lease(table, run_op, fault_proxy):
    via = fault_proxy.env
    fault_proxy.set_rules([{"match": {"target": "DynamoDB_20120810.PutItem"},
                            "fault": "drop_response", "times": 1}])
    r = run_op("dw-lock", "acquire", {"resource": "res", "mode": "write", "holder": "a", "ttl_s": 30},
               env=via)
    assert r.code == 0 and r.data["granted"] is True and r.data["recovered"] is True, r
    assert fault_proxy.stats()["faulted"] == 1
    st = status(run_op)
    assert [(h["holder"], h["lease_id"]) for h in st["holders"]] == [("a", r.data["lease"]["lease_id"])]
    assert st["fencing_token"] == r.data["lease"]["fencing_token"] == 1
    # a release whose answer is lost: still released, nothing left behind
    fault_proxy.set_rules([{"match": {"target": "DynamoDB_20120810.UpdateItem"},
                            "fault": "drop_response", "times": 1}])
    r = run_op("dw-lock", "release", {"resource": "res", "holder": "a"}, env=via)
    assert r.code == 0 and r.data["released"] is True, r
    assert fault_proxy.stats()["faulted"] == 1
    assert status(run_op)["holders"] == []
    # a renewal whose answer is lost is applied once more (idempotent)
    assert lock(run_op, "acquire", resource="res", holder="b", ttl_s=30).code == 0
    fault_proxy.set_rules([{"match": {"target": "DynamoDB_20120810.UpdateItem"},
                            "fault": "drop_response", "times": 1}])
    r = run_op("dw-lock", "renew", {"resource": "res", "holder": "b", "ttl_s": 30}, env=via)
    assert r.code == 0 and r.data["renewed"] is True, r
    assert [h["holder"] for h in status(run_op)["holders"]] == ["b"]


def test_every_answer_lost_fails_without_a_phantom(table, run_op, fault_proxy):
    # the write never reaches DynamoDB: after the retries, a clean failure
    fault_proxy.set_rules([{"match": {"target": "DynamoDB_20120810.PutItem"}, "fault": "drop"}])
    r = run_op("dw-lock", "acquire", {"resource": "res", "mode": "write", "holder": "a",
                                      "max_attempts": 2}, env=fault_proxy.env)
    assert r.code == 75 and r.error["code"] == "NetworkError", r
    assert status(run_op)["holders"] == []
    # throttled then answered: granted, once
    fault_proxy.set_rules([{"match": {"target": "DynamoDB_20120810.PutItem"}, "fault": "throttle",
                            "times": 1}])
    r = run_op("dw-lock", "acquire", {"resource": "res", "mode": "write", "holder": "a"},
               env=fault_proxy.env)
    assert r.code == 0 and r.data["recovered"] is False, r
    assert len(status(run_op)["holders"]) == 1


def test_exec_join_renews_an_existing_lease_and_keeps_it(table, run_op):
    a = lock(run_op, "acquire", resource="res", holder="hydrate-1", ttl_s=2, clock_skew_ms=200)
    assert a.code == 0, a
    r = run_op("dw-lock", "exec", {"resource": "res", "holder": "hydrate-1", "ttl_s": 2,
                                   "join": True}, args=["--", "sleep", "2.5"])
    assert r.code == 0 and r.data["joined"] is True and r.data["renewals"] >= 2, r
    assert r.data["released"] is False and r.data["lease"]["lease_id"] == a.data["lease"]["lease_id"]
    # still held (renewed while the command ran, past the first ttl)
    holders = status(run_op)["holders"]
    assert [(h["holder"], h["live"]) for h in holders] == [("hydrate-1", True)]
    r = run_op("dw-lock", "exec", {"resource": "res", "holder": "nobody", "join": True},
               args=["--", "true"])
    assert r.code == 1 and r.error["code"] == "LeaseLost", r
    r = run_op("dw-lock", "exec", {"resource": "res", "join": True}, args=["--", "true"])
    assert r.code == 2 and r.error["field"] == "holder", r
