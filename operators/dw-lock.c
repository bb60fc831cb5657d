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
#define MAX_NAME 1024
/* acquire's clock_skew_ms is at most ttl/2 (checked after the bind): the
 * table's bound is half the longest ttl, in ms. */
#define MAX_SKEW_MS (MAX_TTL_S * 500LL)

/* Every action's request (each action's table binds the fields it has). */
struct lock_req {
	const char *resource, *table, *holder, *lease_id, *reason;
	int write;                  /* mode: 0 read, 1 write */
	long long ttl_s, wait_timeout_s, clock_skew_ms, fencing_token, grace_s;
	int wait, writer_priority, join;
	const cJSON *command;
};

#define F(kind, n, ...) DW_##kind(n, struct lock_req, __VA_ARGS__)
#define TARGET_FIELDS \
	F(STR, "resource", resource, DW_REQUIRED, NULL, "what is locked, e.g. \"lake/events\" (one item per resource)"), \
	F(STR, "table", table, 0, DW_LOCK_TABLE_DEFAULT, "DynamoDB table (key \"resource\", a string)")
#define HOLDER_FIELDS(what) \
	F(STR, "holder", holder, DW_REQUIRED, NULL, what), \
	F(STR, "lease_id", lease_id, 0, NULL, "only this lease of the holder (from acquire)")

#define ACQUIRE_FIELDS \
	TARGET_FIELDS, \
	F(CHOICE, "mode", write, 0, "read", DW_CHOICES("read", "write"), "what the lease allows"), \
	F(STR, "holder", holder, 0, NULL, "who holds the lease (default: host:pid:random); renew/release name it"), \
	F(INT, "ttl_s", ttl_s, 0, DW_LOCK_TTL_S_DEFAULT, 1, MAX_TTL_S, "lease length in seconds; renew before it runs out"), \
	F(BOOL, "wait", wait, 0, 0, "wait until granted (else not granted exits 99)"), \
	F(INT, "wait_timeout_s", wait_timeout_s, 0, 3600, 0, MAX_WAIT_S, "with wait: give up after this many seconds, exit 75"), \
	F(BOOL, "writer_priority", writer_priority, 0, 0, "write mode: while this writer waits, new readers wait too"), \
	F(INT, "clock_skew_ms", clock_skew_ms, DW_NODEFAULT, -1, 0, MAX_SKEW_MS, \
	  "others' leases count as live this long past their expiry (default 2000, or ttl/4 when less; at most ttl/2)")

static const struct dw_field acquire_fields[] = {
	ACQUIRE_FIELDS,
	DW_FIELDS_END
};
static const struct dw_field exec_fields[] = {
	ACQUIRE_FIELDS,
	F(STRINGS, "command", command, 0, "the command and its arguments (instead of `-- CMD ARGS...`)"),
	F(INT, "grace_s", grace_s, 0, DW_LOCK_GRACE_S_DEFAULT, 0, 3600, "after SIGTERM, SIGKILL the command this many seconds later"),
	F(BOOL, "join", join, 0, 0, "run under the holder's existing lease (an earlier acquire): renew it, keep it held after"),
	DW_FIELDS_END
};
static const struct dw_field renew_fields[] = {
	TARGET_FIELDS,
	HOLDER_FIELDS("the lease's holder"),
	F(INT, "ttl_s", ttl_s, 0, DW_LOCK_TTL_S_DEFAULT, 1, MAX_TTL_S, "new lease length from now, in seconds"),
	DW_FIELDS_END
};
static const struct dw_field release_fields[] = {
	TARGET_FIELDS,
	HOLDER_FIELDS("the lease's holder"),
	DW_FIELDS_END
};
static const struct dw_field check_fields[] = {
	TARGET_FIELDS,
	HOLDER_FIELDS("the lease's holder"),
	F(INT, "fencing_token", fencing_token, DW_NODEFAULT, -1, -1, 1LL << 53,
	  "a writer's token from acquire: still the resource's latest (absent: not checked)"),
	DW_FIELDS_END
};
static const struct dw_field status_fields[] = {
	TARGET_FIELDS,
	F(INT, "clock_skew_ms", clock_skew_ms, 0, DW_LOCK_SKEW_MS_DEFAULT, 0, 3600000,
	  "the margin used to call a lease live"),
	DW_FIELDS_END
};
static const struct dw_field break_fields[] = {
	TARGET_FIELDS,
	HOLDER_FIELDS("the holder whose lease is removed"),
	F(STR, "reason", reason, DW_REQUIRED, NULL, "why (logged)"),
	DW_FIELDS_END
};
static const struct dw_field table_fields[] = {
	F(STR, "table", table, 0, DW_LOCK_TABLE_DEFAULT, "DynamoDB table to create"),
	DW_FIELDS_END
};
#undef F

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

/* The action's request, bound by its table, into the lock's options; the
 * checks that need more than one field (or a name's characters) follow. */
