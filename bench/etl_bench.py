#!/usr/bin/env python3
"""dw-etl benchmark (make bench; started by bench/run.sh).

Starts its own S3 (gofakes3 when BENCH_GOFAKES3 names its executable, as
bench/run.sh does: the fast S3; else moto), seeds event files named like
dw-fanout's (`in/2019-06-01-HH-m-s-events.json`, BENCH_ETL_FILES of them over
whole hours, default a day = 86,400; each BENCH_ETL_RECORDS records, default
36: vehicles, operating periods and one unknown kind), then transforms them
all with `dw-etl process` (the hours, concurrency BENCH_ETL_CONCURRENCY,
default 4) and, in the same run on the same files, with the Python original
(bench/etl_python.py: boto3 + pandas + fastavro per file, in .venv-bench):
on the first BENCH_ETL_PY_HOURS hours (default 1; 0: all of them), because
it needs about 35 CPU-minutes for a day; dw-etl is also measured on that
sample, so both are compared on the same files.  Each client runs in its own
process under GNU time: wall, user+system CPU, peak RSS; the server's CPU
meanwhile from /proc.

Prints a Markdown table; raw figures in bench/.cache/etl-results.json.
"""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "bench"))
import services  # noqa: E402

import boto3  # noqa: E402

SRC, PREFIX, DAY = "bench-events", "in/", "2019-06-01"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(argv, env, server_pid, stdin=b""):
    with tempfile.NamedTemporaryFile() as tf:
        c0, t0 = cpu_seconds(server_pid), time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name] + argv,
                           input=stdin, capture_output=True, env=env)
        wall = time.monotonic() - t0
        server = cpu_seconds(server_pid) - c0
        user, system, rss_kib = Path(tf.name).read_text().split()[-3:]
    if p.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    last = [line for line in p.stdout.decode().splitlines() if line.strip()][-1]
    return {"wall_s": wall, "cpu_s": float(user) + float(system), "peak_rss_mib": int(rss_kib) / 1024,
            "moto_cpu_s": server, "out": json.loads(last)}


def file_body(rng: random.Random, h: int, s: int, n: int) -> bytes:
    out = []
    for i in range(n):
        at = f"{DAY}T{h:02d}:{s // 60:02d}:{s % 60:02d}.{rng.randrange(1000):03d}Z"
        if i == n - 1:
            out.append({"event": "honk", "on": "horn", "at": at})
        elif i % 4 == 3:
            out.append({"event": "operating_period_started", "on": "operating_period", "at": at,
                        "organization_id": rng.randrange(1, 500),
                        "data": {"id": f"op-{rng.randrange(10**6)}", "start": at,
                                 "finish": None if i % 8 == 3 else at}})
        else:
            out.append({"event": "vehicle_moved", "on": "vehicle", "at": at,
                        "organization_id": rng.randrange(1, 500),
                        "data": {"id": f"veh-{rng.randrange(10**5)}",
                                 "location": {"lat": 52.3 + rng.random(), "lng": 13.1 + rng.random(),
                                              "at": at}}})
    return ("\n".join(json.dumps(r) for r in out) + "\n").encode()


