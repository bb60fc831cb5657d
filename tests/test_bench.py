"""Tests of the test bench itself: the services answer and the fault proxy works."""

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest


def test_moto_s3_roundtrip(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="dwops-bench-bucket")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["dwops-bench-bucket"]
    s3.put_object(Bucket="dwops-bench-bucket", Key="k", Body=b"hello")
    assert s3.get_object(Bucket="dwops-bench-bucket", Key="k")["Body"].read() == b"hello"


def test_moto_is_reset_between_tests(moto):
    assert moto.client("s3").list_buckets()["Buckets"] == []


def test_env_exported(bench):
    assert os.environ["AWS_ENDPOINT_URL"] == bench.moto_url
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_REGION"] == "us-east-1"
    assert os.environ["DW_RETRY_BASE_MS"] == "20"
    assert "AWS_PROFILE" not in os.environ
    assert bench.mysql_host == bench.ssh_host == "127.0.0.1"


def test_mariadb_root_login(bench):
    client = shutil.which("mariadb") or shutil.which("mysql")
    assert client, "mariadb client missing"
    env = dict(os.environ, MYSQL_PWD=bench.mysql_root_password)
    r = subprocess.run(
        [client, "--no-defaults", "--protocol=TCP", "-h", bench.mysql_host,
         "-P", str(bench.mysql_port), "-uroot", "--batch", "--skip-column-names",
         "-e", "SELECT CURRENT_USER(), 6*7"],
        capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["root@127.0.0.1", "42"]


def test_mariadb_rejects_wrong_password(bench):
    client = shutil.which("mariadb") or shutil.which("mysql")
    env = dict(os.environ, MYSQL_PWD="wrong-password")
    r = subprocess.run(
        [client, "--no-defaults", "--protocol=TCP", "-h", bench.mysql_host,
         "-P", str(bench.mysql_port), "-uroot", "-e", "SELECT 1"],
        capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode != 0
    assert "Access denied" in r.stderr


def test_mysql_fixture(mysql):
    mysql("CREATE DATABASE IF NOT EXISTS benchdb")
    mysql("CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY)", database="benchdb")
    mysql("REPLACE INTO t VALUES (1),(2)", database="benchdb")
    assert mysql("SELECT COUNT(*) FROM t", database="benchdb") == [("2",)]
    mysql("DROP DATABASE benchdb")


def _ssh(bench, *cmd, extra=()):
    return subprocess.run(
        ["ssh", "-i", bench.ssh_private_key,
         "-o", f"UserKnownHostsFile={bench.ssh_known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
         "-o", "IdentitiesOnly=yes", "-F", "/dev/null", *extra,
         "-p", str(bench.ssh_port), f"{bench.ssh_user}@{bench.ssh_host}", *cmd],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_sshd_accepts_key(bench):
    r = _ssh(bench, "true")
    assert r.returncode == 0, r.stderr
    r = _ssh(bench, "echo", "dwops-ssh-ok")
    assert r.stdout.strip() == "dwops-ssh-ok"


def test_sshd_known_hosts_line(bench):
    line = open(bench.ssh_known_hosts).read().strip()
    assert line.startswith(f"[127.0.0.1]:{bench.ssh_port} ssh-ed25519 ")


def test_sshd_rejects_unknown_key(bench, tmp_path):
    key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    r = subprocess.run(
        ["ssh", "-i", str(key), "-o", f"UserKnownHostsFile={bench.ssh_known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-F", "/dev/null", "-p", str(bench.ssh_port), f"root@{bench.ssh_host}", "true"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 255
    assert "Permission denied" in r.stderr


def test_sftp_subsystem(bench, tmp_path):
    src = tmp_path / "up.txt"
    src.write_text("sftp payload\n")
    dst = tmp_path / "down.txt"
    batch = tmp_path / "batch"
    batch.write_text(f"put {src} {tmp_path}/remote.txt\nget {tmp_path}/remote.txt {dst}\n")
    r = subprocess.run(
        ["sftp", "-i", bench.ssh_private_key, "-o", f"UserKnownHostsFile={bench.ssh_known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-F", "/dev/null",
         "-P", str(bench.ssh_port), "-b", str(batch), f"root@{bench.ssh_host}"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert dst.read_text() == "sftp payload\n"


# ----------------------------------------------------------------- faults ---

def _no_retry(**kw):
    # retries disabled: "max_attempts" counts retries, "total_max_attempts" all attempts
    from botocore.config import Config
    return Config(retries={"total_max_attempts": 1, "mode": "standard"}, **kw)


def test_fault_proxy_throttles_json_protocol_then_passes(fault_proxy):
    from botocore.exceptions import ClientError
    sqs = fault_proxy.client("sqs", config=_no_retry())
    url = sqs.create_queue(QueueName="bench-q")["QueueUrl"]
    fault_proxy.set_rules([{"match": {"target": "AmazonSQS.SendMessageBatch"},
                            "times": 1, "fault": "throttle"}])
    entries = [{"Id": "1", "MessageBody": "a"}]
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert ei.value.response["Error"]["Code"] == "ThrottlingException"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert [s["Id"] for s in r["Successful"]] == ["1"]
    stats = fault_proxy.stats()
    assert stats["rules"][0]["seen"] == 2
    assert stats["rules"][0]["faulted"] == 1
    assert stats["faulted"] == 1


def test_fault_proxy_throttles_query_protocol(fault_proxy):
    from botocore.exceptions import ClientError
    rds = fault_proxy.client("rds", config=_no_retry())
    fault_proxy.set_rules([{"match": {"action": "DescribeDBInstances"}, "times": 1,
                            "fault": "throttle"}])
    with pytest.raises(ClientError) as ei:
        rds.describe_db_instances()
    assert ei.value.response["Error"]["Code"] == "Throttling"
    assert rds.describe_db_instances()["DBInstances"] == []


def test_fault_proxy_s3_slowdown_and_passthrough(fault_proxy):
    from botocore.exceptions import ClientError
    s3 = fault_proxy.client("s3", config=_no_retry())
    s3.create_bucket(Bucket="bench-faults")
    fault_proxy.set_rules([{"match": {"path_prefix": "/bench-faults/obj", "method": "PUT"},
                            "times": 2, "fault": "throttle"}])
    for _ in range(2):
        with pytest.raises(ClientError) as ei:
            s3.put_object(Bucket="bench-faults", Key="obj", Body=b"x" * 1000)
        assert ei.value.response["Error"]["Code"] == "SlowDown"
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    s3.put_object(Bucket="bench-faults", Key="obj", Body=b"x" * 1000)
    head = s3.head_object(Bucket="bench-faults", Key="obj")
    assert head["ContentLength"] == 1000
    assert s3.get_object(Bucket="bench-faults", Key="obj")["Body"].read() == b"x" * 1000


def test_fault_proxy_retries_recover(fault_proxy):
    from botocore.config import Config
    s3 = fault_proxy.client("s3", config=Config(retries={"max_attempts": 5, "mode": "standard"}))
    fault_proxy.set_rules([{"match": {"method": "PUT"}, "times": 2, "fault": "500"}])
    s3.create_bucket(Bucket="bench-retry")
    assert fault_proxy.stats()["rules"][0]["faulted"] == 2
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bench-retry"]


def test_fault_proxy_drop(fault_proxy):
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
    s3 = fault_proxy.client("s3", config=_no_retry())
    fault_proxy.set_rules([{"match": {"method": "GET"}, "times": 1, "fault": "drop"}])
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        s3.list_buckets()
    assert s3.list_buckets()["Buckets"] == []


def test_fault_proxy_control_errors(fault_proxy):
    req = urllib.request.Request(fault_proxy.url + "/__fault__", method="POST",
                                 data=json.dumps({"rules": [{"fault": "nope"}]}).encode())
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=10)
    assert ei.value.code == 400


def test_standalone_moto(extra_moto, bench):
    assert extra_moto.url != bench.moto_url
    extra_moto.client("s3").create_bucket(Bucket="only-here")
    assert [b["Name"] for b in extra_moto.client("s3").list_buckets()["Buckets"]] == ["only-here"]


def _fake_operator(tmp_path, body):
    p = tmp_path / "dw-fake"
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return str(p)


def test_run_op_parses_last_line(run_op, tmp_path):
    op = _fake_operator(tmp_path, 'cat > "$0.req"; echo "log line" >&2; echo "noise"\n'
                        'echo \'{"ok":true,"operator":"fake","action":"go","result":{"n":1}}\'\n'
                        'exit 0\n')
    r = run_op(op, "go", {"x": 1})
    assert r.code == 0 and r.ok is True and r.data == {"n": 1}
    assert r.stderr.strip() == "log line"
    assert json.loads(open(op + ".req").read()) == {"x": 1, "action": "go"}


def test_run_op_env_reaches_operator(run_op, tmp_path):
    op = _fake_operator(tmp_path, 'printf \'{"ok":true,"endpoint":"%s","retry":"%s","extra":"%s"}\\n\' '
                        '"$AWS_ENDPOINT_URL" "$DW_RETRY_BASE_MS" "$EXTRA"\n')
    r = run_op(op, env={"EXTRA": "yes"})
    assert r.result == {"ok": True, "endpoint": os.environ["AWS_ENDPOINT_URL"],
                        "retry": "20", "extra": "yes"}


def test_run_op_detects_leaked_secret(run_op, tmp_path, secrets):
    op = _fake_operator(tmp_path, 'echo "debug: key=$AWS_SECRET_ACCESS_KEY" >&2; echo \'{"ok":true}\'\n')
    with pytest.raises(pytest.fail.Exception, match="leaked in stderr"):
        run_op(op)
    secrets.append("hunter2-password")
    op2 = _fake_operator(tmp_path, 'echo \'{"ok":false,"error":{"message":"bad hunter2-password"}}\'\nexit 2\n')
    with pytest.raises(pytest.fail.Exception, match="leaked in stdout"):
        run_op(op2)


def test_run_op_missing_binary_fails(run_op):
    with pytest.raises(pytest.fail.Exception, match="missing"):
        run_op("dw-does-not-exist", "noop", {})
