"""The core against moto, through the dw-probe test tool: each AWS wire
protocol, pagination, the credential chain, endpoint resolution, the
operator protocol's rejections, retries and redaction."""

import json
import os
import subprocess

import pytest

from conftest import REPO, register_secret

PROBE = str(REPO / "build" / "tests" / "tools" / "dw-probe")


def probe(run_op, action, request=None, env=None):
    return run_op(PROBE, action, request or {}, env=env)


# ---- the three wire protocols -------------------------------------------

def test_s3_listing_across_pages(run_op, moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="core-list")
    keys = {f"data/{i:04d} a+b=c ሴ.json" for i in range(250)}
    for k in keys:
        s3.put_object(Bucket="core-list", Key=k, Body=b"x")
    s3.put_object(Bucket="core-list", Key="other/decoy.json", Body=b"x")

    r = probe(run_op, "s3-list", {"bucket": "core-list", "prefix": "data/", "page_size": 40})
    assert r.code == 0, r.stderr
    assert set(r.result["result"]["keys"]) == keys
    assert r.result["result"]["count"] == 250
    assert r.result["result"]["pages"] == 7  # ceil(250 / 40)


def test_sqs_json_call(run_op, moto):
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="core-json")["QueueUrl"]
    r = probe(run_op, "sqs-send", {"queue_url": url, "body": "héllo \"quoted\""})
    assert r.code == 0, r.stderr
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in msgs] == ["héllo \"quoted\""]
    assert msgs[0]["MessageId"] == r.result["result"]["message_id"]


def test_sqs_many_in_flight(run_op, moto):
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="core-pool")["QueueUrl"]
    r = probe(run_op, "sqs-pool", {"queue_url": url, "count": 60, "concurrency": 8})
    assert r.code == 0, r.stderr
    assert r.result["result"]["sent"] == 60
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "60"


def test_rds_query_call(run_op, moto):
    rds = moto.client("rds")
    for name in ("core-wh", "core-other"):
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="mysql",
                               DBInstanceClass="db.t3.micro", MasterUsername="admin",
                               MasterUserPassword="password123", AllocatedStorage=20,
                               BackupRetentionPeriod=7)
    auto = [s for s in rds.describe_db_snapshots(DBInstanceIdentifier="core-wh")["DBSnapshots"]
            if s["SnapshotType"] == "automated"]
    assert len(auto) == 1
    # A newer manual snapshot must not be picked.
    rds.create_db_snapshot(DBInstanceIdentifier="core-wh", DBSnapshotIdentifier="core-manual")
    r = probe(run_op, "rds-snapshot", {"source": "core-wh"})
    assert r.code == 0, r.stderr
    assert r.result["result"]["snapshot"] == auto[0]["DBSnapshotIdentifier"]

    r = probe(run_op, "rds-snapshot", {"source": "core-missing"})
    assert r.code == 1
    assert r.result["error"]["code"] == "SnapshotNotFound"


def test_glue_json11_call(run_op, moto):
    moto.client("glue").create_database(DatabaseInput={"Name": "core_db", "Description": "d"})
    r = probe(run_op, "glue-database", {"name": "core_db"})
    assert r.code == 0, r.stderr
    assert r.result["result"]["database"]["Name"] == "core_db"

    r = probe(run_op, "glue-database", {"name": "core_nope"})
    assert r.code == 1
    assert r.result["error"]["code"] == "EntityNotFoundException"
    assert "core_nope" in r.result["error"]["message"]


# ---- credentials and endpoints -------------------------------------------

def write_profiles(tmp_path):
    (tmp_path / "credentials").write_text(
        "[base]\naws_access_key_id = AKIABASEEXAMPLE01\n"
        "aws_secret_access_key = baseSECRETkeyForProfileTests0000\n")
    (tmp_path / "config").write_text(
        "[profile base]\nregion = eu-west-1\n\n"
        "[profile analyst]\nrole_arn = arn:aws:iam::123456789012:role/dwops-analyst\n"
        "source_profile = base\nregion = eu-central-1\nrole_session_name = dwops-test\n")
    return {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
            "AWS_CONFIG_FILE": str(tmp_path / "config"),
            "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
            "AWS_REGION": None, "AWS_DEFAULT_REGION": None}


def test_sts_assume_role_for_profile(run_op, moto, tmp_path):
    register_secret("baseSECRETkeyForProfileTests0000")
    env = write_profiles(tmp_path)
    env["AWS_PROFILE"] = "analyst"
    r = probe(run_op, "whoami", env=env)
    assert r.code == 0, r.stderr
    res = r.result["result"]
    assert res["credentials"] == "assume-role"
    assert res["region"] == "eu-central-1"
    assert "assumed-role/dwops-analyst/dwops-test" in res["arn"]


def test_profile_credentials_and_request_profile(run_op, moto, tmp_path):
    env = write_profiles(tmp_path)
    r = probe(run_op, "whoami", {"profile": "base"}, env=env)
    assert r.code == 0, r.stderr
    assert r.result["result"]["credentials"] == "profile"
    assert r.result["result"]["region"] == "eu-west-1"

    r = probe(run_op, "whoami", {"profile": "nobody", "region": "us-east-1"}, env=env)
    assert r.code == 2
    assert r.result["error"]["code"] == "NoCredentials"