def main():
    files = int(os.environ.get("BENCH_ETL_FILES", "86400"))
    per_file = int(os.environ.get("BENCH_ETL_RECORDS", "36"))
    concurrency = int(os.environ.get("BENCH_ETL_CONCURRENCY", "4"))
    dw_etl = os.environ.get("BENCH_DW_ETL", str(REPO / "bin" / "dw-etl"))
    py_bench = os.environ.get("BENCH_PY", str(REPO / ".venv-bench" / "bin" / "python"))
    hours = (files + 3599) // 3600
    work = Path(tempfile.mkdtemp(prefix="dwops-etl-bench-"))
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
               "files": files, "records_per_file": per_file, "concurrency": concurrency}
    py_hours = int(os.environ.get("BENCH_ETL_PY_HOURS", "1")) or hours
    py_hours = min(py_hours, hours)
    gofakes3 = os.environ.get("BENCH_GOFAKES3")
    server_name = "gofakes3" if gofakes3 else "moto"
    log(f"starting {server_name}")
    moto = (services.start_service(services.GoFakeS3(work, gofakes3)) if gofakes3
            else services.start_moto(base_dir=work))
    results["server"] = server_name
    try:
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        env.update(services.test_aws_env(moto.url))
        s3 = boto3.client("s3", endpoint_url=moto.url, region_name=env["AWS_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        for b in (SRC, "lake-dw", "lake-dw-sample", "lake-py"):
            s3.create_bucket(Bucket=b)
        keys = [(h, s) for h in range(hours) for s in range(3600)][:files]
        rng = random.Random(42)
        bodies = {f"{PREFIX}{DAY}-{h:02d}-{s // 60}-{s % 60}-events.json": file_body(rng, h, s, per_file)
                  for h, s in keys}
        log(f"seeding {len(bodies):,} files of {per_file} records into {server_name}")
        t0 = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda kv: s3.put_object(Bucket=SRC, Key=kv[0], Body=kv[1]), bodies.items()))
        log(f"  seeded in {time.monotonic() - t0:.0f} s")
        results["input_bytes"] = sum(len(b) for b in bodies.values())
        del bodies

        def run_dw(n_hours, dest):
            req = {"bucket": SRC, "prefix": PREFIX, "start": f"{DAY}T00",
                   "end": f"{DAY}T{n_hours:02d}" if n_hours < 24 else "2019-06-02T00",
                   "dest_bucket": dest, "concurrency": concurrency}
            log(f"dw-etl process, {n_hours} hour(s), concurrency {concurrency}")
            m = measure([dw_etl, "process"], env, moto.pid, json.dumps(req).encode())
            m["files"] = m["out"]["result"]["files"]
            m["records"] = m["out"]["result"]["records"] - m["out"]["result"]["unknown_records"]
            m["objects"] = m["out"]["result"]["objects_written"]
            m.pop("out")
            log(f"  {m['records']} records, {m['objects']} objects in {m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s")
            return m

        dw = run_dw(hours, "lake-dw")
        dw_sample = run_dw(py_hours, "lake-dw-sample") if py_hours < hours else dw
        log(f"the Python original (boto3 + pandas + fastavro per file), {py_hours} hour(s)")
        py = measure([py_bench, str(REPO / "bench" / "etl_python.py"), SRC, PREFIX, f"{DAY}T00",
                      str(py_hours), "lake-py"], env, moto.pid)
        py.update(files=py["out"]["files"], records=py["out"]["records"], objects=py["out"]["objects"])
        py.pop("out")
        log(f"  {py['records']} records, {py['objects']} objects in {py['wall_s']:.1f} s, CPU {py['cpu_s']:.1f} s")
        for m in (dw, dw_sample, py):
            m["records_per_s"] = m["records"] / m["wall_s"]
            m["cpu_ms_per_1000_records"] = 1000 * 1000 * m["cpu_s"] / m["records"]
        results.update({"dw-etl": dw, "dw-etl-sample": dw_sample, "python": py, "python_hours": py_hours,
                        "cpu_ratio": py["cpu_ms_per_1000_records"] / dw_sample["cpu_ms_per_1000_records"]})
    finally:
        moto.stop()
    cache = REPO / "bench" / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "etl-results.json").write_text(json.dumps(results, indent=2))
    print(f"\n**dw-etl: {files:,} files x {per_file} records, {server_name} S3** ({results['machine']})\n")
    print(f"| client | files | records | objects | wall s | records/s | client CPU s | CPU ms / 1000 records "
          f"| peak RSS MiB | {server_name} CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = [("dw-etl process (C, %d threads), the day" % concurrency, results["dw-etl"])]
    if results["dw-etl-sample"] is not results["dw-etl"]:
        rows.append(("dw-etl process (C, %d threads), %d hour(s)" % (concurrency, py_hours),
                     results["dw-etl-sample"]))
    rows.append(("Python original (boto3 + pandas + fastavro), %d hour(s)" % py_hours, results["python"]))
    for name, m in rows:
        print(f"| {name} | {m['files']:,} | {m['records']:,} | {m['objects']:,} | {m['wall_s']:.1f} | "
              f"{m['records_per_s']:,.0f} | {m['cpu_s']:.2f} | {m['cpu_ms_per_1000_records']:.1f} | "
              f"{m['peak_rss_mib']:.1f} | {m['moto_cpu_s']:.1f} |")
    print(f"\nCPU per record on the same {py_hours} hour(s): the Python original needs "
          f"{results['cpu_ratio']:.1f}x dw-etl's.")


if __name__ == "__main__":
    main()
