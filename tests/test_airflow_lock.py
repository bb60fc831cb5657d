"""The dwops_hydration DAG under real Airflow 2 and 3 (`airflow dags test`):
a read lease held across its tasks, renewed while they run, released at the
end even when a step failed.  The lock item is checked with boto3."""

from __future__ import annotations

import json

import pytest

from airflow_support import AIRFLOW_MAJORS, DAGS_DIR

DAG_FILE = DAGS_DIR / "dwops_hydration.py"
TABLE = "dwops-locks"
RESOURCE = "lake/events"

# The copy step checks, from inside the task, that its lease is current and
# that the item lists it; it outlives one ttl, so it is renewed meanwhile.
COPY = ('printf \'{"resource":"%s","holder":"%s"}\' "$DW_LOCK_RESOURCE" "$DW_LOCK_HOLDER" '
        '| "$DWOPS_BIN/dw-lock" check > {out}/check.json && sleep 3.5 && '
        'printf \'{"resource":"%s"}\' "$DW_LOCK_RESOURCE" | "$DWOPS_BIN/dw-lock" status > {out}/status.json')


def make_table(moto):
    ddb = moto.client("dynamodb")
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "resource", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "resource", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return ddb


def readers(ddb):
    it = ddb.get_item(TableName=TABLE, Key={"resource": {"S": RESOURCE}}, ConsistentRead=True)["Item"]
    return it["readers"]["M"]


def last_line(path):
    return json.loads(path.read_text().splitlines()[-1])


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_hydration_holds_a_read_lease_across_its_tasks(major, airflow_factory, bench, moto, tmp_path):
    ddb = make_table(moto)
    af = airflow_factory(major, [DAG_FILE, DAG_FILE.parent / "dwops_common.py"])
    variables = {"dwops_hydration_resource": RESOURCE, "dwops_hydration_ttl_s": "2",
                 "dwops_hydration_copy_command": COPY.replace("{out}", str(tmp_path)),
                 "dwops_hydration_verify_command": f"test -s {tmp_path}/status.json"}
    r = af.run_dag_test("dwops_hydration", "2024-06-01T00:00:00+00:00", variables=variables)
    assert r.states == {"acquire_read_lock": "success", "copy": "success", "verify": "success",
                        "release_read_lock": "success", "fail_if_a_step_failed": "skipped"}, r.text[-6000:]
    lease = r.results["acquire_read_lock"]["result"]["lease"]
    assert lease["mode"] == "read" and lease["holder"].startswith("hydrate-dwops_hydration-")
    check = last_line(tmp_path / "check.json")
    assert check["ok"] is True and check["result"]["current"] is True
    assert check["result"]["lease"]["lease_id"] == lease["lease_id"]
    st = last_line(tmp_path / "status.json")["result"]
    assert [(h["holder"], h["mode"], h["live"]) for h in st["holders"]] == [(lease["holder"], "read", True)]
    copy = r.results["copy"]["result"]
    assert copy["joined"] is True and copy["renewals"] >= 2 and copy["exit_code"] == 0
    assert r.results["release_read_lock"]["result"]["released"] is True
    assert readers(ddb) == {}


@pytest.mark.parametrize("major", [3], ids=lambda m: f"airflow{m}")
def test_hydration_releases_its_lease_when_a_step_fails(major, airflow_factory, bench, moto):
    ddb = make_table(moto)
    af = airflow_factory(major, [DAG_FILE, DAG_FILE.parent / "dwops_common.py"])
    variables = {"dwops_hydration_resource": RESOURCE, "dwops_hydration_ttl_s": "60",
                 "dwops_hydration_copy_command": "echo copy breaks >&2; exit 3"}
    r = af.run_dag_test("dwops_hydration", "2024-06-01T00:00:00+00:00", variables=variables)
    assert r.states == {"acquire_read_lock": "success", "copy": "failed", "verify": "upstream_failed",
                        "release_read_lock": "success", "fail_if_a_step_failed": "failed"}, r.text[-6000:]
    assert r.dag_run_state == "failed"
    assert r.results["release_read_lock"]["result"]["released"] is True
    assert readers(ddb) == {}


COMPACTION_DAG = DAGS_DIR / "dwops_compaction.py"


@pytest.mark.parametrize("major", [3], ids=lambda m: f"airflow{m}")
def test_daily_compaction_runs_under_the_write_lease(major, airflow_factory, bench, moto):
    import io
    import fastavro
    ddb = make_table(moto)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="lake")
    schema = fastavro.parse_schema({"type": "record", "name": "vehicle",
                                    "fields": [{"name": "id", "type": "long"}]})
    for i in range(4):
        bio = io.BytesIO()
        fastavro.writer(bio, schema, [{"id": i * 10 + k} for k in range(10)])
        s3.put_object(Bucket="lake", Key=f"ev/vehicle/2019/06/01/f{i}.avro", Body=bio.getvalue())
    af = airflow_factory(major, [COMPACTION_DAG, DAG_FILE.parent / "dwops_common.py"])
    variables = {"dwops_compaction_bucket": "lake", "dwops_compaction_prefix": "ev",
                 "dwops_compaction_target_mb": "16", "dwops_compaction_resource": RESOURCE}
    env = {"DWOPS_COMPACTION_RETRIES": "0"}
    r = af.run_dag_test("dwops_compaction", "2024-06-01T00:00:00+00:00", variables=variables, env=env)
    assert r.states == {"compact": "success"}, r.text[-6000:]
    res = r.results["compact"]["result"]
    assert res["exit_code"] == 0 and res["lease"]["mode"] == "write" and res["released"] is True
    assert '"merges":1' in r.text and '"files_in":4' in r.text
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]]
    assert len(keys) == 1 and "compacted-" in keys[0]
    got = sorted(rec["id"] for rec in fastavro.reader(io.BytesIO(
        s3.get_object(Bucket="lake", Key=keys[0])["Body"].read())))
    assert got == list(range(40))
    it = ddb.get_item(TableName=TABLE, Key={"resource": {"S": RESOURCE}}, ConsistentRead=True)["Item"]
    assert "writer" not in it and it["fence"]["N"] == "1"
    # the next day nothing is left to merge: skipped
    r = af.run_dag_test("dwops_compaction", "2024-06-02T00:00:00+00:00", variables=variables, env=env)
    assert r.states == {"compact": "skipped"}, r.text[-6000:]
