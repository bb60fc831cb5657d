#!/usr/bin/env python3
"""dw-catalog at scale (make bench): a model of 2,000 tables in 20
databases and 500 views over them, against its own moto server.

Measures, each in its own process under GNU time (wall, CPU, peak RSS),
with the Glue requests each run sent (the result's aws_requests):
  plan (empty catalog)  one GetTables listing per page and database
  apply                 2,500 CreateTable calls, `concurrency` in flight
  plan (applied)        nothing differs: exit 99
  apply one change      a column added to every table of one database

Prints a Markdown table; raw figures in bench/.cache/catalog-results.json.
  BENCH_CATALOG_TABLES=2000 BENCH_CATALOG_VIEWS=500 BENCH_CATALOG_CONCURRENCY=16
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "bench"))
import services  # noqa: E402

TABLES = int(os.environ.get("BENCH_CATALOG_TABLES", "2000"))
VIEWS = int(os.environ.get("BENCH_CATALOG_VIEWS", "500"))
CONCURRENCY = int(os.environ.get("BENCH_CATALOG_CONCURRENCY", "16"))
DATABASES = 20
DW_CATALOG = os.environ.get("DW_CATALOG", str(REPO / "bin" / "dw-catalog"))


def table(db, i, extra=False):
    cols = [{"name": "id", "type": "bigint"}, {"name": "name", "type": "string"},
            {"name": "amount", "type": "decimal(12,2)"}, {"name": "at", "type": "timestamp"}]
    if extra:
        cols.append({"name": "added", "type": "string"})
    return {"table": f"t{i:05d}", "format": "parquet", "location": f"s3://bench-lake/{db}/t{i:05d}/",
            "columns": cols, "partitions": [{"name": "dt", "type": "string", "segment": 1}]}


def model(changed_db=None):
    per = TABLES // DATABASES
    datasets, bindings = [], {}
    for d in range(DATABASES):
        db = f"lake{d:02d}"
        tables = [table(db, d * per + i, extra=(db == changed_db)) for i in range(per)]
        datasets.append({"name": db, "database": db, "tables": tables})
        for t in tables:
            bindings[f"{db}_{t['table']}"] = f"{db}.{t['table']}"
    logical = sorted(bindings)
    views = [{"name": f"v{i:05d}", "table": logical[i % len(logical)],
              "columns": ["id", {"name": "amount", "as": "amount_usd"}, "dt"]}
             for i in range(VIEWS)]
    return {"datasets": datasets, "bindings": bindings,
            "consumers": [{"name": "bench", "groups": [{"name": "g", "database": "views", "views": views}]}]}


def measure(req, env, model_file):
    req = dict(req, model_file=str(model_file))
    with tempfile.NamedTemporaryFile() as tf:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name, DW_CATALOG],
                           input=json.dumps(req).encode(), capture_output=True, env=env)
        wall = time.monotonic() - t0
        user, system, rss = Path(tf.name).read_text().split()[-3:]
    last = json.loads([l for l in p.stdout.decode().splitlines() if l.strip()][-1])
    if p.returncode not in (0, 99):
        raise RuntimeError(f"dw-catalog {req['action']} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    res = last["result"]
    return {"exit": p.returncode, "wall_s": round(wall, 2), "cpu_s": round(float(user) + float(system), 2),
            "peak_rss_mib": round(int(rss) / 1024, 1), "requests": res.get("aws_requests"),
            "items": len(res.get("items", []))}


def main():
    moto = services.start_moto()
    env = dict(os.environ, **services.test_aws_env(moto.url))
    work = Path(tempfile.mkdtemp(prefix="dwops-catalog-bench-"))
    full, changed = work / "model.json", work / "changed.json"
    full.write_text(json.dumps(model()))
    changed.write_text(json.dumps(model(changed_db="lake00")))
    rows = []
    try:
        for label, req, f in (("plan (empty catalog)", {"action": "plan"}, full),
                              ("apply (create all)", {"action": "apply", "concurrency": CONCURRENCY}, full),
                              ("plan (applied: nothing differs)", {"action": "plan"}, full),
                              ("apply (one database's tables + their views change)",
                               {"action": "apply", "concurrency": CONCURRENCY}, changed)):
            m = measure(req, env, f)
            print(f"bench: {label}: {m}", file=sys.stderr, flush=True)
            rows.append((label, m))
    finally:
        moto.stop()
    print(f"\n### dw-catalog: {TABLES:,} tables in {DATABASES} databases, {VIEWS} views (moto server), concurrency {CONCURRENCY}\n")
    print("| run | exit | items | wall s | CPU s | peak RSS MiB | Glue requests |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, m in rows:
        print(f"| {label} | {m['exit']} | {m['items']:,} | {m['wall_s']} | {m['cpu_s']} | "
              f"{m['peak_rss_mib']} | {m['requests']} |")
    out = REPO / "bench" / ".cache"
    out.mkdir(parents=True, exist_ok=True)
    (out / "catalog-results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
