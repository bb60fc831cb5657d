"""make fuzz's libFuzzer harnesses, briefly (issue 12, "Keep the attack in
the project"): each harness in tests/fuzz/ is built (clang, libFuzzer, ASan
and UBSan; make fuzz-build) and run for DW_FUZZ_SECONDS (default 3) from its
seed corpus, so that a regression in a parser of untrusted input is caught
by make test.  Longer runs: make fuzz FUZZ_SECONDS=600."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import REPO

FUZZ_DIR = REPO / "tests" / "fuzz"
# tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/<name>/corpus; and the request
# protocol of every operator (tests/fuzz/req.c with operators/dw-<op>.c),
# seeds: its example requests.
OPERATORS = sorted(p.stem[len("dw-"):] for p in (REPO / "operators").glob("dw-*.c"))
HARNESSES = sorted([p.stem[len("fuzz_"):] for p in FUZZ_DIR.glob("fuzz_*.c")] +
                   [f"req_{op}" for op in OPERATORS])


def seeds_of(name):
    if name.startswith("req_"):
        return REPO / "examples" / f"dw-{name[len('req_'):]}"
    return FUZZ_DIR / name / "corpus"
SECONDS = int(os.environ.get("DW_FUZZ_SECONDS", "3"))


@pytest.fixture(scope="module")
def fuzz_build():
    r = subprocess.run(["make", "-j2", "fuzz-build"], cwd=REPO, capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return REPO / "build" / "fuzz"


def test_every_harness_has_seeds():
    assert len(HARNESSES) >= 6 + len(OPERATORS)
    for name in HARNESSES:
        seeds = list(seeds_of(name).glob("*"))
        assert seeds, f"{seeds_of(name)} has no seeds"


@pytest.mark.parametrize("name", HARNESSES)
def test_fuzz_briefly(fuzz_build, tmp_path, name):
    work = tmp_path / "corpus"
    work.mkdir()
    r = subprocess.run(
        [str(fuzz_build / f"fuzz_{name}"), f"-max_total_time={SECONDS}", "-timeout=10",
         "-rss_limit_mb=2048", "-max_len=65536", "-print_final_stats=1",
         f"-artifact_prefix={tmp_path}/crash-", str(work), str(seeds_of(name))],
        cwd=REPO, capture_output=True, text=True, timeout=SECONDS + 120,
        env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
    crashes = list(tmp_path.glob("crash-*"))
    assert r.returncode == 0 and not crashes, \
        f"fuzz_{name} found {[c.name for c in crashes]}:\n{r.stderr[-4000:]}"
    runs = [l for l in r.stderr.splitlines() if l.startswith("stat::number_of_executed_units")]
    assert runs and int(runs[0].split(":")[-1]) > 0, r.stderr[-2000:]
