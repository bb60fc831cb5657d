"""dwops_extract: a MySQL table's new rows to Kinesis, every 15 minutes.

One task, `dw-extract run` (README, dw-extract): the rows newer than the
watermark (SSM Parameter Store) and below the source's clock minus lag_s are
sent to the Kinesis stream, page by page; the watermark moves after each page
the stream took.  No new rows (exit 99) skips the run; the result (rows,
pages, watermark from and to, upper bound, state version) is in XCom.
max_active_runs is 1 and dw-extract holds a dw-lock write lease on the table
besides, so two runs never interleave.

Variables (read when the task runs; DWOPS_<NAME> where the DAG is parsed is
the fallback):
  dwops_extract_table          database.table (required)
  dwops_extract_cursor         the cursor column (default updated_at)
  dwops_extract_state_name     the SSM parameter (default /dwops/extract/<table>)
                               (the tiebreak is the table's primary key)
  dwops_extract_stream         the Kinesis stream (required)
  dwops_extract_mysql_endpoint host:port of the source
  dwops_extract_mysql_user     the login; its password is in the workers'
                               environment variable DWOPS_EXTRACT_MYSQL_PASSWORD
  dwops_extract_mysql_tls      verify (default), required or disabled
  dwops_extract_lag_s          seconds left for the next run (default 60)

The schedule is fixed when the file is parsed, so it cannot come from the
metadata database without a query on every parse: it is the Variable
dwops_extract_schedule given through the environment
(AIRFLOW_VAR_DWOPS_EXTRACT_SCHEDULE, which is how Airflow reads Variables
from the environment) or DWOPS_EXTRACT_SCHEDULE, default every 15 minutes.
DWOPS_EXTRACT_RETRIES (default 2) sets the task's retries.
"""

from __future__ import annotations

import os

import pendulum

from dwops_common import dwops_task, setting_template

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

SCHEDULE = (os.environ.get("AIRFLOW_VAR_DWOPS_EXTRACT_SCHEDULE")
            or os.environ.get("DWOPS_EXTRACT_SCHEDULE") or "*/15 * * * *")
TABLE = setting_template("extract_table")
STATE_NAME = ("{{ var.value.get('dwops_extract_state_name', '/dwops/extract/' ~ "
              "var.value.get('dwops_extract_table', '')) }}")

with DAG(
    dag_id="dwops_extract",
    description="Send a MySQL table's new rows to Kinesis (dw-extract run)",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # lag_s is an integer in the request: rendered natively, "60" is 60
    render_template_as_native_obj=True,
    default_args={"owner": "data-platform",
                  "retries": int(os.environ.get("DWOPS_EXTRACT_RETRIES", "2")),
                  "retry_delay": pendulum.duration(minutes=1)},
    tags=["dwops", "extract"],
) as dag:
    dwops_task(
        "extract", "extract", "run",
        {"mysql": {"endpoint": setting_template("extract_mysql_endpoint"),
                   "user": setting_template("extract_mysql_user"),
                   "password_env": "DWOPS_EXTRACT_MYSQL_PASSWORD",
                   "tls": {"mode": setting_template("extract_mysql_tls", "verify")}},
         "table": TABLE,
         "cursor": {"column": setting_template("extract_cursor", "updated_at")},
         "lag_s": setting_template("extract_lag_s", "60"),
         "state": {"name": STATE_NAME},
         "sink": {"type": "kinesis", "stream": setting_template("extract_stream")},
         # a run that would outlast the next schedule stops between pages
         "time_budget_s": 600},
    )
