"""dwops_compaction: every day, merge the lake's small Avro files into big
ones with `dw-etl compact`, under dw-lock's write lease:

    dw-lock exec (mode write, writer_priority, wait) -- dw-etl compact

The write lease waits until no hydration holds a read lease (and, with
writer_priority, holds new hydrations back meanwhile); it is renewed every
ttl/3 while compaction runs, and compaction checks it (with its fencing
token) before it deletes the merged inputs.  Nothing to merge (exit 99)
marks the task skipped.

Settings (Airflow Variable dwops_<name>, else environment DWOPS_<NAME>):
  compaction_bucket     bucket of the Avro partitions (required)
  compaction_prefix     their prefix, e.g. events (required)
  compaction_target_mb  merged file size, 16..256 (default 128)
  compaction_resource   the dw-lock resource (default lake/events)
  lock_table            dw-lock's table (default dwops-locks)
  compaction_retries    (environment only) task retries (default 1)
  compaction_wait_s     (environment only) how long to wait for hydrations
                        (default 21600)
"""

from __future__ import annotations

import json
import os

import pendulum

from dwops_common import dwops_task, setting_template

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG


def _json_setting(name: str, default: str = "") -> str:
    """A setting as a JSON value inside a template of JSON text (the value
    is quoted and escaped by Jinja's tojson when the task runs)."""
    fallback = os.environ.get("DWOPS_" + name.upper(), default)
    return "{{ var.value.get(%s, %s) | tojson }}" % (json.dumps("dwops_" + name), json.dumps(fallback))


# dw-etl's request, handed to it on stdin by the command (dw-lock has its own).
COMPACT_REQUEST = ('{"bucket": %s, "prefix": %s, "target_mb": %s}'
                   % (_json_setting("compaction_bucket"), _json_setting("compaction_prefix"),
                      "{{ var.value.get('dwops_compaction_target_mb', 128) | int }}"))

# A number in dw-lock's request: read where the DAG is parsed (the request
# is rendered as text, and dw-lock wants an integer).
WAIT_S = int(os.environ.get("DWOPS_COMPACTION_WAIT_S", "21600"))

with DAG(
    dag_id="dwops_compaction",
    description="Merge the lake's small Avro files under dw-lock's write lease",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform",
                  "retries": int(os.environ.get("DWOPS_COMPACTION_RETRIES", "1")),
                  "retry_delay": pendulum.duration(minutes=30)},
    tags=["dwops", "lock", "compaction"],
) as dag:
    compact = dwops_task(
        "compact", "lock", "exec",
        {"resource": setting_template("compaction_resource", "lake/events"),
         "table": setting_template("lock_table", "dwops-locks"),
         "mode": "write", "writer_priority": True, "wait": True, "ttl_s": 300,
         "wait_timeout_s": WAIT_S,
         "command": ["sh", "-c", 'printf "%s" "$DWOPS_COMPACT_REQUEST" | "$DWOPS_BIN/dw-etl" compact']},
        env={"DWOPS_COMPACT_REQUEST": COMPACT_REQUEST},
        execution_timeout=pendulum.duration(hours=12),
    )
