#!/usr/bin/env python3
"""The two Python ways of fanning an hour's S3 files out to SQS, as baselines
for dw-fanout (run by bench/fanout_bench.py, one process per run).

  per-message  the original script: one thread per second of the hour, each
               sending one SendMessage with the guessed key (no listing)
  batched      the stronger way: ListObjectsV2 per hour (paginator), then
               SendMessageBatch of 10 through a thread pool

Both send the key as the body and in the "from" attribute, like dw-fanout.
Prints {"sent": N, "requests": N, "failed": N} (HTTP requests counted with a
botocore before-send hook, retries included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

requests = 0
lock = threading.Lock()


def count_request(**_):
    global requests
    with lock:
        requests += 1


def client(service, endpoint, pool=10):
    c = boto3.client(service, endpoint_url=endpoint,
                     config=Config(max_pool_connections=pool, retries={"mode": "standard"}))
    c.meta.events.register("before-send", count_request)
    return c


def entry(key, i=None):
    e = {"MessageBody": key,
         "MessageAttributes": {"from": {"DataType": "String", "StringValue": key}}}
    if i is not None:
        e["Id"] = str(i)
    return e


def hours(start, n):
    t = dt.datetime.fromisoformat(start)
    return [t + dt.timedelta(hours=h) for h in range(n)]


def per_message(a):
    sqs = client("sqs", a.sqs_endpoint)
    sent = failed = 0
    done = threading.Lock()

    def send(key):
        nonlocal sent, failed
        try:
            sqs.send_message(QueueUrl=a.queue_url, **entry(key))
            ok = True
        except Exception:
            ok = False
        with done:
            sent += ok
            failed += not ok

    for h in hours(a.start, a.hours):
        threads = []
        for s in range(a.seconds):
            key = f"{a.prefix}{h:%Y-%m-%d-%H}-{s // 60}-{s % 60}-events.json"
            t = threading.Thread(target=send, args=(key,))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
    return sent, failed


def batched(a):
    s3 = client("s3", a.s3_endpoint)
    sqs = client("sqs", a.sqs_endpoint, pool=a.threads)
    sent = failed = 0
    done = threading.Lock()

    def send(keys):
        nonlocal sent, failed
        try:
            r = sqs.send_message_batch(QueueUrl=a.queue_url,
                                       Entries=[entry(k, i) for i, k in enumerate(keys)])
        except Exception:
            r = {"Failed": keys}
        with done:
            sent += len(r.get("Successful", []))
            failed += len(r.get("Failed", []))

    # keep memory bounded like dw-fanout: at most 4 batches per thread waiting
    window = threading.BoundedSemaphore(4 * a.threads)
    pages = s3.get_paginator("list_objects_v2")
    with ThreadPoolExecutor(a.threads) as pool:
        for h in hours(a.start, a.hours):
            for page in pages.paginate(Bucket=a.bucket, Prefix=f"{a.prefix}{h:%Y-%m-%d-%H}-"):
                keys = [o["Key"] for o in page.get("Contents", [])]
                for i in range(0, len(keys), 10):
                    window.acquire()
                    f = pool.submit(send, keys[i:i + 10])
                    f.add_done_callback(lambda _: window.release())
    return sent, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["per-message", "batched"])
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", default="")
    ap.add_argument("--start", required=True, help="first hour, e.g. 2019-06-01T00:00")
    ap.add_argument("--hours", type=int, default=1)
    ap.add_argument("--seconds", type=int, default=3600, help="per-message: seconds per hour")
    ap.add_argument("--queue-url", required=True)
    ap.add_argument("--s3-endpoint", required=True)
    ap.add_argument("--sqs-endpoint", required=True)
    ap.add_argument("--threads", type=int, default=32)
    a = ap.parse_args()
    sent, failed = (per_message if a.mode == "per-message" else batched)(a)
    print(json.dumps({"sent": sent, "failed": failed, "requests": requests}))


if __name__ == "__main__":
    main()
