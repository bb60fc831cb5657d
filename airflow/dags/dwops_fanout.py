"""dwops_fanout: every hour, one SQS message per S3 event file of the hour
that just ended (bin/dw-fanout), so that workers process them in parallel.

Runs
  * Scheduled: the run for the interval [15:00, 16:00) starts at 16:00 and
    sends the files of hour 15 (its data_interval_start).  The schedule is a
    data-interval timetable on Airflow 2 and 3 alike, so the hour is the
    same on both.
  * Trigger DAG w/ config: {"hour": "2019-06-01T15"} sends that hour;
    {"start": "2019-06-01T00", "end": "2019-06-02T00"} a range of hours (end
    exclusive), e.g. after an outage.  The config may also set dry_run and
    dw-fanout's own knobs (RUN_CONFIG_FIELDS: message_format, empty,
    key_format, prefix, concurrency, page_size, message_group_id); any other
    field -- the bucket, the queue, endpoints, region, profile -- fails the
    task by name before anything is sent: where the worker's credentials go
    is a setting, never a run's choice.

Settings (Airflow Variable dwops_fanout_<name>, else environment variable
DWOPS_FANOUT_<NAME>; read when the task runs): bucket, queue_url (required),
prefix, region, key_format, message_format, empty, concurrency.

At parse time (environment): DWOPS_FANOUT_CATCHUP (default false),
DWOPS_FANOUT_START_DATE (default 2024-01-01), DWOPS_FANOUT_MAX_ACTIVE_RUNS
(default 3), DWOPS_FANOUT_RETRIES (default 3), DWOPS_FANOUT_AWS_CONN_ID (an
Airflow connection holding the AWS credentials; default: the worker's
environment or instance role).
Credentials never appear on a command line or in the rendered request.

The task's XCom is dw-fanout's JSON result (sent, failed, per-hour counts);
an hour without files exits 99 and the task is skipped.  Failures (1) and
temporary failures (75) are retried with exponential backoff; a re-run sends
the hour again (at least once; FIFO queues de-duplicate within 5 minutes).
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.timetables.interval import CronDataIntervalTimetable

from dwops_common import check_run_config, dwops_task, get_setting

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

SETTINGS = ("bucket", "queue_url", "prefix", "region", "key_format", "message_format",
            "empty", "concurrency")
INTEGER_SETTINGS = ("concurrency",)
TIME_FIELDS = ("hour", "start", "end")
# What a run's config may set (issue 12 #2): the times, dry_run and the
# operator's own knobs.  bucket and queue_url are settings.
RUN_CONFIG_FIELDS = TIME_FIELDS + ("dry_run", "prefix", "key_format", "message_format",
                                   "message_group_id", "concurrency", "page_size", "empty")


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def fanout_request(conf, data_interval_start, logical_date) -> str:
    """The dw-fanout request for a run, as JSON (called when the task runs)."""
    req = {}
    for name in SETTINGS:
        value = get_setting("fanout_" + name)
        if value not in (None, ""):
            req[name] = int(value) if name in INTEGER_SETTINGS else value
    conf = check_run_config(conf, RUN_CONFIG_FIELDS, "dwops_fanout run config")
    if not any(conf.get(f) for f in TIME_FIELDS):
        hour = data_interval_start or logical_date
        req["hour"] = hour.isoformat() if hasattr(hour, "isoformat") else str(hour)
    req.update({k: v for k, v in conf.items() if v not in (None, "")})
    return json.dumps(req)


with DAG(
    dag_id="dwops_fanout",
    description="Hourly: one SQS message per S3 event file of the hour (dw-fanout)",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.parse(os.environ.get("DWOPS_FANOUT_START_DATE", "2024-01-01"), tz="UTC"),
    catchup=_truthy(os.environ.get("DWOPS_FANOUT_CATCHUP", "false")),
    max_active_runs=int(os.environ.get("DWOPS_FANOUT_MAX_ACTIVE_RUNS", "3")),
    user_defined_macros={"fanout_request": fanout_request},
    default_args={
        "owner": "data-platform",
        "retries": int(os.environ.get("DWOPS_FANOUT_RETRIES", "3")),
        "retry_delay": pendulum.duration(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": pendulum.duration(minutes=15),
    },
    tags=["dwops", "fanout"],
) as dag:
    fanout = dwops_task(
        "fanout", "fanout", "fanout",
        "{{ fanout_request(dag_run.conf, data_interval_start, logical_date) }}",
        aws_conn_id=os.environ.get("DWOPS_FANOUT_AWS_CONN_ID") or None,
        execution_timeout=pendulum.duration(minutes=50),
    )
