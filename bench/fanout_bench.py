#!/usr/bin/env python3
"""dw-fanout benchmark (make bench; started by bench/run.sh).

Starts its own moto (S3, and SQS for the moto section) and ElasticMQ (a fast
SQS-compatible server), seeds a day of per-second event files (24 x 3,600)
into moto's S3 with a thread pool, then fans out with each client in its own
process, measuring from outside (wait4): wall time, user+system CPU, peak
RSS; requests as each client counts them.

  ElasticMQ section: the whole day for dw-fanout and the batched boto3
    pool; the one-thread-per-message script for one hour, extrapolated x24.
  moto section: moto's own SQS is slow and slows down as a queue fills
    (each send scans the queue), so one hour of BENCH_MOTO_FILES files.
  Start-up: 200 runs of bin/dw-fanout with an unknown field (answered with
    exit 2 before any network use).

Prints Markdown tables; the raw figures go to bench/.cache/fanout-results.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "bench"))
import services  # noqa: E402

import boto3  # noqa: E402

BUCKET = "bench-events"
PREFIX = "in/"
DAY = "2019-06-01"
MOTO_HOUR = "2019-06-02T00"
PY = sys.executable
DW_FANOUT = str(REPO / "bin" / "dw-fanout")


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class ElasticMQ:
    def __init__(self, lib: Path, workdir: Path):
        self.port = services.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = workdir / "elasticmq.conf"
        conf.write_text(
            'include classpath("application.conf")\n'
            f'node-address {{ protocol = http, host = "127.0.0.1", port = {self.port}, context-path = "" }}\n'
            f'rest-sqs {{ enabled = true, bind-port = {self.port}, bind-hostname = "127.0.0.1", sqs-limits = strict }}\n'
            'rest-stats { enabled = false }\n')
        self.log = open(workdir / "elasticmq.log", "w")
        self.proc = subprocess.Popen(
            ["java", "-Xmx1g", f"-Dconfig.file={conf}", "-cp", f"{lib}/*",
             "org.elasticmq.server.Main"], stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ElasticMQ exited; see {workdir / 'elasticmq.log'}")
            try:
                urllib.request.urlopen(self.url + "/?Action=ListQueues", timeout=1).read()
                return
            except Exception:
                time.sleep(0.3)
        raise RuntimeError("ElasticMQ did not start within 60 s")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def aws_env(endpoint):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env.update(services.test_aws_env(endpoint))
    return env


def seed(s3, keys):
    t0 = time.monotonic()
    body = b'{"event": "click", "n": 1}'
    with ThreadPoolExecutor(32) as pool:
        for i, _ in enumerate(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=body),
                                       keys), 1):
            if i % 10000 == 0:
                log(f"  seeded {i} of {len(keys)}")
    log(f"seeded {len(keys)} objects in {time.monotonic() - t0:.0f} s")


# The servers' processes, whose CPU time is read around each client run: on
# this machine the servers, not the clients, set the floor of the wall time.
SERVERS: dict[str, int] = {}


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(argv, env, stdin=b""):
    """Run argv under GNU time: wall, CPU and peak RSS of that process, and
    its last stdout line; and the CPU each server spent meanwhile.  (wait4
    from here would count this Python process's own size: a fork's peak RSS
    survives the exec.)"""
    with tempfile.NamedTemporaryFile() as tf:
        before = {name: cpu_seconds(pid) for name, pid in SERVERS.items()}
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name] + argv,
                           input=stdin, capture_output=True, env=env)
        wall = time.monotonic() - t0
        server_cpu = {name: cpu_seconds(pid) - before[name] for name, pid in SERVERS.items()}
        user, system, rss_kib = Path(tf.name).read_text().split()[-3:]
    if p.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    last = [line for line in p.stdout.decode().splitlines() if line.strip()][-1]
    return {"wall_s": wall, "cpu_s": float(user) + float(system),
            "peak_rss_mib": int(rss_kib) / 1024, "server_cpu_s": server_cpu,
            "out": json.loads(last)}


def warm_up(sqs, batches=3000):
    """Send batches*10 messages to a scratch queue so that the JVM has
    compiled ElasticMQ's hot paths before any client is measured: the first
    client against a cold ElasticMQ costs it about twice the CPU."""
    t0 = time.monotonic()
    url = new_queue(sqs, "warm-up")
    entries = [{"Id": str(i), "MessageBody": f"warm-up {i}"} for i in range(10)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: sqs.send_message_batch(QueueUrl=url, Entries=entries),
                      range(batches)))
    sqs.delete_queue(QueueUrl=url)
    log(f"ElasticMQ warmed up with {batches * 10:,} messages in {time.monotonic() - t0:.0f} s")


def new_queue(sqs, name):
    return sqs.create_queue(QueueName=f"{name}-{int(time.time() * 1000) % 10**9}")["QueueUrl"]


def queue_count(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(a["Attributes"]["ApproximateNumberOfMessages"])


def run_dw_fanout(moto_url, sqs_url, queue_url, start, hours, concurrency, dry_run=False):
    req = {"action": "fanout", "bucket": BUCKET, "prefix": PREFIX, "queue_url": queue_url,
           "endpoint_url": moto_url, "endpoints": {"sqs": sqs_url}, "concurrency": concurrency,
           "dry_run": dry_run}
    if hours == 1:
        req["hour"] = start
    else:
        t = dt.datetime.fromisoformat(start)
        req["start"], req["end"] = start, (t + dt.timedelta(hours=hours)).isoformat()
    m = measure([DW_FANOUT], aws_env(moto_url), json.dumps(req).encode())
    r = m.pop("out")["result"]
    m.update(sent=r["sent"], failed=r["failed"], requests=r["requests"],
             would_send=r.get("would_send", 0))
    return m


def run_boto3(mode, moto_url, sqs_url, queue_url, start, hours, seconds=3600, threads=32):
    argv = [PY, str(REPO / "bench" / "fanout_boto3.py"), mode, "--bucket", BUCKET,
            "--prefix", PREFIX, "--start", start, "--hours", str(hours), "--seconds", str(seconds),
            "--queue-url", queue_url, "--s3-endpoint", moto_url, "--sqs-endpoint", sqs_url,
            "--threads", str(threads)]
    m = measure(argv, aws_env(moto_url))
    m.update(m.pop("out"))
    return m


def derive(m, scale=1.0):
    """Figures per message; scale extrapolates a subset run to the whole."""
    sent = max(m["sent"], 1)
    return dict(m, msgs_per_s=sent / m["wall_s"], cpu_ms_per_1000=1000 * m["cpu_s"] / sent * 1000,
                day_wall_s=m["wall_s"] * scale, scale=scale)


def startup(n=200):
    argv = [DW_FANOUT, "fanout"]
    req = b'{"bucket": "b", "hour": "2019-06-01T15", "queue_url": "https://q", "bogus": 1}'
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.run(argv, input=req, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
        assert p.returncode == 2, p
    times.sort()
    return {"runs": n, "mean_ms": statistics.mean(times), "p95_ms": times[int(0.95 * n) - 1],
            "min_ms": times[0], "max_ms": times[-1]}


def row(name, m, note=""):
    sc = m["server_cpu_s"]
    return (f"| {name} | {m['sent']:,} | {m['wall_s']:.1f} | {m['msgs_per_s']:,.0f} | "
            f"{m['cpu_ms_per_1000']:.0f} | {m['peak_rss_mib']:.1f} | {m['requests']:,} | "
            f"{sc['moto']:.1f} | {sc.get('elasticmq', 0):.1f} | {note} |")


HEADER = ("| client | messages | wall s | msgs/s | CPU ms per 1000 msgs | peak RSS MiB | "
          "requests | moto CPU s | ElasticMQ CPU s | note |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")


def main():
    global DW_FANOUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--elasticmq-lib", required=True)
    ap.add_argument("--dw-fanout", default=DW_FANOUT, help="the dw-fanout binary (a release build)")
    a = ap.parse_args()
    DW_FANOUT = str(Path(a.dw_fanout).resolve())
    hours = int(os.environ.get("BENCH_HOURS", "24"))
    moto_files = int(os.environ.get("BENCH_MOTO_FILES", "1200"))
    tpm_files = int(os.environ.get("BENCH_TPM_FILES", "3600"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "32"))
    work = Path(tempfile.mkdtemp(prefix="dwops-bench-"))
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
               "hours": hours, "moto_files": moto_files, "tpm_files": tpm_files}
    t_all = time.monotonic()

    log("starting moto and ElasticMQ")
    moto = services.start_moto(base_dir=work)
    emq = ElasticMQ(Path(a.elasticmq_lib).resolve(), work)
    SERVERS.update(moto=moto.pid, elasticmq=emq.proc.pid)
    try:
        env = services.test_aws_env(moto.url)
        s3 = boto3.client("s3", endpoint_url=moto.url, region_name=env["AWS_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        msqs = boto3.client("sqs", endpoint_url=moto.url, region_name=env["AWS_REGION"],
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        esqs = boto3.client("sqs", endpoint_url=emq.url, region_name=env["AWS_REGION"],
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        s3.create_bucket(Bucket=BUCKET)
        day0 = dt.datetime.fromisoformat(DAY)
        keys = [f"{PREFIX}{day0 + dt.timedelta(hours=h):%Y-%m-%d-%H}-{s // 60}-{s % 60}-events.json"
                for h in range(hours) for s in range(3600)]
        mh = dt.datetime.fromisoformat(MOTO_HOUR)
        keys += [f"{PREFIX}{mh:%Y-%m-%d-%H}-{s // 60}-{s % 60}-events.json" for s in range(moto_files)]
        log(f"seeding {len(keys):,} objects into moto's S3")
        seed(s3, keys)
        start = f"{DAY}T00:00"

        log(f"listing floor: ListObjectsV2 of the {hours} hours' prefixes, one after another")
        t0, moto0 = time.monotonic(), cpu_seconds(moto.pid)
        pages = s3.get_paginator("list_objects_v2")
        listed = sum(len(p.get("Contents", [])) for h in range(hours)
                     for p in pages.paginate(Bucket=BUCKET, Prefix=f"{PREFIX}{day0 + dt.timedelta(hours=h):%Y-%m-%d-%H}-"))
        results["list_floor"] = {"listed": listed, "wall_s": time.monotonic() - t0,
                                 "moto_cpu_s": cpu_seconds(moto.pid) - moto0}
        log(f"  boto3: {listed} keys listed in {results['list_floor']['wall_s']:.1f} s")
        q = new_queue(esqs, "dry-run")
        dry = run_dw_fanout(moto.url, emq.url, q, start, hours, concurrency, dry_run=True)
        results["list_floor_dw"] = dry
        log(f"  dw-fanout dry run: {dry['would_send']} keys listed in {dry['wall_s']:.1f} s")
        warm_up(esqs)
        log(f"ElasticMQ: dw-fanout, {hours} hours")
        q = new_queue(esqs, "dw")
        dw = derive(run_dw_fanout(moto.url, emq.url, q, start, hours, concurrency))
        dw["in_queue"] = queue_count(esqs, q)
        log(f"  {dw['sent']} sent in {dw['wall_s']:.1f} s")
        log(f"ElasticMQ: boto3 thread pool + SendMessageBatch, {hours} hours")
        q = new_queue(esqs, "batched")
        bb = derive(run_boto3("batched", moto.url, emq.url, q, start, hours, threads=concurrency))
        bb["in_queue"] = queue_count(esqs, q)
        log(f"  {bb['sent']} sent in {bb['wall_s']:.1f} s")
        log(f"ElasticMQ: boto3 one thread per message, {tpm_files} files of one hour")
        q = new_queue(esqs, "tpm")
        tp = derive(run_boto3("per-message", moto.url, emq.url, q, start, 1, seconds=tpm_files),
                    scale=hours * 3600 / tpm_files)
        tp["in_queue"] = queue_count(esqs, q)
        results["elasticmq"] = {"dw-fanout": dw, "boto3-batched": bb, "boto3-thread-per-message": tp}

        log(f"moto SQS: {moto_files} files of hour {MOTO_HOUR}, each client")
        q = new_queue(msqs, "dw")
        mdw = derive(run_dw_fanout(moto.url, moto.url, q, MOTO_HOUR, 1, concurrency))
        log(f"  dw-fanout {mdw['wall_s']:.1f} s")
        q = new_queue(msqs, "batched")
        mbb = derive(run_boto3("batched", moto.url, moto.url, q, MOTO_HOUR, 1, threads=concurrency))
        log(f"  boto3 batched {mbb['wall_s']:.1f} s")
        q = new_queue(msqs, "tpm")
        mtp = derive(run_boto3("per-message", moto.url, moto.url, q, MOTO_HOUR, 1, seconds=moto_files))
        log(f"  boto3 thread per message {mtp['wall_s']:.1f} s")
        results["moto"] = {"dw-fanout": mdw, "boto3-batched": mbb, "boto3-thread-per-message": mtp}
    finally:
        emq.stop()
        moto.stop()

    log("start-up: 200 invalid requests")
    results["startup"] = startup()
    results["total_s"] = time.monotonic() - t_all
    out = REPO / "bench" / ".cache" / "fanout-results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))

    e = results["elasticmq"]
    print(f"\n## dw-fanout benchmark ({results['machine']})\n")
    print(f"S3 listing from moto; SQS = ElasticMQ; a day = {hours} x 3,600 = {hours * 3600:,} files.\n")
    print(HEADER)
    print(row("dw-fanout", e["dw-fanout"], f"{e['dw-fanout']['in_queue']:,} in queue"))
    print(row("boto3 thread pool + SendMessageBatch", e["boto3-batched"],
              f"{e['boto3-batched']['in_queue']:,} in queue"))
    t = e["boto3-thread-per-message"]
    print(row("boto3 one thread per message (original)", t,
              f"{tpm_files:,} files measured; day ~{t['day_wall_s']:.0f} s extrapolated (x{t['scale']:.0f})"))
    dwm, bbm = e["dw-fanout"], e["boto3-batched"]
    lf, ld = results["list_floor"], results["list_floor_dw"]
    print(f"\nListing alone, no sending: boto3 paginator (the {hours} hours one after another) "
          f"{lf['listed']:,} keys in {lf['wall_s']:.1f} s, moto CPU {lf['moto_cpu_s']:.1f} s; "
          f"dw-fanout dry run {ld['would_send']:,} keys in {ld['wall_s']:.1f} s, moto CPU "
          f"{ld['server_cpu_s']['moto']:.1f} s.  moto serves each ListObjectsV2 page in one "
          f"Python process (scanning the whole bucket and serialising 1,000 keys), so its CPU "
          f"time for the listing is the floor of every client's wall time.")
    print(f"\nvs the batched boto3 pool: CPU per message {bbm['cpu_ms_per_1000'] / dwm['cpu_ms_per_1000']:.1f}x lower, "
          f"wall time {bbm['wall_s'] / dwm['wall_s']:.1f}x shorter (3x would be "
          f"{bbm['wall_s'] / 3:.1f} s, under the listing floor); dw-fanout peak RSS "
          f"{dwm['peak_rss_mib']:.1f} MiB.")
    m = results["moto"]
    print(f"\nmoto's own SQS (slow, slower as the queue fills): {moto_files:,} files of one hour.\n")
    print(HEADER)
    print(row("dw-fanout", m["dw-fanout"]))
    print(row("boto3 thread pool + SendMessageBatch", m["boto3-batched"]))
    print(row("boto3 one thread per message (original)", m["boto3-thread-per-message"]))
    s = results["startup"]
    print(f"\nStart-up: {s['runs']} runs of bin/dw-fanout with an unknown field (exit 2): "
          f"mean {s['mean_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms (min {s['min_ms']:.2f}, max {s['max_ms']:.2f}).")
    print(f"\nbench total {results['total_s']:.0f} s; raw figures in {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
