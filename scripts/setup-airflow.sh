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

. "$REPO/scripts/venv.sh"
PY="$(find_python)" || { log "no python3 with the venv module found (run scripts/setup.sh first)"; exit 1; }

for major in ${DW_AIRFLOW_MAJORS:-2 3}; do
    REQ="tests/requirements-airflow$major.txt"
    VENV="$REPO/.venv-airflow$major"
    if [ ! -f "$REQ" ]; then
        log "$REQ missing"
        exit 1
    fi
    if venv_current "$REQ" "$VENV" && [ -x "$VENV/bin/airflow" ]; then
        continue
    fi
    start=$(date +%s)
    venv_install "$REQ" "$VENV" "$PY"
    # smoke check: the CLI starts and reports the pinned major version
    tmp_home="$(mktemp -d)"
    ver="$(AIRFLOW_HOME="$tmp_home" "$VENV/bin/python" -c 'import airflow; print(airflow.__version__)' 2>/dev/null | tail -n1 || true)"
    rm -rf "$tmp_home"
    case "$ver" in
        "$major".*) ;;
        *) log "$VENV: expected Airflow $major.x, got '$ver'"; exit 1 ;;
    esac
    venv_stamp "$REQ" "$VENV"
    log "Airflow $ver ready in $VENV ($(( $(date +%s) - start ))s)"
done

exit 0
