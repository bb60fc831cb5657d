/* dw-extract - incremental extract of a MySQL table's new rows to Kinesis,
 * Firehose or S3, with a watermark that never loses a row.  The work is in
 * core/ops/extract.c; the connection fields are core/proto/mysqlreq.c's. */
#include "ops/extract.h"
#include "proto/mysqlreq.h"
#include "proto/op.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PAGE_ROWS 100000LL
#define MAX_LAG_S (7LL * 86400)

/* Every action's request (each action's table binds the fields it has). */
struct cursor_req {
	const char *column, *tiebreak;
};
struct state_req {
	int store;                  /* the choices' index: enum dw_extract_store */
	const char *name, *table;
};
struct sink_req {
	int type;                   /* the choices' index: enum dw_extract_sink */
	const char *stream, *bucket, *prefix;
};
struct lock_req {
	const char *table, *resource, *holder;
	long long ttl_s, wait_timeout_s;
};
struct extract_req {
	const char *table, *cursor_value, *tiebreak_value;
	const cJSON *mysql, *columns;
	struct cursor_req cursor;
	struct state_req state;
	struct sink_req sink;
	struct lock_req lock;
	long long lag_s, page_rows, max_rows, time_budget_s;
	int guard_trx;              /* -1: absent (when the login may) */
	int dry_run;
};

/* What reading the request allocates. */
struct req_owned {
	struct dw_mysql_req mysql;
	const char **columns;
};

static void owned_release(struct req_owned *s)
{
	dw_mysql_req_release(&s->mysql);
	free(s->columns);
}

static int read_state(const struct state_req *st, struct dw_extract_opts *o)
{
	o->store = (enum dw_extract_store)st->store;
	o->state_name = st->name;
	o->state_table = st->table;
	if (o->state_table && o->store != DW_EXTRACT_DYNAMODB)
		return dw_invalid("state.table", "state.table is for the dynamodb store");
	return 0;
}

static int read_sink(const struct sink_req *sk, struct dw_extract_opts *o)
{
	static const char *const types[] = { "kinesis", "firehose", "s3" };

	o->sink = (enum dw_extract_sink)sk->type;
	o->stream = sk->stream;
	o->bucket = sk->bucket;
	o->prefix = sk->prefix;
	if (o->sink == DW_EXTRACT_S3 ? o->stream != NULL : (o->bucket || o->prefix))
		return dw_invalid("sink", "sink %s takes %s", types[o->sink],
				  o->sink == DW_EXTRACT_S3 ? "bucket and prefix" : "stream");
	return 0;
}

static int read_lock(const struct lock_req *l, struct dw_lock_opts *lk)
{
	dw_lock_opts_init(lk);
	lk->write = 1;
	lk->table = l->table;
	lk->resource = l->resource;
	lk->holder = l->holder;
	if (lk->resource && !*lk->resource)
		return dw_invalid("lock.resource", "lock.resource must not be empty");
	lk->ttl_ms = l->ttl_s * 1000;
	lk->wait_timeout_ms = l->wait_timeout_s * 1000;
	lk->skew_ms = DW_LOCK_SKEW_MS_DEFAULT;
	return 0;
}

static const char **string_array(const cJSON *a, size_t *n)
{
	const char **out;
	const cJSON *v;
	size_t i = 0;

	*n = cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
	if (*n == 0)
		return NULL;
	out = dw_xcalloc(*n, sizeof(*out));
	cJSON_ArrayForEach(v, a)
		out[i++] = cJSON_GetStringValue(v);
	return out;
}

/* The fields every action shares: table, cursor, state, lock. */
static int read_common(const struct dw_ctx *ctx, struct extract_req *q, struct dw_extract_opts *o)
{
	memset(q, 0, sizeof(*q));
	if (dw_req_bind(ctx->req, ctx->action->fields, q))
		return -1;
	o->table = q->table;
	o->cursor = q->cursor.column;
	o->tiebreak = q->cursor.tiebreak;
	o->dry_run = q->dry_run;
	o->sink = DW_EXTRACT_S3;
	o->bucket = "-";
	if (read_state(&q->state, o) || read_lock(&q->lock, &o->lock))
		return -1;
	return 0;
}

static int read_run(const struct dw_ctx *ctx, struct dw_extract_opts *o, struct req_owned *s)
{
	struct extract_req q;

	if (read_common(ctx, &q, o) || read_sink(&q.sink, o) ||
	    dw_req_mysql(q.mysql, "mysql", &s->mysql))
		return -1;
	o->mysql = s->mysql.target;
	o->columns = s->columns = string_array(q.columns, &o->n_columns);
	if (q.columns && o->n_columns == 0)
		return dw_invalid("columns", "columns must not be empty (leave it out for every column)");
	o->guard_trx = q.guard_trx;
	o->lag_s = q.lag_s;
	o->page_rows = q.page_rows;
	o->max_rows = q.max_rows;
	o->time_budget_s = q.time_budget_s;
	return dw_extract_check(o);
}

