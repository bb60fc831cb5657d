"""The dwops_extract DAG under real Airflow 2 and 3 (`airflow dags test`):
`dw-extract run` against the bench MariaDB and moto's Kinesis and SSM, the
result in XCom, no new rows (exit 99) skipped."""

from __future__ import annotations

import json
import secrets as pysecrets
import subprocess

import pytest

from airflow_support import AIRFLOW_MAJORS, DAGS_DIR

DAG_FILE = DAGS_DIR / "dwops_extract.py"


@pytest.fixture
def source(bench, mysql):
    db = "dwxa_" + pysecrets.token_hex(4)
    mysql(f"CREATE DATABASE `{db}`")
    mysql(f"CREATE TABLE `{db}`.orders (id INT PRIMARY KEY, updated_at DATETIME(6) NOT NULL, "
          f"note VARCHAR(20), KEY (updated_at, id))")
    mysql(f"INSERT INTO `{db}`.orders VALUES (1, '2024-05-01 00:00:00.5', 'a'), "
          f"(2, '2024-05-01 00:00:00.5', 'b'), (3, '2024-05-02 00:00:00', NULL)")
    try:
        yield db
    finally:
        mysql(f"DROP DATABASE IF EXISTS `{db}`")


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_extract_dag_runs_then_skips(major, airflow_factory, bench, moto, run_op, source):
    assert run_op("dw-lock", "create-table", {}).code == 0
    k = moto.client("kinesis")
    k.create_stream(StreamName="orders", ShardCount=1)
    af = airflow_factory(major, [DAG_FILE, DAG_FILE.parent / "dwops_common.py"])
    probe = subprocess.run(
        [str(af.python), "-c", "import sys, json; sys.path.insert(0, sys.argv[1]); import dwops_extract as m; "
         "t = m.dag.timetable; print(json.dumps([m.dag.max_active_runs, getattr(t, \"summary\", None) or getattr(t, \"expression\", None) or t._expression]))", str(af.dags_folder)],
        capture_output=True, text=True, env=af.env(), timeout=120)
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert json.loads(probe.stdout.strip().splitlines()[-1]) == [1, "*/15 * * * *"]
    variables = {"dwops_extract_table": f"{source}.orders", "dwops_extract_stream": "orders",
                 "dwops_extract_mysql_endpoint": f"{bench.mysql_host}:{bench.mysql_port}",
                 "dwops_extract_mysql_user": "root", "dwops_extract_mysql_tls": "disabled"}
    env = {"DWOPS_EXTRACT_MYSQL_PASSWORD": bench.mysql_root_password, "DWOPS_EXTRACT_RETRIES": "0"}
    r = af.run_dag_test("dwops_extract", "2024-06-01T00:00:00+00:00", variables=variables, env=env)
    assert r.states == {"extract": "success"}, r.text[-6000:]
    res = r.results["extract"]["result"]
    assert res["rows"] == 3 and res["table"] == f"{source}.orders", res
    assert res["state_name"] == f"/dwops/extract/{source}.orders" and res["pages"] == 1
    p = moto.client("ssm").get_parameter(Name=f"/dwops/extract/{source}.orders")["Parameter"]
    assert json.loads(p["Value"])["tiebreak"] == "3"
    it = k.get_shard_iterator(StreamName="orders", ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert sorted(json.loads(x["Data"])["pk"] for x in k.get_records(ShardIterator=it)["Records"]) == [1, 2, 3]
    # nothing new: the task is skipped
    r = af.run_dag_test("dwops_extract", "2024-06-01T00:15:00+00:00", variables=variables, env=env)
    assert r.states == {"extract": "skipped"}, r.text[-6000:]
