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

The config takes only those four fields, and ``request`` / ``overrides``
only the table's description (TABLE_FIELDS: dialect, table, location,
columns, infer, ...), ``dry_run`` and ``wait_s``: endpoints, region,
profile, ``bundle``, ``workgroup`` and ``output_location`` are refused by
name (a run's config must not choose where the worker's credentials go or
what it writes).  The Athena workgroup and result location come from the
example file or the settings ``dwops_ddl_workgroup`` /
``dwops_ddl_output_location`` (Variable, else DWOPS_DDL_* environment).

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

from dwops_common import check_run_config, dwops_task, get_setting

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

EXAMPLES_DIR = Path(os.environ.get("DWOPS_DDL_EXAMPLES_DIR") or
                    Path(__file__).resolve().parent.parent.parent / "examples" / "dw-ddl")
DEFAULT_EXAMPLE = "glue-json-infer.json"


# What a run's config may hold (issue 12 #2), and what its request or
# overrides may set: the table's description and the run's own knobs.
RUN_CONFIG_FIELDS = ("example", "request", "overrides", "dry_run")
TABLE_FIELDS = ("dialect", "table", "database", "schema", "format", "delimiter", "header",
                "location", "stage", "create_stage", "file_format", "columns", "partitions",
                "add_partitions", "options", "infer", "dry_run", "wait_s")
SETTINGS = ("workgroup", "output_location")


def ddl_request(conf, examples_dir: str = str(EXAMPLES_DIR)) -> str:
    """The dw-ddl apply request for a run's config, as JSON (a Jinja macro:
    it runs when the task is rendered, never when the DAG file is parsed)."""
    conf = check_run_config(conf, RUN_CONFIG_FIELDS, "dwops_ddl run config")
    if conf.get("request") is not None:
        req = conf["request"]
        if not isinstance(req, dict):
            raise ValueError("conf.request must be an object (a dw-ddl request)")
        req = check_run_config(req, TABLE_FIELDS, "dwops_ddl run config's request")
    else:
        name = str(conf.get("example") or DEFAULT_EXAMPLE)
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".json"):
            raise ValueError(f"conf.example must be a file name in {examples_dir}, not {name!r}")
        req = json.loads((Path(examples_dir) / name).read_text())
    overrides = conf.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ValueError("conf.overrides must be an object")
    req.update(check_run_config(overrides, TABLE_FIELDS, "dwops_ddl run config's overrides"))
    for name in SETTINGS:
        value = get_setting("ddl_" + name)
        if value not in (None, ""):
            req[name] = value
    req.pop("bundle", None)  # the XCom holds the result; no file is written
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
