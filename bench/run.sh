#!/usr/bin/env bash
# make bench: dw-fanout against the Python ways of doing the same job and the
# sending floor, and the operators' start-up time.  Installs what it needs
# itself, cached under bench/.cache/: the Python venv (scripts/setup.sh), a
# JDK and Maven (Debian), ElasticMQ with its dependencies from Maven Central,
# and, built with the Go toolchain (/usr/local/go/bin or PATH) from the Go
# module proxy, gofakes3 (an in-memory S3 server) and bench/floor (the
# sending floor and the seeder).  Peak RSS and CPU come from GNU time
# (/usr/bin/time, Debian package "time").
#
#   BENCH_HOURS=24        hours of 3,600 files fanned out (a day)
#   BENCH_ROUNDS=3        interleaved rounds of every client (medians)
#   BENCH_PINNED=1        also rounds with the servers on CPU 0, the client on 1
#   BENCH_MONTH_FILES=120 files per hour of the month-long range (memory)
#   BENCH_COMPARE=        extra dw-fanout builds, "label=path,label=path"
#   BENCH_ONLY=           run only these benchmarks, e.g. "catalog" or "fanout,catalog"
#   BENCH_CATALOG_TABLES=2000 BENCH_CATALOG_VIEWS=500  dw-catalog's model size
#   BENCH_ETL_FILES=86400 BENCH_ETL_RECORDS=36 BENCH_ETL_CONCURRENCY=4  dw-etl vs the Python original,
#   BENCH_ETL_PY_HOURS=1  on gofakes3; the Python original on the first hour only (it needs
#                         ~35 CPU-minutes for a day; 0: the whole day too)
#   BENCH_EXTRACT_ROWS=1000000 BENCH_EXTRACT_PAGE=10000  dw-extract vs PyMySQL + json + boto3
#   BENCH_MOTO_DAY=1      the day with listing from moto's S3 (0: skip)
#   BENCH_MOTO_FILES=1200 files of one hour sent against moto's own SQS
#                         (each moto send scans the queue: time grows with n^2)
#   BENCH_TPM_FILES=3600  files sent one thread per message (one hour; the
#                         day's figure is extrapolated from it)
set -euo pipefail
cd "$(dirname "$0")/.."

ELASTICMQ_VERSION=1.6.11
GOFAKES3_VERSION=v1.2.0
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

want() { [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *",$1,"* ]]; }

# Java and ElasticMQ only for the fan-out (the other benchmarks use S3 alone).
need=()
if want fanout; then
	command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null 2>&1 || need+=(maven)
fi
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
	echo "bench: installing ${need[*]}" >&2
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

if want fanout && ! ls "$lib"/elasticmq-server_2.13-*.jar >/dev/null 2>&1; then
	echo "bench: fetching ElasticMQ $ELASTICMQ_VERSION and its dependencies from Maven Central" >&2
	mkdir -p "$lib"
	mvn -q -B -f bench/elasticmq/pom.xml -Delasticmq.version="$ELASTICMQ_VERSION" \
		dependency:copy-dependencies -DoutputDirectory="$PWD/$lib" >&2
fi

# Go tools: GOPATH (the module cache) and GOCACHE under the cache too, the
# module cache writable so that rm -rf bench/.cache works.
export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null 2>&1; then
	echo "bench: the Go toolchain is needed (go in PATH or /usr/local/go/bin)" >&2
	exit 1
fi
gocache="$PWD/$cache/go"
export GOPATH="$gocache/path" GOCACHE="$gocache/build" GOFLAGS="-mod=mod -modcacherw"
gofakes3="$cache/gofakes3-$GOFAKES3_VERSION"
if [ ! -x "$gofakes3" ]; then
	echo "bench: building gofakes3 $GOFAKES3_VERSION from the Go module proxy" >&2
	GOBIN="$gocache/bin" go install "github.com/johannesboyne/gofakes3/cmd/gofakes3@$GOFAKES3_VERSION"
	cp "$gocache/bin/gofakes3" "$gofakes3"
fi
floor="$cache/dw-bench-floor"
if want fanout && { [ ! -x "$floor" ] || [ -n "$(find bench/floor -newer "$floor" -type f)" ]; }; then
	echo "bench: building bench/floor" >&2
	(cd bench/floor && go build -o "$OLDPWD/$floor" .)
fi

if want fanout; then
	.venv/bin/python bench/fanout_bench.py --elasticmq-lib "$lib" --dw-fanout "$cache/dw-fanout" \
		--gofakes3 "$gofakes3" --floor "$floor" "$@"
fi

# dw-catalog: a model of 2,000 tables and 500 views against its own moto.
if want catalog; then
	make -s bin/dw-catalog
	cp bin/dw-catalog "$cache/dw-catalog"
	DW_CATALOG="$cache/dw-catalog" .venv/bin/python bench/catalog_bench.py
fi

# dw-etl against the Python original (boto3 + pandas + fastavro), whose
# packages live in .venv-bench (bench/requirements-etl.txt).
if want etl; then
	log() { printf 'bench: %s\n' "$*" >&2; }
	. scripts/venv.sh
	if ! venv_current bench/requirements-etl.txt .venv-bench; then
		venv_install bench/requirements-etl.txt .venv-bench "$(find_python)"
		venv_stamp bench/requirements-etl.txt .venv-bench
	fi
	make -s bin/dw-etl
	cp bin/dw-etl "$cache/dw-etl"
	if nm -D "$cache/dw-etl" 2>/dev/null | grep __asan_init >/dev/null; then
		echo "bench: bin/dw-etl is a sanitizer build; run make clean all first" >&2
		exit 1
	fi
	BENCH_DW_ETL="$cache/dw-etl" BENCH_GOFAKES3="$gofakes3" .venv/bin/python bench/etl_bench.py
fi

# dw-extract against the Python way (PyMySQL + json + boto3, in
# .venv-bench-extract: bench/requirements-extract.txt), a million rows from
# the bench MariaDB to the S3 sink on gofakes3.
if want extract; then
	log() { printf 'bench: %s\n' "$*" >&2; }
	. scripts/venv.sh
	if ! venv_current bench/requirements-extract.txt .venv-bench-extract; then
		venv_install bench/requirements-extract.txt .venv-bench-extract "$(find_python)"
		venv_stamp bench/requirements-extract.txt .venv-bench-extract
	fi
	make -s bin/dw-extract bin/dw-lock
	cp bin/dw-extract bin/dw-lock "$cache/"
	if nm -D "$cache/dw-extract" 2>/dev/null | grep __asan_init >/dev/null; then
		echo "bench: bin/dw-extract is a sanitizer build; run make clean all first" >&2
		exit 1
	fi
	BENCH_DW_EXTRACT="$cache/dw-extract" BENCH_GOFAKES3="$gofakes3" .venv/bin/python bench/extract_bench.py
fi
