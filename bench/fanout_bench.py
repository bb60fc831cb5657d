#!/usr/bin/env python3
"""dw-fanout benchmark (make bench; started by bench/run.sh).

Servers (tests/bench/services.py): gofakes3 (an in-memory S3 in Go) and
ElasticMQ (SQS on the JVM) for throughput; moto for the correctness-bound
second table.  A day of per-second event files (24 x 3,600 = 86,400) and a
month-long range (720 hours x BENCH_MONTH_FILES) are seeded into gofakes3 by
bench/floor (seed), then every client fans the day out in its own process,
measured from outside (GNU time): wall, user+system CPU, peak RSS; the
servers' CPU from /proc; requests as each client counts them; and the
messages in the queue afterwards (every run must leave exactly the day).

  Clients: dw-fanout (and any BENCH_COMPARE builds), the boto3 thread pool
    with SendMessageBatch (bench/fanout_boto3.py), the sending floor
    (bench/floor send: the same SendMessageBatch calls, no listing, same
    concurrency), and boto3 one thread per message for one hour (x24).
  ElasticMQ is warmed with two untimed day runs, then BENCH_ROUNDS
    interleaved rounds (the order rotates each round); medians and the
    per-round ratios are reported.  Then the same rounds with the servers
    pinned to CPU 0 and the client to CPU 1 (taskset).
  Memory: dw-fanout for one hour of 3,600 files and for the month.
  moto: the day listed from moto's S3 (sent to ElasticMQ), and one hour of
    BENCH_MOTO_FILES files against moto's own SQS.
  Start-up: 200 runs of bin/dw-fanout with an unknown field (exit 2).

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "bench"))
import services  # noqa: E402

import boto3  # noqa: E402

BUCKET = "bench-events"
# The month in a bucket of its own: gofakes3 scans the whole bucket for
# every ListObjectsV2, so sharing one would double the day's listing cost.
MONTH_BUCKET = "bench-month"
PREFIX = "in/"
DAY = "2019-06-01"
MONTH = ("2019-07-01", "2019-07-31")   # 30 days, 720 hours
MOTO_HOUR = "2019-06-02T00"
PY = sys.executable
DW_FANOUT = str(REPO / "bin" / "dw-fanout")
FLOOR = ""


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def aws_env(endpoint):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env.update(services.test_aws_env(endpoint))
    return env


def client(service, url):
    env = services.test_aws_env(url)
    return boto3.client(service, endpoint_url=url, region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def day_keys(day, hours, seconds=3600):
    t0 = dt.datetime.fromisoformat(day)
    return [f"{PREFIX}{t0 + dt.timedelta(hours=h):%Y-%m-%d-%H}-{s // 60}-{s % 60}-events.json"
            for h in range(hours) for s in range(0, 3600, 3600 // seconds)][:hours * seconds]


def seed(url, keys, bucket=BUCKET):
    """PUT the keys with bench/floor seed (32 at once)."""
    t0 = time.monotonic()
    p = subprocess.run([FLOOR, "seed", "-endpoint", url, "-bucket", bucket, "-concurrency", "32"],
                       input="\n".join(keys).encode(), capture_output=True, env=aws_env(url))
    if p.returncode != 0:
        raise RuntimeError(f"seeding failed: {p.stdout.decode()} {p.stderr.decode()[-2000:]}")
    log(f"seeded {len(keys):,} objects into {url} in {time.monotonic() - t0:.0f} s")


# The servers' processes, whose CPU time is read around each client run: on
# this machine the servers, not the clients, set the floor of the wall time.
SERVERS: dict[str, int] = {}


def cpu_seconds(pid):
    """User + system CPU seconds a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(argv, env, stdin=b"", cpu=None):
    """Run argv under GNU time (pinned to CPU cpu when given): wall, CPU and
    peak RSS of that process, and its last stdout line; and the CPU each
    server spent meanwhile.  (wait4 from here would count this Python
    process's own size: a fork's peak RSS survives the exec.)"""
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    with tempfile.NamedTemporaryFile() as tf:
        before = {name: cpu_seconds(pid) for name, pid in SERVERS.items()}
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name] + argv,
                           input=stdin, capture_output=True, env=env)
        wall = time.monotonic() - t0
        server_cpu = {name: cpu_seconds(pid) - before[name] for name, pid in SERVERS.items()}
        user, system, rss_kib = Path(tf.name).read_text().split()[-3:]
    if p.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {p.returncode}: {p.stdout.decode()[-500:]} "
                           f"{p.stderr.decode()[-2000:]}")
    last = [line for line in p.stdout.decode().splitlines() if line.strip()][-1]
    return {"wall_s": wall, "cpu_s": float(user) + float(system),
            "peak_rss_mib": int(rss_kib) / 1024, "server_cpu_s": server_cpu,
            "out": json.loads(last)}


