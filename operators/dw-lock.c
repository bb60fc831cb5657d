/* dw-lock - a soft multi-reader / single-writer lease lock over DynamoDB:
 * hydrations hold read leases for days, compaction holds the write lease.
 * The logic lives in core/ops/lock.c; this file reads requests and prints
 * results.
 *
 * `dw-lock exec [--request FILE] -- CMD ARGS...` runs a command under a
 * lease (or the request's "command"). */
#include "ops/lock.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "proto/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TTL_S (7 * 86400)
#define MAX_WAIT_S (7 * 86400)
#define DEFAULT_WAIT_TIMEOUT_S 3600
#define MAX_NAME 1024

#define TARGET_FIELDS \
	DW_FIELD("resource", DW_T_STRING, DW_REQUIRED, NULL, "what is locked, e.g. \"lake/events\" (one item per resource)"), \
	DW_FIELD("table", DW_T_STRING, 0, NULL, "DynamoDB table (default dwops-locks; key \"resource\", a string)")

#define ACQUIRE_FIELDS \
	TARGET_FIELDS, \
	DW_FIELD("mode", DW_T_STRING, 0, NULL, "read (default) or write"), \
	DW_FIELD("holder", DW_T_STRING, 0, NULL, "who holds the lease (default: host:pid:random); renew/release name it"), \
	DW_FIELD("ttl_s", DW_T_INT, 0, NULL, "lease length in seconds, 1..604800 (default 120); renew before it runs out"), \
	DW_FIELD("wait", DW_T_BOOL, 0, NULL, "wait until granted (default false: not granted exits 99)"), \
	DW_FIELD("wait_timeout_s", DW_T_INT, 0, NULL, "with wait: give up after this many seconds, exit 75 (default 3600)"), \
	DW_FIELD("writer_priority", DW_T_BOOL, 0, NULL, "write mode: while this writer waits, new readers wait too (default false)"), \
	DW_FIELD("clock_skew_ms", DW_T_INT, 0, NULL, "others' leases count as live this long past their expiry (default 2000, at most ttl/2)")

static const struct dw_field acquire_fields[] = {
	ACQUIRE_FIELDS,
	DW_FIELDS_END
};
static const struct dw_field exec_fields[] = {
	ACQUIRE_FIELDS,
	DW_FIELD("command", DW_T_STRINGS, 0, NULL, "the command and its arguments (instead of `-- CMD ARGS...`)"),
	DW_FIELD("grace_s", DW_T_INT, 0, NULL, "after SIGTERM, SIGKILL the command this many seconds later (default 30)"),
	DW_FIELD("join", DW_T_BOOL, 0, NULL, "run under the holder's existing lease (an earlier acquire): renew it, keep it held after"),
	DW_FIELDS_END
};
static const struct dw_field renew_fields[] = {
	TARGET_FIELDS,
	DW_FIELD("holder", DW_T_STRING, DW_REQUIRED, NULL, "the lease's holder"),
	DW_FIELD("lease_id", DW_T_STRING, 0, NULL, "only this lease of the holder (from acquire)"),
	DW_FIELD("ttl_s", DW_T_INT, 0, NULL, "new lease length from now, in seconds (default 120)"),
	DW_FIELDS_END
};
static const struct dw_field release_fields[] = {
	TARGET_FIELDS,
	DW_FIELD("holder", DW_T_STRING, DW_REQUIRED, NULL, "the lease's holder"),
	DW_FIELD("lease_id", DW_T_STRING, 0, NULL, "only this lease of the holder"),
	DW_FIELDS_END
};
static const struct dw_field check_fields[] = {
	TARGET_FIELDS,
	DW_FIELD("holder", DW_T_STRING, DW_REQUIRED, NULL, "the lease's holder"),
	DW_FIELD("lease_id", DW_T_STRING, 0, NULL, "only this lease of the holder"),
	DW_FIELD("fencing_token", DW_T_INT, 0, NULL, "a writer's token from acquire: still the resource's latest"),
	DW_FIELDS_END
};
static const struct dw_field status_fields[] = {
	TARGET_FIELDS,
	DW_FIELD("clock_skew_ms", DW_T_INT, 0, NULL, "the margin used to call a lease live (default 2000)"),
	DW_FIELDS_END
};
static const struct dw_field break_fields[] = {
	TARGET_FIELDS,
	DW_FIELD("holder", DW_T_STRING, DW_REQUIRED, NULL, "the holder whose lease is removed"),
	DW_FIELD("lease_id", DW_T_STRING, 0, NULL, "only this lease of the holder"),
	DW_FIELD("reason", DW_T_STRING, DW_REQUIRED, NULL, "why (logged)"),
	DW_FIELDS_END
};
static const struct dw_field table_fields[] = {
	DW_FIELD("table", DW_T_STRING, 0, NULL, "DynamoDB table to create (default dwops-locks)"),
	DW_FIELDS_END
};

