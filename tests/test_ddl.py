"""dw-ddl: generated DDL parses with sqlglot in its dialect; inference from
sample files in moto's S3; Glue and Athena apply/drop against moto."""

from __future__ import annotations

import copy
import json
import re
import zipfile
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples" / "dw-ddl").glob("*.json"))
BUCKET = "lake-bucket"

# Statement kinds sqlglot 30.30 only ever parses as a generic exp.Command in
# a dialect, whatever the syntax around them (checked against its parser):
#   snowflake DROP EXTERNAL TABLE - sqlglot's DROP knows no EXTERNAL kind;
#   plain DROP TABLE is not valid for a Snowflake external table, so the
#   statement has to be DROP EXTERNAL TABLE.
COMMAND_ONLY = {("snowflake", "DROP EXTERNAL TABLE")}

SQL_DIALECTS = ("snowflake", "athena", "redshift")


def parse(sql: str, dialect: str) -> exp.Expression:
    """Parse one statement natively (error_level RAISE, no Command fallback
    except the documented statement kinds)."""
    trees = sqlglot.parse(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
    assert len(trees) == 1, f"one statement expected:\n{sql}"
    tree = trees[0]
    if isinstance(tree, exp.Command):
        head = " ".join(sql.split()[:3]).upper()
        assert (dialect, head) in COMMAND_ONLY, f"{dialect} parsed as Command:\n{sql}"
        return tree
    # a clause sqlglot does not know must not have been read as a query
    if isinstance(tree, exp.Create):
        assert tree.args.get("expression") is None, f"misparsed CREATE:\n{sql}"
    return tree


def check_statements(res, dialect):
    assert res.code == 0, res
    stmts = res.data["statements"]
    assert stmts, res
    return [(s["kind"], parse(s["sql"], dialect)) for s in stmts]


def create_column_names(tree: exp.Create):
    schema = tree.this
    assert isinstance(schema, exp.Schema), tree
    return [c.this.name for c in schema.expressions if isinstance(c, exp.ColumnDef)]


def example(name):
    return json.loads((REPO / "examples" / "dw-ddl" / name).read_text())


def generate(run_op, req, action="generate"):
    req = dict(req)
    req["action"] = action
    return run_op("dw-ddl", action, req)


# ------------------------------------------------------------ sqlglot ---


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_statements_parse_in_their_dialect(run_op, path):
    req = json.loads(path.read_text())
    req.pop("infer", None)
    if req["action"] == "drop":
        return
    if req["action"] == "landing":
        check_landing(run_op("dw-ddl", "landing", req), req)
        return
    if req["dialect"] == "glue":
        req.setdefault("columns", [{"name": "id", "type": "string"}])
        res = generate(run_op, req)
        assert res.code == 0, res
        assert res.data["statements"] == []
        assert res.data["table_input"]["StorageDescriptor"]["Columns"]
        return
    assert req["dialect"] in SQL_DIALECTS
    if req["action"] == "apply":
        req["dry_run"] = True
    check_statements(run_op("dw-ddl", req["action"], req), req["dialect"])
    drop = dict(req, action="drop", dry_run=True)
    check_statements(run_op("dw-ddl", "drop", drop), req["dialect"])


def _matrix_request(dialect, fmt, replace):
    cols = [{"name": "id", "type": "bigint"}, {"name": "on", "type": "string"},
            {"name": "at", "type": "timestamp"}, {"name": "amount", "type": "decimal(12,2)"},
            {"name": "ok", "type": "boolean"}, {"name": "f", "type": "float"},
            {"name": "d", "type": "date"}, {"name": "n", "type": "int"}]
    if fmt != "csv":
        cols.append({"name": "lat", "type": "double", "path": "geo.lat"})
    req = {"dialect": dialect, "database": "db", "schema": "sch", "table": "t", "format": fmt,
           "location": "s3://lake-bucket/t/", "columns": cols,
           "partitions": [{"name": "dt", "type": "date", "key": "dt", "range": "2019-01-01,NOW"},
                          {"name": "h", "type": "int", "range": "0,23"},
                          {"name": "src", "type": "string", "values": ["a", "b"]}],
           "options": {"replace": replace, "comment": "c"}}
    if fmt == "csv":
        req.update(delimiter="\t", header=True)
    if dialect == "snowflake":
        req.update(stage="db.sch.st/t/", file_format={"name": "ff", "create": True})
        req["partitions"][1]["substring"] = {"start": 1, "length": 2}
        for p in req["partitions"]:
            p.pop("range", None)
            p.pop("values", None)
        req["options"].update(pattern=".*", aws_sns_topic="arn:aws:sns:us-east-1:1:t")
    if dialect == "redshift":
        for p in req["partitions"]:
            p.pop("range", None)
            p.pop("values", None)
        req["options"] = {"replace": replace, "table_properties": {"numRows": 10}}
        req["add_partitions"] = [{"dt": "2019-06-01", "h": 3, "src": "a"}]
    if dialect == "athena" and replace:
        req["options"]["projection"] = False
        req["add_partitions"] = [{"dt": "2019-06-01", "h": 3, "src": "a"}]
    return req


@pytest.mark.parametrize("replace", [False, True], ids=["keep", "replace"])
@pytest.mark.parametrize("fmt", ["json", "avro", "parquet", "csv"])
@pytest.mark.parametrize("dialect", SQL_DIALECTS)
def test_every_dialect_and_format_parses(run_op, dialect, fmt, replace):
    req = _matrix_request(dialect, fmt, replace)
    kinds = [k for k, _ in check_statements(generate(run_op, req), dialect)]
    assert "create_table" in kinds
    if replace and dialect != "snowflake":
        assert kinds[0] == "drop_table"
    if dialect == "redshift" or (dialect == "athena" and replace):
        assert kinds[-1] == "add_partition"


def test_lake_events_snowflake_table(run_op):
    res = generate(run_op, example("snowflake-lake-events.json"))
    [(kind, tree)] = check_statements(res, "snowflake")
    sql = res.data["statements"][0]["sql"]
    assert kind == "create_table"
    assert "on_part VARCHAR AS (SPLIT_PART(METADATA$FILENAME, '/', 2))" in sql
    assert ("date_part DATE AS (TO_DATE(SUBSTR(SPLIT_PART(METADATA$FILENAME, '/', 6), 1, 10), "
            "'YYYY-MM-DD'))") in sql
    for name in ("event", "on", "at", "organization_id", "id", "lat", "lng", "start", "finish"):
        assert f'(value:"{name}"::' in sql, name
    assert "PARTITION BY (on_part, date_part)" in sql
    assert "LOCATION = @demo_stage_s3\n" in sql
    assert "AUTO_REFRESH = TRUE" in sql
    assert "FILE_FORMAT = (TYPE = AVRO)" in sql
    assert [n.lower() for n in create_column_names(tree)] == [
        "on_part", "date_part", "event", "on", "at", "organization_id", "id", "lat", "lng",
        "start", "finish"]
    props = {type(p).__name__ for p in tree.args["properties"].expressions}
    assert {"PartitionedByProperty", "LocationProperty", "FileFormatProperty"} <= props


HOSTILE = ["on", "at", "start", "columns", "a.b", "with space", 'quo"te', "back`tick",
           "x'); DROP TABLE y; --", "select", "Mixed_Case", "ünï"]


@pytest.mark.parametrize("dialect", SQL_DIALECTS)
def test_hostile_names_are_quoted(run_op, dialect):
    req = {
        "dialect": dialect, "database": "db", "schema": "weird schema", "table": 'ev"en`ts',
        "format": "json", "location": "s3://lake-bucket/it's\\here/",
        "columns": [{"name": n, "type": "string"} for n in HOSTILE],
        "options": {"comment": "it's a \\ test"} if dialect != "redshift" else {},
    }
    if dialect == "snowflake":
        req["stage"] = "st"
        req.pop("location")
    stmts = check_statements(generate(run_op, req), dialect)
    [tree] = [t for k, t in stmts if k == "create_table"]
    assert create_column_names(tree) == HOSTILE
    assert tree.this.this.name == 'ev"en`ts'
    if dialect != "snowflake":
        loc = tree.find(exp.LocationProperty)
        assert loc.this.name == "s3://lake-bucket/it's\\here/"


def test_hostile_json_paths_in_snowflake(run_op):
    req = {"dialect": "snowflake", "table": "t", "stage": "st",
           "columns": [{"name": "a", "type": "string", "path": "x'y.on"},
                       {"name": "b", "type": "int", "path": 'q"q\\'}]}
    [(_, tree)] = check_statements(generate(run_op, req), "snowflake")
    assert create_column_names(tree) == ["a", "b"]
    assert not list(tree.find_all(exp.Drop))


def test_athena_projection_and_nested_structs(run_op):
    res = generate(run_op, example("athena-json-projection.json"))
    [(_, tree)] = check_statements(res, "athena")
    props = {p.name: p.text("value") for p in tree.find_all(exp.Property) if p.name}
    assert props["projection.enabled"] == "true"
    assert props["projection.dt.type"] == "date"
    assert props["projection.dt.range"] == "2019-01-01,NOW"
    assert props["projection.hour.type"] == "integer"
    assert props["storage.location.template"] == \
        "s3://lake-bucket/clicks/dt=${dt}/hour=${hour}/"
    sql = res.data["statements"][0]["sql"]
    assert "`data` struct<`location`:struct<`lat`:double,`lng`:double>>" in sql
    assert "'mapping.user_agent'='ua'" in sql


def test_redshift_partitions_and_properties(run_op):
    stmts = check_statements(generate(run_op, example("redshift-parquet-partitions.json")),
                             "redshift")
    assert [k for k, _ in stmts] == ["create_table", "add_partition", "add_partition"]
    assert all(isinstance(t, exp.Alter) for _, t in stmts[1:])
    stmts = check_statements(generate(run_op, example("redshift-csv.json")), "redshift")
    assert [k for k, _ in stmts] == ["create_table", "set_table_properties"]


def test_replace_drops_first(run_op):
    req = dict(example("athena-csv-header.json"), options={"replace": True})
    stmts = check_statements(generate(run_op, req), "athena")
    assert [k for k, _ in stmts] == ["drop_table", "create_table"]


# ------------------------------------------------------------ refusals ---


def _lake():
    return copy.deepcopy(example("athena-json-projection.json"))


@pytest.mark.parametrize("change,field", [
    (lambda r: r["columns"].append({"name": "x", "type": "varchar2"}), "columns[7].type"),
    (lambda r: r.pop("location"), "location"),
    (lambda r: r["partitions"][0].update(segment=0), "partitions[0].segment"),
    (lambda r: r["partitions"][0].update(segment=99), "partitions[0].segment"),
    (lambda r: r["partitions"][1].update(segment=3), "partitions[1].segment"),
    (lambda r: r["partitions"][0].update(substring={"start": 1, "length": 4}),
     "partitions[0].substring"),
    (lambda r: r["partitions"][0].pop("range"), "partitions[0]"),
    (lambda r: r.update(dialect="oracle"), "dialect"),
    (lambda r: r.update(format="xml"), "format"),
    (lambda r: r.update(colums=[]), "colums"),
    (lambda r: r["columns"].append({"name": "ID", "type": "int"}), "columns[7].name"),
    (lambda r: r["columns"].append({"name": "z", "type": "int", "path": "data.location"}),
     "columns[7].path"),
    (lambda r: r["columns"].append({"name": "t\nab", "type": "int"}), "columns[7].name"),
    (lambda r: r.update(location="http://x/"), "location"),
    (lambda r: r["columns"].__setitem__(0, {"name": "id", "type": "decimal(50,2)"}),
     "columns[0].type"),
])
def test_bad_requests_exit_2(run_op, change, field):
    req = _lake()
    change(req)
    res = generate(run_op, req)
    assert res.code == 2, res
    assert res.error["field"] == field, res


def test_snowflake_needs_stage_and_apply_is_generate_only(run_op):
    req = example("snowflake-lake-events.json")
    res = run_op("dw-ddl", "apply", dict(req, action="apply"))
    assert res.code == 2 and res.error["field"] == "dialect", res
    res = generate(run_op, {k: v for k, v in req.items() if k != "stage"})
    assert res.code == 2 and res.error["field"] == "stage", res
    bad = copy.deepcopy(req)
    bad["partitions"][0]["segment"] = 65
    res = generate(run_op, bad)
    assert res.code == 2 and res.error["field"] == "partitions[0].segment", res


# ------------------------------------------------------------ inference ---


JSON_LINES_1 = [
    {"id": 1, "event": "click", "at": "2019-06-01T15:04:05Z", "day": "2019-06-01",
     "score": 1, "data": {"location": {"lat": 52.5, "lng": 13}}, "tag": None},
    {"id": 2, "event": "view", "at": "2019-06-01 15:04:06.123+02:00", "day": "2019-06-02",
     "score": 2.5, "data": {"location": {"lat": 48, "lng": 2.35}}, "tag": None, "ok": True},
]
JSON_LINES_2 = [
    {"id": 3, "event": "click", "at": "2019-06-02T00:00:00Z", "day": "2019-06-03",
     "score": None, "data": {"location": None}, "tag": "x", "mixed": 1},
    {"id": 4, "event": None, "at": "2019-06-02T01:00:00Z", "day": "2019-06-04",
     "data": {"location": {"lat": 1.5, "lng": 1.5}}, "mixed": "one", "ok": False},
]


def put_lines(s3, key, rows, tail=""):
    body = "\n".join(json.dumps(r) for r in rows) + "\n" + tail
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


@pytest.fixture
def s3(moto):
    c = moto.client("s3")
    c.create_bucket(Bucket=BUCKET)
    return c


def test_infer_json_lines(run_op, s3):
    put_lines(s3, "events-json/dt=2019-06-01/a.json", JSON_LINES_1, tail="not json\n")
    put_lines(s3, "events-json/dt=2019-06-02/b.json", JSON_LINES_2)
    req = example("glue-json-infer.json")
    req["dialect"] = "athena"
    res = generate(run_op, req)
    assert res.code == 0, res
    cols = {c["name"]: c for c in res.data["columns"]}
    want = {
        "id": ("bigint", 4), "event": ("string", 4), "at": ("timestamp", 4),
        "day": ("date", 4), "score": ("double", 3), "data_location_lat": ("double", 3),
        "data_location_lng": ("double", 3), "tag": ("string", 3), "ok": ("boolean", 2),
        "mixed": ("string", 2),
    }
    assert {n: (c["type"], c["present"]) for n, c in cols.items()} == want
    assert cols["data_location_lat"]["path"] == "data.location.lat"
    assert res.data["inferred"] == {"from": "s3://lake-bucket/events-json/", "files": 2,
                                    "records": 4, "bad_lines": 1}
    [(_, tree)] = check_statements(res, "athena")
    assert "`data` struct<`location`:struct<`lat`:double,`lng`:double>>" in \
        res.data["statements"][0]["sql"]


def test_infer_limits_and_explicit_columns_win(run_op, s3):
    put_lines(s3, "events-json/a.json", JSON_LINES_1)
    put_lines(s3, "events-json/b.json", JSON_LINES_2)
    req = example("glue-json-infer.json")
    req.update(dialect="snowflake", stage="st", partitions=[],
               columns=[{"name": "id", "type": "string"}],
               infer={"max_records": 1})
    res = generate(run_op, req)
    assert res.code == 0, res
    assert res.data["inferred"]["records"] == 1
    assert res.data["inferred"]["files"] == 1
    cols = res.data["columns"]
    assert cols[0] == {"name": "id", "type": "string", "path": "id"}
    assert "mixed" not in {c["name"] for c in cols}
    check_statements(res, "snowflake")


def zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def avro_container(schema: dict) -> bytes:
    """An Avro object container file with no blocks: the header is all
    inference reads."""
    def bts(b: bytes) -> bytes:
        return zigzag(len(b)) + b
    meta = {b"avro.schema": json.dumps(schema).encode(), b"avro.codec": b"null"}
    out = b"Obj\x01" + zigzag(len(meta))
    for k, v in meta.items():
        out += bts(k) + bts(v)
    return out + zigzag(0) + b"S" * 16


def test_infer_avro_schema(run_op, s3):
    schema = {"type": "record", "name": "event", "fields": [
        {"name": "event", "type": "string"},
        {"name": "on", "type": ["null", "string"]},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "organization_id", "type": "long"},
        {"name": "n", "type": "int"},
        {"name": "lat", "type": ["null", "double"]},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                     "precision": 10, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "geo", "type": {"type": "record", "name": "geo", "fields": [
            {"name": "lng", "type": "float"}]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ]}
    s3.put_object(Bucket=BUCKET, Key="events-avro/dt=2019-06-01/a.avro",
                  Body=avro_container(schema))
    req = example("glue-avro.json")
    req.pop("columns")
    req.update(dialect="athena", infer={})
    res = generate(run_op, req)
    assert res.code == 0, res
    got = {c["name"]: c["type"] for c in res.data["columns"]}
    assert got == {"event": "string", "on": "string", "at": "timestamp",
                   "organization_id": "bigint", "n": "int", "lat": "double",
                   "amount": "decimal(10,2)", "day": "date", "geo_lng": "float",
                   "tags": "string"}
    assert all("present" not in c for c in res.data["columns"])
    check_statements(res, "athena")


def test_infer_leaves_out_keys_the_table_cannot_take(run_op, s3):
    put_lines(s3, "events-json/a.json", [{"id": 1, "ID": 2, "": 3, "a\tb": 4, "ok": "x"}])
    res = generate(run_op, example("glue-json-infer.json"))
    assert res.code == 0, res
    assert [c["name"] for c in res.data["columns"]] == ["id", "ok"]
    assert res.stderr.count("left out") == 3, res.stderr


@pytest.mark.parametrize("infer,field", [({"max_files": 0}, "infer.max_files"),
                                         ({"max_files": 2 ** 40}, "infer.max_files"),
                                         ({"max_records": 0}, "infer.max_records"),
                                         ({"location": "s3:/x"}, "infer.location")])
def test_infer_settings_checked(run_op, s3, infer, field):
    res = generate(run_op, dict(example("glue-json-infer.json"), infer=infer))
    assert res.code == 2 and res.error["field"] == field, res


def test_infer_without_files_fails(run_op, s3):
    res = generate(run_op, example("glue-json-infer.json"))
    assert res.code == 1 and res.error["code"] == "NoFiles", res


# ------------------------------------------------------------ apply ---


def test_glue_apply_update_and_drop(run_op, s3, moto):
    glue = moto.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    put_lines(s3, "events-json/dt=2019-06-01/a.json", JSON_LINES_1)
    req = example("glue-json-infer.json")
    res = run_op("dw-ddl", "apply", req)
    assert res.code == 0, res
    assert res.data["applied"] == [{"kind": "create_table", "table": "events_json"}]
    t = glue.get_table(DatabaseName="lake", Name="events_json")["Table"]
    sd = t["StorageDescriptor"]
    assert sd["Location"] == "s3://lake-bucket/events-json/"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    cols = {c["Name"]: c["Type"] for c in sd["Columns"]}
    assert cols["data"] == "struct<location:struct<lat:double,lng:double>>"
    assert cols["at"] == "timestamp" and cols["id"] == "bigint"
    assert t["PartitionKeys"] == [{"Name": "dt", "Type": "date"}]
    p = t["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["projection.dt.type"] == "date"
    assert p["projection.dt.range"] == "2019-01-01,NOW"
    assert p["projection.dt.format"] == "yyyy-MM-dd"
    assert p["storage.location.template"] == "s3://lake-bucket/events-json/dt=${dt}/"
    assert t["TableType"] == "EXTERNAL_TABLE"

    # applying again (a column added) updates the table in place
    req2 = dict(req, columns=[{"name": "extra", "type": "string"}])
    res = run_op("dw-ddl", "apply", req2)
    assert res.code == 0, res
    assert res.data["applied"][0]["kind"] == "update_table"
    t = glue.get_table(DatabaseName="lake", Name="events_json")["Table"]
    assert "extra" in {c["Name"] for c in t["StorageDescriptor"]["Columns"]}

    drop = example("glue-drop.json")
    res = run_op("dw-ddl", "drop", drop)
    assert res.code == 0, res
    assert res.data["applied"] == [{"kind": "delete_table", "existed": True}]
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName="lake", Name="events_json")
    res = run_op("dw-ddl", "drop", drop)
    assert res.code == 0, res
    assert res.data["applied"] == [{"kind": "delete_table", "existed": False}]


def test_glue_avro_schema_literal(run_op, moto):
    glue = moto.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    res = run_op("dw-ddl", "apply", example("glue-avro.json"))
    assert res.code == 0, res
    t = glue.get_table(DatabaseName="lake", Name="events_avro")["Table"]
    serde = t["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
    schema = json.loads(serde["Parameters"]["avro.schema.literal"])
    assert [f["name"] for f in schema["fields"]] == ["event", "organization_id", "lat", "at"]
    assert schema["fields"][3]["type"][1] == {"type": "long", "logicalType": "timestamp-millis"}


def test_glue_apply_dry_run_changes_nothing(run_op, moto):
    glue = moto.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    res = run_op("dw-ddl", "apply", dict(example("glue-avro.json"), dry_run=True))
    assert res.code == 0 and res.data["dry_run"] is True and res.data["applied"] == [], res
    assert glue.get_tables(DatabaseName="lake")["TableList"] == []


def test_athena_apply_and_drop(run_op, moto):
    req = example("athena-apply.json")
    res = run_op("dw-ddl", "apply", req)
    assert res.code == 0, res
    [applied] = res.data["applied"]
    assert applied["kind"] == "create_table" and applied["state"] == "SUCCEEDED"
    athena = moto.client("athena")
    q = athena.get_query_execution(QueryExecutionId=applied["query_execution_id"])
    q = q["QueryExecution"]
    assert q["Query"] == res.data["statements"][0]["sql"]
    assert q["QueryExecutionContext"]["Database"] == "lake"
    assert q["ResultConfiguration"]["OutputLocation"].startswith("s3://lake-bucket/athena-results/")
    res = run_op("dw-ddl", "drop", dict(req, action="drop"))
    assert res.code == 0, res
    assert res.data["applied"][0]["kind"] == "drop_table"
    assert res.data["statements"][0]["sql"] == "DROP TABLE IF EXISTS `lake`.`clicks`"


def test_column_cap(run_op):
    """issue 12 #15: the cost grew with the square of the columns (40,000:
    32 s); more than 10,000 (partitions included) are refused by name."""
    base = {"dialect": "athena", "database": "lake", "table": "wide",
            "location": "s3://lake/wide/"}
    cols = [{"name": f"c{i:05d}", "type": "bigint"} for i in range(10001)]
    res = generate(run_op, dict(base, columns=cols))
    assert res.code == 2 and res.error["field"] == "columns", res
    assert "more than 10000 columns" in res.error["message"]
    res = generate(run_op, dict(base, columns=cols[:9999],
                                partitions=[{"name": "dt", "type": "string"},
                                            {"name": "hr", "type": "string"}]))
    assert res.code == 2 and res.error["field"] == "columns", res
    res = generate(run_op, dict(base, columns=cols[:2000]))
    assert res.code == 0, res
    assert len(res.data["columns"]) == 2000


def bundle_op(run_op, req, out_dir, action="generate"):
    req = dict(req, action=action)
    return run_op("dw-ddl", action, req, env={"DW_DDL_BUNDLE_DIR": str(out_dir)})


def test_bundle_zip(run_op, tmp_path):
    res = bundle_op(run_op, dict(example("snowflake-json-stage.json"), bundle="ddl.zip"), tmp_path)
    assert res.code == 0, res
    assert res.data["bundle"] == "ddl.zip"
    with zipfile.ZipFile(tmp_path / "ddl.zip") as z:
        assert z.namelist() == ["01-create_stage.sql", "02-create_file_format.sql",
                                "03-create_table.sql"]
        assert z.read("03-create_table.sql").decode() == \
            res.data["statements"][2]["sql"] + ";\n"
        assert z.comment == b"dwops dw-ddl bundle"
    (tmp_path / "out").mkdir()
    res = bundle_op(run_op, dict(example("glue-avro.json"), bundle="out/glue.zip"), tmp_path)
    assert res.code == 0, res
    with zipfile.ZipFile(tmp_path / "out" / "glue.zip") as z:
        assert json.loads(z.read("table_input.json")) == res.data["table_input"]
    # a bundle dwops wrote is replaced by the next one
    res = bundle_op(run_op, dict(example("glue-avro.json"), bundle="ddl.zip"), tmp_path)
    assert res.code == 0, res
    with zipfile.ZipFile(tmp_path / "ddl.zip") as z:
        assert "table_input.json" in z.namelist()


@pytest.mark.parametrize("name,why", [
    ("victim.txt", "ending in .zip"), ("/tmp/abs.zip", "absolute"),
    ("../escape.zip", "segment"), ("out/../../escape.zip", "segment"),
    ("./ddl.zip", "segment"), ("out//ddl.zip", "segment"), ("missing/ddl.zip", "No such file"),
    ("victim.zip", "not a dwops bundle"), ("link.zip", "symlink"), ("linkdir/ddl.zip", "symlink"),
    ("victim.zip/x.zip", "not a folder"),
])
def test_bundle_path_safety(run_op, tmp_path, name, why):
    """issue 12 #1: bundles stay under the output folder, never replace a file
    dwops did not write, and never follow a symlink."""
    out = tmp_path / "bundles"
    (out / "out").mkdir(parents=True)
    victim = out / "victim.zip"
    victim.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip someone else made
    outside = tmp_path / "outside.zip"
    outside.write_bytes(b"precious")
    (out / "link.zip").symlink_to(outside)
    (out / "linkdir").symlink_to(tmp_path)
    before = {p: p.read_bytes() for p in (victim, outside)}
    res = bundle_op(run_op, dict(example("glue-avro.json"), bundle=name), out)
    assert res.code == 2, res
    assert res.error["field"] == "bundle", res
    assert why in res.error["message"], res
    assert {p: p.read_bytes() for p in (victim, outside)} == before
    assert sorted(p.name for p in out.iterdir()) == ["link.zip", "linkdir", "out", "victim.zip"]
    assert not (tmp_path / "escape.zip").exists() and not (tmp_path / "ddl.zip").exists()


def test_bundle_refused_before_anything_is_applied(run_op, moto, tmp_path):
    req = dict(example("glue-json-infer.json"), bundle="/etc/dwops.zip")
    res = bundle_op(run_op, req, tmp_path, action="apply")
    assert res.code == 2 and res.error["field"] == "bundle", res
    assert "inferred" not in (res.result or {}).get("result", {})


# ------------------------------------------------------------ Airflow ---

from airflow_support import AIRFLOW_MAJORS, airflow_available  # noqa: E402
from airflow_support import airflow_factory  # noqa: E402,F401  (fixture)


@pytest.mark.parametrize("major", AIRFLOW_MAJORS, ids=lambda m: f"airflow{m}")
def test_airflow_dag_infers_and_applies_to_glue(major, airflow_factory, bench, moto, s3):
    if not airflow_available(major):
        pytest.fail(f"Airflow {major} is not installed (scripts/setup-airflow.sh)", pytrace=False)
    glue = moto.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    put_lines(s3, "events-json/dt=2019-06-01/a.json", JSON_LINES_1)
    af = airflow_factory(major, [REPO / "airflow" / "dags" / "dwops_common.py",
                                 REPO / "airflow" / "dags" / "dwops_ddl.py"])
    env = {"DWOPS_DDL_EXAMPLES_DIR": str(REPO / "examples" / "dw-ddl")}

    r = af.run_dag_test("dwops_ddl", "2024-01-02", env=env,
                        conf={"example": "glue-json-infer.json", "dry_run": True})
    assert r.ok and r.states == {"apply_table": "success"}, r
    assert r.results["apply_table"]["result"]["dry_run"] is True
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName="lake", Name="events_json")

    r = af.run_dag_test("dwops_ddl", "2024-01-03", env=env,
                        conf={"overrides": {"table": "events_af"}})
    assert r.ok and r.states == {"apply_table": "success"}, r
    res = r.results["apply_table"]["result"]
    assert res["applied"] == [{"kind": "create_table", "table": "events_af"}]
    t = glue.get_table(DatabaseName="lake", Name="events_af")["Table"]
    assert t["Parameters"]["projection.enabled"] == "true"


# ------------------------------------------------------------ Athena waiter ---

import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

from conftest import BIN, assert_no_secrets  # noqa: E402


def moto_transition(moto, model, transition):
    """Steer one of moto's state machines (its /moto-api/state-manager)."""
    path = "set-transition" if transition else "unset-transition"
    body = {"model_name": model}
    if transition:
        body["transition"] = transition
    req = urllib.request.Request(f"{moto.url}/moto-api/state-manager/{path}",
                                 data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req, timeout=10).read()


@pytest.fixture
def athena_held(moto):
    """Athena queries stay QUEUED until told otherwise (moto's manual progression)."""
    moto_transition(moto, "athena::execution", {"progression": "manual", "times": 1000})
    yield moto.client("athena")
    moto_transition(moto, "athena::execution", None)


def test_athena_waiter_timeout_is_exit_75(run_op, athena_held):
    res = run_op("dw-ddl", "apply", dict(example("athena-apply.json"), wait_s=1))
    assert res.code == 75 and res.error["code"] == "WaitTimeout", res
    assert "still QUEUED" in res.error["message"]
    assert "is QUEUED; checking again" in res.stderr


def test_athena_cancelled_query_is_exit_1(athena_held):
    """A query cancelled while dw-ddl waits fails the apply with Athena's state."""
    req = dict(example("athena-apply.json"), wait_s=60, action="apply")
    proc = subprocess.Popen([str(BIN / "dw-ddl")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(json.dumps(req))
    proc.stdin.close()
    ids = []
    for _ in range(100):
        ids = athena_held.list_query_executions()["QueryExecutionIds"]
        if ids:
            break
        time.sleep(0.1)
    assert len(ids) == 1
    execution = athena_held.get_query_execution(QueryExecutionId=ids[0])["QueryExecution"]
    assert execution["WorkGroup"] == "primary"
    athena_held.stop_query_execution(QueryExecutionId=ids[0])
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert_no_secrets(out + err, "dw-ddl output")
    res = json.loads(out.strip().splitlines()[-1])
    assert res["error"]["code"] == "QueryFailed"
    assert ids[0] in res["error"]["message"] and "CANCELLED" in res["error"]["message"]


def test_athena_start_retried_after_throttling(run_op, fault_proxy):
    fault_proxy.set_rules([{"match": {"action": "StartQueryExecution"}, "fault": "throttle",
                            "times": 1}])
    res = run_op("dw-ddl", "apply", example("athena-apply.json"), env=fault_proxy.env)
    assert res.code == 0, res
    ids = fault_proxy.client("athena").list_query_executions()["QueryExecutionIds"]
    assert ids == [res.data["applied"][0]["query_execution_id"]]


@pytest.mark.parametrize("extra,field", [({"output_location": "/tmp/x"}, "output_location"),
                                         ({"wait_s": 0}, "wait_s")])
def test_athena_apply_fields_checked_first(run_op, moto, extra, field):
    res = run_op("dw-ddl", "apply", dict(example("athena-apply.json"), **extra))
    assert res.code == 2 and res.error["field"] == field, res
    assert moto.client("athena").list_query_executions()["QueryExecutionIds"] == []


def test_glue_apply_without_database_fails(run_op, moto):
    res = run_op("dw-ddl", "apply", example("glue-avro.json"))
    assert res.code == 1 and res.error["code"] == "EntityNotFoundException", res


def test_create_database(run_op, moto):
    req = dict(example("glue-avro.json"), options={"create_database": True})
    res = run_op("dw-ddl", "apply", req)
    assert res.code == 0, res
    glue = moto.client("glue")
    assert glue.get_table(DatabaseName="lake", Name="events_avro")["Table"]["Name"] == "events_avro"
    req = dict(example("athena-apply.json"), options={"create_database": True})
    res = run_op("dw-ddl", "apply", req)
    assert res.code == 0, res
    assert [a["kind"] for a in res.data["applied"]] == ["create_database", "create_table"]
    parse(res.data["statements"][0]["sql"], "athena")
    res = generate(run_op, dict(example("redshift-csv.json"), options={"create_database": True}))
    assert res.code == 2 and res.error["field"] == "options.create_database", res


# ------------------------------------------------- Snowpipe landing (#16) ---

LANDING_COLUMNS = ["SOURCE_TABLE", "PK", "CURSOR_VALUE", "RUN_ID", "ROW_DATA", "FILE_NAME", "LOADED_AT"]
PIPE_HEAD = re.compile(r"^CREATE (?:OR REPLACE )?PIPE (?:IF NOT EXISTS )?(?P<name>.+?)\n"
                       r"AUTO_INGEST = (?P<auto>TRUE|FALSE)\n(?:AWS_SNS_TOPIC = '[^']*'\n)?"
                       r"(?:COMMENT = '(?:[^']|'')*'\n)?AS (?P<copy>COPY INTO .*)$", re.S)


def sf_table(text: str) -> exp.Table:
    """A (qualified) Snowflake name, parsed by sqlglot."""
    t = sqlglot.parse_one(f"SELECT 1 FROM {text}", read="snowflake").find(exp.Table)
    assert t is not None, text
    return t


def check_landing(res, req):
    """The landing table parses natively with the fixed columns; the pipe's
    head is CREATE PIPE name AUTO_INGEST = ..., and its COPY INTO (which
    sqlglot parses natively; CREATE PIPE itself it only knows as a Command)
    loads the landing table from the stage with FILE_FORMAT = (TYPE = JSON)."""
    assert res.code == 0, res
    kinds = [s["kind"] for s in res.data["statements"]]
    assert kinds[-2:] == ["create_table", "create_pipe"], kinds
    st = {s["kind"]: s["sql"] for s in res.data["statements"]}
    table = parse(st["create_table"], "snowflake")
    assert isinstance(table, exp.Create) and table.kind == "TABLE"
    assert create_column_names(table) == LANDING_COLUMNS
    defs = {c.this.name: c for c in table.this.expressions if isinstance(c, exp.ColumnDef)}
    assert defs["ROW_DATA"].args["kind"].this == exp.DataType.Type.VARIANT
    assert table.this.this.name == req["table"]
    m = PIPE_HEAD.match(st["create_pipe"])
    assert m, st["create_pipe"]
    assert m["auto"] == ("TRUE" if req.get("auto_ingest", True) else "FALSE")
    pipe = sf_table(m["name"])
    assert pipe.name == req.get("pipe", req["table"] + "_pipe")
    copy = sqlglot.parse_one(m["copy"], read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(copy, exp.Copy), m["copy"]
    target = copy.this
    assert [i.name for i in target.expressions] == LANDING_COLUMNS[:-1]
    assert target.this.name == req["table"] and pipe.db == target.this.db
    select = copy.args["files"][0].this
    assert isinstance(select, exp.Select) and len(select.expressions) == 6
    src = select.args["from_"].this
    assert src.this.name.startswith("@"), repr(src)
    params = {p.this.name: p for p in copy.args["params"]}
    assert params["FILE_FORMAT"].expressions[0].sql("snowflake") == "TYPE=JSON"
    return st, pipe, copy


def test_landing_table_and_pipe(run_op):
    req = {"dialect": "snowflake", "database": "RAW", "schema": "SHOP", "table": "orders_landing",
           "stage": "RAW.SHOP.extract_stage", "location": "s3://acme-extract/orders/",
           "create_stage": {"storage_integration": "extract_int"},
           "options": {"aws_sns_topic": "arn:aws:sns:us-east-1:1:t", "pattern": ".*[.]gz",
                       "comment": "it's the landing"}}
    res = run_op("dw-ddl", "landing", req)
    st, pipe, copy = check_landing(res, req)
    assert [s["kind"] for s in res.data["statements"]] == ["create_stage", "create_table", "create_pipe"]
    assert (pipe.catalog, pipe.db, pipe.name) == ("RAW", "SHOP", "orders_landing_pipe")
    assert "FROM @RAW.SHOP.extract_stage)" in st["create_pipe"]
    assert "URL = 's3://acme-extract/orders/'" in st["create_stage"]
    assert "PATTERN = '.*[.]gz'" in st["create_pipe"]
    # every field of a dw-extract record lands in its column, with its type
    select = copy.args["files"][0].this
    got = {}
    for col, e in zip([i.name for i in copy.this.expressions], select.expressions):
        key = e.find(exp.JSONPathKey)
        cast = e if isinstance(e, exp.Cast) else None
        got[col] = (key.this if key else e.sql("snowflake"), cast.to.sql("snowflake") if cast else None)
    assert got == {"SOURCE_TABLE": ("table", "VARCHAR"), "PK": ("pk", "VARCHAR"),
                   "CURSOR_VALUE": ("cursor", "TIMESTAMPNTZ(6)"), "RUN_ID": ("run_id", "VARCHAR"),
                   "ROW_DATA": ("row", None), "FILE_NAME": ("METADATA$FILENAME", None)}, got
    # replace, and no auto-ingest
    res = run_op("dw-ddl", "landing", dict(req, auto_ingest=False, pipe="p", options={"replace": True}))
    st, _, _ = check_landing(res, dict(req, auto_ingest=False, pipe="p"))
    assert st["create_table"].startswith("CREATE OR REPLACE TABLE ")
    assert st["create_pipe"].startswith("CREATE OR REPLACE PIPE ")


@pytest.mark.parametrize("name", ['odd "name"; DROP TABLE x; --', "select", "lower case", "ü"])
def test_landing_hostile_names_are_quoted(run_op, name):
    req = {"dialect": "snowflake", "database": "db", "schema": name, "table": name, "pipe": name + "_p",
           "stage": "st"}
    st, pipe, copy = check_landing(run_op("dw-ddl", "landing", req), req)
    assert pipe.db == name and copy.this.this.name == name
    assert len(sqlglot.parse(st["create_table"], read="snowflake")) == 1


@pytest.mark.parametrize("over,field", [
    ({"dialect": "athena", "database": "d"}, "dialect"),
    ({"columns": [{"name": "id", "type": "bigint"}]}, "columns"),
    ({"format": "avro"}, "format"),
    ({"pipe": ""}, "pipe"),
    ({"stage": None}, "stage"),
    ({"auto_refresh": True}, "auto_refresh"),
])
def test_landing_refused(run_op, over, field):
    req = {"dialect": "snowflake", "table": "t", "stage": "st"}
    req.update(over)
    req = {k: v for k, v in req.items() if v is not None}
    res = run_op("dw-ddl", "landing", req)
    assert res.code == 2 and res.error["field"] == field, res
