"""dw-alert watch against a real Airflow API server, Airflow 2 and 3.

One server per Airflow version for the module: Airflow 2's web server
(/api/v1, basic auth backend airflow.api.auth.backend.basic_auth, a FAB
user) and Airflow 3's api-server (/api/v2, SimpleAuthManager, a JWT from
POST /auth/token).  The runs are written into the metadata database
directly: one running for two hours (past its 60 s limit), one running for
seconds (within its limit), and successful runs for the median."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bench import services

REPO = Path(__file__).resolve().parent.parent
USER, PASSWORD = "dwops", "watch-pass-0123456789"

DAG_FILE = '''
import pendulum
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow import DAG
try:
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:
    from airflow.operators.empty import EmptyOperator
for name in ("watch_slow", "watch_fast", "watch_median", "watch_late"):
    with DAG(name, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
             catchup=False) as dag:
        EmptyOperator(task_id="t")
    globals()[name] = dag
'''

RUNS_SNIPPET = r'''
import json, sys
from datetime import datetime, timedelta, timezone
import airflow
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunType
major = int(airflow.__version__.split(".")[0])
now = datetime.now(timezone.utc)
def run(dag_id, run_id, state, start, end=None, when=None, run_type=DagRunType.MANUAL):
    when = when or start
    kw = dict(dag_id=dag_id, run_id=run_id, run_type=run_type, state=state,
              start_date=start, data_interval=(when, when))
    if major >= 3:
        kw["logical_date"] = when
        kw["triggered_by"] = __import__("airflow.utils.types", fromlist=["DagRunTriggeredByType"]).DagRunTriggeredByType.TEST
    else:
        kw["execution_date"] = when
        kw["external_trigger"] = True
    r = DagRun(**kw)
    r.start_date = start
    if end:
        r.end_date = end
    return r
with create_session() as s:
    s.add(run("watch_slow", "held", DagRunState.RUNNING, now - timedelta(hours=2)))
    s.add(run("watch_fast", "normal", DagRunState.RUNNING, now - timedelta(seconds=5)))
    for i in range(3):
        st = now - timedelta(days=i + 1)
        s.add(run("watch_median", f"ok{i}", DagRunState.SUCCESS, st, st + timedelta(seconds=100)))
    s.add(run("watch_median", "long", DagRunState.RUNNING, now - timedelta(seconds=1000)))
    # due two hours ago, never started; and one due a minute ago
    late = run("watch_late", "scheduled__late", DagRunState.QUEUED, None,
               when=now - timedelta(hours=2), run_type=DagRunType.SCHEDULED)
    soon = run("watch_late", "scheduled__soon", DagRunState.QUEUED, None,
               when=now - timedelta(minutes=1), run_type=DagRunType.SCHEDULED)
    for r in (late, soon):
        r.start_date = None
        s.add(r)
print(MARK + json.dumps({"ok": True}))
'''


def _wait_http(url, timeout, proc, log):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Airflow server exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(1)
    raise RuntimeError(f"the Airflow server did not answer {url} within {timeout}s:\n"
                       f"{log.read_text()[-4000:]}")


@pytest.fixture(scope="module", params=[2, 3], ids=["airflow2", "airflow3"])
def api_server(request, airflow_factory, tmp_path_factory):
    major = request.param
    dags = tmp_path_factory.mktemp(f"watch-dags{major}")
    (dags / "watch_dags.py").write_text(DAG_FILE)
    af = airflow_factory(major, dags_folder=[dags / "watch_dags.py"])
    home = af._new_home("api")
    extra = {"AIRFLOW__WEBSERVER__WORKERS": "1", "AIRFLOW__API__WORKERS": "1"}
    if major == 2:
        extra["AIRFLOW__API__AUTH_BACKENDS"] = "airflow.api.auth.backend.basic_auth"
    else:
        pw = home / "passwords.json"
        pw.write_text(json.dumps({USER: PASSWORD}))
        extra.update({
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw),
        })
    p = af.cli("dags", "reserialize", env=extra, home=home)
    assert p.returncode == 0, p.stdout + p.stderr
    if major == 2:
        p = af.cli("users", "create", "-u", USER, "-p", PASSWORD, "-r", "Admin", "-e",
                   "dwops@example.com", "-f", "dw", "-l", "ops", env=extra, home=home)
        assert p.returncode == 0, p.stdout + p.stderr
    p = af.python_snippet(RUNS_SNIPPET, env=extra, home=home)
    assert '"ok": true' in p.stdout, p.stdout + p.stderr
    port = services.free_port()
    log = home / "server.log"
    argv = [str(af.airflow_bin), "webserver" if major == 2 else "api-server", "-p", str(port)]
    if major == 3:
        argv += ["-w", "1"]
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=af.env(extra, home),
                                cwd=str(home), stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + ("/health" if major == 2 else "/api/v2/monitor/health"), 180, proc, log)
        yield major, url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _setup_aws(moto):
    sns, sqs = moto.client("sns"), moto.client("sqs")
    arn = sns.create_topic(Name="watch")["TopicArn"]
    url = sqs.create_queue(QueueName="watch-q")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    return arn, url


def _drain(moto, url):
    sqs, out = moto.client("sqs"), []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_watch_alerts_once_for_the_run_past_its_limit(api_server, run_op, extra_moto, secrets):
    major, url = api_server
    secrets.append(PASSWORD)
    arn, q = _setup_aws(extra_moto)
    env = dict(extra_moto.env, AIRFLOW_WATCH_PASSWORD=PASSWORD)
    assert run_op("dw-alert", "create-table", {}, env=env).code == 0
    req = {"url": url, "airflow_version": major, "username": USER,
           "password_env": "AIRFLOW_WATCH_PASSWORD", "topic_arn": arn,
           "limits_s": {"watch_slow": 60, "watch_fast": 600},
           "dag_ids": ["watch_slow", "watch_fast"]}
    r = run_op("dw-alert", "watch", req, env=env)
    assert r.code == 0, r
    assert r.data["events_read"] == 2
    assert [(f["dag_id"], f["run_id"]) for f in r.data["findings"]] == [("watch_slow", "held")]
    assert r.data["published"] == 1
    alerts = _drain(extra_moto, q)
    assert len(alerts) == 1
    a = alerts[0]
    assert a["code"] == "RunTooLong" and a["context"]["dag_id"] == "watch_slow"
    assert a["context"]["run_id"] == "held" and a["source"] == "airflow"
    # the next watch: the same run is not alerted again
    r = run_op("dw-alert", "watch", req, env=env)
    assert r.code == 99, r
    assert r.data["published"] == 0 and r.data["suppressed"] == 1
    assert _drain(extra_moto, q) == []


def test_watch_median_limit(api_server, run_op, extra_moto):
    major, url = api_server
    arn, q = _setup_aws(extra_moto)
    env = dict(extra_moto.env, AIRFLOW_WATCH_PASSWORD=PASSWORD)
    assert run_op("dw-alert", "create-table", {}, env=env).code == 0
    # recent successful runs took 100 s: 3 x 100 s = 300 s < the 1000 s it runs now
    req = {"url": url, "airflow_version": major, "username": USER,
           "password_env": "AIRFLOW_WATCH_PASSWORD", "topic_arn": arn,
           "median_factor": 3, "min_limit_s": 60, "dag_ids": ["watch_median", "watch_fast"]}
    r = run_op("dw-alert", "watch", req, env=env)
    assert r.code == 0, r
    assert [(f["dag_id"], f["limit_s"]) for f in r.data["findings"]] == [("watch_median", 300)]
    assert len(_drain(extra_moto, q)) == 1


def test_watch_scheduled_run_that_did_not_start(api_server, run_op, extra_moto):
    major, url = api_server
    arn, q = _setup_aws(extra_moto)
    env = dict(extra_moto.env, AIRFLOW_WATCH_PASSWORD=PASSWORD)
    assert run_op("dw-alert", "create-table", {}, env=env).code == 0
    req = {"url": url, "airflow_version": major, "username": USER,
           "password_env": "AIRFLOW_WATCH_PASSWORD", "topic_arn": arn,
           "start_grace_s": 600, "dag_ids": ["watch_late"]}
    r = run_op("dw-alert", "watch", req, env=env)
    assert r.code == 0, r
    assert [(f["run_id"], f["kind"]) for f in r.data["findings"]] == [("scheduled__late", "late")]
    alerts = _drain(extra_moto, q)
    assert [a["code"] for a in alerts] == ["RunNotStarted"]
    assert run_op("dw-alert", "watch", req, env=env).code == 99


def test_watch_wrong_password(api_server, run_op, extra_moto):
    major, url = api_server
    req = {"url": url, "airflow_version": major, "username": USER, "password": "wrong-password-x",
           "topic_arn": "arn:aws:sns:us-east-1:123456789012:watch"}
    r = run_op("dw-alert", "watch", req, env=extra_moto.env)
    assert r.code == 2 and r.error["code"] == "AirflowAuthFailed", r
    assert "wrong-password-x" not in r.stdout + r.stderr


def test_watch_after_a_crash_between_mark_and_publish(api_server, run_op, extra_moto):
    """A watch killed after marking a run "sending" and before SNS took the
    alert leaves that mark: the alert is published by a later watch once the
    mark's hold has ended (never lost); a live hold (another watch publishing
    now) is left to its holder."""
    import time as _time
    major, url = api_server
    arn, q = _setup_aws(extra_moto)
    env = dict(extra_moto.env, AIRFLOW_WATCH_PASSWORD=PASSWORD)
    assert run_op("dw-alert", "create-table", {}, env=env).code == 0
    ddb = extra_moto.client("dynamodb")
    key = {"key": {"S": "watch#watch_slow#held#running too long"}}
    now_ms = int(_time.time() * 1000)
    req = {"url": url, "airflow_version": major, "username": USER,
           "password_env": "AIRFLOW_WATCH_PASSWORD", "topic_arn": arn,
           "limits_s": {"watch_slow": 60, "watch_fast": 600},
           "dag_ids": ["watch_slow", "watch_fast"]}
    # another watch is publishing this very moment: its hold is live
    ddb.put_item(TableName="dwops-alerts", Item=dict(key, at={"N": str(now_ms)}, state={"S": "sending"},
                                                      until={"N": str(now_ms + 600_000)}))
    r = run_op("dw-alert", "watch", req, env=env)
    assert r.code == 99, r
    assert r.data["suppressed"] == 1 and _drain(extra_moto, q) == []
    # what a watch killed 20 minutes ago left behind: the hold has ended
    ddb.put_item(TableName="dwops-alerts", Item=dict(key, at={"N": str(now_ms - 1_200_000)},
                                                      state={"S": "sending"},
                                                      until={"N": str(now_ms - 600_000)}))
    r = run_op("dw-alert", "watch", req, env=env)
    assert r.code == 0, r
    assert r.data["published"] == 1
    alerts = _drain(extra_moto, q)
    assert [(a["code"], a["context"]["run_id"]) for a in alerts] == [("RunTooLong", "held")]
    assert ddb.get_item(TableName="dwops-alerts", Key=key, ConsistentRead=True)["Item"]["state"]["S"] == "sent"
    r = run_op("dw-alert", "watch", req, env=env)
    assert r.code == 99 and r.data["suppressed"] == 1 and _drain(extra_moto, q) == []