/* The command after `--` (set by main). */
static char **exec_argv;
/* The command's exit code for main to return, or -1. */
static int exec_exit = -1;

static int check_name(const char *field, const char *v)
{
	if (!v)
		return 0;
	if (!*v || strlen(v) > MAX_NAME)
		return dw_invalid(field, "%s must be 1 to %d characters", field, MAX_NAME);
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return dw_invalid(field, "%s must not hold control characters", field);
	return 0;
}

static int int_field(const cJSON *req, const char *name, long long def, long long min,
		     long long max, long long *out)
{
	*out = dw_req_int(req, name, def);
	if (*out < min || *out > max)
		return dw_invalid(name, "%s must be between %lld and %lld, not %lld", name, min, max, *out);
	return 0;
}

/* Every action's request into the options (one place per action). */
static int read_target(const cJSON *req, struct dw_lock_opts *o)
{
	dw_lock_opts_init(o);
	o->resource = dw_req_str(req, "resource", NULL);
	o->table = dw_req_str(req, "table", DW_LOCK_TABLE_DEFAULT);
	o->holder = dw_req_str(req, "holder", NULL);
	o->lease_id = dw_req_str(req, "lease_id", NULL);
	if (check_name("resource", o->resource) || check_name("holder", o->holder) ||
	    check_name("lease_id", o->lease_id))
		return -1;
	if (strlen(o->table) < 3 || strlen(o->table) > 255 ||
	    strspn(o->table, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(o->table))
		return dw_invalid("table", "table must be a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ . -)");
	return 0;
}

static int read_ttl_skew(const cJSON *req, struct dw_lock_opts *o)
{
	long long ttl, skew;

	if (int_field(req, "ttl_s", DW_LOCK_TTL_S_DEFAULT, 1, MAX_TTL_S, &ttl))
		return -1;
	o->ttl_ms = ttl * 1000;
	long long def = DW_LOCK_SKEW_MS_DEFAULT < o->ttl_ms / 4 ? DW_LOCK_SKEW_MS_DEFAULT : o->ttl_ms / 4;
	if (int_field(req, "clock_skew_ms", def, 0, o->ttl_ms / 2, &skew))
		return -1;
	o->skew_ms = skew;
	return 0;
}

static int read_acquire(const cJSON *req, struct dw_lock_opts *o)
{
	static const char *const modes[] = { "read", "write", NULL };
	long long wait_s;

	if (read_target(req, o) || read_ttl_skew(req, o) || dw_req_choice(req, "mode", "", modes))
		return -1;
	o->write = strcmp(dw_req_str(req, "mode", "read"), "write") == 0;
	o->wait = dw_req_bool(req, "wait", 0);
	o->writer_priority = dw_req_bool(req, "writer_priority", 0);
	if (o->writer_priority && !o->write)
		return dw_invalid("writer_priority", "writer_priority is for write mode");
	if (int_field(req, "wait_timeout_s", DEFAULT_WAIT_TIMEOUT_S, 0, MAX_WAIT_S, &wait_s))
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(req, "wait_timeout_s") && !o->wait)
		return dw_invalid("wait_timeout_s", "wait_timeout_s needs wait: true");
	o->wait_timeout_ms = wait_s * 1000;
	return 0;
}

static void put_lease(struct dw_ctx *ctx, const struct dw_lock_lease *l)
{
	cJSON *j = dw_lock_lease_json(l);

	dw_json_add_int(j, "ttl_s", (l->expires_ms - l->granted_ms) / 1000);
	cJSON_AddItemToObject(ctx->result, "lease", j);
}

