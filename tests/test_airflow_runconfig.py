"""issue 12 #2: a run's config cannot choose where the worker's credentials
go.  Each DAG that takes a run config has an allow-list of fields (times,
dry_run, the operator's own knobs); endpoints, region, profile, the queue
and the bucket come only from Variables or the environment.

The DAG modules are imported in the real Airflow 2 and 3 environments and
their request macros called with hostile configs; a hostile trigger under
`airflow dags test` fails before anything is sent
(tests/test_airflow_fanout.py::test_unknown_config_field_fails_before_sending)."""

from __future__ import annotations

import json

import pytest

from airflow_support import AIRFLOW_MAJORS, DAGS_DIR, airflow_available

MAJORS = [pytest.param(m, marks=pytest.mark.skipif(not airflow_available(m),
                                                   reason=f"no Airflow {m} venv"))
          for m in AIRFLOW_MAJORS]

SNIPPET = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import pendulum
import dwops_fanout, dwops_ddl, dwops_fanout_backfill
out = []
hour = pendulum.datetime(2019, 6, 1, 15, tz="UTC")
for kind, conf in json.loads(sys.argv[2]):
    try:
        if kind == "fanout":
            r = json.loads(dwops_fanout.fanout_request(conf, hour, hour))
        elif kind == "backfill":
            r = [json.loads(c) for c in dwops_fanout_backfill.chunk_requests(conf)]
        else:
            r = json.loads(dwops_ddl.ddl_request(conf))
        out.append({"ok": r})
    except ValueError as e:
        out.append({"error": str(e)})
print(MARK + json.dumps(out))
"""

HOSTILE = [
    ("fanout", {"hour": "2019-06-01T15", "endpoint_url": "http://evil.example:80"}),
    ("fanout", {"endpoints": {"sqs": "http://evil.example"}}),
    ("fanout", {"profile": "admin"}),
    ("fanout", {"region": "us-west-2"}),
    ("fanout", {"queue_url": "https://sqs.us-east-1.amazonaws.com/666/theirs"}),
    ("fanout", {"bucket": "someone-elses"}),
    ("fanout", {"hours": "typo"}),
    ("backfill", {"start": "2019-06-01", "end": "2019-06-02", "endpoint_url": "http://evil"}),
    ("backfill", {"start": "2019-06-01", "end": "2019-06-02", "queue_url": "http://evil/q"}),
    ("ddl", {"endpoint_url": "http://evil.example"}),
    ("ddl", {"overrides": {"endpoint_url": "http://evil.example"}}),
    ("ddl", {"overrides": {"profile": "admin"}}),
    ("ddl", {"overrides": {"bundle": "dags/x.zip"}}),
    ("ddl", {"overrides": {"output_location": "s3://theirs/"}}),
    ("ddl", {"request": {"dialect": "glue", "table": "t", "location": "s3://lake/t/",
                         "endpoints": {"glue": "http://evil.example"}}}),
]
FINE = [
    ("fanout", {"hour": "2019-06-01T15", "dry_run": True, "concurrency": 4,
                "message_format": "s3_event", "prefix": "in", "page_size": 100}),
    ("fanout", {"start": "2019-06-01T00", "end": "2019-06-01T03", "empty": "ok"}),
    ("ddl", {"overrides": {"location": "s3://lake/other/", "infer": {"max_files": 2}},
             "dry_run": True}),
    ("backfill", {"start": "2019-06-01", "end": "2019-06-02", "chunk_hours": 12,
                  "dry_run": True}),
]


def _run(af, cases, env=None):
    r = af.python_snippet(SNIPPET, str(DAGS_DIR), json.dumps(cases), env=env, timeout=300)
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("@@DWOPS-AIRFLOW-JSON@@"):
            return json.loads(line[len("@@DWOPS-AIRFLOW-JSON@@"):])
    pytest.fail(f"snippet failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")


@pytest.mark.parametrize("major", MAJORS, ids=lambda m: f"airflow{m}")
def test_run_config_allow_lists(major, airflow_factory):
    af = airflow_factory(major)
    env = {"DWOPS_FANOUT_BUCKET": "events", "DWOPS_FANOUT_QUEUE_URL": "http://q/1/work",
           "DWOPS_DDL_WORKGROUP": "dwops"}
    got = _run(af, HOSTILE + FINE, env=env)
    for (kind, conf), res in zip(HOSTILE, got[:len(HOSTILE)]):
        assert "error" in res, (kind, conf, res)
        assert "not allowed" in res["error"], res
        named = [k for k in conf if k not in ("hour", "start", "end", "overrides", "request")] or \
            list((conf.get("overrides") or conf.get("request") or {}).keys())
        assert any(repr(k) in res["error"] for k in named), (conf, res)
    fan1, fan2, ddl, chunks = (r["ok"] for r in got[len(HOSTILE):])
    assert len(chunks) == 2 and all(c["queue_url"] == "http://q/1/work" for c in chunks)
    assert fan1["bucket"] == "events" and fan1["queue_url"] == "http://q/1/work"
    assert fan1["dry_run"] is True and fan1["concurrency"] == 4
    assert "endpoint_url" not in fan1 and "endpoints" not in fan1
    assert fan2["start"] == "2019-06-01T00" and "hour" not in fan2
    assert ddl["location"] == "s3://lake/other/" and ddl["dry_run"] is True
    assert ddl["workgroup"] == "dwops" and "bundle" not in ddl
