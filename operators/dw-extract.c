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

/* obj[name] (def when absent) within [lo, hi]. */
static int bounded(const cJSON *obj, const char *name, const char *path, long long def,
		   long long lo, long long hi, long long *out)
{
	long long v = dw_req_int(obj, name, def);

	if (v < lo || v > hi)
		return dw_invalid(path, "%s must be between %lld and %lld, not %lld", path, lo, hi, v);
	*out = v;
	return 0;
}

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

static int read_state(const cJSON *state, struct dw_extract_opts *o)
{
	static const char *const stores[] = { "ssm", "dynamodb", NULL };
	const char *store = dw_req_str(state, "store", "ssm");

	if (dw_req_choice(state, "store", "state", stores))
		return -1;
	o->store = strcmp(store, "dynamodb") == 0 ? DW_EXTRACT_DYNAMODB : DW_EXTRACT_SSM;
	o->state_name = dw_req_str(state, "name", NULL);
	o->state_table = dw_req_str(state, "table", NULL);
	if (o->state_table && o->store != DW_EXTRACT_DYNAMODB)
		return dw_invalid("state.table", "state.table is for the dynamodb store");
	return 0;
}

static int read_sink(const cJSON *sink, struct dw_extract_opts *o)
{
	static const char *const types[] = { "kinesis", "firehose", "s3", NULL };
	const char *type = dw_req_str(sink, "type", NULL);

	if (dw_req_choice(sink, "type", "sink", types))
		return -1;
	o->sink = strcmp(type, "s3") == 0 ? DW_EXTRACT_S3
		  : strcmp(type, "firehose") == 0 ? DW_EXTRACT_FIREHOSE : DW_EXTRACT_KINESIS;
	o->stream = dw_req_str(sink, "stream", NULL);
	o->bucket = dw_req_str(sink, "bucket", NULL);
	o->prefix = dw_req_str(sink, "prefix", NULL);
	if (o->sink == DW_EXTRACT_S3 ? o->stream != NULL : (o->bucket || o->prefix))
		return dw_invalid("sink", "sink %s takes %s", type,
				  o->sink == DW_EXTRACT_S3 ? "bucket and prefix" : "stream");
	return 0;
}