static int read_req(const struct dw_ctx *ctx, struct lock_req *q, struct dw_lock_opts *o)
{
	memset(q, 0, sizeof(*q));
	q->clock_skew_ms = -1; /* renew: not a field, the default */
	if (dw_req_bind(ctx->req, ctx->action->fields, q))
		return -1;
	dw_lock_opts_init(o);
	o->resource = q->resource;
	o->table = q->table;
	o->holder = q->holder;
	o->lease_id = q->lease_id;
	if (check_name("resource", o->resource) || check_name("holder", o->holder) ||
	    check_name("lease_id", o->lease_id))
		return -1;
	if (strlen(o->table) < 3 || strlen(o->table) > 255 ||
	    strspn(o->table, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(o->table))
		return dw_invalid("table", "table must be a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ . -)");
	return 0;
}

/* clock_skew_ms's default and bound depend on the ttl. */
static int read_ttl_skew(const struct lock_req *q, struct dw_lock_opts *o)
{
	o->ttl_ms = q->ttl_s * 1000;
	if (q->clock_skew_ms < 0) {
		o->skew_ms = DW_LOCK_SKEW_MS_DEFAULT < o->ttl_ms / 4 ? DW_LOCK_SKEW_MS_DEFAULT : o->ttl_ms / 4;
		return 0;
	}
	if (q->clock_skew_ms > o->ttl_ms / 2)
		return dw_invalid("clock_skew_ms", "clock_skew_ms must be between 0 and %lld (ttl/2), not %lld",
				  o->ttl_ms / 2, q->clock_skew_ms);
	o->skew_ms = q->clock_skew_ms;
	return 0;
}

static int read_acquire(const struct dw_ctx *ctx, struct lock_req *q, struct dw_lock_opts *o)
{
	if (read_req(ctx, q, o) || read_ttl_skew(q, o))
		return -1;
	o->write = q->write;
	o->wait = q->wait;
	o->writer_priority = q->writer_priority;
	if (o->writer_priority && !o->write)
		return dw_invalid("writer_priority", "writer_priority is for write mode");
	if (dw_req_has(ctx->req, "wait_timeout_s") && !o->wait)
		return dw_invalid("wait_timeout_s", "wait_timeout_s needs wait: true");
	o->wait_timeout_ms = q->wait_timeout_s * 1000;
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
	struct lock_req q;
	struct dw_lock_opts o;
	struct dw_lock_lease l;
	struct dw_aws *aws;
	int rc;

	if (read_acquire(ctx, &q, &o) || !(aws = dw_ctx_aws(ctx)))
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
	struct lock_req q;
	struct dw_lock_opts o;
	struct dw_lock_lease l;
	struct dw_aws *aws;
	int rc;

	if (read_req(ctx, &q, &o) || read_ttl_skew(&q, &o) || !(aws = dw_ctx_aws(ctx)))
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
	struct lock_req q;
	struct dw_lock_opts o;
	struct dw_aws *aws;
	int released = 0, rc;

	if (read_req(ctx, &q, &o) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	rc = dw_lock_release(aws, &o, &released);
	cJSON_AddBoolToObject(ctx->result, "released", released);
	cJSON_AddStringToObject(ctx->result, "holder", o.holder);
	return rc;
}

static int do_check(struct dw_ctx *ctx)
{
	struct lock_req q;
	struct dw_lock_opts o;
	struct dw_lock_lease l;
	struct dw_aws *aws;
	int rc;

	if (read_req(ctx, &q, &o) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	o.fence = q.fencing_token;
	rc = dw_lock_check(aws, &o, &l);
	cJSON_AddBoolToObject(ctx->result, "current", rc == 0);
	if (l.lease_id)
		put_lease(ctx, &l);
	dw_lock_lease_release(&l);
	return rc;
}

static int do_status(struct dw_ctx *ctx)
{
	struct lock_req q;
	struct dw_lock_opts o;
	struct dw_aws *aws;
	cJSON *st = NULL;

	if (read_req(ctx, &q, &o) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	o.skew_ms = q.clock_skew_ms;
	if (dw_lock_status(aws, &o, &st))
		return -1;
	cJSON_Delete(ctx->result);
	ctx->result = st;
	return 0;
}

static int do_break(struct dw_ctx *ctx)
{
	struct lock_req q;
	struct dw_lock_opts o;
	struct dw_aws *aws;
	int broken = 0, rc;

	if (read_req(ctx, &q, &o) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	rc = dw_lock_break(aws, &o, q.reason, &broken);
	cJSON_AddBoolToObject(ctx->result, "broken", broken);
	cJSON_AddStringToObject(ctx->result, "holder", o.holder);
	return rc;
}

static int do_create_table(struct dw_ctx *ctx)
{
	struct lock_req q = { 0 };
	struct dw_aws *aws;
	int created = 0;

	if (dw_req_bind(ctx->req, table_fields, &q) || !(aws = dw_ctx_aws(ctx)) ||
	    dw_lock_create_table(aws, q.table, &created))
		return -1;
	cJSON_AddStringToObject(ctx->result, "table", q.table);
	cJSON_AddBoolToObject(ctx->result, "created", created);
	return 0;
}

/* The command: after `--`, or the request's "command". *owned is what to
 * free (the array copy of a request's command). */
static int command_argv(const cJSON *cmd, char ***argv, char ***owned)
{
	const cJSON *a;
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

static int read_join(const cJSON *req, const struct lock_req *q, struct dw_lock_opts *o)
{
	o->join = q->join;
	if (o->join && !o->holder)
		return dw_invalid("holder", "join needs the holder of the existing lease");
	if (o->join && (dw_req_has(req, "wait") || dw_req_has(req, "writer_priority")))
		return dw_invalid("join", "join uses the existing lease: wait and writer_priority do not apply");
	return 0;
}

static int do_exec(struct dw_ctx *ctx)
{
	struct lock_req q;
	struct dw_lock_opts o;
	struct dw_lock_exec_result r;
	struct dw_aws *aws;
	char **argv, **owned;
	const char *cmd0;
	int rc;

	if (read_acquire(ctx, &q, &o) || read_join(ctx->req, &q, &o) ||
	    command_argv(q.command, &argv, &owned))
		return -1;
	if (!(aws = dw_ctx_aws(ctx))) {
		free(owned);
		return -1;
	}
	rc = dw_lock_exec(aws, &o, argv, q.grace_s * 1000, &r);
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
