"""dw-alert against moto SNS, SQS, SES, CloudWatch Logs and DynamoDB.

SES mail is read back through moto's /moto-api/data.json, which fails once
RDS instances exist in that moto: every test here uses a moto server of its
own (extra_moto), and the throttling test a fault proxy in front of it."""
from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from bench import faultproxy

REPO = Path(__file__).resolve().parent.parent
TABLE = "dwops-alerts"
SENDER = "dwops@example.com"

FAILED = {
    "ok": False, "operator": "dw-etl", "action": "run",
    "error": {"code": "SendFailed", "message": "3 messages not sent; password=hunter2hunter2",
              "field": None},
    "result": {"sent": 7, "failed": 3},
}


def op(run_op, moto, action, request, env=None, **kw):
    e = dict(moto.env)
    e.update(env or {})
    return run_op("dw-alert", action, request, env=e, **kw)


def topic_with_queue(moto, name="alerts", raw=False, filter_policy=None, queue=None):
    sns, sqs = moto.client("sns"), moto.client("sqs")
    arn = sns.create_topic(Name=name)["TopicArn"]
    url = sqs.create_queue(QueueName=queue or (name + "-q"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attrs = {}
    if raw:
        attrs["RawMessageDelivery"] = "true"
    if filter_policy:
        attrs["FilterPolicy"] = json.dumps(filter_policy)
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes=attrs)
    return arn, url


def drain(moto, url, wait=1):
    sqs = moto.client("sqs")
    out = []
    while True:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                MessageAttributeNames=["All"])
        msgs = r.get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def state_table(run_op, extra_moto):
    r = op(run_op, extra_moto, "create-table", {"table": TABLE})
    assert r.code == 0, r
    assert r.data["created"] is True
    return TABLE


# ---------------------------------------------------------------------------
# notify
# ---------------------------------------------------------------------------

def test_notify_failed_result_is_one_message_with_attributes(run_op, extra_moto, secrets):
    secrets.append("hunter2hunter2")
    arn, url = topic_with_queue(extra_moto)
    ctx = {"dag_id": "dwops_fanout", "task_id": "fanout", "run_id": "manual__1", "try_number": 2,
           "log_url": "http://airflow/log?x=1"}
    r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "result": FAILED, "source": "airflow",
                                           "context": ctx})
    assert r.code == 0, r
    assert r.data["published"] == 1 and r.data["message_id"]
    msgs = drain(extra_moto, url)
    assert len(msgs) == 1
    env = json.loads(msgs[0]["Body"])
    assert env["Type"] == "Notification"
    attrs = {k: v["Value"] for k, v in env["MessageAttributes"].items()}
    assert attrs == {"operator": "dw-etl", "code": "SendFailed", "severity": "error",
                     "source": "airflow"}
    alert = json.loads(env["Message"])
    assert alert["id"] == r.data["alert_id"]
    assert alert["operator"] == "dw-etl" and alert["action"] == "run"
    assert alert["code"] == "SendFailed"
    assert alert["partial"] == {"sent": 7, "failed": 3}
    assert alert["context"]["dag_id"] == "dwops_fanout"
    assert alert["context"]["try_number"] == 2
    assert "hunter2hunter2" not in msgs[0]["Body"]
    assert env["Subject"] == "dw-etl run failed: SendFailed"


def test_notify_result_text_and_ok_result(run_op, extra_moto):
    arn, url = topic_with_queue(extra_moto)
    r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "result": json.dumps(FAILED)})
    assert r.code == 0, r
    ok = {"ok": True, "operator": "dw-etl", "action": "run", "result": {}}
    r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "result": ok})
    assert r.code == 99, r
    assert r.data["published"] == 0
    assert len(drain(extra_moto, url)) == 1
    r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "result": {"no": "ok"}})
    assert r.code == 2 and r.error["field"] == "result", r
    r = op(run_op, extra_moto, "notify", {"topic_arn": arn})
    assert r.code == 2 and r.error["field"] == "result", r
    r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "subject": "x", "severity": "bad"})
    assert r.code == 2 and r.error["field"] == "severity", r


