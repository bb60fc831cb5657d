"""dwops_fanout_backfill: a long range of hours (a month, a year) fanned out
to SQS as many dw-fanout runs, one per chunk of the range, spread over the
workers by Airflow's dynamic task mapping.

One dw-fanout process for a year (8,760 hours, 31.5 million messages) is one
failure domain on one machine.  Here the range is split into chunks (a day by
default) and dw-fanout is mapped over them: a Celery or Kubernetes executor
runs the chunks on any workers, at most max_active_tis_per_dag at once, and a
chunk that fails is retried alone (clear it to run it again by hand).

Trigger DAG w/ config
    {"start": "2019-01-01", "end": "2020-01-01"}        (end exclusive)
    {"start": "2019-06-01T12", "end": "2019-06-04T12", "chunk_hours": 6}
  start/end take dw-fanout's forms (2019-06-01T15, ...T15:00:00+00:00,
  20190601T150000, a bare date); a start inside an hour means that hour, an
  end inside an hour is rounded up, as dw-fanout does.  chunk_hours (1-8760,
  default DWOPS_FANOUT_BACKFILL_CHUNK_HOURS or 24).  dwops_fanout's run
  config knobs (message_format, key_format, prefix, concurrency, dry_run,
  ...) override the setting in every chunk; any other field (the bucket,
  the queue, endpoints, region, profile) fails the run by name before
  anything is sent.

Settings: those of dwops_fanout (Airflow Variable dwops_fanout_<name>, else
DWOPS_FANOUT_<NAME>): bucket, queue_url (required), prefix, region,
key_format, message_format, concurrency; empty defaults to "ok" here (an
empty chunk is counted, not skipped).  At parse time (environment):
DWOPS_FANOUT_BACKFILL_MAX_ACTIVE (chunks at once: max_active_tis_per_dag,
default 4), DWOPS_FANOUT_BACKFILL_MAX_RUNS (backfills at once, default 1),
DWOPS_FANOUT_RETRIES (per chunk, default 3), DWOPS_FANOUT_AWS_CONN_ID.

Tasks
  plan    the chunks' dw-fanout requests (a list: the mapped XCom)
  fanout  dw-fanout, mapped over the chunks (fanout[0], fanout[1], ...)
  total   sums the chunks' results: hours, listed, sent, failed, skipped,
          missing_seconds, empty_hours; its XCom is the total.  Runs when no
          chunk failed (a chunk skipped with empty "skip" counts as empty).

A re-run of a chunk sends its hours again (at least once, like dw-fanout).
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pendulum

from dwops_common import DwopsOperator, check_run_config, get_setting

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

# dwops_fanout's settings, read the same way (Variables dwops_fanout_<name>)
SETTINGS = ("bucket", "queue_url", "prefix", "region", "key_format", "message_format",
            "empty", "concurrency")
INTEGER_SETTINGS = ("concurrency",)
# What a run's config may set, as for dwops_fanout (issue 12 #2).
RUN_CONFIG_FIELDS = ("hour", "start", "end", "dry_run", "prefix", "key_format",
                     "message_format", "message_group_id", "concurrency", "page_size", "empty")
SUMMED = ("hours", "listed", "skipped", "sent", "failed", "empty_hours", "missing_seconds",
          "batches", "requests", "retries")
MAX_HOURS = 24 * 366 * 10   # dw-fanout's own limit on a range
MAX_CHUNKS = 10000          # mapped task instances per run


def _hour(text, field, round_up):
    """A whole UTC hour from the forms dw-fanout takes (rounded like it)."""
    try:
        t = pendulum.parse(str(text), tz="UTC")
    except Exception:
        raise ValueError(f"{field} {text!r} is not an hour: write e.g. 2019-06-01T15, "
                         "2019-06-01T15:00:00+00:00 or 2019-06-01") from None
    if not isinstance(t, dt.datetime):  # a bare date
        t = pendulum.datetime(t.year, t.month, t.day, tz="UTC")
    t = t.in_timezone("UTC")
    whole = t.replace(minute=0, second=0, microsecond=0)
    if round_up and whole != t:
        whole = whole.add(hours=1)
    return whole


def chunk_requests(conf, default_chunk_hours=24):
    """The dw-fanout request of every chunk of conf's start/end."""
    # The same allow-list as dwops_fanout (issue 12 #2), plus chunk_hours.
    conf = check_run_config(conf, RUN_CONFIG_FIELDS + ("chunk_hours",),
                            "dwops_fanout_backfill run config")
    for f in ("start", "end"):
        if not conf.get(f):
            raise ValueError(f"the config needs start and end (e.g. {{\"start\": \"2019-01-01\", "
                             f"\"end\": \"2019-02-01\"}}); {f} is missing")
    if conf.get("hour"):
        raise ValueError("hour is not for a backfill: give start and end")
    start = _hour(conf.pop("start"), "start", False)
    end = _hour(conf.pop("end"), "end", True)
    chunk = conf.pop("chunk_hours", None)
    if chunk in (None, ""):
        chunk = default_chunk_hours
    if isinstance(chunk, bool) or not str(chunk).isdigit() or not 1 <= int(chunk) <= MAX_HOURS:
        raise ValueError(f"chunk_hours {chunk!r} must be a whole number of hours, 1-{MAX_HOURS}")
    chunk = int(chunk)
    hours = int((end - start).total_seconds() // 3600)
    if hours <= 0:
        raise ValueError("end must be after start")
    if hours > MAX_HOURS:
        raise ValueError(f"the range is longer than {MAX_HOURS} hours")
    if -(-hours // chunk) > MAX_CHUNKS:
        raise ValueError(f"{hours} hours in chunks of {chunk} is more than {MAX_CHUNKS} chunks: "
                         "give a larger chunk_hours")
    base = {"empty": "ok"}
    for name in SETTINGS:
        value = get_setting("fanout_" + name)
        if value not in (None, ""):
            base[name] = int(value) if name in INTEGER_SETTINGS else value
    base.update({k: v for k, v in conf.items() if v not in (None, "")})
    out, t = [], start
    while t < end:
        u = min(t.add(hours=chunk), end)
        out.append(json.dumps(dict(base, start=t.isoformat(), end=u.isoformat())))
        t = u
    return out


def sum_results(results, chunks):
    """One total of the chunks' dw-fanout results (XComs of fanout[i])."""
    total = {k: 0 for k in SUMMED}
    done = 0
    for r in results:
        if not isinstance(r, dict) or not isinstance(r.get("result"), dict):
            continue
        done += 1
        for k in SUMMED:
            total[k] += int(r["result"].get(k) or 0)
    total.update(chunks=chunks, chunks_with_result=done, chunks_skipped=chunks - done)
    return total


with DAG(
    dag_id="dwops_fanout_backfill",
    description="Backfill: dw-fanout mapped over the chunks (a day each) of a range of hours",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=int(os.environ.get("DWOPS_FANOUT_BACKFILL_MAX_RUNS", "1")),
    default_args={
        "owner": "data-platform",
        "retries": int(os.environ.get("DWOPS_FANOUT_RETRIES", "3")),
        "retry_delay": pendulum.duration(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": pendulum.duration(minutes=15),
    },
    tags=["dwops", "fanout", "backfill"],
) as dag:

    @task(retries=0)
    def plan(**context):
        conf = context["dag_run"].conf or {}
        return chunk_requests(conf, int(os.environ.get("DWOPS_FANOUT_BACKFILL_CHUNK_HOURS", "24")))

    chunks = plan()
    fanout = DwopsOperator.partial(
        task_id="fanout", dwops_operator="fanout", dwops_action="fanout",
        aws_conn_id=os.environ.get("DWOPS_FANOUT_AWS_CONN_ID") or None,
        max_active_tis_per_dag=int(os.environ.get("DWOPS_FANOUT_BACKFILL_MAX_ACTIVE", "4")),
        execution_timeout=pendulum.duration(hours=6),
    ).expand(request=chunks)

    @task(retries=0, trigger_rule="none_failed")
    def total(results, requests):
        t = sum_results(list(results), len(list(requests)))
        print(f"backfill total: {json.dumps(t)}")
        return t

    total(fanout.output, chunks)
