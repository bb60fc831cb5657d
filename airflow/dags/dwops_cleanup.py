"""dwops_cleanup: every day, apply the clean-up policy with bin/dw-cleanup.

The policy is the JSON request kept in the repository at
examples/dw-cleanup/policy.json (which copies, S3 prefixes, Glue tables and
SQS queues to clean up, and the max_deletions guard).  It is read when the
task runs, not when the scheduler parses this file, through Jinja's
template search path:

  * DWOPS_CLEANUP_POLICY_DIR (environment, where the DAG is parsed): the
    folder holding the policy file; else the repository's
    examples/dw-cleanup next to this DAGs folder; the DAGs folder itself is
    searched too.
  * Airflow Variable dwops_cleanup_policy_file: the file name in that folder
    (default policy.json).

The task runs `dw-cleanup apply`: it plans, refuses a plan larger than
max_deletions (the task fails, nothing is deleted), then deletes each listed
item, logging each deletion with its reason.  Its XCom is the JSON result
with every item's outcome.  Nothing to clean up (exit 99) marks the task
skipped; any item failing (exit 1) fails the task after the others were
done, and Airflow's retries run the whole policy again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum

from dwops_common import dwops_task

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

_REPO_POLICY_DIR = Path(__file__).resolve().parent.parent.parent / "examples" / "dw-cleanup"
POLICY_DIRS = [d for d in (os.environ.get("DWOPS_CLEANUP_POLICY_DIR"), str(_REPO_POLICY_DIR)) if d]

# Rendered when the task runs: the policy file's JSON becomes the request.
POLICY_REQUEST = "{% include var.value.get('dwops_cleanup_policy_file', 'policy.json') %}"

with DAG(
    dag_id="dwops_cleanup",
    description="Apply the dwops clean-up policy (expired copies, stale objects, tables, queues)",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    template_searchpath=POLICY_DIRS,
    default_args={"owner": "data-platform", "retries": 1,
                  "retry_delay": pendulum.duration(minutes=10)},
    tags=["dwops", "cleanup"],
) as dag:
    apply_policy = dwops_task(
        "apply_policy", "cleanup", "apply", POLICY_REQUEST,
        execution_timeout=pendulum.duration(hours=2),
    )
