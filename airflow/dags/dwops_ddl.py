"""dwops_ddl: apply an external table over the lake to Glue or Athena, on demand.

Triggered by hand with a config (``airflow dags trigger dwops_ddl -c '...'``
or "Trigger DAG w/ config" in the UI).  The table description is a dw-ddl
request (see the dw-ddl section of README.md):

  * ``{"example": "glue-json-infer.json"}`` (the default) takes the request
    from examples/dw-ddl/ in the repository (or DWOPS_DDL_EXAMPLES_DIR, where
    the DAG is parsed): a plain file name, nothing else;
  * ``{"request": {...}}`` gives the whole description instead;
  * ``"overrides": {...}`` replaces top-level fields of either (e.g.
    ``{"location": "s3://other/prefix/", "infer": {"max_files": 20}}``);
  * ``"dry_run": true`` shows the statements / TableInput without applying.

A description without ``columns`` but with ``infer`` reads sample files under
the location and infers them.  The one task runs ``dw-ddl apply``: Glue gets
the table created or updated (idempotent, partition projection in its
parameters), Athena runs each statement and waits for it.  The task's XCom
is the JSON result: the statements, the columns (with their presence counts
when inferred) and what was applied.  A bad description fails the task
without changing anything (exit 2); Airflow retries a temporary AWS failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum

from dwops_common import dwops_task

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

EXAMPLES_DIR = Path(os.environ.get("DWOPS_DDL_EXAMPLES_DIR") or
                    Path(__file__).resolve().parent.parent.parent / "examples" / "dw-ddl")
DEFAULT_EXAMPLE = "glue-json-infer.json"


def ddl_request(conf, examples_dir: str = str(EXAMPLES_DIR)) -> str:
    """The dw-ddl apply request for a run's config, as JSON (a Jinja macro:
    it runs when the task is rendered, never when the DAG file is parsed)."""
    conf = dict(conf or {})
    if conf.get("request") is not None:
        req = conf["request"]
        if not isinstance(req, dict):
            raise ValueError("conf.request must be an object (a dw-ddl request)")
        req = dict(req)
    else:
        name = str(conf.get("example") or DEFAULT_EXAMPLE)
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".json"):
            raise ValueError(f"conf.example must be a file name in {examples_dir}, not {name!r}")
        req = json.loads((Path(examples_dir) / name).read_text())
    overrides = conf.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ValueError("conf.overrides must be an object")
    req.update(overrides)
    if conf.get("dry_run"):
        req["dry_run"] = True
    req.pop("action", None)  # the task runs "apply"
    return json.dumps(req)


with DAG(
    dag_id="dwops_ddl",
    description="Create or update an external table over the lake in Glue/Athena (dw-ddl apply)",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    user_defined_macros={"ddl_request": ddl_request},
    default_args={"owner": "data-platform", "retries": 2,
                  "retry_delay": pendulum.duration(minutes=2)},
    tags=["dwops", "ddl"],
) as dag:
    apply_table = dwops_task(
        "apply_table", "ddl", "apply", "{{ ddl_request(dag_run.conf) }}",
        execution_timeout=pendulum.duration(minutes=30),
    )
