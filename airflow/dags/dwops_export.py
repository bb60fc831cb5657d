"""dwops_export: every night, the warehouse's newest automated RDS snapshot
exported to S3 as Parquet, promoted to a stable prefix and catalogued for
Athena, with bin/dw-export.

Four tasks, so a failed step is retried alone:

  start    dw-export start    the export task of the newest automated snapshot
                              (found again, not restarted, on a retry)
  wait     dw-export wait     until the export is COMPLETE (progress in the log);
                              FAILED/CANCELED fail the task, a wait longer than
                              wait_timeout_s exits 75 and Airflow retries
  promote  dw-export promote  the dated folder copied to main_prefix, stale files
                              removed, then the dated folder (safe to re-run)
  catalog  dw-export catalog  the Glue crawler run, or the Glue tables written

The request is the JSON in the Airflow Variable ``dwops_export_request`` (see
the dw-export section of README.md and examples/dw-export/run.json), e.g.::

    airflow variables set dwops_export_request "$(cat examples/dw-export/run.json)"

It is read when a task runs, never when the file is parsed.  wait, promote and
catalog act on the export task that start reported (its XCom), so a snapshot
taken while the DAG runs cannot switch the export under them.
"""

from __future__ import annotations

import json

import pendulum

from dwops_common import dwops_task

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

REQUEST_VARIABLE = "dwops_export_request"


def export_request(request, ti=None) -> str:
    """The dw-export request for one task (a Jinja macro, run at render time):
    the Variable's request, plus, after start, start's export task id."""
    if isinstance(request, str):
        request = json.loads(request)
    if not isinstance(request, dict):
        raise ValueError(f"set the Airflow Variable {REQUEST_VARIABLE} to a dw-export request "
                         "(a JSON object, see examples/dw-export/run.json)")
    req = dict(request)
    req.pop("action", None)  # each task runs its own
    if ti is not None:
        started = ti.xcom_pull(task_ids="start") or {}
        task_id = (started.get("result") or {}).get("export_task_id")
        if not task_id:
            raise ValueError("the start task reported no export_task_id")
        req["export_task_id"] = task_id
    return json.dumps(req)


REQUEST = "{{ export_request(var.json.get('%s', None)) }}" % REQUEST_VARIABLE
REQUEST_AFTER_START = "{{ export_request(var.json.get('%s', None), ti) }}" % REQUEST_VARIABLE

with DAG(
    dag_id="dwops_export",
    description="Export the newest RDS snapshot to S3 (Parquet), promote it, catalog it for Athena",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    user_defined_macros={"export_request": export_request},
    default_args={"owner": "data-platform", "retries": 2,
                  "retry_delay": pendulum.duration(minutes=5)},
    tags=["dwops", "export", "athena"],
) as dag:
    start = dwops_task("start", "export", "start", REQUEST,
                       execution_timeout=pendulum.duration(minutes=10))
    wait = dwops_task("wait", "export", "wait", REQUEST_AFTER_START,
                      retries=4, retry_delay=pendulum.duration(minutes=10),
                      execution_timeout=pendulum.duration(hours=8))
    promote = dwops_task("promote", "export", "promote", REQUEST_AFTER_START,
                         execution_timeout=pendulum.duration(hours=2))
    catalog = dwops_task("catalog", "export", "catalog", REQUEST_AFTER_START,
                         execution_timeout=pendulum.duration(hours=2))

    start >> wait >> promote >> catalog
