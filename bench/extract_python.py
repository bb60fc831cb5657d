#!/usr/bin/env python3
"""The Python way of dw-extract (bench/extract_bench.py measures it): a
PyMySQL keyset loop over (updated_at, id) with bound parameters, json for the
records, gzip JSON lines put to S3 with boto3 one object per page, and the
watermark written to SSM after each page -- what a careful Lambda would do.

argv: a JSON object {host, port, user, password, table, bucket, prefix,
param, page_rows, s3_url, ssm_url}.  Prints {"rows": N, "pages": N}."""

from __future__ import annotations

import datetime
import decimal
import gzip
import json
import sys

import boto3
import pymysql


def default(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat(sep=" ")
    if isinstance(v, bytes):
        return v.hex()
    raise TypeError(type(v))


def main():
    a = json.loads(sys.argv[1])
    db = pymysql.connect(host=a["host"], port=a["port"], user=a["user"], password=a["password"],
                         charset="utf8mb4", autocommit=True,
                         cursorclass=pymysql.cursors.SSCursor)
    s3 = boto3.client("s3", endpoint_url=a["s3_url"])
    ssm = boto3.client("ssm", endpoint_url=a["ssm_url"])
    schema, table = a["table"].split(".")
    with db.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute("SELECT UTC_TIMESTAMP(6) - INTERVAL 60 SECOND")
        upper = cur.fetchone()[0]
    cols = None
    last = None
    rows = pages = 0
    while True:
        with db.cursor() as cur:
            if last is None:
                cur.execute(f"SELECT * FROM `{schema}`.`{table}` WHERE updated_at < %s "
                            "ORDER BY updated_at, id LIMIT %s", (upper, a["page_rows"]))
            else:
                cur.execute(f"SELECT * FROM `{schema}`.`{table}` WHERE ((updated_at = %s AND id > %s) "
                            "OR updated_at > %s) AND updated_at < %s ORDER BY updated_at, id LIMIT %s",
                            (last[0], last[1], last[0], upper, a["page_rows"]))
            cols = cols or [d[0] for d in cur.description]
            ic, ii = cols.index("updated_at"), cols.index("id")
            lines = []
            first = None
            for r in cur:
                row = dict(zip(cols, r))
                if first is None:
                    first = (r[ic], r[ii])
                lines.append(json.dumps({"table": a["table"], "pk": r[ii], "cursor": r[ic],
                                         "row": row}, default=default))
                last = (r[ic], r[ii])
        if not lines:
            break
        key = f"{a['prefix']}/{a['table']}/{first[0].isoformat()}-{first[1]}.json.gz"
        s3.put_object(Bucket=a["bucket"], Key=key,
                      Body=gzip.compress(("\n".join(lines) + "\n").encode(), 1))
        ssm.put_parameter(Name=a["param"], Type="String", Overwrite=True,
                          Value=json.dumps({"cursor": str(last[0]), "tiebreak": str(last[1])}))
        rows += len(lines)
        pages += 1
        if len(lines) < a["page_rows"]:
            break
    print(json.dumps({"rows": rows, "pages": pages}))


if __name__ == "__main__":
    main()