def test_imds_v2_credentials(run_op, moto, tmp_path):
    register_secret("test-secret-key")
    register_secret("test-session-token")
    env = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
           "AWS_EC2_METADATA_DISABLED": None,
           "AWS_EC2_METADATA_SERVICE_ENDPOINT": moto.url}
    r = probe(run_op, "whoami", env=env)
    assert r.code == 0, r.stderr
    assert r.result["result"]["credentials"] == "imds"


def test_container_credentials(run_op, moto):
    register_secret("test-secret-key")
    env = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
           "AWS_CONTAINER_CREDENTIALS_FULL_URI":
               moto.url + "/latest/meta-data/iam/security-credentials/default-role",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN": "containerTOKENnotToLeak"}
    register_secret("containerTOKENnotToLeak")
    r = probe(run_op, "whoami", env=env)
    assert r.code == 0, r.stderr
    assert r.result["result"]["credentials"] == "container"


def test_no_credentials_is_rejected(run_op, moto):
    r = probe(run_op, "whoami", env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None})
    assert r.code == 2
    assert r.result["error"]["code"] == "NoCredentials"


def test_endpoint_resolution(run_op, moto):
    url = moto.client("sqs").create_queue(QueueName="core-endpoints")["QueueUrl"]
    dead = "http://127.0.0.1:9"
    # The service's own variable beats AWS_ENDPOINT_URL ...
    r = probe(run_op, "sqs-send", {"queue_url": url, "body": "a", "max_attempts": 1},
              env={"AWS_ENDPOINT_URL": dead, "AWS_ENDPOINT_URL_SQS": moto.url})
    assert r.code == 0, r.stderr
    # ... and the request's endpoint_url beats both.
    r = probe(run_op, "sqs-send", {"queue_url": url, "body": "b", "endpoint_url": moto.url},
              env={"AWS_ENDPOINT_URL": dead, "AWS_ENDPOINT_URL_SQS": dead})
    assert r.code == 0, r.stderr
    r = probe(run_op, "sqs-send", {"queue_url": url, "body": "c", "endpoints": {"sqs": moto.url}},
              env={"AWS_ENDPOINT_URL": dead})
    assert r.code == 0, r.stderr


# ---- the operator protocol -------------------------------------------------

@pytest.mark.parametrize("stdin, field, code", [
    ('{"queue_url": "q", "body": ', None, "InvalidJSON"),
    ('["not", "an", "object"]', None, "InvalidRequest"),
    ('{"queue_url": "q", "body": "b", "bodyy": 1}', "bodyy", "InvalidRequest"),
    ('{"queue_url": 7, "body": "b"}', "queue_url", "InvalidRequest"),
    ('{"body": "b"}', "queue_url", "InvalidRequest"),
    ('{"queue_url": "q", "body": "b", "password_env": "DW_UNSET_VAR"}', "password_env", "InvalidRequest"),
    ('{"queue_url": "q", "body": "b", "max_attempts": 0}', "max_attempts", "InvalidRequest"),
])
def test_bad_requests_rejected_before_any_call(run_op, fault_proxy, stdin, field, code):
    r = run_op(PROBE, args=["sqs-send"], stdin=stdin, env=fault_proxy.env)
    assert r.code == 2
    assert r.result["ok"] is False
    assert r.result["error"]["code"] == code
    assert r.result["error"]["field"] == field
    assert r.result["error"]["message"]
    last = r.stdout.strip().splitlines()[-1]
    assert json.loads(last) == r.result and "\n" not in last
    assert fault_proxy.stats()["requests"] == 0


def test_unknown_and_conflicting_actions(run_op, fault_proxy):
    r = run_op(PROBE, args=["frobnicate"], stdin="{}", env=fault_proxy.env)
    assert r.code == 2 and r.result["error"]["field"] == "action"
    assert "s3-list" in r.result["error"]["message"]
    r = run_op(PROBE, args=["whoami"], stdin='{"action": "s3-list"}', env=fault_proxy.env)
    assert r.code == 2 and r.result["error"]["field"] == "action"
    r = run_op(PROBE, stdin='{"action": "whoami"}', env=fault_proxy.env)
    assert r.code == 0
    assert fault_proxy.stats()["requests"] == 1


def test_request_file_help_and_version(run_op, moto, tmp_path):
    req = tmp_path / "req.json"
    req.write_text('{"action": "whoami"}')
    r = run_op(PROBE, args=["--request", str(req)])
    assert r.code == 0 and r.result["action"] == "whoami"
    r = run_op(PROBE, args=["--help"])
    assert r.code == 0 and "sqs-send" in r.stdout and "queue_url" in r.stdout
    r = run_op(PROBE, args=["--version"])
    assert r.code == 0 and r.stdout.startswith("dw-probe ")


# ---- retries -----------------------------------------------------------------

