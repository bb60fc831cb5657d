#!/usr/bin/env bash
# Idempotent developer/CI setup for dwops.
#  - installs the Debian packages the build and the test bench need (apt-get
#    update only when something is missing),
#  - creates <repo>/.venv and installs tests/requirements.txt into it
#    (skipped when a stamp keyed on the requirements' hash matches),
#  - makes sure .gitignore ignores the generated directories.
# Fast (well under a second) when everything is already in place.
# Works without a TTY and with CI=true.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1

log() { printf 'setup: %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
fi

# ---------------------------------------------------------------- Debian ---
PKGS=(
    build-essential pkg-config
    libcurl4-openssl-dev libssl-dev libxml2-dev libjansson-dev
    libmariadb-dev mariadb-server mariadb-client
    openssh-server openssh-client libssh2-1-dev
    libzip-dev libcmocka-dev
    groovy cppcheck clang-tidy valgrind
    jq zip unzip
    python3 python3-venv
)
if ! command -v java >/dev/null 2>&1; then
    PKGS+=(openjdk-17-jre-headless)
fi

# One dpkg-query call for all packages; anything not "installed" is missing.
missing=()
installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null || true)"
for p in "${PKGS[@]}"; do
    if ! grep -qx "$p installed" <<<"$installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" </dev/null
fi

# ------------------------------------------------------------ Python venv ---
REQ="tests/requirements.txt"
VENV="$REPO/.venv"
STAMP="$VENV/.dwops-requirements.sha256"

# Prefer Debian's interpreter (always there after the step above); fall back
# to whatever python3 is on PATH.
PY=""
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        PY="$(command -v "$cand")"
        break
    fi
done
if [ -z "$PY" ]; then
    log "no python3 with the venv module found"
    exit 1
fi

want="$( { sha256sum "$REQ" | cut -d' ' -f1; "$VENV/bin/python" -c 'import sys; print(sys.version)' 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    : # up to date
else
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "creating virtual env $VENV"
        rm -rf "$VENV"
        "$PY" -m venv "$VENV"
    fi
    log "installing $REQ into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip </dev/null || log "pip upgrade failed (continuing)"
    "$VENV/bin/python" -m pip install -q -r "$REQ" </dev/null
    # Recompute: the interpreter version is part of the key.
    want="$( { sha256sum "$REQ" | cut -d' ' -f1; "$VENV/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    printf '%s\n' "$want" > "$STAMP"
fi

# -------------------------------------------------------------- .gitignore ---
touch .gitignore
for pat in '.venv/' 'build/' 'bin/' 'tests/.bench/' '*.o' '__pycache__/'; do
    if ! grep -qxF -- "$pat" .gitignore; then
        # keep the file newline-terminated before appending
        if [ -s .gitignore ] && [ "$(tail -c1 .gitignore | od -An -c | tr -d ' ')" != '\n' ]; then
            printf '\n' >> .gitignore
        fi
        printf '%s\n' "$pat" >> .gitignore
    fi
done

# sshd privilege-separation directory (used by the test bench's sshd).
[ -d /run/sshd ] || $SUDO mkdir -p /run/sshd 2>/dev/null || true

# ------------------------------------------------------------------ Airflow ---
# .venv-airflow2 / .venv-airflow3 for the DAG tests (DW_SKIP_AIRFLOW=1 skips).
bash "$REPO/scripts/setup-airflow.sh"

exit 0
