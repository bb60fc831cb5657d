"""The core's SigV4 signer against botocore's, signing the same requests at
test time (tests/tools/dw-sigv4-sign signs with the core): the canonical
request, the string to sign and the Authorization header must match to the
byte.  This needs nothing outside the repository; with ../shared/testdata
present, build/tests/unit/test_sigv4 also runs the official AWS suite.

Cases: several methods, query strings with reserved and non-ASCII
characters and repeated names, headers with runs of spaces and repeated
names, a session token, a body, S3 with an unsigned payload and S3's path
rules (no normalisation, encoded once)."""

from __future__ import annotations

import datetime
import subprocess
import types
from unittest import mock
from urllib.parse import quote, unquote

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REPO

TOOL = REPO / "build" / "tests" / "tools" / "dw-sigv4-sign"
WHEN = datetime.datetime(2024, 2, 29, 23, 59, 58, tzinfo=datetime.timezone.utc)
AMZ_DATE = WHEN.strftime("%Y%m%dT%H%M%SZ")
AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token/with=chars"

CASES = [
    dict(id="get-root", method="GET", service="sqs", path="/", query=[], headers=[]),
    dict(id="get-reserved-query", method="GET", service="glue", path="/",
         query=[("Action", "List Things"), ("filter", "a=b&c+d/e?f#g"), ("ünï", "çødé ሴ"),
                ("tilde~dash-dot.under_", "*'()!"), ("empty", ""), ("Z", "1"), ("a", "2")],
         headers=[]),
    dict(id="get-repeated-query-names", method="GET", service="rds", path="/",
         query=[("tag", "b"), ("tag", "a"), ("tag", "a b"), ("Tag", "c")], headers=[]),
    dict(id="post-form-body", method="POST", service="rds", path="/",
         query=[], headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
         body=b"Action=DescribeDBInstances&Version=2014-10-31&Marker=a%2Fb"),
    dict(id="post-json-with-token", method="POST", service="sqs", path="/", token=TOKEN,
         query=[], headers=[("Content-Type", "application/x-amz-json-1.0"),
                            ("X-Amz-Target", "AmazonSQS.SendMessageBatch")],
         body='{"QueueUrl":"q","Entries":[{"Id":"1","MessageBody":"héllo"}]}'.encode()),
    dict(id="headers-with-spaces", method="GET", service="logs", path="/",
         query=[("q", "1")],
         headers=[("My-Header1", "  value   with    runs of  spaces  "),
                  ("my-header2", "\"quoted  value\""), ("X-Multi", "a"), ("x-multi", "b  c")]),
    dict(id="put-path-normalised", method="PUT", service="execute-api",
         path="/a/./b/../c//d/", query=[], headers=[], body=b"x" * 1000),
    dict(id="delete-with-token", method="DELETE", service="dynamodb", path="/", token=TOKEN,
         query=[("force", "true")], headers=[]),
    dict(id="head-non-ascii-path", method="HEAD", service="lambda",
         path="/2015-03-31/functions/fn ä/invocations", query=[], headers=[]),
    dict(id="s3-unsigned-payload", method="PUT", service="s3", s3=True, unsigned=True,
         path="/bucket/2019-06-01/15/a b+c=d&e ሴ/./..//x.json", query=[],
         headers=[("Content-Type", "application/json")], body=b'{"k": 1}'),
    dict(id="s3-list-with-token", method="GET", service="s3", s3=True, token=TOKEN,
         path="/bucket", query=[("list-type", "2"), ("prefix", "in/2019-06-01 15/"),
                                ("continuation-token", "1/abc+def=="), ("delimiter", "/")],
         headers=[]),
    dict(id="s3-signed-body", method="POST", service="s3", s3=True,
         path="/bucket/key", query=[("delete", "")], headers=[("Content-MD5", "abc==")],
         body=b"<Delete><Object><Key>a&amp;b</Key></Object></Delete>"),
]