def test_notify_result_file(run_op, extra_moto, tmp_path):
    arn, url = topic_with_queue(extra_moto)
    f = tmp_path / "out.txt"
    f.write_text("progress\n" + json.dumps(FAILED) + "\n\n")
    r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "result_file": str(f)})
    assert r.code == 0, r
    alert = json.loads(json.loads(drain(extra_moto, url)[0]["Body"])["Message"])
    assert alert["code"] == "SendFailed"


def test_filtered_subscription_gets_only_its_severity(run_op, extra_moto):
    sns = extra_moto.client("sns")
    arn, crit_q = topic_with_queue(extra_moto, "sev", raw=True,
                                   filter_policy={"severity": ["critical"]}, queue="crit")
    sqs = extra_moto.client("sqs")
    warn_q = sqs.create_queue(QueueName="warn")["QueueUrl"]
    warn_arn = sqs.get_queue_attributes(QueueUrl=warn_q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=warn_arn,
                  Attributes={"FilterPolicy": json.dumps({"severity": ["warning"]})})
    for sev in ("critical", "warning", "critical", "info"):
        r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "severity": sev,
                                               "subject": f"disk {sev}", "text": "t"})
        assert r.code == 0, r
    crit, warn = drain(extra_moto, crit_q), drain(extra_moto, warn_q)
    assert len(crit) == 2 and len(warn) == 1
    # raw delivery: the body is the alert itself
    assert all(json.loads(m["Body"])["severity"] == "critical" for m in crit)
    assert json.loads(json.loads(warn[0]["Body"])["Message"])["severity"] == "warning"


def test_notify_fifo_topic(run_op, extra_moto):
    sns, sqs = extra_moto.client("sns"), extra_moto.client("sqs")
    arn = sns.create_topic(Name="alerts.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url = sqs.create_queue(QueueName="alerts.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    for _ in range(2):
        r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "result": FAILED, "source": "jenkins"})
        assert r.code == 0, r
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    msgs = r.get("Messages", [])
    # the same alert twice: one de-duplication id, one message
    assert len(msgs) == 1
    assert msgs[0]["Attributes"]["MessageGroupId"] == "jenkins"


# ---------------------------------------------------------------------------
# scan
# ---------------------------------------------------------------------------

