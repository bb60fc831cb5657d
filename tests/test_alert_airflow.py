"""dwops_common's failure callback under `airflow dags test` (Airflow 2 and
3): a dwops task that fails really calls `dw-alert notify`, and the alert,
with the task's context and the operator's result, arrives in a queue
subscribed to the topic; a task that opts out sends nothing."""
from __future__ import annotations

import json

import pytest

from airflow_support import AIRFLOW_MAJORS, REPO

DAGS = [REPO / "airflow" / "dags" / "dwops_common.py",
        REPO / "tests" / "data" / "airflow_alert"]


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_failed_task_alerts_through_the_callback(major, airflow_factory, bench, moto):
    sns, sqs = moto.client("sns"), moto.client("sqs")
    arn = sns.create_topic(Name="dwops-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="dwops-alerts-q")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    af = airflow_factory(major, DAGS)
    r = af.run_dag_test("dwops_test_alert", "2024-01-02", variables={"dwops_alert_topic_arn": arn})
    assert r.states == {"fails_alerted": "failed", "fails_quiet": "failed"}, r
    msgs = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            break
        msgs += got
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
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