static int finish(struct dw_ctx *ctx, int rc, struct dw_extract_result *r, int run,
		  const struct dw_extract_opts *o)
{
	cJSON_AddStringToObject(ctx->result, "table", o->table);
	cJSON_AddStringToObject(ctx->result, "state",
				o->store == DW_EXTRACT_SSM ? "ssm" : "dynamodb");
	cJSON_AddStringToObject(ctx->result, "state_name", o->state_name);
	if (o->dry_run)
		cJSON_AddTrueToObject(ctx->result, "dry_run");
	dw_extract_result_json(r, ctx->result, run);
	int none = rc == 0 && run && r->rows == 0;
	dw_extract_result_release(r);
	if (none)
		return dw_nothing_to_do(ctx, "no new rows below the upper bound");
	return rc;
}

static int run(struct dw_ctx *ctx)
{
	struct dw_extract_opts o = { 0 };
	struct dw_extract_result r;
	struct req_owned s = { 0 };
	struct dw_aws *aws;
	int rc = -1;

	dw_extract_result_init(&r);
	if (read_run(ctx, &o, &s) || !(aws = dw_ctx_aws(ctx)) ||
	    dw_req_mysql_login(aws, &s.mysql))
		goto out;
	o.mysql = s.mysql.target;
	rc = finish(ctx, dw_extract_run(aws, &o, &r), &r, 1, &o);
out:
	dw_extract_result_release(&r);
	owned_release(&s);
	return rc;
}

static int status(struct dw_ctx *ctx)
{
	struct dw_extract_opts o = { 0 };
	struct dw_extract_result r;
	struct req_owned s = { 0 };
	struct extract_req q;
	const cJSON *mysql;
	struct dw_aws *aws;
	int rc = -1;

	dw_extract_result_init(&r);
	o.cursor = "-";
	if (read_common(ctx, &q, &o))
		goto out;
	mysql = q.mysql;
	if (mysql && dw_req_mysql(mysql, "mysql", &s.mysql))
		goto out;
	o.cursor = o.cursor ? o.cursor : "x";
	if (dw_extract_check(&o) || !(aws = dw_ctx_aws(ctx)) ||
	    (mysql && dw_req_mysql_login(aws, &s.mysql)))
		goto out;
	o.mysql = s.mysql.target;
	rc = finish(ctx, dw_extract_status(aws, &o, &r), &r, 0, &o);
out:
	dw_extract_result_release(&r);
	owned_release(&s);
	return rc;
}

static int reset(struct dw_ctx *ctx)
{
	struct dw_extract_opts o = { 0 };
	struct dw_extract_result r;
	struct extract_req q;
	struct dw_aws *aws;
	int rc = -1;

	dw_extract_result_init(&r);
	if (read_common(ctx, &q, &o))
		goto out;
	o.cursor = "x";
	o.reset_cursor = q.cursor_value;
	o.reset_tiebreak = q.tiebreak_value;
	if (dw_extract_check(&o) || !(aws = dw_ctx_aws(ctx)))
		goto out;
	rc = finish(ctx, dw_extract_set_watermark(aws, &o, &r), &r, 0, &o);
out:
	dw_extract_result_release(&r);
	return rc;
}

/* ---- the request schema ------------------------------------------------ */

static const struct dw_field cursor_fields[] = {
	DW_STR("column", struct cursor_req, column, DW_REQUIRED, NULL,
	       "the DATETIME or TIMESTAMP column rows are ordered by (UTC)"),
	DW_STR("tiebreak", struct cursor_req, tiebreak, 0, NULL,
	       "unique column ordering rows that share a cursor value (default the primary key)"),
	DW_FIELDS_END
};
static const struct dw_field state_fields[] = {
	DW_CHOICE("store", struct state_req, store, 0, "ssm", DW_CHOICES("ssm", "dynamodb"),
		  "an SSM parameter or a DynamoDB item"),
	DW_STR("name", struct state_req, name, DW_REQUIRED, NULL,
	       "the SSM parameter (/dwops/extract/orders) or the item's key"),
	DW_STR("table", struct state_req, table, 0, NULL,
	       "dynamodb: the table (default " DW_EXTRACT_STATE_TABLE ", key name)"),
	DW_FIELDS_END
};
static const struct dw_field sink_fields[] = {
	DW_CHOICE("type", struct sink_req, type, DW_REQUIRED, NULL, DW_CHOICES("kinesis", "firehose", "s3"),
		  "where the records go"),
	DW_STR("stream", struct sink_req, stream, 0, NULL, "kinesis: the stream; firehose: the delivery stream"),
	DW_STR("bucket", struct sink_req, bucket, 0, NULL, "s3: the bucket"),
	DW_STR("prefix", struct sink_req, prefix, 0, NULL, "s3: the folder (pages go under <prefix>/<db>.<table>/)"),
	DW_FIELDS_END
};
static const struct dw_field lock_fields[] = {
	DW_STR("table", struct lock_req, table, 0, DW_LOCK_TABLE_DEFAULT, "dw-lock's DynamoDB table"),
	DW_STR("resource", struct lock_req, resource, 0, NULL, "default dw-extract/<table>"),
	DW_STR("holder", struct lock_req, holder, 0, NULL, "default host:pid:random"),
	DW_INT("ttl_s", struct lock_req, ttl_s, 0, DW_LOCK_TTL_S_DEFAULT, 5, 86400, "lease length, renewed between pages"),
	DW_INT("wait_timeout_s", struct lock_req, wait_timeout_s, 0, 0, 0, 7 * 86400,
	       "wait this long for a running extract (0: refused, Locked)"),
	DW_FIELDS_END
};

