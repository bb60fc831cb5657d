"""dw-etl lambda under the real AWS Lambda Runtime Interface Emulator
(aws-lambda-rie, built from the Go module proxy by scripts/setup.sh into
.cache/go-bin): SQS events in, partial batch responses out, naming exactly
the messages that failed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, REPO
from test_etl import LAKE, SRC, aws, key_of, lake_objects, lines, out_key, period, put, read_both, vehicle  # noqa: F401

RIE = REPO / ".cache" / "go-bin" / "aws-lambda-rie"


def free_ports(n: int) -> list:
    """n distinct free ports (all bound at once, so never the same twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Emulator:
    """aws-lambda-rie running dw-etl's bootstrap.  Every failure says what the
    emulator and the runtime logged (rie.log holds both: the runtime's stderr
    goes through the emulator), e.g. a sanitizer report when the runtime
    crashed and the emulator answered 502."""

    def __init__(self, tmp_path, bootstrap, env):
        self.log_path = tmp_path / "rie.log"
        self.bootstrap, self.env, self.proc = bootstrap, env, None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def fail(self, what: str):
        pytest.fail(f"{what}\n--- rie.log ---\n{self.log()[-20000:]}", pytrace=False)

    def start(self, attempts: int = 3):
        """Start on fresh ports until the emulator listens (a port taken
        between choosing and binding it makes the emulator exit: choose again)."""
        for _ in range(attempts):
            self.port, api = free_ports(2)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(RIE), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
                     "--runtime-api-address", f"127.0.0.1:{api}", str(self.bootstrap)],
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=self.env)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                except OSError:
                    time.sleep(0.05)
                    continue
                # Listening: ours only if it is still alive (a port stolen by
                # another process would answer too).
                time.sleep(0.05)
                if self.proc.poll() is None:
                    return
            self.stop()
        self.fail(f"aws-lambda-rie did not start listening in {attempts} attempts")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def invoke(self, event, timeout: float = 90):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations",
                                     data=json.dumps(event).encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            self.fail(f"the emulator answered {e.code} {e.reason}: {e.read()[:2000]!r}")
        except (urllib.error.URLError, OSError) as e:
            self.fail(f"invoking through the emulator failed: {e!r}")
        try:
            return json.loads(body)
        except ValueError:
            self.fail(f"the emulator answered 200 with no JSON: {body[:2000]!r}")


def start_rie(tmp_path, request: dict, function_timeout_s: int = 60, env=None) -> Emulator:
    """The emulator with a bootstrap that execs dw-etl lambda with request.
    AWS_LAMBDA_FUNCTION_TIMEOUT bounds the init (the runtime starts on the
    first invocation) and each invocation; the runtime sees it too."""
    if not RIE.exists():
        pytest.fail(f"{RIE} is missing: scripts/setup.sh builds it", pytrace=False)
    req = tmp_path / "etl.json"
    req.write_text(json.dumps(request))
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_text(f"#!/bin/sh\nexec {BIN / 'dw-etl'} lambda --request {req}\n")
    bootstrap.chmod(0o755)
    emu = Emulator(tmp_path, bootstrap, dict(os.environ, **(env or {}),
                                             AWS_LAMBDA_FUNCTION_TIMEOUT=str(function_timeout_s)))
    emu.start()
    return emu


@pytest.fixture
def rie(tmp_path, bench):
    """Start the emulator with dw-etl's bootstrap; yields invoke(event)."""
    emu = start_rie(tmp_path, {"bucket": SRC, "dest_bucket": LAKE, "concurrency": 3})
    try:
        yield emu.invoke
    finally:
        emu.stop()


def sqs_record(mid: str, body: str) -> dict:
    return {"messageId": mid, "receiptHandle": f"rh-{mid}", "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1559401200000"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:event-files", "awsRegion": "us-east-1"}


def test_partial_batch_response(aws, rie):
    s3, _ = aws
    good, other, poison = key_of(1, 1), key_of(2, 2), key_of(3, 3)
    put(s3, {good: lines([vehicle(1, 1), period(1)]), other: lines([vehicle(2, 2)]),
             poison: b"not json\n"})
    event = {"Records": [sqs_record("m-good", good), sqs_record("m-poison", poison),
                         sqs_record("m-missing", key_of(9, 9)), sqs_record("m-other", other),
                         sqs_record("m-bad", "{\"neither\": \"key nor notification\"}"),
                         sqs_record("m-test", json.dumps({"Event": "s3:TestEvent", "Bucket": SRC}))]}
    answer = rie(event)
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == ["m-bad", "m-poison"]
    assert lake_objects(s3) == sorted([out_key("vehicle", good), out_key("operating_period", good),
                                       out_key("vehicle", other)])
    _, recs = read_both(s3.get_object(Bucket=LAKE, Key=out_key("vehicle", other))["Body"].read())
    assert [r["id"] for r in recs] == ["veh-2"]
    # the same runtime serves the next invocation; an all-good batch fails nothing
    assert rie({"Records": [sqs_record("again", good)]}) == {"batchItemFailures": []}


def test_deadline_stops_work_and_reports_the_rest(aws, tmp_path, fault_proxy):
    """A 4 s function timeout, one message at a time, each file's read slowed
    to 1.2 s by the fault proxy: work stops 1 s before the deadline
    (Lambda-Runtime-Deadline-Ms), the answer goes out in time (else the
    emulator answers "Task timed out"), and it names every message not done
    then; the messages never started write nothing.  The same runtime then
    serves the next invocation."""
    s3, _ = aws
    keys = [key_of(4, sec) for sec in range(6)]
    put(s3, {k: lines([vehicle(i, i)]) for i, k in enumerate(keys)})
    fault_proxy.set_rules([{"match": {"method": "GET", "path_prefix": f"/{SRC}/"},
                            "fault": "slow", "delay_ms": 1200}])
    emu = start_rie(tmp_path, {"bucket": SRC, "dest_bucket": LAKE, "concurrency": 1,
                               "deadline_margin_ms": 1000},
                    function_timeout_s=4, env=fault_proxy.env)
    try:
        answer = emu.invoke({"Records": [sqs_record(f"m{i}", k) for i, k in enumerate(keys)]})
        written = set(lake_objects(s3))
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        ids = [f"m{i}" for i in range(6)]
        # at most 3 reads of 1.2 s fit before the cutoff at 3 s: the last
        # three messages were never started
        assert {"m3", "m4", "m5"} <= failed and "m0" not in failed, answer
        # every message not named was done when the answer went out
        for i, mid in enumerate(ids):
            if mid not in failed:
                assert out_key("vehicle", keys[i]) in written, (mid, written)
        time.sleep(2)   # a message in flight at the cutoff may end; none not started begins
        later = set(lake_objects(s3))
        assert not any(out_key("vehicle", keys[i]) in later for i in (3, 4, 5)), later
        log = emu.log()
        assert "not finished, reported as failures" in log
        fault_proxy.clear()
        again = sorted(failed)
        answer = emu.invoke({"Records": [sqs_record(mid, keys[int(mid[1:])]) for mid in again]})
        assert answer == {"batchItemFailures": []}, answer
        assert set(lake_objects(s3)) == {out_key("vehicle", k) for k in keys}
    finally:
        emu.stop()
