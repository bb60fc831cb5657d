"""The dwops Airflow DAGs under real Apache Airflow 2.x and 3.x.

* every file in airflow/dags/ imports without errors (DagBag, both majors),
* every DAG has basic hygiene: an owner, explicit retries, no work at the top
  level of the file (network, subprocesses, Variable/Connection look-ups),
  a quick parse, and dwops tasks that skip on 99 and push their result,
* dwops_common.dwops_task really runs an operator under `airflow dags test`
  (bin/dw-probe against moto): the request reaches it on stdin, the JSON
  result is the task's XCom, exit 99 marks the task skipped, failures fail,
  AWS credentials come from the worker env or an Airflow connection.

New DAG files are picked up automatically (parametrised over the folder).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from airflow_support import AIRFLOW_MAJORS, DAGS_DIR, REPO, dag_files

MAJORS = [pytest.param(m, id=f"airflow{m}") for m in AIRFLOW_MAJORS]

# Files in airflow/dags that are shared modules, not DAG definitions.
HELPER_MODULES = {"dwops_common.py"}
PARSE_LIMIT_S = float(os.environ.get("DW_DAG_PARSE_LIMIT", "10"))
DEFAULT_OWNER = "airflow"

DAG_FILES = dag_files(DAGS_DIR)
FILE_PARAMS = [pytest.param(p, id=str(p.relative_to(DAGS_DIR))) for p in DAG_FILES]

TEST_DAGS = [REPO / "airflow" / "dags" / "dwops_common.py",
             REPO / "tests" / "data" / "airflow_dags"]
PROBE = REPO / "build" / "tests" / "tools" / "dw-probe"


def _is_helper(path: Path) -> bool:
    return path.name in HELPER_MODULES or path.name.startswith("_")


def _file_report(report: dict, path: Path) -> dict:
    for f, info in report["files"].items():
        if Path(f).resolve() == path.resolve():
            return info
    return {}


# --------------------------------------------------------------------------
# import + hygiene of airflow/dags
# --------------------------------------------------------------------------

def test_dags_folder_has_files():
    assert DAG_FILES, f"no Python files in {DAGS_DIR}"
    assert (DAGS_DIR / "dwops_common.py") in DAG_FILES


@pytest.mark.parametrize("airflow", MAJORS, indirect=True)
@pytest.mark.parametrize("path", FILE_PARAMS)
def test_dag_file_imports(airflow, path):
    report = airflow.dagbag_report()
    errors = {str(Path(k).resolve()): v for k, v in report["import_errors"].items()}
    assert str(path.resolve()) not in errors, (
        f"airflow {airflow.version}: {path.name} does not import:\n{errors[str(path.resolve())]}")
    assert _file_report(report, path), (
        f"airflow {airflow.version} did not process {path} (ignored by .airflowignore?)")


@pytest.mark.parametrize("airflow", MAJORS, indirect=True)
@pytest.mark.parametrize("path", FILE_PARAMS)
def test_dag_file_hygiene(airflow, path):
    report = airflow.dagbag_report()
    info = _file_report(report, path)
    if not info:
        pytest.fail(f"{path.name} was not parsed (import error? see test_dag_file_imports)")
    problems = []
    calls = info.get("top_level_calls") or []
    if calls:
        problems.append("work at the top level of the file (move it into a task): "
                        + "; ".join(calls[:5]))
    if info["duration"] > PARSE_LIMIT_S:
        problems.append(f"parsing took {info['duration']:.1f}s (limit {PARSE_LIMIT_S:.0f}s)")
    dag_ids = info.get("dag_ids") or []
    if not dag_ids:
        if _is_helper(path):
            assert not problems, f"{path.name}: " + "; ".join(problems)
            return
        problems.append("defines no DAG (shared modules: name them _*.py or add them "
                        "to HELPER_MODULES in tests/test_airflow_dags.py)")
    for dag_id in dag_ids:
        dag = report["dags"][dag_id]
        if "retries" not in dag["default_args"]:
            problems.append(f"{dag_id}: default_args has no 'retries'")
        if "owner" not in dag["default_args"]:
            problems.append(f"{dag_id}: default_args has no 'owner'")
        for t in dag["tasks"]:
            where = f"{dag_id}.{t['task_id']}"
            if not t["owner"] or t["owner"] == DEFAULT_OWNER:
                problems.append(f"{where}: owner is {t['owner']!r}")
            if t["retries"] is None:
                problems.append(f"{where}: retries not set")
            if t["is_dwops"]:
                if 99 not in (t["skip_on_exit_code"] or []):
                    problems.append(f"{where}: exit 99 (nothing to do) must skip the task")
                if not t["do_xcom_push"]:
                    problems.append(f"{where}: do_xcom_push is off (the JSON result is lost)")
            cmd = t["bash_command"] or ""
            if re.search(r"(?i)(aws_secret_access_key|password|passwd|token)\s*=\s*\S", cmd):
                problems.append(f"{where}: bash_command seems to set a secret inline")
    assert not problems, f"airflow {airflow.version}, {path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_checks_catch_broken_dags(major, airflow_factory, tmp_path):
    """The import/hygiene machinery itself: a broken file and top-level work are seen."""
    (tmp_path / "broken_dag.py").write_text(
        "from airflow import DAG\nimport dwops_no_such_module_xyz\n")
    (tmp_path / "busy_dag.py").write_text(
        "import subprocess, pendulum\n"
        "try:\n    from airflow.sdk import DAG\nexcept ImportError:\n    from airflow import DAG\n"
        "subprocess.run(['true'])\n"
        "with DAG('busy', schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz='UTC')):\n"
        "    pass\n")
    env = airflow_factory(major, [tmp_path / "broken_dag.py", tmp_path / "busy_dag.py"])
    errors = env.list_import_errors()
    broken = [v for k, v in errors.items() if k.endswith("broken_dag.py")]
    assert broken and "dwops_no_such_module_xyz" in broken[0], errors
    report = env.dagbag_report()
    busy = _file_report(report, env.dags_folder / "busy_dag.py")
    assert busy["dag_ids"] == ["busy"]
    assert any("subprocess" in c and "true" in c for c in busy["top_level_calls"]), busy
    assert report["dags"]["busy"]["tasks"] == []


# --------------------------------------------------------------------------
# dwops_common.dwops_task under `airflow dags test`
# --------------------------------------------------------------------------

NOTHING_SCRIPT = r"""#!/bin/bash
# stand-in operator that has nothing to do: records its stdin and argv, exits 99
cat > "$DW_TEST_CAPTURE"
printf '%s\n' "$@" > "$DW_TEST_CAPTURE.argv"
echo "dw-nothing: nothing to do" >&2
echo '{"ok":true,"operator":"dw-nothing","action":"check","nothing_to_do":"no new data","result":{}}'
exit 99
"""


@pytest.fixture
def probe_bin(tmp_path):
    """A DWOPS_BIN directory with dw-probe and the dw-nothing stand-in."""
    if not PROBE.exists():
        pytest.fail(f"{PROBE} is missing: build it with `make unit`", pytrace=False)
    d = tmp_path / "bin"
    d.mkdir()
    (d / "dw-probe").symlink_to(PROBE)
    s = d / "dw-nothing"
    s.write_text(NOTHING_SCRIPT)
    s.chmod(0o755)
    return d


@pytest.fixture
def probe_bucket(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="dwops-probe")
    for key in ("p/0", "p/1", "q/2"):
        s3.put_object(Bucket="dwops-probe", Key=key, Body=b"x")
    return "dwops-probe"


def _assert_no_secret(result, secret):
    assert secret not in result.text, "the AWS secret leaked into Airflow's output or logs"


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_dwops_task_runs_operator(major, airflow_factory, bench, moto, probe_bin,
                                  probe_bucket, tmp_path):
    af = airflow_factory(major, TEST_DAGS)
    capture = tmp_path / "request.json"
    r = af.run_dag_test("dwops_test_probe", "2024-01-02", conf={"bucket": probe_bucket},
                        env={"DWOPS_BIN": str(probe_bin), "DW_TEST_CAPTURE": str(capture),
                             "DWOPS_PROBE_ENV_PREFIX": "q/"},
                        variables={"dwops_probe_prefix": "p/"})
    assert r.code == 0, r
    assert r.states == {"whoami": "success", "list": "success", "list_fallback": "success",
                        "nothing": "skipped", "after_nothing": "skipped"}, r
    assert r.dag_run_state == "success", r

    who = r.results["whoami"]
    assert who["ok"] is True and who["operator"] == "dw-probe" and who["action"] == "whoami", r
    assert who["result"]["account"] == "123456789012"
    # the XCom is the JSON result line the operator printed, unchanged
    dec = json.JSONDecoder()
    printed = [dec.raw_decode(line, line.index('{"ok"'))[0] for line in r.output.splitlines()
               if '{"ok"' in line and '"action":"whoami"' in line]
    assert who in printed

    listing = r.results["list"]["result"]
    assert listing["count"] == 2 and sorted(listing["keys"]) == ["p/0", "p/1"], r
    assert listing["pages"] == 1
    # no Variable dwops_probe_env_prefix: setting_template fell back to the env
    assert r.results["list_fallback"]["result"]["keys"] == ["q/2"], r

    # exit 99: skipped, no XCom; the request came on stdin, rendered; argv = action
    assert "nothing" not in r.xcom
    assert json.loads(capture.read_text()) == {
        "day": "2024-01-02", "note": "quote \" and $(dollar) `tick`"}
    assert Path(str(capture) + ".argv").read_text() == "check\n"
    _assert_no_secret(r, os.environ["AWS_SECRET_ACCESS_KEY"])


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_dwops_task_failure_fails_task(major, airflow_factory, bench, moto, probe_bin, tmp_path):
    af = airflow_factory(major, TEST_DAGS)
    # the operator fails (no such bucket): the task and the run fail
    r = af.run_dag_test("dwops_test_probe", "2024-01-04", conf={"bucket": "no-such-bucket"},
                        env={"DWOPS_BIN": str(probe_bin), "DW_TEST_CAPTURE": str(tmp_path / "req")})
    assert r.states["whoami"] == "success", r
    assert r.states["list"] == "failed", r
    assert r.dag_run_state == "failed", r
    assert not r.ok
    assert "NoSuchBucket" in r.text, r
    assert "list" not in r.xcom


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_dwops_task_aws_connection(major, airflow_factory, bench, moto, probe_bin):
    af = airflow_factory(major, TEST_DAGS)
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    conn = {"conn_type": "aws", "login": os.environ["AWS_ACCESS_KEY_ID"], "password": secret,
            "extra": {"region_name": "eu-west-1", "endpoint_url": moto.url}}
    # the worker has no AWS credentials or endpoint: only the connection does
    no_aws = {k: None for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                                "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")}
    r = af.run_dag_test("dwops_test_probe_conn", "2024-01-02",
                        env=dict(no_aws, DWOPS_BIN=str(probe_bin)),
                        connections={"dwops_test_aws": conn})
    assert r.ok and r.states == {"whoami": "success"}, r
    assert r.results["whoami"]["result"]["region"] == "eu-west-1", r
    assert r.results["whoami"]["result"]["account"] == "123456789012", r
    _assert_no_secret(r, secret)
