"""dwops_catalog: keep the Glue Data Catalog in step with the model, hourly.

The model (datasets, consumers' views, bindings: see the README's dw-catalog
section) is a JSON file: the Airflow Variable dwops_catalog_model_file names
it (a path on the workers), else DWOPS_CATALOG_MODEL_FILE where the DAG is
parsed, else catalog.json in this DAGs folder.

  plan   `dw-catalog plan`: what differs; nothing (exit 99) skips the run.
  apply  `dw-catalog apply` of exactly that plan (expect_plan: its hash, so
         a catalog that changed in between is refused, not applied blind),
         with skip_breaking: the non-breaking changes are applied, and a
         breaking one (a removed column, a narrowed type, a deletion, a
         view moved to another table) fails the task loudly (exit 1,
         BreakingChangesPending) without being applied.  Breaking changes
         are applied by a person, from the Jenkins job dw-catalog.

Run config is not read: the model and the AWS set-up come only from
Variables and the workers' environment.  DWOPS_CATALOG_RETRIES (where the
DAG is parsed; default 1) sets the tasks' retries.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum

from dwops_common import dwops_task, setting_template

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

MODEL_FILE = setting_template("catalog_model_file", str(Path(__file__).resolve().parent / "catalog.json"))

with DAG(
    dag_id="dwops_catalog",
    description="Plan the Glue catalog against the model and apply its non-breaking changes",
    schedule="@hourly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform",
                  "retries": int(os.environ.get("DWOPS_CATALOG_RETRIES", "1")),
                  "retry_delay": pendulum.duration(minutes=5)},
    tags=["dwops", "catalog"],
) as dag:
    plan = dwops_task("plan", "catalog", "plan", {"model_file": MODEL_FILE})
    apply = dwops_task(
        "apply", "catalog", "apply",
        {"model_file": MODEL_FILE, "skip_breaking": True,
         "expect_plan": "{{ ti.xcom_pull(task_ids='plan')['result']['plan_hash'] }}"},
    )
    plan >> apply
