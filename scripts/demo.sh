#!/usr/bin/env bash
# make demo: start the local services (moto, MariaDB, sshd), point the
# operators at them, and run each operator's main jobs (scripts/demo.d/*.sh,
# in order), showing every step and its JSON result.
set -euo pipefail
cd "$(dirname "$0")/.."

py=.venv/bin/python
services=tests/bench/services.py

stop() { "$py" "$services" stop >/dev/null 2>&1 || true; }
trap stop EXIT

echo "== starting the local services"
exports=$("$py" "$services" start)
eval "$exports"
export DW_RETRY_BASE_MS=200
echo "   moto at $AWS_ENDPOINT_URL, MariaDB at $DW_BENCH_MYSQL_HOST:$DW_BENCH_MYSQL_PORT, sshd at $DW_BENCH_SSH_HOST:$DW_BENCH_SSH_PORT"

for step in scripts/demo.d/*.sh; do
	[ -e "$step" ] || continue
	echo
	echo "== $(basename "$step" .sh)"
	bash "$step"
done
echo
echo "== demo finished"