static int do_acquire(struct dw_ctx *ctx)
{
	struct dw_lock_opts o;
	struct dw_lock_lease l;
	struct dw_aws *aws;
	int rc;

	if (read_acquire(ctx->req, &o) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	rc = dw_lock_acquire(aws, &o, &l);
	cJSON_AddBoolToObject(ctx->result, "granted", rc == 0);
	if (rc == 0) {
		put_lease(ctx, &l);
		cJSON_AddBoolToObject(ctx->result, "recovered", l.recovered);
	}
	if (rc == 1) {
		cJSON_AddStringToObject(ctx->result, "holder", l.holder);
		cJSON_AddStringToObject(ctx->result, "blocked_by", l.blocked);
	}
	dw_json_add_int(ctx->result, "waited_ms", l.waited_ms);
	if (rc == 1) {
		char why[600];
		snprintf(why, sizeof(why), "%s lock not granted: %s", o.write ? "write" : "read", l.blocked);
		dw_lock_lease_release(&l);
		return dw_nothing_to_do(ctx, why);
	}
	dw_lock_lease_release(&l);
	return rc;
}

static int do_renew(struct dw_ctx *ctx)
{
	struct dw_lock_opts o;
	struct dw_lock_lease l;
	struct dw_aws *aws;
	int rc;

	if (read_target(ctx->req, &o) || read_ttl_skew(ctx->req, &o) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	rc = dw_lock_renew(aws, &o, &l);
	cJSON_AddBoolToObject(ctx->result, "renewed", rc == 0);
	if (rc == 0)
		put_lease(ctx, &l);
	dw_lock_lease_release(&l);
	return rc;
}

static int do_release(struct dw_ctx *ctx)
{
	struct dw_lock_opts o;
	struct dw_aws *aws;
	int released = 0, rc;

	if (read_target(ctx->req, &o) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	rc = dw_lock_release(aws, &o, &released);
	cJSON_AddBoolToObject(ctx->result, "released", released);
	cJSON_AddStringToObject(ctx->result, "holder", o.holder);
	return rc;
}

static int do_check(struct dw_ctx *ctx)
{
	struct dw_lock_opts o;
	struct dw_lock_lease l;
	struct dw_aws *aws;
	long long token = -1;
	int rc;

	if (read_target(ctx->req, &o) || int_field(ctx->req, "fencing_token", -1, -1, 1LL << 53, &token) ||
	    !(aws = dw_ctx_aws(ctx)))
		return -1;
	o.fence = token;
	rc = dw_lock_check(aws, &o, &l);
	cJSON_AddBoolToObject(ctx->result, "current", rc == 0);
	if (l.lease_id)
		put_lease(ctx, &l);
	dw_lock_lease_release(&l);
	return rc;
}

static int do_status(struct dw_ctx *ctx)
{
	struct dw_lock_opts o;
	struct dw_aws *aws;
	cJSON *st = NULL;
	long long skew;

	if (read_target(ctx->req, &o) ||
	    int_field(ctx->req, "clock_skew_ms", DW_LOCK_SKEW_MS_DEFAULT, 0, 3600000, &skew) ||
	    !(aws = dw_ctx_aws(ctx)))
		return -1;
	o.skew_ms = skew;
	if (dw_lock_status(aws, &o, &st))
		return -1;
	cJSON_Delete(ctx->result);
	ctx->result = st;
	return 0;
}

static int do_break(struct dw_ctx *ctx)
{
	struct dw_lock_opts o;
	struct dw_aws *aws;
	int broken = 0, rc;

	if (read_target(ctx->req, &o) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	rc = dw_lock_break(aws, &o, dw_req_str(ctx->req, "reason", ""), &broken);
	cJSON_AddBoolToObject(ctx->result, "broken", broken);
	cJSON_AddStringToObject(ctx->result, "holder", o.holder);
	return rc;
}

static int do_create_table(struct dw_ctx *ctx)
{
	const char *table = dw_req_str(ctx->req, "table", DW_LOCK_TABLE_DEFAULT);
	struct dw_aws *aws = dw_ctx_aws(ctx);
	int created = 0;

	if (!aws || dw_lock_create_table(aws, table, &created))
		return -1;
	cJSON_AddStringToObject(ctx->result, "table", table);
	cJSON_AddBoolToObject(ctx->result, "created", created);
	return 0;
}

/* The command: after `--`, or the request's "command". *owned is what to
 * free (the array copy of a request's command). */
static int command_argv(const cJSON *req, char ***argv, char ***owned)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "command"), *a;
	size_t n = 0;

	*owned = NULL;
	if (exec_argv && cmd)
		return dw_invalid("command", "give the command either after -- or as \"command\", not both");
	if (exec_argv) {
		*argv = exec_argv;
		return 0;
	}
	if (!cmd || cJSON_GetArraySize(cmd) == 0)
		return dw_invalid("command", "exec needs a command: dw-lock exec -- CMD ARGS... (or \"command\": [...])");
	*owned = dw_xcalloc((size_t)cJSON_GetArraySize(cmd) + 1, sizeof(char *));
	cJSON_ArrayForEach(a, cmd)
		(*owned)[n++] = a->valuestring;
	if (!(*owned)[0][0]) {
		free(*owned);
		*owned = NULL;
		return dw_invalid("command", "the command's first word is empty");
	}
	*argv = *owned;
	return 0;
}

static int read_join(const cJSON *req, struct dw_lock_opts *o)
{
	o->join = dw_req_bool(req, "join", 0);
	if (o->join && !o->holder)
		return dw_invalid("holder", "join needs the holder of the existing lease");
	if (o->join && (cJSON_GetObjectItemCaseSensitive(req, "wait") ||
			cJSON_GetObjectItemCaseSensitive(req, "writer_priority")))
		return dw_invalid("join", "join uses the existing lease: wait and writer_priority do not apply");
	return 0;
}

static int do_exec(struct dw_ctx *ctx)
{
	struct dw_lock_opts o;
	struct dw_lock_exec_result r;
	struct dw_aws *aws;
	char **argv, **owned;
	const char *cmd0;
	long long grace_s;
	int rc;

	if (read_acquire(ctx->req, &o) ||
	    int_field(ctx->req, "grace_s", DW_LOCK_GRACE_S_DEFAULT, 0, 3600, &grace_s) ||
	    read_join(ctx->req, &o) ||
	    command_argv(ctx->req, &argv, &owned))
		return -1;
	if (!(aws = dw_ctx_aws(ctx))) {
		free(owned);
		return -1;
	}
	rc = dw_lock_exec(aws, &o, argv, grace_s * 1000, &r);
	cmd0 = argv[0]; /* lives in argv or the request, not in owned */
	free(owned);
	cJSON_AddBoolToObject(ctx->result, "granted", r.lease.lease_id != NULL);
	if (r.lease.lease_id)
		put_lease(ctx, &r.lease);
	cJSON_AddStringToObject(ctx->result, "command", cmd0);
	if (rc == 1) {
		char why[600];
		cJSON_AddStringToObject(ctx->result, "blocked_by", r.lease.blocked);
		snprintf(why, sizeof(why), "lock not granted, the command was not run: %s", r.lease.blocked);
		dw_lock_lease_release(&r.lease);
		return dw_nothing_to_do(ctx, why);
	}
	if (r.ran) {
		dw_json_add_int(ctx->result, "exit_code", r.exit_code);
		if (r.term_signal)
			dw_json_add_int(ctx->result, "signal", r.term_signal);
		dw_json_add_int(ctx->result, "renewals", r.renewals);
		dw_json_add_int(ctx->result, "ran_ms", r.ran_ms);
		cJSON_AddBoolToObject(ctx->result, "lease_lost", r.lost);
		cJSON_AddBoolToObject(ctx->result, "released", r.released);
		cJSON_AddBoolToObject(ctx->result, "joined", o.join);
	}
	dw_lock_lease_release(&r.lease);
	if (rc == 0 && r.exit_code != 0) {
		exec_exit = r.exit_code;
		return dw_fail("CommandFailed", "%s exited with %d", cmd0, r.exit_code);
	}
	return rc;
}

static const struct dw_action actions[] = {
	{ "acquire", "take a read or write lease (exit 99 when not granted without wait, 75 when waiting timed out)",
	  acquire_fields, do_acquire,
	  "{\"resource\": \"lake/events\", \"mode\": \"read\", \"holder\": \"hydrate-acme\", \"ttl_s\": 600, "
	  "\"wait\": true, \"wait_timeout_s\": 3600}" },
	{ "renew", "extend the holder's lease by ttl_s from now (exit 1 LeaseLost when it is gone)", renew_fields,
	  do_renew, "{\"resource\": \"lake/events\", \"holder\": \"hydrate-acme\", \"ttl_s\": 600}" },
	{ "release", "give the holder's lease back (done as well when it holds none)", release_fields, do_release,
	  "{\"resource\": \"lake/events\", \"holder\": \"hydrate-acme\"}" },
	{ "status", "holders, modes, expiry, the waiting writer and the fencing token", status_fields, do_status,
	  "{\"resource\": \"lake/events\"}" },
	{ "break", "admin: remove a holder's lease (logged)", break_fields, do_break,
	  "{\"resource\": \"lake/events\", \"holder\": \"hydrate-acme\", \"reason\": \"the host is gone\"}" },
	{ "check", "verify a lease (and a writer's fencing token) is still current, just before committing",
	  check_fields, do_check,
	  "{\"resource\": \"lake/events\", \"holder\": \"compact-daily\", \"fencing_token\": 42}" },
	{ "exec", "acquire, run the command after -- renewing every ttl/3, release; exits with its exit code",
	  exec_fields, do_exec,
	  "{\"resource\": \"lake/events\", \"mode\": \"write\", \"ttl_s\": 120, \"wait\": true, "
	  "\"writer_priority\": true, \"command\": [\"dw-etl\", \"compact\", \"--request\", \"compact.json\"]}" },
	{ "create-table", "create the lock table (on-demand, key \"resource\") unless it exists", table_fields,
	  do_create_table, "{\"table\": \"dwops-locks\"}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator lock = {
	"dw-lock", "reader/writer lease locks over DynamoDB (hydrations read, compaction writes)", actions,
};

int main(int argc, char **argv)
{
	int rc;

	/* Everything after "--" is the command for exec. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			argv[i] = NULL;
			if (i + 1 < argc)
				exec_argv = &argv[i + 1];
			argc = i;
			break;
		}
	}
	rc = dw_op_main(&lock, argc, argv);
	if (exec_exit >= 0)
		return exec_exit;
	return rc;
}