def put_events(moto, group, stream, lines, t0):
    logs = moto.client("logs")
    events = [{"timestamp": t0 + i * 10, "message": m} for i, m in enumerate(lines)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def test_scan_checkpoint_nothing_sent_twice(run_op, extra_moto, state_table):
    logs = extra_moto.client("logs")
    group = "/aws/lambda/ingest"
    logs.create_log_group(logGroupName=group)
    for s in ("a", "b"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    arn, url = topic_with_queue(extra_moto)
    now = int(time.time() * 1000) - 60000
    put_events(extra_moto, group, "a", [
        "START RequestId: 1", "Traceback (most recent call last):", "ok line",
        '{"level": "ERROR", "msg": "boom"}', "Task timed out after 3.00 seconds",
        "Traceback again", '{"level": "INFO", "msg": "fine"}'], now)
    put_events(extra_moto, group, "b", ["nothing", "Traceback in b", "ok"], now)
    req = {"log_group": group, "topic_arn": arn, "page_size": 2, "window_s": 300,
           "rules": [{"name": "Traceback", "contains": "traceback", "ignore_case": True},
                     {"name": "Timeout", "regex": "timed out after [0-9.]+ seconds",
                      "severity": "critical"},
                     {"name": "JsonError", "json_field": "level", "equals": "ERROR"}]}
    r = op(run_op, extra_moto, "scan", req)
    assert r.code == 0, r
    assert r.data["events_read"] == 10
    assert r.data["pages"] >= 5  # 10 events, 2 per page
    # Traceback in a (2 events, one incident), Traceback in b, Timeout, JsonError
    assert r.data["incidents"] == 4 and r.data["published"] == 4
    alerts = [json.loads(json.loads(m["Body"])["Message"]) for m in drain(extra_moto, url)]
    by = sorted((a["code"], a["context"]["stream"], a["context"]["events"]) for a in alerts)
    assert by == [("JsonError", "a", 1), ("Timeout", "a", 1), ("Traceback", "a", 2),
                  ("Traceback", "b", 1)]
    assert {a["severity"] for a in alerts if a["code"] == "Timeout"} == {"critical"}
    # the second run: nothing new, nothing sent
    r = op(run_op, extra_moto, "scan", req)
    assert r.code == 99, r
    assert r.data["events_read"] == 0 and r.data["published"] == 0
    assert drain(extra_moto, url, wait=0) == []
    # one new matching line: one new incident only
    put_events(extra_moto, group, "b", ["later Traceback", "fine"], now + 1000)
    r = op(run_op, extra_moto, "scan", req)
    assert r.code == 0, r
    assert r.data["events_read"] == 2 and r.data["published"] == 1
    got = [json.loads(json.loads(m["Body"])["Message"]) for m in drain(extra_moto, url)]
    assert [(a["code"], a["context"]["stream"]) for a in got] == [("Traceback", "b")]


def test_scan_checkpoint_in_ssm(run_op, extra_moto):
    """checkpoint_parameter: the checkpoint in SSM (no state table needed)."""
    logs = extra_moto.client("logs")
    group = "/dwops/ssm"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    arn, url = topic_with_queue(extra_moto)
    now = int(time.time() * 1000) - 60000
    put_events(extra_moto, group, "s", ["ERROR one", "fine", "ERROR two"], now)
    req = {"log_group": group, "topic_arn": arn, "checkpoint_parameter": "/dwops/alert/ssm-scan",
           "window_s": 0, "rules": [{"name": "Err", "contains": "ERROR"}]}
    r = op(run_op, extra_moto, "scan", req)
    assert r.code == 0 and r.data["published"] == 2, r
    p = extra_moto.client("ssm").get_parameter(Name="/dwops/alert/ssm-scan")["Parameter"]
    assert json.loads(p["Value"])["ts"] == now + 20 and p["Version"] == 1
    r = op(run_op, extra_moto, "scan", req)
    assert r.code == 99 and r.data["events_read"] == 0, r
    put_events(extra_moto, group, "s", ["ERROR three"], now + 1000)
    r = op(run_op, extra_moto, "scan", req)
    assert r.code == 0 and r.data["published"] == 1, r
    assert extra_moto.client("ssm").get_parameter(Name="/dwops/alert/ssm-scan")["Parameter"]["Version"] == 2
    assert len(drain(extra_moto, url)) == 3


def test_scan_bad_rules_rejected(run_op, extra_moto):
    base = {"log_group": "g", "topic_arn": "arn:aws:sns:us-east-1:123456789012:t"}
    r = op(run_op, extra_moto, "scan", dict(base, rules=[{"name": "x", "regex": "("}]))
    assert r.code == 2 and r.error["field"] == "rules[0].regex", r
    r = op(run_op, extra_moto, "scan", dict(base, rules=[{"name": "x", "contains": "a", "regex": "b"}]))
    assert r.code == 2 and r.error["field"] == "rules[0]", r
    r = op(run_op, extra_moto, "scan", dict(base, rules=[{"name": "x", "json_field": "a"}]))
    assert r.code == 2, r


# ---------------------------------------------------------------------------
# deliver
# ---------------------------------------------------------------------------

RECIPIENTS = {"default": ["team@example.com"], "severity": {"critical": ["oncall@example.com"]},
              "source": {"jenkins": ["ci@example.com"]}}


def ses_ready(moto):
    moto.client("ses").verify_email_identity(EmailAddress=SENDER)


def deliver_req(url, **kw):
    r = {"queue_url": url, "from": SENDER, "recipients": RECIPIENTS, "wait_s": 0,
         "visibility_s": 5, "send_rate": 50}
    r.update(kw)
    return r


def test_deliver_each_alert_once_even_when_delivered_twice(run_op, extra_moto, state_table, secrets):
    secrets.append("hunter2hunter2")
    ses_ready(extra_moto)
    arn, url = topic_with_queue(extra_moto)
    evil = dict(FAILED, error={"code": "X<script>", "message": "<b>&\"'</b>", "field": None})
    for req in ({"topic_arn": arn, "result": FAILED, "source": "airflow"},
                {"topic_arn": arn, "result": FAILED, "source": "airflow"},  # the same alert again
                {"topic_arn": arn, "result": evil, "severity": "critical",
                 "link": "javascript:alert(1)"},
                {"topic_arn": arn, "subject": "build broke", "source": "jenkins",
                 "link": "https://ci/job/1"}):
        assert op(run_op, extra_moto, "notify", req).code == 0
    # and one SNS message put in the queue twice (SQS at-least-once)
    sqs = extra_moto.client("sqs")
    msgs = drain(extra_moto, url)
    assert len(msgs) == 4
    for m in msgs + [msgs[-1]]:
        sqs.send_message(QueueUrl=url, MessageBody=m["Body"])
    r = op(run_op, extra_moto, "deliver", deliver_req(url))
    assert r.code == 0, r
    assert r.data["events_read"] == 5
    assert r.data["mailed"] == 3 and r.data["suppressed"] == 2 and r.data["failed"] == 0
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessages"] == "0"
    # a second run finds nothing
    assert op(run_op, extra_moto, "deliver", deliver_req(url)).code == 99
    sent = sent_ses(extra_moto)
    assert len(sent) == 3
    by_to = {tuple(m["destinations"]["ToAddresses"]): m for m in sent}
    assert set(by_to) == {("team@example.com",), ("oncall@example.com",), ("ci@example.com",)}
    crit = by_to[("oncall@example.com",)]
    html = crit["body"]
    assert "<script>" not in html and "X&lt;script&gt;" in html
    assert "&lt;b&gt;&amp;&quot;&#39;&lt;/b&gt;" in html
    assert 'href="javascript' not in html
    assert '<a href="https://ci/job/1">' in by_to[("ci@example.com",)]["body"]
    for m in sent:
        assert "hunter2hunter2" not in json.dumps(m)
    # redelivered after the run: still suppressed (dedup window)
    sqs.send_message(QueueUrl=url, MessageBody=msgs[0]["Body"])
    r = op(run_op, extra_moto, "deliver", deliver_req(url))
    assert r.code == 0 and r.data["suppressed"] == 1 and r.data["mailed"] == 0, r
    assert len(sent_ses(extra_moto)) == 3


def sent_ses(moto):
    with urllib.request.urlopen(moto.url + "/moto-api/data.json", timeout=30) as r:
        data = json.load(r)
    out = []
    for model, items in data.get("ses", {}).items():
        if model in ("Message", "SESMessage", "RawMessage"):
            out.extend(items)
    return out


def test_deliver_digest(run_op, extra_moto, state_table):
    ses_ready(extra_moto)
    arn, url = topic_with_queue(extra_moto, raw=True)
    for i in range(3):
        assert op(run_op, extra_moto, "notify", {"topic_arn": arn, "subject": f"alert {i}"}).code == 0
    r = op(run_op, extra_moto, "deliver", deliver_req(url, digest=True))
    assert r.code == 0, r
    assert r.data["mailed"] == 3
    sent = sent_ses(extra_moto)
    assert len(sent) == 1
    assert "3 alerts" in sent[0]["subject"]
    for i in range(3):
        assert f"alert {i}" in sent[0]["body"]


def test_deliver_throttled_ses_loses_no_alert(run_op, extra_moto, state_table):
    ses_ready(extra_moto)
    arn, url = topic_with_queue(extra_moto)
    for i in range(3):
        assert op(run_op, extra_moto, "notify", {"topic_arn": arn, "subject": f"alert {i}"}).code == 0
    proxy_url, stop = faultproxy.start_proxy(extra_moto.url)
    try:
        fp = faultproxy.FaultClient(proxy_url)
        # SendEmail throttled 5 times: with 2 attempts per call, runs give up
        fp.set_rules([{"match": {"action": "SendEmail"}, "fault": "throttle", "times": 5}])
        codes = []
        for _ in range(8):
            r = op(run_op, extra_moto, "deliver", deliver_req(url, max_attempts=2),
                   env={"AWS_ENDPOINT_URL": proxy_url})
            codes.append(r.code)
            assert r.code in (0, 75, 99), r
            if r.code == 75:
                assert r.error["code"] in ("Throttling", "AlertsNotSent"), r
            if r.code == 99:
                break
        print("deliver exit codes", codes)
        assert 75 in codes
        assert fp.stats()["faulted"] == 5
    finally:
        stop()
    subjects = sorted(m["subject"] for m in sent_ses(extra_moto))
    assert subjects == [f"[dwops] error: alert {i}" for i in range(3)]


NOT_VERIFIED = ("Email address is not verified. The following identities failed the check in "
                "region US-EAST-1: team@example.com")


def queue_attrs(moto, url):
    return moto.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_deliver_refused_mail_is_left_for_the_dead_letter_queue(run_op, extra_moto, state_table):
    """SES refuses one alert for good (400 MessageRejected, SES v1 is the query
    protocol): the run mails the others, counts and names the refused one
    (failed, failed_ids, exit 1 AlertsNotSent with SES's reason), and leaves
    its message hidden rather than receiving it again in the same run.
    Later runs try it again, each once; after maxReceiveCount receives the
    queue's redrive policy moves it, intact, to the dead-letter queue, and
    the queue is no longer held up by it."""
    ses_ready(extra_moto)
    sqs = extra_moto.client("sqs")
    dlq = sqs.create_queue(QueueName="alerts-dlq")["QueueUrl"]
    dlq_arn = queue_attrs(extra_moto, dlq)["QueueArn"]
    arn, url = topic_with_queue(extra_moto, raw=True)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})
    ids = {}
    for name in ("fine", "poison", "also-fine"):
        r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "subject": f"alert {name}"})
        assert r.code == 0, r
        ids[name] = r.data["alert_id"]
    proxy_url, stop = faultproxy.start_proxy(extra_moto.url)
    try:
        fp = faultproxy.FaultClient(proxy_url)
        fp.set_rules([
            {"match": {"action": "SendEmail", "body_contains": "poison"}, "fault": "error",
             "status": 400, "code": "MessageRejected", "message": NOT_VERIFIED},
            # moto's quota is 1 mail a second: a quick run stays well
            # inside visibility_s, so each run receives a message once
            {"match": {"action": "GetSendQuota"}, "fault": "rewrite",
             "replace": [["<MaxSendRate>[^<]*</MaxSendRate>", "<MaxSendRate>100</MaxSendRate>"]]}])
        env = {"AWS_ENDPOINT_URL": proxy_url}
        req = deliver_req(url, visibility_s=3, max_messages=20, send_rate=100)

        def refusals():
            return fp.stats()["rules"][0]["faulted"]

        r = op(run_op, extra_moto, "deliver", req, env=env)
        assert r.code == 1, r
        assert r.error["code"] == "AlertsNotSent", r
        assert "MessageRejected" in r.error["message"] and "not verified" in r.error["message"], r
        d = r.data
        # received once and tried once, not again and again within the run
        assert d["events_read"] == 3 and d["mailed"] == 2 and d["failed"] == 1, (d, r.stderr)
        assert d["failed_ids"] == [ids["poison"]], d
        assert sorted(d["mailed_ids"]) == sorted([ids["fine"], ids["also-fine"]]), d
        assert d["dead_letter_queue"] == dlq_arn and d["max_receive_count"] == 2, d
        assert refusals() == 1
        assert "SES refused it" in r.stderr, r
        a = queue_attrs(extra_moto, url)
        assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
        # runs until the refused alert is in the dead-letter queue
        codes = []
        deadline = time.time() + 60
        while queue_attrs(extra_moto, dlq)["ApproximateNumberOfMessages"] == "0":
            assert time.time() < deadline, (codes, fp.stats())
            time.sleep(0.5)
            r = op(run_op, extra_moto, "deliver", req, env=env)
            codes.append(r.code)
            assert r.code in (1, 99), r
            if r.code == 1:
                assert r.data["failed_ids"] == [ids["poison"]] and r.data["mailed"] == 0, r
        # tried once per receive: maxReceiveCount times in all
        assert refusals() == 2, (codes, fp.stats())
        assert codes.count(1) == 1, codes
        # the queue is free of it; a new alert goes through
        r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "subject": "alert later"})
        assert r.code == 0, r
        r = op(run_op, extra_moto, "deliver", req, env=env)
        assert r.code == 0 and r.data["mailed"] == 1 and r.data["failed"] == 0, r
    finally:
        stop()
    left = drain(extra_moto, dlq)
    assert len(left) == 1
    assert json.loads(left[0]["Body"])["id"] == ids["poison"]
    subjects = sorted(m["subject"] for m in sent_ses(extra_moto))
    assert subjects == ["[dwops] error: alert also-fine", "[dwops] error: alert fine",
                        "[dwops] error: alert later"], subjects


