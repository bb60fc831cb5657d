"""Jenkins wiring of dw-alert: every Jenkinsfile's post { failure { ... } }
runs jenkins/dwops.groovy's notifyFailure, and notifyFailure (run outside
Jenkins by tests/tools/jenkins_shared_run.groovy, as test_jenkins does)
publishes the failed operator's result with the build's URL."""
from __future__ import annotations

import json
import re

import pytest

from test_jenkins import JENKINS_DIR, _run_shared

JENKINSFILES = sorted(p for p in JENKINS_DIR.rglob("Jenkinsfile*") if p.is_file())


@pytest.mark.parametrize("path", JENKINSFILES, ids=lambda p: str(p.relative_to(JENKINS_DIR)))
def test_every_jenkinsfile_alerts_on_failure(path):
    text = path.read_text()
    post = text[text.rindex("    post {"):]
    assert re.search(r"failure\s*\{\s*script\s*\{[^}]*dwops\.notifyFailure\(\[job: env\.JOB_NAME, "
                     r"number: env\.BUILD_NUMBER, url: env\.BUILD_URL\]\)", post), path
    assert re.search(r"sh 'make -j2 bin/dw-[a-z]+ bin/dw-alert'", text), path


def _queue(moto):
    sns, sqs = moto.client("sns"), moto.client("sqs")
    arn = sns.create_topic(Name="jenkins-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="jenkins-alerts-q")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    return arn, url


def _received(moto, url):
    sqs = moto.client("sqs")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def test_notify_failure_publishes_the_failed_result(tmp_path, moto, monkeypatch):
    arn, url = _queue(moto)
    monkeypatch.setenv("DWOPS_ALERT_TOPIC_ARN", arn)
    build = tmp_path / "ws" / "build"
    build.mkdir(parents=True)
    (build / "catalog-plan-result.json").write_text(json.dumps({"ok": True, "operator": "dw-catalog"}))
    (build / "catalog-apply-result.json").write_text(json.dumps(
        {"ok": False, "operator": "dw-catalog", "action": "apply",
         "error": {"code": "ApplyIncomplete", "message": "1 change failed", "field": None}}, indent=2))
    info = {"job": "dw-catalog", "number": "42", "url": "https://jenkins/job/dw-catalog/42/"}
    ws, out = _run_shared(tmp_path, [{"fn": "notifyFailure", "args": [info]}])
    assert out[0]["ok"] and out[0]["value"] == 0, out
    alerts = _received(moto, url)
    assert len(alerts) == 1, out
    a = alerts[0]
    assert a["source"] == "jenkins" and a["operator"] == "dw-catalog" and a["code"] == "ApplyIncomplete"
    assert a["link"] == info["url"]
    assert a["context"] == {"job": "dw-catalog", "build": "42", "build_url": info["url"]}


def test_notify_failure_outside_an_operator_and_without_topic(tmp_path, moto, monkeypatch):
    arn, url = _queue(moto)
    info = {"job": "dw-ddl", "number": "7", "url": "https://jenkins/job/dw-ddl/7/"}
    monkeypatch.delenv("DWOPS_ALERT_TOPIC_ARN", raising=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ws, out = _run_shared(tmp_path / "a", [{"fn": "notifyFailure", "args": [info]}])
    assert out[0]["ok"] and out[0]["value"] == 0 and "not set" in out[0]["log"], out
    assert _received(moto, url) == []
    monkeypatch.setenv("DWOPS_ALERT_TOPIC_ARN", arn)
    ws, out = _run_shared(tmp_path / "b", [{"fn": "notifyFailure", "args": [info]}])
    assert out[0]["ok"] and out[0]["value"] == 0, out
    alerts = _received(moto, url)
    assert [a["subject"] for a in alerts] == ["Jenkins dw-ddl #7 failed"]
