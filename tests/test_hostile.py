"""Hostile servers (issue 12): answers rewritten or made up by the fault
proxy in front of moto, and what the operators make of them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from conftest import REPO

PROBE = str(REPO / "build" / "tests" / "tools" / "dw-probe")

# The first ListObjectsV2 page of a listing keeps IsTruncated=true but loses
# its continuation token (and, for "empty", its objects too).
NO_TOKEN = [r"<NextContinuationToken>.*?</NextContinuationToken>", ""]
NO_CONTENTS = [r"<Contents>.*?</Contents>", ""]


def put_objects(s3, bucket, keys):
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b'{"e":1}'), keys))


def first_page_rule(bucket, replace):
    return {"match": {"method": "GET", "path_prefix": f"/{bucket}"}, "fault": "rewrite",
            "times": 1, "replace": replace}


# ---- issue 12 #9: IsTruncated=true without a continuation token -------------

def test_truncated_page_without_token_is_an_invalid_answer(run_op, moto, fault_proxy):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="hostile-list")
    put_objects(s3, "hostile-list", [f"data/{i:03d}" for i in range(25)])
    fault_proxy.set_rules([first_page_rule("hostile-list", [NO_TOKEN])])
    r = run_op(PROBE, "s3-list", {"bucket": "hostile-list", "page_size": 10},
               env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "InvalidResponse", r
    assert "NextContinuationToken" in r.error["message"]
    assert fault_proxy.stats()["rules"][0]["faulted"] == 1
    # the same listing, answered honestly, has every page
    fault_proxy.clear()
    r = run_op(PROBE, "s3-list", {"bucket": "hostile-list", "page_size": 10},
               env=fault_proxy.env)
    assert r.code == 0 and r.data["count"] == 25 and r.data["pages"] == 3, r


def test_fanout_does_not_take_a_tokenless_page_for_the_end(run_op, moto, fault_proxy):
    s3, sqs = moto.client("s3"), moto.client("sqs")
    s3.create_bucket(Bucket="hostile-events")
    url = sqs.create_queue(QueueName="hostile-fanout")["QueueUrl"]
    put_objects(s3, "hostile-events", [f"2019-06-01-15-0-{s}-events.json" for s in range(30)])
    fault_proxy.set_rules([first_page_rule("hostile-events", [NO_CONTENTS, NO_TOKEN])])
    r = run_op("dw-fanout", "fanout", {"bucket": "hostile-events", "queue_url": url,
                                       "hour": "2019-06-01T15", "page_size": 10},
               env=fault_proxy.env)
    assert r.code == 1, r  # not 99 ("nothing to do")
    assert r.error["code"] == "InvalidResponse", r


def test_cleanup_does_not_plan_on_a_partial_listing(run_op, moto, fault_proxy):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="hostile-work")
    put_objects(s3, "hostile-work", [f"tmp/run-{i:04d}.csv" for i in range(1500)])
    fault_proxy.set_rules([first_page_rule("hostile-work", [NO_TOKEN])])
    policy = {"s3": [{"bucket": "hostile-work", "prefix": "tmp/", "older_than_days": 30}],
              "now": "2099-01-01T00:00:00Z", "max_deletions": 5000}
    r = run_op("dw-cleanup", "plan", policy, env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "InvalidResponse", r


# ---- issue 12 #8: answers capped after decompression ------------------------

MIB = 1 << 20
LIST_XML = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
            '<Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>')


def bomb_rule(bucket, size_mib, gzip=True):
    """A ListObjectsV2 answer of size_mib MiB (gzip: a few hundred KiB on the
    wire) in place of moto's."""
    return {"match": {"method": "GET", "path_prefix": f"/{bucket}"}, "fault": "respond",
            "status": 200, "headers": {"Content-Type": "application/xml"},
            "body": LIST_XML + "k" * MIB, "repeat": size_mib, "gzip": gzip}


