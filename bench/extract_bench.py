#!/usr/bin/env python3
"""dw-extract benchmark (make bench; started by bench/run.sh, BENCH_ONLY=extract).

Starts its own MariaDB (the bench's), gofakes3 (the fast S3, the sink) and
moto (SSM for the watermark, DynamoDB for the lease), seeds BENCH_EXTRACT_ROWS
rows (default 1,000,000; three rows share each timestamp) of a few columns of
each type, then extracts them all to the S3 sink with `dw-extract run` and,
in the same run on the same table, with the Python way (bench/extract_python.py:
PyMySQL keyset loop + json + boto3, in .venv-bench-extract), both with pages
of BENCH_EXTRACT_PAGE rows (default 10,000).  Each client runs in its own
process under GNU time: wall, user+system CPU, peak RSS.

Prints a Markdown table; raw figures in bench/.cache/extract-results.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "bench"))
import services  # noqa: E402

import boto3  # noqa: E402


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def measure(argv, env, stdin=b""):
    with tempfile.NamedTemporaryFile() as tf:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name] + argv,
                           input=stdin, capture_output=True, env=env)
        wall = time.monotonic() - t0
        user, system, rss_kib = Path(tf.name).read_text().split()[-3:]
    if p.returncode != 0:
        raise RuntimeError(f"{argv[:2]} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    last = [line for line in p.stdout.decode().splitlines() if line.strip()][-1]
    return {"wall_s": wall, "cpu_s": float(user) + float(system), "peak_rss_mib": int(rss_kib) / 1024,
            "out": json.loads(last)}


def mysql(db, sql):
    cmd = [services._which("mariadb", "mysql"), "--no-defaults", "--protocol=TCP", f"-h{db.host}",
           f"-P{db.port}", "-uroot", "--batch", "--skip-column-names", "-e", sql]
    r = subprocess.run(cmd, capture_output=True, env=dict(os.environ, MYSQL_PWD=db.root_password))
    if r.returncode:
        raise RuntimeError(r.stderr.decode())
    return r.stdout.decode()


def main():
    rows = int(os.environ.get("BENCH_EXTRACT_ROWS", "1000000"))
    page = int(os.environ.get("BENCH_EXTRACT_PAGE", "10000"))
    dw = os.environ.get("BENCH_DW_EXTRACT", str(REPO / "bin" / "dw-extract"))
    py = os.environ.get("BENCH_PY_EXTRACT", str(REPO / ".venv-bench-extract" / "bin" / "python"))
    work = Path(tempfile.mkdtemp(prefix="dwops-extract-bench-"))
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
               "rows": rows, "page_rows": page}
    log("starting MariaDB, gofakes3 and moto")
    db = services.start_service(services.MariaDB(work))
    s3srv = services.start_service(services.GoFakeS3(work, os.environ["BENCH_GOFAKES3"]))
    moto = services.start_moto(base_dir=work)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(services.test_aws_env(moto.url))
        env["DW_BENCH_MYSQL_PASSWORD"] = db.root_password
        kw = dict(region_name=env["AWS_REGION"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        s3 = boto3.client("s3", endpoint_url=s3srv.url, **kw)
        for b in ("land-dw", "land-py"):
            s3.create_bucket(Bucket=b)
        subprocess.run([dw.replace("dw-extract", "dw-lock"), "create-table"], input=b"{}",
                       env=env, check=True, capture_output=True)
        log(f"seeding {rows:,} rows")
        t0 = time.monotonic()
        mysql(db, "CREATE DATABASE bench; CREATE TABLE bench.orders (id BIGINT PRIMARY KEY, "
                  "updated_at DATETIME(6) NOT NULL, amount DECIMAL(12,2), qty INT, "
                  "note VARCHAR(64) CHARACTER SET utf8mb4, flag TINYINT, KEY (updated_at, id))")
        for lo in range(1, rows + 1, 250000):
            hi = min(rows, lo + 249999)
            mysql(db, "SET NAMES utf8mb4; USE bench; INSERT INTO bench.orders SELECT seq, TIMESTAMP'2024-01-01 00:00:00' + "
                      "INTERVAL (seq DIV 3) SECOND, seq * 1.25, seq MOD 1000, "
                      f"CONCAT('order ', seq, ' \u2713'), seq MOD 2 FROM seq_{lo}_to_{hi}")
        log(f"  seeded in {time.monotonic() - t0:.0f} s")

        req = {"mysql": {"host": db.host, "port": db.port, "user": "root",
                         "password_env": "DW_BENCH_MYSQL_PASSWORD", "tls": {"mode": "disabled"}},
               "table": "bench.orders", "cursor": {"column": "updated_at"}, "page_rows": page,
               "state": {"name": "/bench/extract/orders"},
               "sink": {"type": "s3", "bucket": "land-dw", "prefix": "x"},
               "endpoints": {"s3": s3srv.url}}
        log("dw-extract run")
        m = measure([dw, "run"], env, json.dumps(req).encode())
        assert m["out"]["result"]["rows"] == rows, m["out"]
        m.pop("out")
        results["dw-extract"] = m
        log(f"  {m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s, RSS {m['peak_rss_mib']:.1f} MiB")
        args = {"host": db.host, "port": db.port, "user": "root", "password": db.root_password,
                "table": "bench.orders", "bucket": "land-py", "prefix": "x", "param": "/bench/py",
                "page_rows": page, "s3_url": s3srv.url, "ssm_url": moto.url}
        log("the Python way (PyMySQL + json + boto3)")
        m = measure([py, str(REPO / "bench" / "extract_python.py"), json.dumps(args)], env)
        assert m["out"]["rows"] == rows, m["out"]
        m.pop("out")
        results["python"] = m
        log(f"  {m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s, RSS {m['peak_rss_mib']:.1f} MiB")
    finally:
        moto.stop()
        s3srv.stop()
        db.stop()
    out = REPO / "bench" / ".cache" / "extract-results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\n### dw-extract: {rows:,} rows from MariaDB to S3 (gofakes3), pages of {page:,}\n")
    print("| client | wall | rows/s | client CPU per 100,000 rows | peak RSS |")
    print("|---|---|---|---|---|")
    for name in ("dw-extract", "python"):
        m = results[name]
        print(f"| {name} | {m['wall_s']:.1f} s | {rows / m['wall_s']:,.0f} | "
              f"{m['cpu_s'] / rows * 1e5 * 1000:.0f} ms | {m['peak_rss_mib']:.1f} MiB |")
    ratio = results["python"]["cpu_s"] / results["dw-extract"]["cpu_s"]
    print(f"\nCPU per row: dw-extract uses {ratio:.1f}x less than the Python way.")


if __name__ == "__main__":
    main()