def test_deliver_refused_without_redrive_policy_warns(run_op, extra_moto, state_table):
    """No dead-letter queue: the refusal is still counted and left in the
    queue, and the result and the log say it will come back for ever."""
    ses_ready(extra_moto)
    arn, url = topic_with_queue(extra_moto, raw=True)
    r = op(run_op, extra_moto, "notify", {"topic_arn": arn, "subject": "alert poison"})
    assert r.code == 0, r
    proxy_url, stop = faultproxy.start_proxy(extra_moto.url)
    try:
        faultproxy.FaultClient(proxy_url).set_rules([
            {"match": {"action": "SendEmail"}, "fault": "error", "status": 400,
             "code": "MessageRejected", "message": NOT_VERIFIED}])
        r = op(run_op, extra_moto, "deliver", deliver_req(url, visibility_s=30, digest=True),
               env={"AWS_ENDPOINT_URL": proxy_url})
    finally:
        stop()
    assert r.code == 1 and r.error["code"] == "AlertsNotSent", r
    assert r.data["failed"] == 1 and r.data["mailed"] == 0, r
    assert "no redrive policy" in r.data["warning"], r
    assert "no redrive policy" in r.stderr
    a = queue_attrs(extra_moto, url)
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
    assert sent_ses(extra_moto) == []


