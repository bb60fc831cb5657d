# Helpers shared by the demo steps (scripts/demo.d/*.sh source this file).

py=.venv/bin/python

step() { echo; echo "-- $*"; }

# run_op OPERATOR ACTION [CODE...]: the request on stdin, logs on stderr;
# shows the result line through jq (filter $JQ_FILTER, default .) and the
# exit code, and keeps the result line in $DEMO_LAST when that names a file.
# Returns 0 for the exit codes listed (default: 0 only), else the code.
run_op() {
	local op="$1" action="$2" rc=0 out
	shift 2
	out=$("$op" "$action") || rc=$?
	out=$(printf '%s\n' "$out" | tail -n 1)
	[ -z "${DEMO_LAST:-}" ] || printf '%s\n' "$out" >"$DEMO_LAST"
	printf '%s\n' "$out" | jq "${JQ_FILTER:-.}"
	echo "(exit $rc)"
	for ok in "${@:-0}"; do
		[ "$rc" != "$ok" ] || return 0
	done
	return "$rc"
}

# The warehouse every demo starts from: an RDS MySQL instance with automated
# backups, in moto.
ensure_warehouse() {
	"$py" - <<'PY'
import os, boto3
rds = boto3.client("rds", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
if not rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": ["warehouse"]}])["DBInstances"]:
    rds.create_db_instance(DBInstanceIdentifier="warehouse", Engine="mysql",
                           DBInstanceClass="db.r6g.large", MasterUsername="admin",
                           MasterUserPassword="demo-warehouse-master", AllocatedStorage=100,
                           BackupRetentionPeriod=7)
PY
}
