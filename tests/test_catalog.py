"""dw-catalog against moto's Glue: a model applied to an empty catalog,
non-breaking and breaking changes, unmanaged tables left alone, drift,
Presto views (their base64 view text decoded and checked), remaps (refused
before anything changes when a column is missing; rolled back when a view
update fails, which the fault proxy makes happen), the deletion guard and
the reviewed-plan guard.  The views' SQL is parsed with sqlglot."""

from __future__ import annotations

import base64
import os
import copy
import json
from pathlib import Path

import pytest
import sqlglot

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "dw-catalog"


def orders_table(name="orders_v1", extra_columns=(), amount_type="decimal(10,2)", qty_type="int"):
    cols = [{"name": "id", "type": "bigint"},
            {"name": "customer", "type": "string"},
            {"name": "amount", "type": amount_type},
            {"name": "qty", "type": qty_type},
            {"name": "status", "type": "string"}]
    cols += [dict(c) for c in extra_columns]
    return {"table": name, "format": "parquet", "location": f"s3://lake/sales/{name}/",
            "columns": cols,
            "partitions": [{"name": "dt", "type": "string", "segment": 1}]}


def model(tables=None, views=True, binding="sales.orders_v1"):
    m = {"version": 1,
         "datasets": [{"name": "sales", "database": "sales",
                       "tables": tables if tables is not None else [orders_table()]}],
         "bindings": {"orders": binding}}
    if views:
        m["consumers"] = [
            {"name": "finance", "groups": [
                {"name": "finance_sales", "database": "finance",
                 "views": [{"name": "orders", "table": "orders",
                            "columns": ["id", {"name": "amount", "as": "amount_usd"}, "dt"],
                            "where": [{"column": "status", "op": "=", "value": "it's ok"}]}]}]},
            {"name": "ops", "groups": [
                {"name": "ops_sales", "database": "ops",
                 "views": [{"name": "orders_all", "table": "orders"}]}]},
        ]
    return m


def glue_tables(glue, db):
    try:
        pages = glue.get_paginator("get_tables").paginate(DatabaseName=db)
        return {t["Name"]: t for p in pages for t in p["TableList"]}
    except glue.exceptions.EntityNotFoundException:
        return {}


def presto_view(table):
    text = table["ViewOriginalText"]
    assert text.startswith("/* Presto View: ") and text.endswith(" */")
    return json.loads(base64.b64decode(text[len("/* Presto View: "):-3]))


def items(r, action=None):
    return sorted((i["kind"], i["target"], i["action"]) for i in r.data["items"]
                  if action is None or i["action"] == action)


@pytest.fixture
def glue(moto):
    return moto.client("glue")


@pytest.fixture
def applied(run_op, glue):
    r = run_op("dw-catalog", "apply", {"model": model()})
    assert r.code == 0, r
    return r


# ------------------------------------------------------------------ apply ---