def test_deliver_send_rate_is_the_lower_of_quota_and_request(run_op, extra_moto, state_table):
    """send_rate in the result: the account's MaxSendRate (GetSendQuota,
    rewritten by the proxy), lowered but never raised by the request; 1 a
    second when the quota says 0.  (The pacing itself: tests/unit/test_alert.c.)"""
    ses_ready(extra_moto)
    arn, url = topic_with_queue(extra_moto, raw=True)
    proxy_url, stop = faultproxy.start_proxy(extra_moto.url)
    try:
        fp = faultproxy.FaultClient(proxy_url)

        def quota(rate):
            fp.set_rules([{"match": {"action": "GetSendQuota"}, "fault": "rewrite",
                           "replace": [["<MaxSendRate>[^<]*</MaxSendRate>",
                                        f"<MaxSendRate>{rate}</MaxSendRate>"]]}])

        def rate_of(**kw):
            req = deliver_req(url)
            req.pop("send_rate")
            req.update(kw)
            r = op(run_op, extra_moto, "deliver", req, env={"AWS_ENDPOINT_URL": proxy_url})
            assert r.code in (0, 99), r
            return r.data["send_rate"]

        quota(2.5)
        assert rate_of() == 2.5
        assert rate_of(send_rate=50) == 2.5
        assert rate_of(send_rate=1) == 1
        assert rate_of(send_rate=0.5) == 0.5
        assert fp.stats()["faulted"] == 4  # every run read the rewritten quota
        quota(0)
        assert rate_of() == 1
        assert rate_of(send_rate=0.25) == 0.25
        # and a run at the rewritten rate still mails
        quota(2.5)
        assert op(run_op, extra_moto, "notify", {"topic_arn": arn, "subject": "paced"}).code == 0
        req = deliver_req(url)
        r = op(run_op, extra_moto, "deliver", req, env={"AWS_ENDPOINT_URL": proxy_url})
        assert r.code == 0 and r.data["send_rate"] == 2.5 and r.data["mailed"] == 1, r
    finally:
        stop()


