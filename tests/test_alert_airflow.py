"""dwops_common's failure callback under `airflow dags test` (Airflow 2 and
3): a dwops task that fails really calls `dw-alert notify`, and the alert,
with the task's context and the operator's result, arrives in a queue
subscribed to the topic; a task that opts out sends nothing; a task with
dwops_alert="retry" alerts on its retry (warning) and on its last failure."""
from __future__ import annotations

import json

import pytest

from airflow_support import AIRFLOW_MAJORS, REPO

DAGS = [REPO / "airflow" / "dags" / "dwops_common.py",
        REPO / "tests" / "data" / "airflow_alert"]


def topic_with_raw_queue(moto):
    sns, sqs = moto.client("sns"), moto.client("sqs")
    arn = sns.create_topic(Name="dwops-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="dwops-alerts-q")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    return arn, url


def drain(moto, url):
    sqs = moto.client("sqs")
    msgs = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            return msgs
        msgs += got
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_failed_task_alerts_through_the_callback(major, airflow_factory, bench, moto):
    arn, url = topic_with_raw_queue(moto)
    af = airflow_factory(major, DAGS)
    r = af.run_dag_test("dwops_test_alert", "2024-01-02", variables={"dwops_alert_topic_arn": arn})
    assert r.states == {"fails_alerted": "failed", "fails_quiet": "failed"}, r
    msgs = drain(moto, url)
    assert len(msgs) == 1, (msgs, r.text[-3000:])
    a = json.loads(msgs[0]["Body"])
    assert a["source"] == "airflow"
    assert a["operator"] == "dw-lock" and a["action"] == "status"
    assert a["code"] == "ResourceNotFoundException", a
    ctx = a["context"]
    assert ctx["dag_id"] == "dwops_test_alert" and ctx["task_id"] == "fails_alerted"
    assert ctx["run_id"] == r.run_id
    assert ctx["try_number"] >= 1
    assert ctx.get("log_url", "").startswith("http"), ctx


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_retried_task_alerts_on_the_retry_and_on_the_failure(major, airflow_factory, bench, moto):
    """dwops_alert="retry", retries=1, retry_delay 0: the first try's failure
    is a warning saying the task will be retried (on_retry_callback), the
    second try's the usual failure alert (on_failure_callback); two alerts,
    two ids (severity, subject and try differ), each once."""
    arn, url = topic_with_raw_queue(moto)
    af = airflow_factory(major, DAGS)
    r = af.run_dag_test("dwops_test_alert_retry", "2024-01-02",
                        variables={"dwops_alert_topic_arn": arn},
                        env={"DWOPS_TEST_RETRY_DELAY_S": "0"})
    assert r.states == {"fails_retried": "failed"}, r
    assert r.runs[-1]["tasks"]["fails_retried"]["try_number"] == 2, r.runs
    alerts = [json.loads(m["Body"]) for m in drain(moto, url)]
    assert len(alerts) == 2, (alerts, r.text[-3000:])
    retry, last = sorted(alerts, key=lambda a: a["context"]["try_number"])
    for a in (retry, last):
        assert a["source"] == "airflow"
        assert a["operator"] == "dw-lock" and a["action"] == "status"
        assert a["code"] == "ResourceNotFoundException", a
        assert a["context"]["dag_id"] == "dwops_test_alert_retry"
        assert a["context"]["task_id"] == "fails_retried"
        assert a["context"]["run_id"] == r.run_id
        assert a["link"].startswith("http"), a
    assert retry["severity"] == "warning"
    assert retry["subject"] == ("dwops_test_alert_retry.fails_retried will be retried: "
                                "dw-lock status failed: ResourceNotFoundException"), retry
    assert last["severity"] == "error"
    assert last["subject"] == "dw-lock status failed: ResourceNotFoundException", last
    assert (retry["context"]["try_number"], last["context"]["try_number"]) == (1, 2), alerts
    assert retry["id"] != last["id"]
