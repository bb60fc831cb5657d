"""Test-only DAGs for tests/test_airflow_dags.py: dwops_common.dwops_task driving
bin/dw-probe (the core's AWS test tool) and a stand-in operator that reports
"nothing to do" (exit 99).  DWOPS_BIN points at a temporary directory holding
dw-probe and dw-nothing when these run."""

import pendulum

try:
    from airflow.sdk import DAG  # Airflow 3
except ImportError:
    from airflow import DAG  # Airflow 2

from dwops_common import dwops_task, setting_template

START = pendulum.datetime(2024, 1, 1, tz="UTC")
DEFAULT_ARGS = {"owner": "dwops-tests", "retries": 0}

with DAG("dwops_test_probe", schedule=None, start_date=START, catchup=False,
         default_args=DEFAULT_ARGS, tags=["dwops", "test"]):
    whoami = dwops_task("whoami", "probe", "whoami", {})
    listing = dwops_task(
        "list", "probe", "s3-list",
        {"bucket": "{{ dag_run.conf.get('bucket', 'missing-bucket') }}",
         "prefix": setting_template("probe_prefix"),
         "page_size": 2})
    # no Variable in the tests: falls back to $DWOPS_PROBE_ENV_PREFIX
    list_fallback = dwops_task(
        "list_fallback", "probe", "s3-list",
        {"bucket": "{{ dag_run.conf.get('bucket', 'missing-bucket') }}",
         "prefix": setting_template("probe_env_prefix", "nothing-matches/")})
    nothing = dwops_task("nothing", "nothing", "check",
                         {"day": "{{ ds }}", "note": "quote \" and $(dollar) `tick`"})
    after_nothing = dwops_task("after_nothing", "probe", "whoami", {})
    whoami >> listing
    nothing >> after_nothing

with DAG("dwops_test_probe_conn", schedule=None, start_date=START, catchup=False,
         default_args=DEFAULT_ARGS, tags=["dwops", "test"]):
    dwops_task("whoami", "probe", "whoami", {}, aws_conn_id="dwops_test_aws")