def test_gzip_bomb_answer_is_refused_with_a_clear_error(run_op, moto, fault_proxy):
    moto.client("s3").create_bucket(Bucket="hostile-bomb")
    fault_proxy.set_rules([bomb_rule("hostile-bomb", 80)])
    r = run_op(PROBE, "s3-list", {"bucket": "hostile-bomb"}, env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "ResponseTooLarge", r
    assert "64 MiB" in r.error["message"] and "decompression" in r.error["message"]
    assert fault_proxy.stats()["rules"][0]["faulted"] == 1  # not retried


def test_oversized_plain_answer_is_refused(run_op, moto, fault_proxy):
    moto.client("s3").create_bucket(Bucket="hostile-big")
    fault_proxy.set_rules([bomb_rule("hostile-big", 70, gzip=False)])
    r = run_op(PROBE, "s3-list", {"bucket": "hostile-big"}, env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "ResponseTooLarge", r


def test_fanout_refuses_a_gzip_bomb_listing(run_op, moto, fault_proxy):
    """dw-fanout lists through the many-in-flight path."""
    s3, sqs = moto.client("s3"), moto.client("sqs")
    s3.create_bucket(Bucket="hostile-fan-bomb")
    url = sqs.create_queue(QueueName="hostile-fan-bomb")["QueueUrl"]
    fault_proxy.set_rules([bomb_rule("hostile-fan-bomb", 80)])
    r = run_op("dw-fanout", "fanout", {"bucket": "hostile-fan-bomb", "queue_url": url,
                                       "hour": "2019-06-01T15"}, env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "ResponseTooLarge", r


def test_answers_under_the_cap_still_work(run_op, moto, fault_proxy):
    """A 10 MiB listing page (gzip on the wire) is read in full."""
    moto.client("s3").create_bucket(Bucket="hostile-fine")
    keys = [f"{i:05d}-" + "k" * 2000 for i in range(5500)]
    body = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>hostile-fine</Name>'
            "<IsTruncated>false</IsTruncated>" +
            "".join(f"<Contents><Key>{k}</Key><Size>1</Size></Contents>" for k in keys) +
            "</ListBucketResult>")
    assert 10 * MIB < len(body) < 64 * MIB
    fault_proxy.set_rules([{"match": {"method": "GET", "path_prefix": "/hostile-fine"},
                            "fault": "respond", "status": 200, "gzip": True,
                            "headers": {"Content-Type": "application/xml"}, "body": body}])
    r = run_op(PROBE, "s3-list", {"bucket": "hostile-fine"}, env=fault_proxy.env)
    assert r.code == 0, r
    assert r.data["keys"] == keys


# ---- issue 12 #13: a secret cut at the boundary is still masked -------------

SESSION_TOKEN = "IQoJb3JpZ2luX2VjEHostileEchoSessionToken0123456789abcdefghij"


def _token_parts(text, token=SESSION_TOKEN, n=8):
    return [token[i:i + n] for i in range(len(token) - n + 1) if token[i:i + n] in text]


def test_server_echoing_the_session_token_at_the_cut(run_op, moto, fault_proxy):
    """The message of an AWS error is cut to fit (about 1,000 characters);
    the token echoed around the cut must not survive in part."""
    moto.client("s3").create_bucket(Bucket="hostile-echo")
    for at in range(975, 1030, 6):
        fault_proxy.set_rules([{
            "match": {"method": "GET", "path_prefix": "/hostile-echo"}, "fault": "respond",
            "status": 400, "headers": {"Content-Type": "application/xml"},
            "body": "<Error><Code>InvalidToken</Code><Message>" + "m" * at + SESSION_TOKEN +
                    " was not accepted</Message></Error>"}])
        r = run_op(PROBE, "s3-list", {"bucket": "hostile-echo"},
                   env=dict(fault_proxy.env, AWS_SESSION_TOKEN=SESSION_TOKEN))
        assert r.code == 1 and r.error["code"] == "InvalidToken", r
        assert not _token_parts(r.stdout), (at, r.stdout[-300:])
        assert not _token_parts(r.stderr), (at, r.stderr[-300:])