def botocore_sign(case):
    """What botocore signs for the case, and the headers it signed."""
    host = f"{case['service']}.eu-west-1.amazonaws.com"
    if case.get("s3"):
        path = quote(case["path"], safe="/~")   # S3: the path as sent, encoded once
    else:
        path = case["path"]                     # botocore encodes (and normalises) it
    url = f"https://{host}{path}"
    if case["query"]:
        url += "?" + "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                              for k, v in case["query"])
    headers = [("Host", host)] + list(case["headers"])
    def request():
        req = AWSRequest(method=case["method"], url=url, data=case.get("body", b""))
        for k, v in headers:
            if k in req.headers:
                req.headers.add_header(k, v)
            else:
                req.headers[k] = v
        if case.get("unsigned"):
            req.context["client_config"] = types.SimpleNamespace(
                s3={"payload_signing_enabled": False})
        return req

    creds = Credentials(AKID, SECRET, case.get("token"))
    auth = (S3SigV4Auth if case.get("s3") else SigV4Auth)(creds, case["service"], "eu-west-1")
    # botocore's own signing, at a fixed time ...
    signed_req = request()
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN.replace(tzinfo=None)):
        auth.add_auth(signed_req)
    # ... and the same steps one by one, to see the intermediate strings
    req = request()
    req.context["timestamp"] = AMZ_DATE
    auth._modify_request_before_signing(req)
    creq = auth.canonical_request(req)
    sts = auth.string_to_sign(req, creq)
    auth._inject_signature_to_request(req, auth.signature(sts, req))
    assert req.headers["Authorization"] == signed_req.headers["Authorization"]
    # what the core's client would send: every header but Authorization
    sent = [(k, v) for k, v in req.headers.items() if k.lower() != "authorization"]
    return dict(canonical_request=creq, string_to_sign=sts,
                authorization=req.headers["Authorization"]), sent


def dw_sign(case, headers):
    def enc(s):
        return quote(s if isinstance(s, (bytes, str)) else str(s), safe="")

    lines = [f"method {case['method']}", f"path {enc(case['path'])}",
             f"region eu-west-1", f"service {case['service']}", f"date {AMZ_DATE}",
             f"access_key {AKID}", f"secret_key {enc(SECRET)}"]
    lines += [f"query {enc(k)} {enc(v)}" for k, v in case["query"]]
    lines += [f"header {enc(k)} {enc(v)}" for k, v in headers]
    if case.get("body"):
        lines.append(f"body {enc(case['body'])}")
    if case.get("token"):
        lines.append(f"token {enc(case['token'])}")
    if case.get("s3"):
        lines.append("s3 1")
        # the core's S3 client sends the payload hash it signs as a header
        lines.append("payload " + dict((k.lower(), v) for k, v in headers)["x-amz-content-sha256"])
    p = subprocess.run([str(TOOL)], input="\n".join(lines) + "\n", capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines():
        name, _, value = line.partition(" ")
        out[name] = unquote(value)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_signer_matches_botocore(case):
    if not TOOL.exists():
        pytest.fail(f"{TOOL} is missing: build it with `make unit`", pytrace=False)
    want, headers = botocore_sign(case)
    got = dw_sign(case, headers)
    assert got["canonical_request"] == want["canonical_request"]
    assert got["string_to_sign"] == want["string_to_sign"]
    assert got["authorization"] == want["authorization"]
    if case.get("unsigned"):
        assert want["canonical_request"].endswith("\nUNSIGNED-PAYLOAD")
    if case.get("token"):
        assert "x-amz-security-token" in want["authorization"]


def test_a_changed_input_changes_the_signature():
    """The comparison is not vacuous: one byte more in a query value, and
    the core's signature differs from botocore's for the original."""
    case = dict(CASES[1])
    want, headers = botocore_sign(case)
    case["query"] = case["query"][:-1] + [("a", "2 ")]
    got = dw_sign(case, headers)
    assert got["canonical_request"] != want["canonical_request"]
    assert got["authorization"] != want["authorization"]
