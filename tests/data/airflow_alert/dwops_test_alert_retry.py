"""Test DAG for dwops_alert="retry": a dwops task that fails on both of its
tries (dw-lock status of a table that does not exist, retries=1) alerts on
the retry (dwops_common's retry callback) and on the last failure.  The
retry delay is 0 s (env DWOPS_TEST_RETRY_DELAY_S): `airflow dags test`
sits through it."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum

from dwops_common import dwops_task

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

with DAG(
    dag_id="dwops_test_alert_retry",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-platform", "retries": 1,
                  "retry_delay": timedelta(seconds=float(os.environ.get("DWOPS_TEST_RETRY_DELAY_S", "0")))},
) as dag:
    dwops_task("fails_retried", "lock", "status", {"resource": "lake/z", "table": "no-such-table"},
               dwops_alert="retry")
