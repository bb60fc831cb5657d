#!/usr/bin/env bash
# Idempotent developer/CI setup for dwops.
#  - installs the Debian packages the build and the test bench need (apt-get
#    update only when something is missing),
#  - creates <repo>/.venv and installs tests/requirements.txt into it
#    (skipped when a stamp keyed on the requirements' hash matches),
#  - then the Airflow environments (scripts/setup-airflow.sh).
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
    libcurl4-openssl-dev libssl-dev libxml2-dev libcjson-dev
    libmariadb-dev mariadb-server mariadb-client
    openssh-server openssh-client libssh2-1-dev
    libzip-dev libcmocka-dev libsnappy-dev zlib1g-dev
    groovy cppcheck clang-tidy valgrind
    clang libclang-rt-14-dev
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
. "$REPO/scripts/venv.sh"
PY="$(find_python)" || { log "no python3 with the venv module found"; exit 1; }
if ! venv_current tests/requirements.txt "$REPO/.venv"; then
    venv_install tests/requirements.txt "$REPO/.venv" "$PY"
    venv_stamp tests/requirements.txt "$REPO/.venv"
fi

# ------------------------------------------------------- Go-built tools ---
# The AWS Lambda Runtime Interface Emulator, for dw-etl's lambda tests
# (tests/test_etl_lambda.py), from the Go module proxy into .cache/go-bin;
# rebuilt only when the pinned version changes.
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
RIE_BIN="$REPO/.cache/go-bin/aws-lambda-rie"
if [ ! -x "$RIE_BIN" ] || [ "$(cat "$RIE_BIN.version" 2>/dev/null)" != "$RIE_VERSION" ]; then
    GO="$(command -v go || true)"
    [ -n "$GO" ] || GO=/usr/local/go/bin/go
    if [ ! -x "$GO" ]; then
        log "installing Go (golang-go) to build aws-lambda-rie"
        $SUDO apt-get install -y -q --no-install-recommends golang-go </dev/null
        GO="$(command -v go)"
    fi
    log "building aws-lambda-rie $RIE_VERSION with $GO"
    mkdir -p "$REPO/.cache/go-bin"
    GOBIN="$REPO/.cache/go-bin" GOPATH="$REPO/.cache/go" GOFLAGS=-modcacherw \
        "$GO" install "$RIE_MODULE@$RIE_VERSION"
    echo "$RIE_VERSION" >"$RIE_BIN.version"
fi

# sshd privilege-separation directory (used by the test bench's sshd).
[ -d /run/sshd ] || $SUDO mkdir -p /run/sshd 2>/dev/null || true

# ------------------------------------------------------------------ Airflow ---
# .venv-airflow2 / .venv-airflow3 for the DAG tests (DW_SKIP_AIRFLOW=1 skips).
bash "$REPO/scripts/setup-airflow.sh"

exit 0
