#!/usr/bin/env bash
# dw-snapshot demo: a demo engineer launches a private copy of the warehouse,
# logs in with the new login, lists and extends it, and destroys it.
# Runs against the bench (moto RDS; MariaDB stands in for the restored
# instance, so the login step connects there through endpoint_override).
set -euo pipefail

. scripts/demo-lib.sh
op=bin/dw-snapshot
db=demo_analytics
owner=demo.engineer
export DW_USER_PASSWORD="demo-pw-'with\"quotes\\and-ü"

run() { run_op "$op" "$1"; } # run ACTION: the request on stdin
sql_root() {
	MYSQL_PWD="$DW_BENCH_MYSQL_ROOT_PASSWORD" mariadb --no-defaults --protocol=TCP \
		-h"$DW_BENCH_MYSQL_HOST" -P"$DW_BENCH_MYSQL_PORT" -uroot -e "$1"
}
cleanup() { sql_root "DROP USER IF EXISTS 'demo_engineer'@'%'; DROP DATABASE IF EXISTS $db" || true; }
trap cleanup EXIT

step "the warehouse: an RDS instance with automated backups (moto), and its data (MariaDB)"
ensure_warehouse
"$py" - <<'PY'
import os, boto3
rds = boto3.client("rds", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for s in rds.describe_db_snapshots(DBInstanceIdentifier="warehouse")["DBSnapshots"]:
    print("  snapshot", s["DBSnapshotIdentifier"], s["SnapshotType"], s["Status"])
PY
sql_root "CREATE DATABASE IF NOT EXISTS $db; CREATE TABLE IF NOT EXISTS $db.orders (id INT PRIMARY KEY, total DECIMAL(10,2))"

step "launch: a copy for $owner with the login demo_engineer"
jq -n --arg owner "$owner" --arg db "$db" \
	--arg endpoint "$DW_BENCH_MYSQL_HOST:$DW_BENCH_MYSQL_PORT" '{
	source_instance: "warehouse", owner: $owner, database: $db,
	user: {name: "demo_engineer", password_env: "DW_USER_PASSWORD"},
	master: {user: "root", password_env: "DW_BENCH_MYSQL_ROOT_PASSWORD"},
	instance_class: "db.t3.medium", ttl_days: 21,
	endpoint_override: $endpoint, tls: {mode: "disabled"}, poll_interval_s: 1
}' | run launch

step "the engineer logs in with the new login and adds a table and an index"
MYSQL_PWD="$DW_USER_PASSWORD" mariadb --no-defaults --protocol=TCP -h"$DW_BENCH_MYSQL_HOST" \
	-P"$DW_BENCH_MYSQL_PORT" -udemo_engineer "$db" -e "
	CREATE TABLE scratch_orders AS SELECT * FROM orders;
	CREATE INDEX by_total ON scratch_orders (total);
	SELECT CURRENT_USER() AS logged_in_as, COUNT(*) AS tables FROM information_schema.tables
	WHERE table_schema = DATABASE();"

step "launch again: the same copy comes back (created: false)"
jq -n --arg owner "$owner" --arg db "$db" \
	--arg endpoint "$DW_BENCH_MYSQL_HOST:$DW_BENCH_MYSQL_PORT" '{
	source_instance: "warehouse", owner: $owner, database: $db,
	user: {name: "demo_engineer", password_env: "DW_USER_PASSWORD"},
	master: {user: "root", password_env: "DW_BENCH_MYSQL_ROOT_PASSWORD"},
	endpoint_override: $endpoint, tls: {mode: "disabled"}, poll_interval_s: 1
}' | run launch

step "list: the managed copies"
echo '{}' | run list

step "extend: 7 more days (at most 30 from now)"
jq -n --arg owner "$owner" '{owner: $owner, ttl_days: 7}' | run extend

step "destroy by someone else: refused (exit 2), nothing changed"
jq -n '{owner: "someone.else", instance_name: "dw-snapshot-demo-engineer"}' | run destroy || true

step "destroy: the owner deletes the copy"
jq -n --arg owner "$owner" '{owner: $owner, poll_interval_s: 1}' | run destroy

step "Aurora: the warehouse as an Aurora MySQL cluster with one instance (moto)"
"$py" - <<'PY'
import os, boto3
rds = boto3.client("rds", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
ids = [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]]
if "warehouse-aurora" not in ids:
    rds.create_db_cluster(DBClusterIdentifier="warehouse-aurora", Engine="aurora-mysql",
                          MasterUsername="admin", MasterUserPassword="demo-master-pw-1",
                          BackupRetentionPeriod=7)
    rds.create_db_instance(DBInstanceIdentifier="warehouse-aurora-1",
                           DBClusterIdentifier="warehouse-aurora", Engine="aurora-mysql",
                           DBInstanceClass="db.r6g.large")
print("  cluster warehouse-aurora:", rds.describe_db_clusters(
    DBClusterIdentifier="warehouse-aurora")["DBClusters"][0]["Status"])
PY

step "launch a copy-on-write clone with a serverless writer that can pause at 0 ACUs"
jq -n --arg owner "$owner" --arg db "$db" \
	--arg endpoint "$DW_BENCH_MYSQL_HOST:$DW_BENCH_MYSQL_PORT" '{
	source_cluster: "warehouse-aurora", owner: $owner, database: $db,
	user: {name: "demo_engineer", password_env: "DW_USER_PASSWORD"},
	master: {user: "root", password_env: "DW_BENCH_MYSQL_ROOT_PASSWORD"},
	serverless: {min_acu: 0, max_acu: 4, seconds_until_auto_pause: 1800}, ttl_days: 7,
	endpoint_override: $endpoint, tls: {mode: "disabled"}, poll_interval_s: 1
}' | run launch

step "list: the clone, once (its writer is not a copy by itself)"
echo '{}' | run list

step "destroy: the writer, then the cluster"
jq -n --arg owner "$owner" '{owner: $owner, poll_interval_s: 1}' | run destroy
