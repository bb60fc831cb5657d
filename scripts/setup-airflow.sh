#!/usr/bin/env bash
# Idempotent setup of the two Airflow installations the DAG integration tests
# run against (tests/test_airflow_dags.py, tests/airflow_support.py):
#
#   <repo>/.venv-airflow2   tests/requirements-airflow2.txt  (Apache Airflow 2.x)
#   <repo>/.venv-airflow3   tests/requirements-airflow3.txt  (Apache Airflow 3.x)
#
# Each venv is built with Debian's /usr/bin/python3 and skipped when a stamp
# keyed on the requirement file's hash and the interpreter version matches,
# so a second run takes well under a second.  Called at the end of
# scripts/setup.sh.
#
# Env: DW_SKIP_AIRFLOW=1   do nothing (the Airflow tests then skip),
#      DW_AIRFLOW_MAJORS   which majors to set up (default "2 3").
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1

log() { printf 'setup-airflow: %s\n' "$*" >&2; }

if [ "${DW_SKIP_AIRFLOW:-0}" = "1" ]; then
    log "DW_SKIP_AIRFLOW=1: skipping the Airflow venvs"
    exit 0
fi

# -------------------------------------------------------------- .gitignore ---
touch .gitignore
for pat in '.venv-airflow2/' '.venv-airflow3/'; do
    if ! grep -qxF -- "$pat" .gitignore; then
        if [ -s .gitignore ] && [ "$(tail -c1 .gitignore | od -An -c | tr -d ' ')" != '\n' ]; then
            printf '\n' >> .gitignore
        fi
        printf '%s\n' "$pat" >> .gitignore
    fi
done

PY=""
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        PY="$(command -v "$cand")"
        break
    fi
done
if [ -z "$PY" ]; then
    log "no python3 with the venv module found (run scripts/setup.sh first)"
    exit 1
fi

key() { # key REQ VENV
    { sha256sum "$1" | cut -d' ' -f1; "$2/bin/python" -c 'import sys; print(sys.version)' 2>/dev/null || true; } \
        | sha256sum | cut -d' ' -f1
}

for major in ${DW_AIRFLOW_MAJORS:-2 3}; do
    REQ="tests/requirements-airflow$major.txt"
    VENV="$REPO/.venv-airflow$major"
    STAMP="$VENV/.dwops-requirements.sha256"
    if [ ! -f "$REQ" ]; then
        log "$REQ missing"
        exit 1
    fi
    if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(key "$REQ" "$VENV")" ] \
        && [ -x "$VENV/bin/airflow" ]; then
        continue
    fi
    start=$(date +%s)
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "creating virtual env $VENV"
        rm -rf "$VENV"
        "$PY" -m venv "$VENV"
    fi
    log "installing $REQ into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip </dev/null || log "pip upgrade failed (continuing)"
    "$VENV/bin/python" -m pip install -q -r "$REQ" </dev/null
    # smoke check: the CLI starts and reports the pinned major version
    tmp_home="$(mktemp -d)"
    ver="$(AIRFLOW_HOME="$tmp_home" "$VENV/bin/python" -c 'import airflow; print(airflow.__version__)' 2>/dev/null | tail -n1 || true)"
    rm -rf "$tmp_home"
    case "$ver" in
        "$major".*) ;;
        *) log "$VENV: expected Airflow $major.x, got '$ver'"; exit 1 ;;
    esac
    key "$REQ" "$VENV" > "$STAMP"
    log "Airflow $ver ready in $VENV ($(( $(date +%s) - start ))s)"
done

exit 0