def test_throttling_and_503_then_success(run_op, fault_proxy):
    sqs = fault_proxy.client("sqs")
    url = sqs.create_queue(QueueName="core-retry")["QueueUrl"]
    fault_proxy.add_rule(match={"target": "AmazonSQS.SendMessage"}, fault="throttle", times=1)
    fault_proxy.add_rule(match={"target": "AmazonSQS.SendMessage"}, fault="503", times=1)
    r = probe(run_op, "sqs-send", {"queue_url": url, "body": "after faults"}, env=fault_proxy.env)
    assert r.code == 0, r.stderr
    assert "retrying" in r.stderr
    assert fault_proxy.stats()["faulted"] == 2
    msgs = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in msgs] == ["after faults"]


def test_query_and_rest_xml_retries(run_op, fault_proxy):
    s3 = fault_proxy.client("s3")
    s3.create_bucket(Bucket="core-retry-s3")
    s3.put_object(Bucket="core-retry-s3", Key="a", Body=b"x")
    fault_proxy.add_rule(match={"method": "GET", "path_prefix": "/core-retry-s3"}, fault="throttle", times=1)
    fault_proxy.add_rule(match={"method": "GET", "path_prefix": "/core-retry-s3"}, fault="drop", times=1)
    r = probe(run_op, "s3-list", {"bucket": "core-retry-s3"}, env=fault_proxy.env)
    assert r.code == 0, r.stderr
    assert r.result["result"]["keys"] == ["a"]

    fault_proxy.clear()
    fault_proxy.add_rule(match={"action": "DescribeDBSnapshots"}, fault="throttle", times=2)
    r = probe(run_op, "rds-snapshot", {"source": "none"}, env=fault_proxy.env)
    assert r.result["error"]["code"] == "SnapshotNotFound"  # got through to moto
    assert fault_proxy.stats()["faulted"] == 2


def test_pool_retries_lose_nothing(run_op, fault_proxy):
    sqs = fault_proxy.client("sqs")
    url = sqs.create_queue(QueueName="core-pool-retry")["QueueUrl"]
    fault_proxy.add_rule(match={"target": "AmazonSQS.SendMessage"}, fault="throttle", times=5, skip=3)
    fault_proxy.add_rule(match={"target": "AmazonSQS.SendMessage"}, fault="500", times=5, skip=10)
    r = probe(run_op, "sqs-pool", {"queue_url": url, "count": 40}, env=fault_proxy.env)
    assert r.code == 0, r.stderr
    assert r.result["result"]["sent"] == 40
    assert r.result["result"]["requests"] == 50
    bodies = set()
    for _ in range(20):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            bodies.add(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert bodies == {f"message-{i}" for i in range(40)}


def test_persistent_throttling_exits_75(run_op, fault_proxy):
    url = fault_proxy.client("sqs").create_queue(QueueName="core-75")["QueueUrl"]
    fault_proxy.add_rule(match={"target": "AmazonSQS.SendMessage"}, fault="throttle")
    r = probe(run_op, "sqs-send", {"queue_url": url, "body": "x", "max_attempts": 4},
              env=fault_proxy.env)
    assert r.code == 75
    assert r.result["error"]["code"] == "ThrottlingException"
    assert "4 attempts" in r.result["error"]["message"]
    assert fault_proxy.stats()["faulted"] == 4


def test_other_4xx_not_retried(run_op, fault_proxy):
    url = fault_proxy.client("sqs").create_queue(QueueName="core-4xx")["QueueUrl"]
    fault_proxy.add_rule(match={"target": "AmazonSQS.SendMessage"}, fault="error",
                         status=403, code="AccessDenied", message="no")
    r = probe(run_op, "sqs-send", {"queue_url": url, "body": "x"}, env=fault_proxy.env)
    assert r.code == 1
    assert r.result["error"]["code"] == "AccessDenied"
    assert fault_proxy.stats()["faulted"] == 1


# ---- secrets -------------------------------------------------------------------

def test_secret_echoed_by_server_is_redacted(run_op, moto):
    secret = "pa'ss\"wo\\rd-ሴ-0042"
    register_secret(secret)
    r = probe(run_op, "glue-database", {"name": secret, "password_env": "DW_PROBE_PW"},
              env={"DW_PROBE_PW": secret, "DW_LOG_LEVEL": "debug"})
    assert r.code == 1
    assert r.result["error"]["code"] == "EntityNotFoundException"
    assert "***" in r.result["error"]["message"]


@pytest.mark.skipif(os.environ.get("DW_EXPECT_SANITIZERS") != "1",
                    reason="only under make test, which builds with the sanitizers")
def test_binaries_under_test_are_sanitizer_builds():
    """make test must run what it built with ASan and UBSan, even when bin/
    last held a release build (the flavour switch relinks)."""
    built = sorted((REPO / "bin").glob("dw-*")) + sorted((REPO / "build" / "tests").glob("*/*"))
    assert len(built) >= 5
    for path in built:
        if not os.access(path, os.X_OK) or path.is_dir():
            continue
        libs = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
        assert "libasan" in libs and "libubsan" in libs, f"{path} is not a sanitizer build"