#define F(kind, n, ...) DW_##kind(n, struct extract_req, __VA_ARGS__)
#define COMMON_FIELDS \
	F(STR, "table", table, DW_REQUIRED, NULL, "database.table"), \
	F(STRUCT, "state", state, DW_REQUIRED, state_fields, "where the watermark lives"), \
	F(STRUCT, "lock", lock, 0, lock_fields, "the write lease held while running"), \
	F(BOOL, "dry_run", dry_run, 0, 0, "read and count; send nothing, move nothing")

static const struct dw_field run_fields[] = {
	COMMON_FIELDS,
	F(OBJ, "mysql", mysql, DW_REQUIRED, dw_mysql_fields, "the source"),
	F(STRUCT, "cursor", cursor, DW_REQUIRED, cursor_fields, "the keyset"),
	F(STRINGS, "columns", columns, 0, "the columns in each record (default all)"),
	F(INT, "lag_s", lag_s, 0, DW_EXTRACT_LAG_S, 0, MAX_LAG_S,
	  "rows newer than the source clock minus this are left for the next run"),
	F(BOOL, "guard_open_transactions", guard_trx, DW_NODEFAULT, -1,
	  "keep the bound below the oldest open transaction (default: when INNODB_TRX is readable)"),
	F(INT, "page_rows", page_rows, 0, DW_EXTRACT_PAGE_ROWS, 1, MAX_PAGE_ROWS, "rows per page"),
	F(INT, "max_rows", max_rows, DW_NODEFAULT, 0, 0, 1LL << 50, "stop after this many rows (default: no limit)"),
	F(INT, "time_budget_s", time_budget_s, DW_NODEFAULT, 0, 0, 7 * 86400,
	  "start no page after this many seconds (default: no limit)"),
	F(STRUCT, "sink", sink, DW_REQUIRED, sink_fields, "where the records go"),
	DW_FIELDS_END
};
static const struct dw_field status_fields[] = {
	COMMON_FIELDS,
	F(OBJ, "mysql", mysql, 0, dw_mysql_fields, "the source, for the lag behind its clock"),
	F(STRUCT, "cursor", cursor, 0, cursor_fields, "accepted (the run's request can be reused)"),
	DW_FIELD("columns", DW_T_STRINGS, 0, NULL, "accepted, not used"),
	DW_FIELD("lag_s", DW_T_INT, 0, NULL, "accepted, not used"),
	DW_FIELD("guard_open_transactions", DW_T_BOOL, 0, NULL, "accepted, not used"),
	DW_FIELD("page_rows", DW_T_INT, 0, NULL, "accepted, not used"),
	DW_FIELD("max_rows", DW_T_INT, 0, NULL, "accepted, not used"),
	DW_FIELD("time_budget_s", DW_T_INT, 0, NULL, "accepted, not used"),
	DW_FIELD("sink", DW_T_OBJECT, 0, sink_fields, "accepted, not used"),
	DW_FIELDS_END
};
static const struct dw_field reset_fields[] = {
	COMMON_FIELDS,
	F(STR, "cursor_value", cursor_value, 0, NULL,
	  "the new watermark's cursor, \"YYYY-MM-DD HH:MM:SS[.ffffff]\" UTC (absent: from the first row)"),
	F(STR, "tiebreak_value", tiebreak_value, 0, NULL, "its tiebreak (absent: every row at cursor_value is read again)"),
	DW_FIELDS_END
};
#undef F

static const struct dw_action actions[] = {
	{ "run", "send the rows newer than the watermark, page by page", run_fields, run,
	  "{\"mysql\":{\"host\":\"orders-db\",\"user\":\"extract\",\"password_env\":\"DW_MYSQL_PASSWORD\"},"
	  "\"table\":\"shop.orders\",\"cursor\":{\"column\":\"updated_at\"},"
	  "\"state\":{\"name\":\"/dwops/extract/orders\"},"
	  "\"sink\":{\"type\":\"kinesis\",\"stream\":\"orders\"}}" },
	{ "status", "the watermark, its version and its lag behind the source", status_fields, status,
	  "{\"table\":\"shop.orders\",\"state\":{\"name\":\"/dwops/extract/orders\"}}" },
	{ "reset", "set the watermark for a backfill (refused while a run holds the lease)",
	  reset_fields, reset,
	  "{\"table\":\"shop.orders\",\"state\":{\"name\":\"/dwops/extract/orders\"},"
	  "\"cursor_value\":\"2024-01-01 00:00:00\"}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator extract_op = {
	"dw-extract", "incremental extract from MySQL to Kinesis, Firehose or S3 with a watermark",
	actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&extract_op, argc, argv);
}
