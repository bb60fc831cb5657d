"""The dwops_fanout DAG under real Airflow 2 and 3 (`airflow dags test`)
against the bench: the queue is checked with boto3."""

from __future__ import annotations

import pytest

from airflow_support import AIRFLOW_MAJORS, DAGS_DIR

DAG_FILE = DAGS_DIR / "dwops_fanout.py"
# runs for 2019 hours need a DAG that starts before them
ENV = {"DWOPS_FANOUT_START_DATE": "2019-01-01"}


def keys_of(hour: int, n: int):
    return [f"in/2019-06-01-{hour:02d}-0-{s}-events.json" for s in range(n)]


def drain(sqs, url):
    bodies, empty = [], 0
    while empty < 2:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   VisibilityTimeout=300).get("Messages", [])
        empty = 0 if msgs else empty + 1
        bodies += [m["Body"] for m in msgs]
    return sorted(bodies)


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_hourly_dag_fans_out_the_hour(major, airflow_factory, bench, moto):
    s3, sqs = moto.client("s3"), moto.client("sqs")
    s3.create_bucket(Bucket="events")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    for k in keys_of(14, 4) + keys_of(15, 7) + keys_of(16, 2):
        s3.put_object(Bucket="events", Key=k, Body=b"{}")
    af = airflow_factory(major, [DAG_FILE, DAG_FILE.parent / "dwops_common.py"])
    variables = {"dwops_fanout_bucket": "events", "dwops_fanout_queue_url": url,
                 "dwops_fanout_prefix": "in"}

    # Trigger DAG w/ config: the hour given, in one of the forms Airflow renders
    r = af.run_dag_test("dwops_fanout", "2019-06-01T18:00:00+00:00",
                        conf={"hour": "2019-06-01T15:00:00+00:00"}, variables=variables, env=ENV)
    assert r.states == {"fanout": "success"}, r
    result = r.results["fanout"]
    assert result["ok"] is True and result["result"]["sent"] == 7, r
    assert result["result"]["per_hour"][0]["hour"] == "2019-06-01T15:00:00Z"
    assert drain(sqs, url) == sorted(keys_of(15, 7))

    # No config: the run's data interval is the hour (the one before the
    # logical date for a manual run, as Airflow infers it).
    r = af.run_dag_test("dwops_fanout", "2019-06-01T17:00:00+00:00", variables=variables, env=ENV)
    assert r.states == {"fanout": "success"}, r
    assert r.results["fanout"]["result"]["sent"] == 2, r
    assert drain(sqs, url) == sorted(keys_of(16, 2))

    # A backfill range from the config; then an hour without files is skipped.
    r = af.run_dag_test("dwops_fanout", "2019-06-01T18:00:00+00:00",
                        conf={"start": "2019-06-01T14", "end": "2019-06-01T16"},
                        variables=variables, env=ENV)
    assert r.states == {"fanout": "success"}, r
    assert r.results["fanout"]["result"]["hours"] == 2
    assert drain(sqs, url) == sorted(keys_of(14, 4) + keys_of(15, 7))

    r = af.run_dag_test("dwops_fanout", "2019-06-01T18:00:00+00:00",
                        conf={"hour": "2019-06-01T03"}, variables=variables, env=ENV)
    assert r.states == {"fanout": "skipped"}, r
    assert drain(sqs, url) == []


@pytest.mark.parametrize("major", [3], ids=lambda m: f"airflow{m}")
def test_unknown_config_field_fails_before_sending(major, airflow_factory, bench, moto,
                                                   fault_proxy):
    """A field the DAG does not take, and one pointing the worker's
    credentials elsewhere (issue 12 #2), fail the task by name; nothing
    reaches any endpoint (the proxy counts every request)."""
    s3, sqs = moto.client("s3"), moto.client("sqs")
    s3.create_bucket(Bucket="events")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    s3.put_object(Bucket="events", Key=keys_of(15, 1)[0], Body=b"{}")
    af = airflow_factory(major, [DAG_FILE, DAG_FILE.parent / "dwops_common.py"])
    r = af.run_dag_test("dwops_fanout", "2019-06-01T18:00:00+00:00",
                        conf={"hour": "2019-06-01T15", "hours": "typo",
                              "endpoints": {"sqs": fault_proxy.url, "s3": fault_proxy.url}},
                        env=dict(ENV, DWOPS_FANOUT_BUCKET="events", DWOPS_FANOUT_QUEUE_URL=url,
                                 DWOPS_FANOUT_PREFIX="in", DWOPS_FANOUT_RETRIES="0"))
    assert r.states.get("fanout") == "failed", r
    assert "field(s) 'endpoints', 'hours' not allowed" in r.text, r.text[-2000:]
    assert fault_proxy.stats()["requests"] == 0
    assert drain(sqs, url) == []
