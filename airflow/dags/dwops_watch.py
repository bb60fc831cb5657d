"""dwops_watch: every 10 minutes, `dw-alert watch` over this Airflow's REST API.

The SLA check Airflow does badly: DAG runs running longer than their limit
(a DAG's own, or 3 times the median of its recent successful runs) and
scheduled runs still queued 30 minutes after they were due are published to
the alert topic, each run once (dw-alert keeps the "already alerted" keys in
its DynamoDB state table).  Nothing new (exit 99) marks the task skipped.

Settings (Airflow Variables, else DWOPS_<NAME> where the DAG is parsed):
  dwops_alert_topic_arn       the SNS topic (the one every dwops task's
                              failure callback publishes to)
  dwops_alert_airflow_url     this Airflow's API (default http://localhost:8080)
  dwops_alert_airflow_user    the API user (default dwops); its password in
                              the workers' environment as
                              DWOPS_AIRFLOW_API_PASSWORD, never in a Variable
  dwops_alert_watch_limits    JSON {"dag_id": seconds} (default {})
  dwops_alert_table           the state table (default dwops-alerts)
Run config is not read.
"""

from __future__ import annotations

import json

import pendulum

from dwops_common import AIRFLOW_MAJOR, dwops_task

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG


def _var(name: str, default: str) -> str:
    """A Variable as a JSON string literal, when the task runs."""
    return "{{ var.value.get(%s, %s) | tojson }}" % (json.dumps("dwops_" + name), json.dumps(default))


WATCH_REQUEST = (
    '{"url": %s, "airflow_version": %d, "username": %s, '
    '"password_env": "DWOPS_AIRFLOW_API_PASSWORD", "topic_arn": %s, "table": %s, '
    '"limits_s": {{ var.value.get("dwops_alert_watch_limits", "{}") }}, '
    '"median_factor": 3, "min_limit_s": 600, "start_grace_s": 1800}'
    % (_var("alert_airflow_url", "http://localhost:8080"), AIRFLOW_MAJOR,
       _var("alert_airflow_user", "dwops"), _var("alert_topic_arn", ""),
       _var("alert_table", "dwops-alerts"))
)

with DAG(
    dag_id="dwops_watch",
    description="Alert on DAG runs running past their limit and scheduled runs that did not start",
    schedule="*/10 * * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 0},
    tags=["dwops", "alert"],
) as dag:
    watch = dwops_task("watch", "alert", "watch", WATCH_REQUEST,
                       execution_timeout=pendulum.duration(minutes=9))
