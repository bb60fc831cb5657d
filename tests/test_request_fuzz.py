"""The request fuzzer (issue 12, "Keep the attack in the project"):
mutations of every example request (examples/*/*.json) fed to the sanitizer
builds of the operators, pointed at an AWS endpoint nobody listens on, so
nothing reaches real AWS.  Every run must exit 0, 1, 2, 75 or 99, print a
JSON result line, raise no sanitizer report, and print no secret.

Bounded: DW_REQ_FUZZ_PER_EXAMPLE mutations of each example (default 3) and
at most DW_REQ_FUZZ_SECONDS in all (default 90); the seed is
DW_REQ_FUZZ_SEED or random, and printed."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

import services
from conftest import REPO, register_secret

EXAMPLES = sorted((REPO / "examples").glob("dw-*/*.json"))
PER_EXAMPLE = int(os.environ.get("DW_REQ_FUZZ_PER_EXAMPLE", "3"))
BUDGET_S = float(os.environ.get("DW_REQ_FUZZ_SECONDS", "90"))
SEED = int(os.environ.get("DW_REQ_FUZZ_SEED") or random.SystemRandom().randrange(1 << 30))
SECRET = "Fuzz-Direct-pw\\q\"'" + "x9Q"
ENV_SECRET = "Fuzz-Env-pw-ሴ-" + "7Hk2"

HOSTILE_VALUES = [
    None, True, False, 0, -1, 1 << 31, (1 << 31) + 1, 1 << 32, (1 << 63) - 1, 1 << 63,
    -(1 << 63), -(1 << 63) - 1, 1e308, -1e308, 0.5, "", " ", "../../etc/passwd",
    "/tmp/abs.zip", "a" * 5000, "ሴ😀\u0000x", "%s%n%x", "'; DROP TABLE t; --",
    "s3://", "s3://b/../", "2019-02-31T25:61:61Z", "9999999999", [], {}, [[[[[]]]]],
    {"a": {"b": {"c": {}}}}, ["x"] * 50,
]
# SECRET is put only where a secret is read (a password field): a value the
# operator cannot know to be secret may be echoed (an unknown action, say).


def _paths(v, path=()):
    yield path
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, path + (i,))


def _set(doc, path, value):
    if not path:
        return value
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return doc


def _delete(doc, path):
    if not path:
        return doc
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    del cur[path[-1]]
    return doc


def mutate(rng, req):
    """One mutated request, as text."""
    doc = json.loads(json.dumps(req))
    how = rng.randrange(8)
    paths = [p for p in _paths(doc) if p]
    if how <= 2 and paths:  # a value replaced by a hostile one
        for _ in range(rng.randint(1, 3)):
            paths = [p for p in _paths(doc) if p]
            doc = _set(doc, rng.choice(paths), json.loads(json.dumps(rng.choice(HOSTILE_VALUES))))
    elif how == 3 and paths:  # a field dropped
        doc = _delete(doc, rng.choice(paths))
    elif how == 4:  # an unknown field, or a secret where one is read
        key = rng.choice(["colour", "password", "user", "master"])
        doc[key] = SECRET if key == "password" else \
            rng.choice([{"password": SECRET}, {"name": "u", "password": SECRET},
                        {"user": "root", "password": SECRET}])
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    if how == 5:  # a key repeated (the later one must not win silently)
        text = text.rstrip("}") + (', ' if len(doc) else '') + '"dry_run": false}'
        if '"dry_run"' not in json.dumps(doc):
            text = text[:-1] + ', "dry_run": true}'
    elif how == 6 and text:  # cut short
        text = text[:rng.randrange(len(text))]
    elif how == 7 and text:  # bytes flipped or inserted
        b = bytearray(text.encode())
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b) + 1)
            if rng.random() < 0.5 and i < len(b):
                b[i] = rng.randrange(256)
            else:
                b[i:i] = bytes([rng.choice(b'{}[]",:\\\x00\xff0-9e')])
        return bytes(b)
    return text.encode()


def _pin_endpoints(doc, url):
    """Whatever the mutation made of them, endpoints point nowhere."""
    if isinstance(doc, dict):
        for k in list(doc):
            if k in ("endpoint_url", "endpoints", "profile", "endpoint_override", "ssh_tunnel"):
                del doc[k]
        doc["endpoint_url"] = url
    return doc


@pytest.mark.skipif(not EXAMPLES, reason="no examples")
def test_mutated_example_requests(bench, run_op, tmp_path):
    register_secret(SECRET)
    register_secret(ENV_SECRET)
    rng = random.Random(SEED)
    print(f"DW_REQ_FUZZ_SEED={SEED}")
    nowhere = f"http://127.0.0.1:{services.free_port()}"
    env = {"AWS_ENDPOINT_URL": nowhere, "DW_DDL_BUNDLE_DIR": str(tmp_path),
           "DW_TEST_USER_PASSWORD": ENV_SECRET, "DW_USER_PASSWORD": ENV_SECRET,
           "MYSQL_PASSWORD": ENV_SECRET, "DW_MASTER_PASSWORD": ENV_SECRET,
           "DW_RETRY_BASE_MS": "1", "AWS_MAX_ATTEMPTS": "2"}
    deadline = time.monotonic() + BUDGET_S
    runs, codes = 0, {}
    cases = [(p, i) for p in EXAMPLES for i in range(PER_EXAMPLE)]
    rng.shuffle(cases)
    for path, _ in cases:
        if time.monotonic() > deadline:
            break
        req = json.loads(path.read_text())
        operator = path.parent.name
        action = req.get("action")
        try:
            doc = json.loads(mutate(rng, req))
            data = json.dumps(_pin_endpoints(doc, nowhere)).encode()
        except (ValueError, UnicodeDecodeError):
            data = mutate(rng, req)  # not JSON any more: as it is
        args = [action] if action and rng.random() < 0.5 else []
        r = run_op(operator, stdin=data, args=args, env=env, timeout=60, cwd=str(tmp_path))
        runs += 1
        codes[r.code] = codes.get(r.code, 0) + 1
        what = f"{operator} {args} {data[:300]!r}"
        assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, \
            f"{what}\n{r.stderr[-3000:]}"
        assert r.code in (0, 1, 2, 75, 99), f"{what}\n{r!r}"
        assert isinstance(r.result, dict) and "ok" in r.result, f"{what}: no JSON result\n{r!r}"
        assert (r.code == 0 or r.code == 99) == (r.result["ok"] is True), f"{what}\n{r!r}"
        # run_op checks stdout and stderr for SECRET and ENV_SECRET
    print(f"request fuzzer: {runs} runs, exit codes {codes}")
    assert runs >= min(len(cases), 20)
