"""Test DAG for dw-alert's wiring: two dwops tasks that fail (dw-lock status
of a table that does not exist); one alerts through dwops_common's failure
callback, the other opts out."""

from __future__ import annotations

import pendulum

from dwops_common import dwops_task

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

with DAG(
    dag_id="dwops_test_alert",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-platform", "retries": 0},
) as dag:
    dwops_task("fails_alerted", "lock", "status", {"resource": "lake/x", "table": "no-such-table"})
    dwops_task("fails_quiet", "lock", "status", {"resource": "lake/y", "table": "no-such-table"},
               dwops_alert=False)