static int read_lock(const cJSON *lock, struct dw_lock_opts *lk)
{
	long long ttl, wait;

	dw_lock_opts_init(lk);
	lk->write = 1;
	lk->table = dw_req_str(lock, "table", DW_LOCK_TABLE_DEFAULT);
	lk->resource = dw_req_str(lock, "resource", NULL);
	lk->holder = dw_req_str(lock, "holder", NULL);
	if (lk->resource && !*lk->resource)
		return dw_invalid("lock.resource", "lock.resource must not be empty");
	if (bounded(lock, "ttl_s", "lock.ttl_s", DW_LOCK_TTL_S_DEFAULT, 5, 86400, &ttl) ||
	    bounded(lock, "wait_timeout_s", "lock.wait_timeout_s", 0, 0, 7 * 86400, &wait))
		return -1;
	lk->ttl_ms = ttl * 1000;
	lk->wait_timeout_ms = wait * 1000;
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
static int read_common(const cJSON *r, struct dw_extract_opts *o)
{
	const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(r, "cursor");

	o->table = dw_req_str(r, "table", NULL);
	o->cursor = dw_req_str(cursor, "column", NULL);
	o->tiebreak = dw_req_str(cursor, "tiebreak", NULL);
	o->dry_run = dw_req_bool(r, "dry_run", 0);
	o->sink = DW_EXTRACT_S3;
	o->bucket = "-";
	if (read_state(cJSON_GetObjectItemCaseSensitive(r, "state"), o) ||
	    read_lock(cJSON_GetObjectItemCaseSensitive(r, "lock"), &o->lock))
		return -1;
	return 0;
}

static int read_run(const cJSON *r, struct dw_extract_opts *o, struct req_owned *s)
{
	const cJSON *cols = cJSON_GetObjectItemCaseSensitive(r, "columns");
	const cJSON *guard = cJSON_GetObjectItemCaseSensitive(r, "guard_open_transactions");

	if (read_common(r, o) ||
	    read_sink(cJSON_GetObjectItemCaseSensitive(r, "sink"), o) ||
	    dw_req_mysql(cJSON_GetObjectItemCaseSensitive(r, "mysql"), "mysql", &s->mysql))
		return -1;
	o->mysql = s->mysql.target;
	o->columns = s->columns = string_array(cols, &o->n_columns);
	if (cJSON_IsArray(cols) && o->n_columns == 0)
		return dw_invalid("columns", "columns must not be empty (leave it out for every column)");
	o->guard_trx = cJSON_IsBool(guard) ? cJSON_IsTrue(guard) : -1;
	if (bounded(r, "lag_s", "lag_s", DW_EXTRACT_LAG_S, 0, MAX_LAG_S, &o->lag_s) ||
	    bounded(r, "page_rows", "page_rows", DW_EXTRACT_PAGE_ROWS, 1, MAX_PAGE_ROWS,
		    &o->page_rows) ||
	    bounded(r, "max_rows", "max_rows", 0, 0, 1LL << 50, &o->max_rows) ||
	    bounded(r, "time_budget_s", "time_budget_s", 0, 0, 7 * 86400, &o->time_budget_s))
		return -1;
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
	if (read_run(ctx->req, &o, &s) || !(aws = dw_ctx_aws(ctx)) ||
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
	const cJSON *mysql = cJSON_GetObjectItemCaseSensitive(ctx->req, "mysql");
	struct dw_aws *aws;
	int rc = -1;

	dw_extract_result_init(&r);
	o.cursor = "-";
	if (read_common(ctx->req, &o) || (mysql && dw_req_mysql(mysql, "mysql", &s.mysql)))
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
	struct dw_aws *aws;
	int rc = -1;

	dw_extract_result_init(&r);
	if (read_common(ctx->req, &o))
		goto out;
	o.cursor = "x";
	o.reset_cursor = dw_req_str(ctx->req, "cursor_value", NULL);
	o.reset_tiebreak = dw_req_str(ctx->req, "tiebreak_value", NULL);
	if (dw_extract_check(&o) || !(aws = dw_ctx_aws(ctx)))
		goto out;
	rc = finish(ctx, dw_extract_set_watermark(aws, &o, &r), &r, 0, &o);
out:
	dw_extract_result_release(&r);
	return rc;
}

/* ---- the request schema ------------------------------------------------ */

static const struct dw_field cursor_fields[] = {
	DW_FIELD("column", DW_T_STRING, DW_REQUIRED, NULL, "the DATETIME or TIMESTAMP column rows are ordered by (UTC)"),
	DW_FIELD("tiebreak", DW_T_STRING, 0, NULL, "unique column ordering rows that share a cursor value (default the primary key)"),
	DW_FIELDS_END
};
static const struct dw_field state_fields[] = {
	DW_FIELD("store", DW_T_STRING, 0, NULL, "ssm (default) or dynamodb"),
	DW_FIELD("name", DW_T_STRING, DW_REQUIRED, NULL, "the SSM parameter (/dwops/extract/orders) or the item's key"),
	DW_FIELD("table", DW_T_STRING, 0, NULL, "dynamodb: the table (default " DW_EXTRACT_STATE_TABLE ", key name)"),
	DW_FIELDS_END
};
static const struct dw_field sink_fields[] = {
	DW_FIELD("type", DW_T_STRING, DW_REQUIRED, NULL, "kinesis, firehose or s3"),
	DW_FIELD("stream", DW_T_STRING, 0, NULL, "kinesis: the stream; firehose: the delivery stream"),
	DW_FIELD("bucket", DW_T_STRING, 0, NULL, "s3: the bucket"),
	DW_FIELD("prefix", DW_T_STRING, 0, NULL, "s3: the folder (pages go under <prefix>/<db>.<table>/)"),
	DW_FIELDS_END
};
static const struct dw_field lock_fields[] = {
	DW_FIELD("table", DW_T_STRING, 0, NULL, "dw-lock's DynamoDB table (default " DW_LOCK_TABLE_DEFAULT ")"),
	DW_FIELD("resource", DW_T_STRING, 0, NULL, "default dw-extract/<table>"),
	DW_FIELD("holder", DW_T_STRING, 0, NULL, "default host:pid:random"),
	DW_FIELD("ttl_s", DW_T_INT, 0, NULL, "lease length, renewed between pages (default 120)"),
	DW_FIELD("wait_timeout_s", DW_T_INT, 0, NULL, "wait this long for a running extract (default 0: refused, Locked)"),
	DW_FIELDS_END
};

#define COMMON_FIELDS \
	DW_FIELD("table", DW_T_STRING, DW_REQUIRED, NULL, "database.table"), \
	DW_FIELD("state", DW_T_OBJECT, DW_REQUIRED, state_fields, "where the watermark lives"), \
	DW_FIELD("lock", DW_T_OBJECT, 0, lock_fields, "the write lease held while running"), \
	DW_FIELD("dry_run", DW_T_BOOL, 0, NULL, "read and count; send nothing, move nothing")

static const struct dw_field run_fields[] = {
	COMMON_FIELDS,
	DW_FIELD("mysql", DW_T_OBJECT, DW_REQUIRED, dw_mysql_fields, "the source"),
	DW_FIELD("cursor", DW_T_OBJECT, DW_REQUIRED, cursor_fields, "the keyset"),
	DW_FIELD("columns", DW_T_STRINGS, 0, NULL, "the columns in each record (default all)"),
	DW_FIELD("lag_s", DW_T_INT, 0, NULL, "rows newer than the source clock minus this are left for the next run (default 60)"),
	DW_FIELD("guard_open_transactions", DW_T_BOOL, 0, NULL, "keep the bound below the oldest open transaction (default: when INNODB_TRX is readable)"),
	DW_FIELD("page_rows", DW_T_INT, 0, NULL, "rows per page (default 5000, at most 100000)"),
	DW_FIELD("max_rows", DW_T_INT, 0, NULL, "stop after this many rows (default: no limit)"),
	DW_FIELD("time_budget_s", DW_T_INT, 0, NULL, "start no page after this many seconds (default: no limit)"),
	DW_FIELD("sink", DW_T_OBJECT, DW_REQUIRED, sink_fields, "where the records go"),
	DW_FIELDS_END
};
static const struct dw_field status_fields[] = {
	COMMON_FIELDS,
	DW_FIELD("mysql", DW_T_OBJECT, 0, dw_mysql_fields, "the source, for the lag behind its clock"),
	DW_FIELD("cursor", DW_T_OBJECT, 0, cursor_fields, "accepted (the run's request can be reused)"),
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
	DW_FIELD("cursor_value", DW_T_STRING, 0, NULL, "the new watermark's cursor, \"YYYY-MM-DD HH:MM:SS[.ffffff]\" UTC (absent: from the first row)"),
	DW_FIELD("tiebreak_value", DW_T_STRING, 0, NULL, "its tiebreak (absent: every row at cursor_value is read again)"),
	DW_FIELDS_END
};

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