def test_model_applied_to_empty_catalog(run_op, glue):
    plan = run_op("dw-catalog", "plan", {"model": model()})
    assert plan.code == 0, plan
    assert items(plan) == [("table", "sales.orders_v1", "create"),
                           ("view", "finance.orders", "create"),
                           ("view", "ops.orders_all", "create")]
    assert plan.data["summary"]["create"] == 3
    assert glue_tables(glue, "sales") == {}  # plan changed nothing

    r = run_op("dw-catalog", "apply", {"model": model(), "expect_plan": plan.data["plan_hash"]})
    assert r.code == 0, r
    assert all(i["status"] == "done" for i in r.data["items"])
    t = glue_tables(glue, "sales")["orders_v1"]
    assert t["Parameters"]["dwops_managed"] == "true" and len(t["Parameters"]["dwops_hash"]) == 64
    assert [c["Name"] for c in t["StorageDescriptor"]["Columns"]] == ["id", "customer", "amount", "qty", "status"]
    assert [k["Name"] for k in t["PartitionKeys"]] == ["dt"]
    assert t["StorageDescriptor"]["Location"] == "s3://lake/sales/orders_v1/"

    v = glue_tables(glue, "finance")["orders"]
    assert v["TableType"] == "VIRTUAL_VIEW" and v["Parameters"]["presto_view"] == "true"
    assert v["ViewExpandedText"] == "/* Presto View */"
    assert v["Parameters"]["dwops_target"] == "sales.orders_v1"
    assert v["Parameters"]["dwops_generation"] == "1"
    pv = presto_view(v)
    assert pv["catalog"] == "awsdatacatalog" and pv["schema"] == "finance"
    assert pv["columns"] == [{"name": "id", "type": "bigint"},
                             {"name": "amount_usd", "type": "decimal(10,2)"},
                             {"name": "dt", "type": "varchar"}]
    assert pv["originalSql"] == ('SELECT "id", "amount" AS "amount_usd", "dt" FROM "sales"."orders_v1" '
                                 "WHERE \"status\" = 'it''s ok'")
    # Presto's SQL as Athena would read it
    parsed = sqlglot.parse_one(pv["originalSql"], read="presto")
    assert parsed.find(sqlglot.exp.Table).name == "orders_v1"
    assert [c["Name"] for c in v["StorageDescriptor"]["Columns"]] == ["id", "amount_usd", "dt"]

    allv = presto_view(glue_tables(glue, "ops")["orders_all"])
    assert [c["name"] for c in allv["columns"]] == ["id", "customer", "amount", "qty", "status", "dt"]
    assert allv["columns"][3]["type"] == "integer"


def test_reapplied_model_is_nothing_to_do(run_op, applied):
    r = run_op("dw-catalog", "plan", {"model": model()})
    assert r.code == 99, r
    assert r.ok is True and r.data["items"] == []
    r = run_op("dw-catalog", "apply", {"model": model()})
    assert r.code == 99, r


def test_added_column_and_widened_type_are_not_breaking(run_op, glue, applied):
    m = model(tables=[orders_table(extra_columns=[{"name": "channel", "type": "string"}], qty_type="bigint")])
    r = run_op("dw-catalog", "plan", {"model": m})
    assert r.code == 0, r
    table = next(i for i in r.data["items"] if i["target"] == "sales.orders_v1")
    assert table["action"] == "update" and table["breaking"] is False and table["drift"] is False, table
    changes = {(c["change"], c.get("column")): c for c in table["changes"]}
    assert changes[("add_column", "channel")]["breaking"] is False
    assert changes[("change_type", "qty")]["from"] == "int" and changes[("change_type", "qty")]["to"] == "bigint"
    # the all-columns view follows the table
    assert ("view", "ops.orders_all", "update") in items(r)

    r = run_op("dw-catalog", "apply", {"model": m})
    assert r.code == 0, r
    cols = {c["Name"]: c["Type"] for c in glue_tables(glue, "sales")["orders_v1"]["StorageDescriptor"]["Columns"]}
    assert cols["channel"] == "string" and cols["qty"] == "bigint"
    assert run_op("dw-catalog", "plan", {"model": m}).code == 99


def test_removed_column_is_breaking_refused_then_applied(run_op, glue, applied):
    t = orders_table()
    t["columns"] = [c for c in t["columns"] if c["name"] != "customer"]
    m = model(tables=[t])
    before = glue_tables(glue, "sales")["orders_v1"]

    r = run_op("dw-catalog", "apply", {"model": m})
    assert r.code == 2, r
    assert r.error["code"] == "BreakingChange" and r.error["field"] == "allow_breaking"
    assert glue_tables(glue, "sales")["orders_v1"]["VersionId"] == before["VersionId"]

    r = run_op("dw-catalog", "apply", {"model": m, "allow_breaking": True})
    assert r.code == 0, r
    item = next(i for i in r.data["items"] if i["target"] == "sales.orders_v1")
    assert {"change": "remove_column", "column": "customer", "from": "string", "breaking": True} in item["changes"]
    cols = [c["Name"] for c in glue_tables(glue, "sales")["orders_v1"]["StorageDescriptor"]["Columns"]]
    assert "customer" not in cols


