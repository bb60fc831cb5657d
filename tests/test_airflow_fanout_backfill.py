"""The dwops_fanout_backfill DAG under real Airflow 2 and 3 (`airflow dags
test`) against the bench (moto): a range of days split into chunks, dw-fanout
mapped over them, the chunks' results summed; the queue is checked with
boto3 (every message exactly once)."""

from __future__ import annotations

import json

import pytest

from airflow_support import AIRFLOW_MAJORS, DAGS_DIR

DAG_FILES = [DAGS_DIR / "dwops_fanout_backfill.py", DAGS_DIR / "dwops_common.py"]

# 2019-06-01 .. 2019-06-04: two files in every sixth hour; the range is
# 2019-06-01T12 .. 2019-06-04T12 (72 hours, three chunks of a day).
DAYS = range(1, 5)
HOURS = (0, 6, 12, 18)


def key(day, hour, second):
    return f"in/2019-06-{day:02d}-{hour:02d}-0-{second}-events.json"


def in_range(day, hour):
    return (day, hour) >= (1, 12) and (day, hour) < (4, 12)


def drain(sqs, url):
    bodies, empty = [], 0
    while empty < 2:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   VisibilityTimeout=300).get("Messages", [])
        empty = 0 if msgs else empty + 1
        bodies += [m["Body"] for m in msgs]
    return sorted(bodies)


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_backfill_maps_dw_fanout_over_days_and_sums(major, airflow_factory, bench, moto):
    s3, sqs = moto.client("s3"), moto.client("sqs")
    s3.create_bucket(Bucket="events")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    every = [key(d, h, s) for d in DAYS for h in HOURS for s in (0, 1)]
    for k in every + ["in/2019-06-02-00-summary.json"]:
        s3.put_object(Bucket="events", Key=k, Body=b"{}")
    expected = sorted(key(d, h, s) for d in DAYS for h in HOURS for s in (0, 1) if in_range(d, h))
    assert len(expected) == 24
    af = airflow_factory(major, DAG_FILES)
    r = af.run_dag_test(
        "dwops_fanout_backfill", "2025-01-01T00:00:00+00:00",  # manual: any date after start_date
        conf={"start": "2019-06-01T12:00:00+00:00", "end": "2019-06-04T11:30"},
        variables={"dwops_fanout_bucket": "events", "dwops_fanout_queue_url": url,
                   "dwops_fanout_prefix": "in", "dwops_fanout_concurrency": "4"},
        env={"DWOPS_FANOUT_BACKFILL_MAX_ACTIVE": "2", "DWOPS_FANOUT_RETRIES": "0"})
    assert r.states == {"plan": "success", "fanout[0]": "success", "fanout[1]": "success",
                        "fanout[2]": "success", "total": "success"}, r
    # each chunk is one day of the range, as its own dw-fanout run
    spans = [(r.results[f"fanout[{i}]"]["result"]["start"],
              r.results[f"fanout[{i}]"]["result"]["end"]) for i in range(3)]
    assert spans == [("2019-06-01T12:00:00Z", "2019-06-02T12:00:00Z"),
                     ("2019-06-02T12:00:00Z", "2019-06-03T12:00:00Z"),
                     ("2019-06-03T12:00:00Z", "2019-06-04T12:00:00Z")]
    assert [r.results[f"fanout[{i}]"]["result"]["sent"] for i in range(3)] == [8, 8, 8]
    total = r.xcom["total"]
    if isinstance(total, str):
        total = json.loads(total)
    assert total["chunks"] == 3 and total["chunks_with_result"] == 3
    assert total["hours"] == 72
    assert total["sent"] == 24 and total["failed"] == 0
    assert total["listed"] == 25 and total["skipped"] == 1   # the summary file
    assert total["empty_hours"] == 72 - 12
    assert total["missing_seconds"] == 72 * 3600 - 24
    # every message of the range exactly once, nothing outside it
    assert drain(sqs, url) == expected


