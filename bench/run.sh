#!/usr/bin/env bash
# make bench: dw-fanout against the Python ways of doing the same job, and
# the operators' start-up time.  Installs what it needs itself: the Python
# venv (scripts/setup.sh), a JDK and Maven (Debian), and ElasticMQ with its
# dependencies from Maven Central, cached under bench/.cache/.  Peak RSS and
# CPU come from GNU time (/usr/bin/time, Debian package "time").
#
#   BENCH_HOURS=24        hours fanned out against ElasticMQ (a day)
#   BENCH_MOTO_FILES=1200 files of one hour sent against moto's own SQS
#                         (each moto send scans the queue: time grows with n^2)
#   BENCH_TPM_FILES=3600  files sent one thread per message (one hour; the
#                         day's figure is extrapolated from it)
set -euo pipefail
cd "$(dirname "$0")/.."

ELASTICMQ_VERSION=1.6.11
cache=bench/.cache
lib="$cache/elasticmq-$ELASTICMQ_VERSION/lib"

bash scripts/setup.sh >/dev/null
# A release build of our own: bin/ may hold a sanitizer build at any time.
make -s bin/dw-fanout
mkdir -p "$cache"
cp bin/dw-fanout "$cache/dw-fanout"
# (grep without -q reads all of nm's output: under pipefail, nm killed by
# SIGPIPE would make the test false.)
if nm -D "$cache/dw-fanout" 2>/dev/null | grep __asan_init >/dev/null; then
	echo "bench: bin/dw-fanout is a sanitizer build; run make clean all first" >&2
	exit 1
fi

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
	echo "bench: installing ${need[*]}" >&2
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

if ! ls "$lib"/elasticmq-server_2.13-*.jar >/dev/null 2>&1; then
	echo "bench: fetching ElasticMQ $ELASTICMQ_VERSION and its dependencies from Maven Central" >&2
	mkdir -p "$lib"
	mvn -q -B -f bench/elasticmq/pom.xml -Delasticmq.version="$ELASTICMQ_VERSION" \
		dependency:copy-dependencies -DoutputDirectory="$PWD/$lib" >&2
fi

exec .venv/bin/python bench/fanout_bench.py --elasticmq-lib "$lib" --dw-fanout "$cache/dw-fanout" "$@"
