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
import urllib.request

import pytest

from conftest import BIN, REPO
from test_etl import LAKE, SRC, aws, key_of, lake_objects, lines, out_key, period, put, read_both, vehicle  # noqa: F401

RIE = REPO / ".cache" / "go-bin" / "aws-lambda-rie"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def rie(tmp_path, bench):
    """Start the emulator with dw-etl's bootstrap; yields invoke(event)."""
    if not RIE.exists():
        pytest.fail(f"{RIE} is missing: scripts/setup.sh builds it", pytrace=False)
    request = tmp_path / "etl.json"
    request.write_text(json.dumps({"bucket": SRC, "dest_bucket": LAKE, "concurrency": 3}))
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_text(f"#!/bin/sh\nexec {BIN / 'dw-etl'} lambda --request {request}\n")
    bootstrap.chmod(0o755)
    port, api = free_port(), free_port()
    log = open(tmp_path / "rie.log", "wb")
    proc = subprocess.Popen([str(RIE), "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
                             "--runtime-api-address", f"127.0.0.1:{api}", str(bootstrap)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=dict(os.environ, AWS_LAMBDA_FUNCTION_TIMEOUT="60"))
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)

    def invoke(event):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations",
                                     data=json.dumps(event).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=90) as r:
            return json.loads(r.read())

    try:
        yield invoke
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


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