def test_narrowed_type_is_breaking(run_op, applied):
    r = run_op("dw-catalog", "plan", {"model": model(tables=[orders_table(amount_type="decimal(8,2)")])})
    assert r.code == 0, r
    item = next(i for i in r.data["items"] if i["target"] == "sales.orders_v1")
    assert item["breaking"] is True
    assert any(c["change"] == "change_type" and c["breaking"] for c in item["changes"])


def test_unmanaged_table_with_a_models_name_is_left_alone(run_op, glue):
    glue.create_database(DatabaseInput={"Name": "sales"})
    glue.create_table(DatabaseName="sales", TableInput={
        "Name": "orders_v1", "StorageDescriptor": {"Location": "s3://elsewhere/", "Columns": [{"Name": "x", "Type": "int"}]}})
    glue.create_table(DatabaseName="sales", TableInput={"Name": "handmade", "StorageDescriptor": {"Columns": []}})
    r = run_op("dw-catalog", "apply", {"model": model(views=False)})
    assert r.code == 99, r  # nothing it may change
    assert items(r) == [("table", "sales.orders_v1", "unmanaged")]
    t = glue_tables(glue, "sales")
    assert t["orders_v1"]["StorageDescriptor"]["Location"] == "s3://elsewhere/"
    assert "handmade" in t  # unmanaged and not in the model: never deleted


