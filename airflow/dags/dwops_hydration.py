"""dwops_hydration: an example hydration that holds a dw-lock read lease on
its lake resource across all of its tasks, so that compaction (which takes
the write lease) never rewrites files under it.

    acquire_read_lock -> copy -> verify
    release_read_lock   (trigger_rule all_done: runs even when a step failed)
    fail_if_a_step_failed (one_failed: keeps the run failed in that case)

* acquire_read_lock: `dw-lock acquire` (mode read, wait) as the holder
  "hydrate-<dag_id>-<run_id>", so every task of the run names the same
  lease without passing anything between tasks.
* copy, verify: each runs its command under `dw-lock exec` with join: the
  run's lease is renewed every ttl/3 while the command runs (a lost lease
  stops the command and fails the task); the lease stays held between tasks
  for up to ttl_s.
* release_read_lock: `dw-lock release`; done as well when the lease is
  already gone.

Settings (Airflow Variable dwops_<name>, else environment DWOPS_<NAME>):
  hydration_resource     the lake resource to lock (default lake/events)
  lock_table             DynamoDB table of the locks (default dwops-locks)
  hydration_ttl_s        lease length in seconds (default 900); the gap
                         between two tasks must stay below it
  hydration_wait_s       how long to wait for compaction to finish (3600)
  hydration_copy_command, hydration_verify_command
                         the steps' shell commands (defaults only echo)
"""

from __future__ import annotations

import pendulum

from dwops_common import BashOperator, dwops_task, setting_template

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

HOLDER = "hydrate-{{ dag.dag_id }}-{{ run_id }}"
LOCK = {
    "resource": setting_template("hydration_resource", "lake/events"),
    "table": setting_template("lock_table", "dwops-locks"),
    "holder": HOLDER,
}


def step(task_id: str, command_setting: str, default: str):
    return dwops_task(
        task_id, "lock", "exec",
        dict(LOCK, join=True, ttl_s="{{ var.value.get('dwops_hydration_ttl_s', 900) | int }}",
             command=["sh", "-c", setting_template(command_setting, default)]),
    )


with DAG(
    dag_id="dwops_hydration",
    description="Example hydration holding a dw-lock read lease across its tasks",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    default_args={"owner": "data-platform", "retries": 0},
    tags=["dwops", "lock", "example"],
) as dag:
    acquire = dwops_task(
        "acquire_read_lock", "lock", "acquire",
        dict(LOCK, mode="read", wait=True,
             ttl_s="{{ var.value.get('dwops_hydration_ttl_s', 900) | int }}",
             wait_timeout_s="{{ var.value.get('dwops_hydration_wait_s', 3600) | int }}"),
    )
    copy = step("copy", "hydration_copy_command", "echo copying")
    verify = step("verify", "hydration_verify_command", "echo verifying")
    release = dwops_task("release_read_lock", "lock", "release", dict(LOCK),
                         trigger_rule="all_done")
    watcher = BashOperator(task_id="fail_if_a_step_failed", trigger_rule="one_failed",
                           bash_command="echo 'a hydration step failed' >&2; exit 1")

    acquire >> copy >> verify >> release
    [acquire, copy, verify] >> watcher