def new_queue(sqs, name):
    return sqs.create_queue(QueueName=f"{name}-{int(time.time() * 1000) % 10**9}")["QueueUrl"]


def queue_count(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def fanout_request(s3_url, sqs_url, queue_url, start, hours, concurrency, dry_run=False,
                   bucket=BUCKET):
    req = {"action": "fanout", "bucket": bucket, "prefix": PREFIX, "queue_url": queue_url,
           "endpoint_url": s3_url, "endpoints": {"sqs": sqs_url}, "concurrency": concurrency,
           "dry_run": dry_run, "empty": "ok"}
    t = dt.datetime.fromisoformat(start)
    req["start"], req["end"] = start, (t + dt.timedelta(hours=hours)).isoformat()
    return req


def run_dw_fanout(exe, s3_url, sqs_url, queue_url, start, hours, concurrency, dry_run=False,
                  cpu=None, bucket=BUCKET):
    req = fanout_request(s3_url, sqs_url, queue_url, start, hours, concurrency, dry_run, bucket)
    m = measure([exe], aws_env(s3_url), json.dumps(req).encode(), cpu=cpu)
    r = m.pop("out")["result"]
    m.update(sent=r["sent"], failed=r["failed"], requests=r["requests"],
             would_send=r.get("would_send", 0))
    return m


def run_boto3(mode, s3_url, sqs_url, queue_url, start, hours, seconds=3600, threads=32, cpu=None):
    argv = [PY, str(REPO / "bench" / "fanout_boto3.py"), mode, "--bucket", BUCKET,
            "--prefix", PREFIX, "--start", start, "--hours", str(hours), "--seconds", str(seconds),
            "--queue-url", queue_url, "--s3-endpoint", s3_url, "--sqs-endpoint", sqs_url,
            "--threads", str(threads)]
    m = measure(argv, aws_env(s3_url), cpu=cpu)
    m.update(m.pop("out"))
    return m


def run_floor(sqs_url, queue_url, start, hours, concurrency, cpu=None):
    argv = [FLOOR, "send", "-endpoint", sqs_url, "-queue-url", queue_url, "-prefix", PREFIX,
            "-start", start, "-hours", str(hours), "-concurrency", str(concurrency)]
    m = measure(argv, aws_env(sqs_url), cpu=cpu)
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


def pin(pid, cpus):
    """Every thread of pid onto cpus (threads started later inherit it)."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True,
                   capture_output=True)


class Bench:
    def __init__(self, a, s3, emq, esqs):
        self.a, self.s3, self.emq, self.esqs = a, s3, emq, esqs
        self.start = f"{DAY}T00:00"
        self.expected = a.hours * 3600

    def one(self, name, cpu=None, warm=False):
        """One client's day into a fresh queue; the queue is counted, then
        deleted (ElasticMQ keeps every message in its heap)."""
        a, start = self.a, self.start
        q = new_queue(self.esqs, name.split()[0].replace("/", "-").replace("=", "-"))
        if name.startswith("dw-fanout"):
            m = run_dw_fanout(a.builds[name], self.s3.url, self.emq.url, q, start, a.hours,
                              a.concurrency, cpu=cpu)
            expected = self.expected
        elif name == "boto3 pool":
            m = run_boto3("batched", self.s3.url, self.emq.url, q, start, a.hours,
                          threads=a.concurrency, cpu=cpu)
            expected = self.expected
        elif name == "floor":
            m = run_floor(self.emq.url, q, start, a.hours, a.concurrency, cpu=cpu)
            expected = self.expected
        elif name == "boto3 per message":
            m = run_boto3("per-message", self.s3.url, self.emq.url, q, start, 1,
                          seconds=a.tpm_files, cpu=cpu)
            expected = a.tpm_files
        else:
            raise ValueError(name)
        m = derive(m, scale=self.expected / expected)
        m["in_queue"] = queue_count(self.esqs, q)
        m["expected"] = expected
        self.esqs.delete_queue(QueueUrl=q)
        if m["in_queue"] != expected or m["sent"] != expected:
            raise RuntimeError(f"{name}: sent {m['sent']}, {m['in_queue']} in the queue, "
                               f"expected {expected}")
        log(f"  {'(warm-up) ' if warm else ''}{name}: {m['sent']:,} sent, {m['in_queue']:,} in "
            f"queue, {m['wall_s']:.2f} s, CPU {m['cpu_s']:.2f} s, RSS {m['peak_rss_mib']:.1f} MiB, "
            f"servers {', '.join(f'{k} {v:.1f}' for k, v in m['server_cpu_s'].items())} CPU-s")
        return m

    def rounds(self, clients, n, cpu=None):
        out = []
        for r in range(n):
            order = clients[r % len(clients):] + clients[:r % len(clients)]
            log(f"round {r + 1} of {n}{' (pinned)' if cpu is not None else ''}: {', '.join(order)}")
            out.append({c: self.one(c, cpu=cpu) for c in order})
        return out


def median_of(rounds, name):
    runs = [r[name] for r in rounds]
    keys = ("wall_s", "cpu_s", "peak_rss_mib", "msgs_per_s", "cpu_ms_per_1000", "day_wall_s")
    m = {k: statistics.median(x[k] for x in runs) for k in keys}
    m["server_cpu_s"] = {s: statistics.median(x["server_cpu_s"][s] for x in runs)
                         for s in runs[0]["server_cpu_s"]}
    for k in ("sent", "requests", "expected", "scale"):
        m[k] = runs[0][k]
    m["all_cpu_s"] = statistics.median(x["cpu_s"] + sum(x["server_cpu_s"].values()) for x in runs)
    m["in_queue_all"] = [x["in_queue"] for x in runs]
    m["rounds"] = len(runs)
    return m


def row(name, m, servers, note=""):
    sc = m["server_cpu_s"]
    ok = all(n == m["expected"] for n in m["in_queue_all"])
    inq = f"{m['expected']:,} each" if ok else ", ".join(f"{n:,}" for n in m["in_queue_all"])
    cols = " | ".join(f"{sc.get(s, 0):.1f}" for s in servers)
    total = m["cpu_s"] + sum(sc.get(s, 0) for s in servers)
    return (f"| {name} | {m['sent']:,} | {inq} | {m['wall_s']:.2f} | {m['msgs_per_s']:,.0f} | "
            f"{m['cpu_ms_per_1000']:.1f} | {m['peak_rss_mib']:.1f} | {m['requests']:,} | {cols} | "
            f"{total:.1f} | {note} |")


def header(servers):
    return ("| client | messages | in queue | wall s | msgs/s | client CPU ms per 1000 msgs | "
            "peak RSS MiB | requests | " + " | ".join(f"{s} CPU s" for s in servers) +
            " | all CPU s | note |\n|---|---:|---:|---:|---:|---:|---:|---:|" +
            "---:|" * (len(servers) + 1) + "---|")


def ratios_table(rounds, dw="dw-fanout"):
    lines = ["| round | dw-fanout s | boto3 pool s | floor s | boto3 / dw-fanout | "
             "dw-fanout / floor | boto3 CPU / dw-fanout CPU | all CPU: boto3 / dw-fanout | "
             "all CPU: dw-fanout / floor |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(rounds, 1):
        d, b, f = r[dw], r["boto3 pool"], r["floor"]
        lines.append(f"| {i} | {d['wall_s']:.2f} | {b['wall_s']:.2f} | {f['wall_s']:.2f} | "
                     f"{b['wall_s'] / d['wall_s']:.2f}x | {d['wall_s'] / f['wall_s']:.2f}x | "
                     f"{b['cpu_s'] / d['cpu_s']:.1f}x | {all_cpu(b) / all_cpu(d):.2f}x | "
                     f"{all_cpu(d) / all_cpu(f):.2f}x |")
    return "\n".join(lines)


def all_cpu(m):
    """Client and servers: what a wall time is bound by when the CPUs are full."""
    return m["cpu_s"] + sum(m["server_cpu_s"].values())


def ratio_medians(rounds, dw="dw-fanout"):
    med = statistics.median
    return {"boto3_over_dw": med(r["boto3 pool"]["wall_s"] / r[dw]["wall_s"] for r in rounds),
            "dw_over_floor": med(r[dw]["wall_s"] / r["floor"]["wall_s"] for r in rounds),
            "cpu_boto3_over_dw": med(r["boto3 pool"]["cpu_s"] / r[dw]["cpu_s"] for r in rounds),
            "all_cpu_boto3_over_dw": med(all_cpu(r["boto3 pool"]) / all_cpu(r[dw]) for r in rounds),
            "all_cpu_dw_over_floor": med(all_cpu(r[dw]) / all_cpu(r["floor"]) for r in rounds)}


def main():
    global DW_FANOUT, FLOOR
    ap = argparse.ArgumentParser()
    ap.add_argument("--elasticmq-lib")
    ap.add_argument("--gofakes3", help="the gofakes3 executable")
    ap.add_argument("--floor", help="the bench/floor executable")
    ap.add_argument("--dw-fanout", default=DW_FANOUT, help="the dw-fanout binary (a release build)")
    ap.add_argument("--report", metavar="JSON", help="only print the tables of an earlier run's "
                    "raw figures (bench/.cache/fanout-results.json)")
    a = ap.parse_args()
    if a.report:
        results = json.loads(Path(a.report).read_text())
        ns = argparse.Namespace(**{k: results[k] for k in ("hours", "month_files", "moto_files")},
                                builds=results["builds"], rounds=len(results["rounds"]))
        report(results, ns, Path(a.report).resolve())
        return
    if not (a.elasticmq_lib and a.gofakes3 and a.floor):
        ap.error("--elasticmq-lib, --gofakes3 and --floor are needed (bench/run.sh gives them)")
    DW_FANOUT = str(Path(a.dw_fanout).resolve())
    FLOOR = str(Path(a.floor).resolve())
    env = os.environ.get
    a.hours = int(env("BENCH_HOURS", "24"))
    a.rounds = int(env("BENCH_ROUNDS", "3"))
    a.pinned = env("BENCH_PINNED", "1") == "1" and (os.cpu_count() or 1) >= 2
    a.month_files = int(env("BENCH_MONTH_FILES", "120"))
    a.moto_day = env("BENCH_MOTO_DAY", "1") == "1"
    a.moto_files = int(env("BENCH_MOTO_FILES", "1200"))
    a.tpm_files = int(env("BENCH_TPM_FILES", "3600"))
    a.concurrency = int(env("BENCH_CONCURRENCY", "32"))
    a.builds = {"dw-fanout": DW_FANOUT}
    for spec in filter(None, env("BENCH_COMPARE", "").split(",")):
        label, path = spec.split("=", 1)
        a.builds[f"dw-fanout {label}"] = str(Path(path).resolve())
    work = Path(tempfile.mkdtemp(prefix="dwops-bench-"))
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
               "hours": a.hours, "month_files": a.month_files,
               "moto_files": a.moto_files, "tpm_files": a.tpm_files,
               "load_before": os.getloadavg(), "builds": a.builds}
    t_all = time.monotonic()

    log("starting gofakes3 and ElasticMQ")
    s3srv = services.start_service(services.GoFakeS3(work, a.gofakes3))
    emq = services.start_service(services.ElasticMQ(work, Path(a.elasticmq_lib).resolve()))
    SERVERS.update(gofakes3=s3srv.pid, elasticmq=emq.pid)
    fast = ["gofakes3", "elasticmq"]
    try:
        s3, esqs = client("s3", s3srv.url), client("sqs", emq.url)
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=MONTH_BUCKET)
        keys = day_keys(DAY, a.hours)
        month_hours = (dt.date.fromisoformat(MONTH[1]) - dt.date.fromisoformat(MONTH[0])).days * 24
        month_keys = day_keys(MONTH[0], month_hours, a.month_files)
        seed(s3srv.url, keys)
        seed(s3srv.url, month_keys, MONTH_BUCKET)
        bench = Bench(a, s3srv, emq, esqs)

        log(f"listing floor: dw-fanout dry run of the {a.hours} hours")
        q = new_queue(esqs, "dry-run")
        results["list_floor_dw"] = run_dw_fanout(DW_FANOUT, s3srv.url, emq.url, q, bench.start,
                                                 a.hours, a.concurrency, dry_run=True)
        esqs.delete_queue(QueueUrl=q)
        log(f"  {results['list_floor_dw']['would_send']:,} keys in "
            f"{results['list_floor_dw']['wall_s']:.2f} s")

        log("warming ElasticMQ up: two untimed day runs")
        results["warm_up"] = [bench.one("dw-fanout", warm=True), bench.one("floor", warm=True)]

        clients = list(a.builds) + ["boto3 pool", "floor", "boto3 per message"]
        results["rounds"] = bench.rounds(clients, a.rounds)
        if a.pinned:
            last = str((os.cpu_count() or 2) - 1)
            for pid in SERVERS.values():
                pin(pid, "0")
            try:
                pinned_clients = [c for c in clients if c != "boto3 per message"]
                results["pinned_rounds"] = bench.rounds(pinned_clients, a.rounds, cpu=last)
            finally:
                for pid in SERVERS.values():
                    pin(pid, f"0-{last}")

        log("memory: one hour of 3,600 files, and the month-long range")
        q = new_queue(esqs, "hour")
        hour = run_dw_fanout(DW_FANOUT, s3srv.url, emq.url, q, bench.start, 1, a.concurrency)
        hour["in_queue"] = queue_count(esqs, q)
        esqs.delete_queue(QueueUrl=q)
        q = new_queue(esqs, "month")
        month = run_dw_fanout(DW_FANOUT, s3srv.url, emq.url, q, f"{MONTH[0]}T00:00", month_hours,
                              a.concurrency, bucket=MONTH_BUCKET)
        month["in_queue"] = queue_count(esqs, q)
        esqs.delete_queue(QueueUrl=q)
        results["memory"] = {"hour": hour, "month": dict(month, hours=month_hours)}
        for what, m in results["memory"].items():
            log(f"  {what}: {m['sent']:,} sent, {m['in_queue']:,} in queue, "
                f"RSS {m['peak_rss_mib']:.1f} MiB, {m['wall_s']:.1f} s")
        if month["sent"] != len(month_keys) or month["in_queue"] != len(month_keys):
            raise RuntimeError(f"month: sent {month['sent']}, {month['in_queue']} in queue, "
                               f"expected {len(month_keys)}")

        if a.moto_day or a.moto_files:
            log("starting moto")
            moto = services.start_moto(base_dir=work)
            SERVERS["moto"] = moto.pid
            results["moto"] = {}
            try:
                ms3, msqs = client("s3", moto.url), client("sqs", moto.url)
                ms3.create_bucket(Bucket=BUCKET)
                mkeys = ([f"{PREFIX}{dt.datetime.fromisoformat(MOTO_HOUR):%Y-%m-%d-%H}-"
                          f"{s // 60}-{s % 60}-events.json" for s in range(a.moto_files)])
                seed(moto.url, (keys if a.moto_day else []) + mkeys)
                if a.moto_day:
                    log(f"moto S3 + ElasticMQ: the day, dw-fanout dry run, dw-fanout, boto3 pool")
                    q = new_queue(esqs, "moto-dry")
                    results["moto"]["list_floor_dw"] = run_dw_fanout(
                        DW_FANOUT, moto.url, emq.url, q, bench.start, a.hours, a.concurrency,
                        dry_run=True)
                    esqs.delete_queue(QueueUrl=q)
                    day = {}
                    for name in ("dw-fanout", "boto3 pool"):
                        q = new_queue(esqs, "moto-day")
                        if name == "dw-fanout":
                            m = run_dw_fanout(DW_FANOUT, moto.url, emq.url, q, bench.start,
                                              a.hours, a.concurrency)
                        else:
                            m = run_boto3("batched", moto.url, emq.url, q, bench.start, a.hours,
                                          threads=a.concurrency)
                        m = derive(m)
                        m.update(in_queue=queue_count(esqs, q), expected=bench.expected)
                        esqs.delete_queue(QueueUrl=q)
                        log(f"  {name}: {m['sent']:,} sent, {m['in_queue']:,} in queue, "
                            f"{m['wall_s']:.1f} s")
                        day[name] = m
                    results["moto"]["day"] = day
                if a.moto_files:
                    log(f"moto SQS: {a.moto_files} files of hour {MOTO_HOUR}, each client")
                    hour_runs = {}
                    for name, mode in (("dw-fanout", None), ("boto3 pool", "batched"),
                                       ("boto3 per message", "per-message")):
                        q = new_queue(msqs, "moto")
                        if mode is None:
                            m = run_dw_fanout(DW_FANOUT, moto.url, moto.url, q, MOTO_HOUR, 1,
                                              a.concurrency)
                        else:
                            m = run_boto3(mode, moto.url, moto.url, q, MOTO_HOUR, 1,
                                          seconds=a.moto_files, threads=a.concurrency)
                        m = derive(m)
                        m.update(in_queue=queue_count(msqs, q), expected=a.moto_files)
                        log(f"  {name}: {m['sent']:,} sent, {m['in_queue']:,} in queue, "
                            f"{m['wall_s']:.1f} s")
                        hour_runs[name] = m
                    results["moto"]["hour"] = hour_runs
            finally:
                SERVERS.pop("moto", None)
                moto.stop()
    finally:
        emq.stop()
        s3srv.stop()

    log("start-up: 200 invalid requests")
    results["startup"] = startup()
    results["load_after"] = os.getloadavg()
    results["total_s"] = time.monotonic() - t_all
    out = REPO / "bench" / ".cache" / "fanout-results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    report(results, a, out)


def report(results, a, out):
    fast = ["gofakes3", "elasticmq"]
    la, lb = results["load_before"], results["load_after"]
    print(f"\n## dw-fanout benchmark ({results['machine']})\n")
    print(f"Load average before {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f}, after "
          f"{lb[0]:.1f} / {lb[1]:.1f} / {lb[2]:.1f}.  S3 = gofakes3, SQS = ElasticMQ; a day = "
          f"{a.hours} x 3,600 = {a.hours * 3600:,} files; medians of {a.rounds} interleaved "
          f"rounds after two untimed warm-up day runs.\n")
    sections = [("rounds", "Servers and client on both CPUs")]
    if "pinned_rounds" in results:
        sections.append(("pinned_rounds", "Servers pinned to CPU 0, the client to CPU 1"))
    for key, title in sections:
        rounds = results[key]
        print(f"**{title}**\n")
        print(header(fast))
        names = list(a.builds) + ["boto3 pool", "floor", "boto3 per message"]
        labels = {"boto3 pool": "boto3, thread pool (32) + SendMessageBatch",
                  "floor": "sending floor (bench/floor: SendMessageBatch only, no listing)",
                  "boto3 per message": "boto3, one thread per message (the original)"}
        for name in names:
            if name not in rounds[0]:
                continue
            m = median_of(rounds, name)
            note = ""
            if m["scale"] != 1:
                note = (f"{m['expected']:,} files measured; day ~{m['day_wall_s']:.0f} s "
                        f"extrapolated (x{m['scale']:.0f})")
            print(row(f"**{name}**" if name == "dw-fanout" else labels.get(name, name), m, fast,
                      note))
        print()
        print(ratios_table(rounds))
        r = ratio_medians(rounds)
        d = median_of(rounds, "dw-fanout")
        print(f"\nMedians of the per-round ratios: boto3 pool / dw-fanout wall "
              f"{r['boto3_over_dw']:.2f}x, dw-fanout / floor {r['dw_over_floor']:.2f}x, client CPU "
              f"boto3 / dw-fanout {r['cpu_boto3_over_dw']:.1f}x; all CPU (client + servers) "
              f"boto3 / dw-fanout {r['all_cpu_boto3_over_dw']:.2f}x, dw-fanout / floor "
              f"{r['all_cpu_dw_over_floor']:.2f}x; dw-fanout peak RSS {d['peak_rss_mib']:.1f} MiB.\n")
    lf = results["list_floor_dw"]
    print(f"Listing alone (dw-fanout dry run of the day): {lf['would_send']:,} keys in "
          f"{lf['wall_s']:.2f} s, gofakes3 CPU {lf['server_cpu_s']['gofakes3']:.1f} s.\n")
    w = results["warm_up"]
    print("Warm-up (untimed): " + "; ".join(
        f"{m['wall_s']:.2f} s, ElasticMQ CPU {m['server_cpu_s']['elasticmq']:.1f} s" for m in w) + ".\n")
    mem = results["memory"]
    day_rss = median_of(results["rounds"], "dw-fanout")["peak_rss_mib"]
    print(f"Memory of one dw-fanout: one hour (3,600 files) {mem['hour']['peak_rss_mib']:.1f} MiB; "
          f"the day {day_rss:.1f} MiB; the month-long range ({mem['month']['hours']} hours x "
          f"{a.month_files} files = {mem['month']['sent']:,} messages, {mem['month']['in_queue']:,} "
          f"in queue, {mem['month']['wall_s']:.1f} s, gofakes3 CPU "
          f"{mem['month']['server_cpu_s']['gofakes3']:.1f} s for its "
          f"{mem['month']['requests']:,} requests) {mem['month']['peak_rss_mib']:.1f} MiB.\n")
    moto = results.get("moto", {})
    if "day" in moto:
        print("**moto's S3 (listing), ElasticMQ (SQS): the day, one run each**\n")
        print(header(["moto", "elasticmq"]))
        for name, m in moto["day"].items():
            print(row(name, dict(m, in_queue_all=[m["in_queue"]]), ["moto", "elasticmq"]))
        lf = moto["list_floor_dw"]
        print(f"\nListing alone from moto (dw-fanout dry run): {lf['would_send']:,} keys in "
              f"{lf['wall_s']:.1f} s, moto CPU {lf['server_cpu_s']['moto']:.1f} s.\n")
    if "hour" in moto:
        print(f"**moto's S3 and SQS: one hour of {a.moto_files:,} files**\n")
        print(header(["moto"]))
        for name, m in moto["hour"].items():
            print(row(name, dict(m, in_queue_all=[m["in_queue"]]), ["moto"]))
        print()
    s = results["startup"]
    print(f"Start-up: {s['runs']} runs of bin/dw-fanout with an unknown field (exit 2): "
          f"mean {s['mean_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms (min {s['min_ms']:.2f}, "
          f"max {s['max_ms']:.2f}).")
    try:
        out = out.relative_to(REPO)
    except ValueError:
        pass
    print(f"\nbench total {results['total_s']:.0f} s; raw figures in {out}")


if __name__ == "__main__":
    main()