def test_drift_made_with_boto3_is_detected(run_op, glue, applied):
    t = glue_tables(glue, "sales")["orders_v1"]
    ti = {k: t[k] for k in ("Name", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters")}
    ti["StorageDescriptor"]["Location"] = "s3://lake/moved-by-hand/"
    glue.update_table(DatabaseName="sales", TableInput=ti)

    r = run_op("dw-catalog", "plan", {"model": model()})
    assert r.code == 0, r
    item = next(i for i in r.data["items"] if i["target"] == "sales.orders_v1")
    assert item["action"] == "update" and item["drift"] is True
    assert {"change": "location", "from": "s3://lake/moved-by-hand/", "to": "s3://lake/sales/orders_v1/",
            "breaking": True} in item["changes"]
    r = run_op("dw-catalog", "apply", {"model": model(), "allow_breaking": True})
    assert r.code == 2 and r.error["code"] == "Drift", r
    r = run_op("dw-catalog", "apply", {"model": model(), "allow_breaking": True, "overwrite_drift": True})
    assert r.code == 0, r
    assert glue_tables(glue, "sales")["orders_v1"]["StorageDescriptor"]["Location"] == "s3://lake/sales/orders_v1/"


def test_max_deletions_and_the_reviewed_plan(run_op, glue, applied):
    m = model(tables=[orders_table(), orders_table("orders_v2")])
    assert run_op("dw-catalog", "apply", {"model": m}).code == 0
    # dropping a table and a view: two deletions (the view's database stays in
    # the model, with no views: deletions are looked for only in its databases)
    small = model()
    small["consumers"][1]["groups"][0]["views"] = []
    plan = run_op("dw-catalog", "plan", {"model": small})
    assert plan.code == 0, plan
    assert items(plan, "delete") == [("table", "sales.orders_v2", "delete"),
                                     ("view", "ops.orders_all", "delete")]
    r = run_op("dw-catalog", "apply", {"model": small, "allow_breaking": True, "max_deletions": 1})
    assert r.code == 2 and r.error["code"] == "TooManyDeletions", r
    assert "orders_v2" in glue_tables(glue, "sales")
    r = run_op("dw-catalog", "apply", {"model": small, "allow_breaking": True,
                                       "expect_plan": "0" * 64})
    assert r.code == 2 and r.error["code"] == "PlanChanged", r
    r = run_op("dw-catalog", "apply", {"model": small, "allow_breaking": True,
                                       "expect_plan": plan.data["plan_hash"]})
    assert r.code == 0, r
    assert set(glue_tables(glue, "sales")) == {"orders_v1"}
    assert set(glue_tables(glue, "finance")) == {"orders"}
    assert glue_tables(glue, "ops") == {}
    # a database the model no longer names is out of scope: nothing there is deleted
    r = run_op("dw-catalog", "plan", {"model": model(views=False)})
    assert [i for i in r.data["items"] if i["action"] == "delete"] == [], r


# ------------------------------------------------------------------ remap ---

def make_v2(run_op, extra=(), drop=None):
    t2 = orders_table("orders_v2", extra_columns=extra)
    if drop:
        t2["columns"] = [c for c in t2["columns"] if c["name"] != drop]
    m = model(tables=[orders_table(), t2])
    r = run_op("dw-catalog", "apply", {"model": m})
    assert r.code == 0, r
    return m


def test_remap_points_every_view_at_the_new_table(run_op, glue, applied):
    m = make_v2(run_op, extra=[{"name": "channel", "type": "string"}])
    before = glue_tables(glue, "finance")["orders"]
    r = run_op("dw-catalog", "remap", {"model": m, "logical": "orders", "to": "sales.orders_v2"})
    assert r.code == 0, r
    assert r.data["generation"] == 2
    moved = {v["view"]: v for v in r.data["views"]}
    assert set(moved) == {"finance.orders", "ops.orders_all"}
    assert moved["finance.orders"]["from"] == "sales.orders_v1" and moved["finance.orders"]["to"] == "sales.orders_v2"
    assert moved["finance.orders"]["version_from"] == before["VersionId"]
    after = glue_tables(glue, "finance")["orders"]
    assert moved["finance.orders"]["version_to"] == after["VersionId"] != before["VersionId"]
    assert after["Parameters"]["dwops_target"] == "sales.orders_v2"
    assert after["Parameters"]["dwops_generation"] == "2"
    assert '"sales"."orders_v2"' in presto_view(after)["originalSql"]
    allv = presto_view(glue_tables(glue, "ops")["orders_all"])
    assert "channel" in [c["name"] for c in allv["columns"]]
    # the model still binds v1: a plan shows the views' target change as breaking
    plan = run_op("dw-catalog", "plan", {"model": m})
    view = next(i for i in plan.data["items"] if i["target"] == "finance.orders")
    assert view["breaking"] is True and any(c["change"] == "target" for c in view["changes"])
    m["bindings"]["orders"] = "sales.orders_v2"
    assert run_op("dw-catalog", "plan", {"model": m}).code == 99


def test_remap_to_a_table_missing_a_column_changes_nothing(run_op, glue, applied):
    m = make_v2(run_op, drop="amount")
    before = {n: t["VersionId"] for n, t in glue_tables(glue, "finance").items()}
    r = run_op("dw-catalog", "remap", {"model": m, "logical": "orders", "to": "sales.orders_v2"})
    assert r.code == 2, r
    assert r.error["code"] == "MissingColumn" and "amount" in r.error["message"]
    assert {n: t["VersionId"] for n, t in glue_tables(glue, "finance").items()} == before
    assert glue_tables(glue, "ops")["orders_all"]["Parameters"]["dwops_target"] == "sales.orders_v1"


def test_remap_rolls_back_when_the_second_view_fails(run_op, glue, applied, fault_proxy):
    m = make_v2(run_op)
    fault_proxy.set_rules([{"match": {"target": "AWSGlue.UpdateTable"}, "skip": 1, "times": 1,
                            "fault": "error", "status": 400, "code": "ConcurrentModificationException",
                            "message": "Update table failed due to concurrent modifications."}])
    r = run_op("dw-catalog", "remap", {"model": m, "logical": "orders", "to": "sales.orders_v2"},
               env=fault_proxy.env)
    assert r.code == 1, r
    assert r.error["code"] == "RemapRolledBack"
    assert r.data["views"][0]["rolled_back"] is True
    for db, name in (("finance", "orders"), ("ops", "orders_all")):
        t = glue_tables(glue, db)[name]
        assert t["Parameters"]["dwops_target"] == "sales.orders_v1", (db, name)
        assert '"orders_v1"' in presto_view(t)["originalSql"]


def test_concurrent_modification_on_apply_is_temporary(run_op, glue, applied, fault_proxy):
    m = model(tables=[orders_table(extra_columns=[{"name": "channel", "type": "string"}])])
    fault_proxy.set_rules([{"match": {"target": "AWSGlue.UpdateTable"}, "fault": "error", "status": 400,
                            "code": "ConcurrentModificationException", "message": "changed"}])
    r = run_op("dw-catalog", "apply", {"model": m}, env=fault_proxy.env)
    assert r.code == 75, r
    assert r.error["code"] == "ConcurrentModification"
    assert any(i.get("status") == "failed" for i in r.data["items"])


# ------------------------------------------------------------ views' SQL ---

def test_views_sql_parses_for_athena_and_snowflake(run_op):
    r = run_op("dw-catalog", "views", {"model": model()})
    assert r.code == 0, r
    v = next(x for x in r.data["views"] if x["view"] == "finance.orders")
    assert v["snowflake"].startswith("CREATE OR REPLACE VIEW finance.orders COPY GRANTS AS SELECT")
    for dialect, key in (("presto", "athena"), ("snowflake", "snowflake")):
        for x in r.data["views"]:
            tree = sqlglot.parse_one(x[key], read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
            assert isinstance(tree, sqlglot.exp.Create) and tree.args["kind"] == "VIEW"
    filt = sqlglot.parse_one(v["athena"], read="presto").find(sqlglot.exp.EQ)
    assert filt.expression.this == "it's ok"


# ---------------------------------------------------------------- refusals ---

@pytest.mark.parametrize("mutate,field", [
    (lambda m: m["datasets"][0]["tables"][0]["columns"][0].update(tipe="int"),
     "model.datasets[0].tables[0].columns[0].tipe"),
    (lambda m: m["datasets"][0].update(database="sales; DROP"), "model.datasets[0].database"),
    (lambda m: m["consumers"][0]["groups"][0]["views"][0].update(name='x"y'),
     "model.consumers[0].groups[0].views[0].name"),
    (lambda m: m["consumers"][0]["groups"][0]["views"][0]["where"][0].update(op="LIKE"),
     "model.consumers[0].groups[0].views[0].where[0].op"),
    (lambda m: m["bindings"].update(orders="sales.nope"), "model.bindings.orders"),
    (lambda m: m["consumers"][1]["groups"][0]["views"][0].update(table="unbound"), "model.bindings"),
])
def test_bad_models_are_refused_by_field(run_op, glue, mutate, field):
    m = model()
    mutate(m)
    r = run_op("dw-catalog", "apply", {"model": m})
    assert r.code == 2, r
    assert r.error["field"] == field, r.error
    assert glue_tables(glue, "sales") == {}


def test_model_file_with_a_duplicate_key_is_refused(run_op, tmp_path):
    f = tmp_path / "model.json"
    text = json.dumps(model())
    f.write_text(text[:-1] + ', "version": 2}')
    r = run_op("dw-catalog", "plan", {"model_file": str(f)})
    assert r.code == 2, r
    assert "version" in r.error["message"] or r.error["field"].endswith("version")


def test_examples_are_valid_requests(run_op, glue):
    for f in sorted(EXAMPLES.glob("*.json")):
        req = json.loads(f.read_text())
        if "model_file" in req:
            req["model_file"] = str(REPO / req["model_file"])
        req.pop("expect_plan", None)
        r = run_op("dw-catalog", None, req)
        assert r.code in (0, 2, 99), (f, r)
        if r.code == 2:  # a remap of an empty catalog: refused, not malformed
            assert r.error["code"] in ("TableNotFound", "ViewNotFound"), (f, r)


# ----------------------------------------------------------------- Airflow ---

@pytest.mark.parametrize("major", __import__("airflow_support").AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_dag_applies_non_breaking_and_fails_on_breaking(major, airflow_factory, moto, tmp_path):
    from airflow_support import DAGS_DIR
    glue = moto.client("glue")
    dag = DAGS_DIR / "dwops_catalog.py"
    af = airflow_factory(major, [dag, DAGS_DIR / "dwops_common.py"])
    f = tmp_path / "catalog.json"
    f.write_text(json.dumps(model()))
    variables = {"dwops_catalog_model_file": str(f)}
    # the breaking run fails its apply task: no retry (and its delay) in the test
    env = {"DWOPS_CATALOG_RETRIES": "0"}

    r = af.run_dag_test("dwops_catalog", "2024-06-01T10:00:00+00:00", variables=variables, env=env)
    assert r.states == {"plan": "success", "apply": "success"}, r
    assert r.results["apply"]["result"]["summary"]["create"] == 3
    assert set(glue_tables(glue, "finance")) == {"orders"}

    # nothing differs: plan skips, and apply with it
    r = af.run_dag_test("dwops_catalog", "2024-06-01T11:00:00+00:00", variables=variables, env=env)
    assert r.states == {"plan": "skipped", "apply": "skipped"}, r

    # a column added (applied) and one removed (breaking: left, the task fails)
    t = orders_table(extra_columns=[{"name": "channel", "type": "string"}])
    t["columns"] = [c for c in t["columns"] if c["name"] != "customer"]
    t2 = orders_table("orders_v9")
    f.write_text(json.dumps(model(tables=[t, t2])))
    r = af.run_dag_test("dwops_catalog", "2024-06-01T12:00:00+00:00", variables=variables, env=env)
    assert r.states["plan"] == "success" and r.states["apply"] == "failed", r
    assert "BreakingChangesPending" in r.text
    tables = glue_tables(glue, "sales")
    assert "orders_v9" in tables  # the non-breaking create went through
    cols = [c["Name"] for c in tables["orders_v1"]["StorageDescriptor"]["Columns"]]
    assert "customer" in cols and "channel" not in cols  # the breaking update did not


# ------------------------------------------------------------------ crash ---

def test_kill9_during_apply_then_rerun_finishes(run_op, glue, tmp_path):
    """kill -9 at random moments of an apply, then a re-run: the catalog ends
    exactly as the model says, with nothing left half-done or as drift."""
    import random
    import signal
    import subprocess
    import time
    from conftest import operator_path

    tables = [orders_table(f"t{i:03d}") for i in range(120)]
    m = model(tables=tables, binding="sales.t000")
    f = tmp_path / "model.json"
    f.write_text(json.dumps(m))
    req = tmp_path / "apply.json"
    req.write_text(json.dumps({"action": "apply", "model_file": str(f), "concurrency": 2}))
    rnd = random.Random(1818)
    kills = 0
    # On an idle machine a whole apply can end within the kill window; once
    # one has, the next has nothing to do.  So an apply that ended is undone
    # with boto3 (the work is there again) and the window is halved, up to
    # 12 attempts, until 2 kills landed.
    window = 0.6
    for _ in range(12):
        p = subprocess.Popen([str(operator_path("dw-catalog")), "--request", str(req)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        time.sleep(rnd.uniform(0.05, window))
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            kills += 1
        p.communicate()
        if p.returncode == 0:
            for db in ("sales", "finance", "ops"):
                names = list(glue_tables(glue, db))
                for i in range(0, len(names), 100):
                    glue.batch_delete_table(DatabaseName=db, TablesToDelete=names[i:i + 100])
            window = max(0.1, window / 2)
        if kills >= 2 and _ >= 5:
            break
    assert kills >= 2, "every apply ended before it could be killed"
    r = run_op("dw-catalog", None, json.loads(req.read_text()), timeout=300)
    assert r.code in (0, 99), r
    plan = run_op("dw-catalog", "plan", {"model_file": str(f)})
    assert plan.code == 99, plan  # nothing missing, nothing drifted
    assert len(glue_tables(glue, "sales")) == 120
    assert set(glue_tables(glue, "finance")) == {"orders"} and set(glue_tables(glue, "ops")) == {"orders_all"}