def test_deliver_kill9_then_rerun_mails_every_alert(run_op, extra_moto, state_table):
    """kill -9 at a random moment of a run; re-runs mail what is left.  A
    mail SES accepted just before the kill, not yet marked sent, may go out
    twice (at-least-once): never more, and nothing is lost."""
    import os
    import random
    import signal
    import subprocess
    ses_ready(extra_moto)
    arn, url = topic_with_queue(extra_moto, raw=True)
    n = 6
    for i in range(n):
        assert op(run_op, extra_moto, "notify", {"topic_arn": arn, "subject": f"alert {i}"}).code == 0
    env = dict(os.environ, **extra_moto.env)
    req = json.dumps(dict(deliver_req(url, visibility_s=1, send_rate=4), action="deliver"))
    p = subprocess.Popen([str(REPO / "bin" / "dw-alert")], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    p.stdin.write(req.encode())
    p.stdin.close()
    time.sleep(random.uniform(0.3, 1.2))
    p.send_signal(signal.SIGKILL)
    p.wait()
    deadline = time.time() + 60
    while time.time() < deadline:
        r = op(run_op, extra_moto, "deliver", deliver_req(url, visibility_s=1))
        assert r.code in (0, 99), r
        left = extra_moto.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if r.code == 99 and left["ApproximateNumberOfMessages"] == "0" and \
                left["ApproximateNumberOfMessagesNotVisible"] == "0":
            break
        time.sleep(1)
    subjects = [m["subject"] for m in sent_ses(extra_moto)]
    for i in range(n):
        assert subjects.count(f"[dwops] error: alert {i}") >= 1, subjects
    assert len(subjects) <= n + 1, subjects


def test_deliver_bad_recipients_rejected(run_op, extra_moto):
    r = op(run_op, extra_moto, "deliver", deliver_req("http://q", recipients={"default": ["nobody"]}))
    assert r.code == 2 and r.error["field"] == "recipients.default", r
    r = op(run_op, extra_moto, "deliver", deliver_req("http://q", recipients={
        "default": ["a@b.c"], "severity": {"urgent": ["a@b.c"]}}))
    assert r.code == 2 and r.error["field"] == "recipients.severity.urgent", r


def test_examples_are_valid_requests(run_op, bench):
    """Every example passes validation: against an endpoint that is not
    there, each gets as far as its first call (exit 75), none is refused."""
    from bench import services
    nowhere = f"http://127.0.0.1:{services.free_port()}"
    examples = sorted((REPO / "examples" / "dw-alert").glob("*.json"))
    assert {f.stem for f in examples} == {"notify", "scan", "deliver", "watch", "create-table"}
    for f in examples:
        req = json.loads(f.read_text())
        assert req["action"] == f.stem
        req["url"] = nowhere if "url" in req else None
        req = {k: v for k, v in req.items() if v is not None}
        r = run_op("dw-alert", None, req, env={"AWS_ENDPOINT_URL": nowhere, "AWS_MAX_ATTEMPTS": "1",
                                               "AIRFLOW_API_PASSWORD": "not-a-real-password"})
        assert r.code == 75, (f.name, r)