@pytest.mark.parametrize("major", [3], ids=lambda m: f"airflow{m}")
def test_backfill_chunks_and_mapping(major, airflow_factory):
    """The plan's chunks (rounding, a short last chunk, refusals) and the
    mapped task's bounds, from the DAG file as Airflow parses it."""
    af = airflow_factory(major, DAG_FILES)
    code = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import dwops_fanout_backfill as m
out = {}
reqs = [json.loads(x) for x in m.chunk_requests(
    {"start": "20190601T153000", "end": "2019-06-02T01:10:00+02:00", "chunk_hours": 4,
     "dry_run": True})]
out["spans"] = [(x["start"], x["end"]) for x in reqs]
out["first"] = reqs[0]
out["default"] = len(m.chunk_requests({"start": "2019-01-01", "end": "2020-01-01"}))
errors = []
for conf in ({"start": "2019-06-02", "end": "2019-06-01"}, {"end": "2019-06-01"},
             {"start": "2019-06-01", "end": "2019-06-02", "chunk_hours": 0},
             {"start": "2019-06-01", "end": "2019-06-02", "chunk_hours": "x"},
             {"start": "2019-06-01", "end": "2019-06-02", "hour": "2019-06-01T15"},
             {"start": "June", "end": "2019-06-02"},
             {"start": "2000-01-01", "end": "2019-06-02"}):
    try:
        m.chunk_requests(conf)
        errors.append(None)
    except ValueError as e:
        errors.append(str(e))
out["errors"] = errors
t = m.dag.get_task("fanout")
out["mapped"] = type(t).__name__
out["max_active_tis_per_dag"] = t.partial_kwargs.get("max_active_tis_per_dag")
out["retries"] = t.partial_kwargs.get("retries")
out["trigger_rule"] = str(m.dag.get_task("total").trigger_rule)
out["sum"] = m.sum_results([{"ok": True, "result": {"sent": 2, "missing_seconds": 5, "hours": 4}},
                            None, {"ok": True, "result": {"sent": 3, "failed": 1, "hours": 4}}], 3)
print(MARK + json.dumps(out))
'''
    p = af.python_snippet(code, str(af.dags_folder), env={"DWOPS_FANOUT_BACKFILL_MAX_ACTIVE": "3"})
    assert "@@DWOPS-AIRFLOW-JSON@@" in p.stdout, p.stdout + p.stderr
    out = json.loads(p.stdout.split("@@DWOPS-AIRFLOW-JSON@@")[-1].strip().splitlines()[0])
    # start rounded down, end (23:10 UTC) rounded up; the last chunk is short
    assert out["spans"] == [["2019-06-01T15:00:00+00:00", "2019-06-01T19:00:00+00:00"],
                            ["2019-06-01T19:00:00+00:00", "2019-06-01T23:00:00+00:00"],
                            ["2019-06-01T23:00:00+00:00", "2019-06-02T00:00:00+00:00"]]
    assert out["first"]["dry_run"] is True and out["first"]["empty"] == "ok"
    assert "chunk_hours" not in out["first"]
    assert out["default"] == 365
    e = out["errors"]
    assert "end must be after start" in e[0]
    assert "start is missing" in e[1]
    assert "chunk_hours" in e[2] and "chunk_hours" in e[3]
    assert "hour is not for a backfill" in e[4]
    assert "is not an hour" in e[5]
    assert "longer than" in e[6]
    assert out["mapped"] == "MappedOperator"
    assert out["max_active_tis_per_dag"] == 3
    assert out["retries"] == 3
    assert out["trigger_rule"].lower().endswith("none_failed")
    assert out["sum"]["sent"] == 5 and out["sum"]["failed"] == 1 and out["sum"]["hours"] == 8
    assert out["sum"]["missing_seconds"] == 5
    assert out["sum"]["chunks"] == 3 and out["sum"]["chunks_skipped"] == 1
