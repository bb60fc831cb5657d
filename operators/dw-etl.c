/* dw-etl - the fan-out's consumer: event files (JSON lines) into Avro
 * partitions, one object per kind of record and file; as a batch
 * (process), an SQS worker (consume), a Lambda custom runtime (lambda),
 * and the dead-letter queue's redrive. */
#include "aws/aws.h"
#include "aws/s3.h"
#include "base/json.h"
#include "base/log.h"
#include "ops/compact.h"
#include "ops/etlrun.h"
#include "ops/fanout.h"
#include "proto/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* compact's "lock": the write lease it takes itself. */
struct compact_lock {
	const char *resource, *table, *holder;
	long long ttl_s, wait_timeout_s;
	int writer_priority;
};

/* Every action's request (each action's table binds the fields it has). */
struct etl_req {
	/* the transform (process, consume, lambda) */
	const char *dest_bucket, *dest_prefix, *key_format, *split_field, *date_field, *codec;
	const cJSON *mapping;
	int unknown;                /* index in the choices: enum dw_etl_unknown */
	int date_from;              /* index in the choices: enum dw_etl_date_from */
	int concurrency;
	size_t read_chunk_bytes, max_line_bytes, part_mb;
	/* process */
	const char *bucket, *prefix, *hour, *start, *end, *source_key_format;
	const cJSON *keys;
	/* consume, redrive */
	const char *queue_url, *dlq_url;
	int wait_s, visibility_timeout_s, idle_exit_s, time_budget_s;
	long max_messages;
	/* lambda */
	const char *runtime_api;
	long max_invocations;
	int deadline_margin_ms;
	/* compact */
	long long target_mb;
	int dry_run;
	struct compact_lock lock;
};

/* What a transforming action makes of its request. */
struct etl_opts {
	struct etl_req q;
	struct dw_aws_config aws;
	struct dw_etl_run_config run;
	struct dw_etl_mapping *mapping;
	struct dw_etl_keyfmt *keyfmt;
	cJSON *default_mapping;
};

static void opts_release(struct etl_opts *o)
{
	dw_etl_mapping_free(o->mapping);
	dw_etl_keyfmt_free(o->keyfmt);
	cJSON_Delete(o->default_mapping);
}

static int pick_transform(struct etl_opts *o)
{
	const struct etl_req *q = &o->q;
	const cJSON *mapping = q->mapping;
	struct dw_etl_config *e = &o->run.etl;

	if (!mapping) {
		o->default_mapping = cJSON_Parse(dw_etl_default_mapping);
		mapping = o->default_mapping;
	}
	if (dw_etl_mapping_new(mapping, "mapping", &o->mapping) ||
	    dw_etl_keyfmt_new(q->key_format, "key_format", &o->keyfmt))
		return -1;
	e->mapping = o->mapping;
	e->keyfmt = o->keyfmt;
	e->split_field = q->split_field;
	/* The choices' order is the enums'. */
	e->unknown = (enum dw_etl_unknown)q->unknown;
	e->date_from = (enum dw_etl_date_from)q->date_from;
	e->date_field = q->date_field;
	e->prefix = q->dest_prefix;
	dw_avro_codec_parse(q->codec, &e->codec);
	if (!*e->split_field || !*e->date_field)
		return dw_invalid(*e->split_field ? "date_field" : "split_field", "must not be empty");
	e->max_line = q->max_line_bytes;
	return 0;
}

/* Bind the action's request and set up the run. */
static int pick_run(const struct dw_ctx *ctx, struct etl_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (dw_req_bind(ctx->req, ctx->action->fields, &o->q))
		return -1;
	dw_ctx_aws_config(ctx, &o->aws);
	o->run.aws_cfg = &o->aws;
	o->run.dest_bucket = o->q.dest_bucket;
	o->run.source_bucket = o->q.bucket;
	if (!*o->run.dest_bucket)
		return dw_invalid("dest_bucket", "dest_bucket must not be empty");
	o->run.concurrency = o->q.concurrency;
	o->run.chunk_bytes = o->q.read_chunk_bytes;
	o->run.part_bytes = o->q.part_mb << 20;
	return pick_transform(o);
}

static int finish(struct dw_ctx *ctx, int rc, const char *nothing)
{
	if (rc == DW_NOTHING)
		return dw_nothing_to_do(ctx, nothing);
	return rc;
}

/* ---- process ------------------------------------------------------------- */

static int process(struct dw_ctx *ctx)
{
	struct etl_opts o;
	const cJSON *keys, *k;
	struct dw_fanout_keyfmt *srcfmt = NULL;
	time_t start = 0, end = 0;
	struct dw_aws *aws;
	int has_hours, rc = -1;

	if (pick_run(ctx, &o))
		goto out;
	keys = o.q.keys;
	has_hours = o.q.hour || o.q.start || o.q.end;
	if (!o.run.source_bucket || !*o.run.source_bucket) {
		rc = dw_invalid("bucket", "bucket (where the event files are) is required");
		goto out;
	}
	if ((keys != NULL) == has_hours) {
		rc = dw_invalid(keys ? "keys" : "hour", "give keys, or hour / start and end, not %s",
				keys ? "both" : "neither");
		goto out;
	}
	if (has_hours && (dw_fanout_pick_hours(o.q.hour, o.q.start, o.q.end, &start, &end) ||
			  dw_fanout_keyfmt_new(o.q.source_key_format, "source_key_format", &srcfmt)))
		goto out;
	cJSON_ArrayForEach(k, keys)
		if (!*k->valuestring) {
			rc = dw_invalid("keys", "keys must not hold an empty key");
			goto out;
		}
	if (!(aws = dw_ctx_aws(ctx)))
		goto out;
	if (has_hours) {
		rc = dw_etl_process_hours(aws, &o.run, o.q.prefix, srcfmt, start, end, ctx->result);
	} else {
		size_t n = (size_t)cJSON_GetArraySize(keys), i = 0;
		const char **list = calloc(n ? n : 1, sizeof(*list));
		cJSON_ArrayForEach(k, keys)
			list[i++] = k->valuestring;
		rc = dw_etl_process_keys(aws, &o.run, list, n, ctx->result);
		free(list);
	}
	rc = finish(ctx, rc, "no event files to process");
out:
	dw_fanout_keyfmt_free(srcfmt);
	opts_release(&o);
	return rc;
}

/* ---- consume ------------------------------------------------------------- */

static int pick_queue(const char *url, const char *name, int required)
{
	if (!url && !required)
		return 0;
	if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
		return dw_invalid(name, "%s must be a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)",
				  name);
	return 0;
}

static int consume(struct dw_ctx *ctx)
{
	struct etl_opts o;
	struct dw_aws *aws;
	int rc = -1;

	if (pick_run(ctx, &o) || pick_queue(o.q.queue_url, "queue_url", 1))
		goto out;
	o.run.queue_url = o.q.queue_url;
	o.run.wait_s = o.q.wait_s;
	o.run.visibility_s = o.q.visibility_timeout_s;
	o.run.max_messages = o.q.max_messages;
	o.run.idle_exit_s = o.q.idle_exit_s;
	o.run.time_budget_s = o.q.time_budget_s;
	if (!(aws = dw_ctx_aws(ctx)))
		goto out;
	rc = finish(ctx, dw_etl_consume(aws, &o.run, ctx->result), "the queue had no messages");
out:
	opts_release(&o);
	return rc;
}

/* ---- lambda -------------------------------------------------------------- */

static int lambda(struct dw_ctx *ctx)
{
	struct etl_opts o;
	const char *api;
	int rc = -1;

	if (pick_run(ctx, &o))
		goto out;
	api = o.q.runtime_api ? o.q.runtime_api : getenv("AWS_LAMBDA_RUNTIME_API");
	o.run.deadline_margin_ms = o.q.deadline_margin_ms;
	if (!api || !*api) {
		rc = dw_invalid("runtime_api", "AWS_LAMBDA_RUNTIME_API is not set: lambda runs as a "
				"Lambda function's bootstrap (or give runtime_api host:port)");
		goto out;
	}
	rc = dw_etl_lambda(&o.run, api, o.q.max_invocations, ctx->result);
out:
	opts_release(&o);
	return rc;
}

/* ---- redrive ------------------------------------------------------------- */

static int redrive(struct dw_ctx *ctx)
{
	struct etl_req q = { 0 };
	struct dw_aws *aws;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q) ||
	    pick_queue(q.queue_url, "queue_url", 1) || pick_queue(q.dlq_url, "dlq_url", 0))
		return -1;
	if (!(aws = dw_ctx_aws(ctx)))
		return -1;
	return finish(ctx, dw_etl_redrive(aws, q.queue_url, q.dlq_url, q.max_messages, ctx->result),
		      "the dead-letter queue is empty");
}


/* ---- compact ------------------------------------------------------------- */

/* The write lease compact takes itself (its "lock" field). */
static int compact_lock_opts(const struct compact_lock *l, struct dw_lock_opts *lk)
{
	dw_lock_opts_init(lk);
	lk->write = 1;
	lk->wait = 1;
	lk->resource = l->resource;
	lk->table = l->table;
	lk->holder = l->holder;
	lk->writer_priority = l->writer_priority;
	if (!*lk->resource)
		return dw_invalid("lock.resource", "lock.resource must not be empty");
	lk->ttl_ms = l->ttl_s * 1000;
	lk->skew_ms = DW_LOCK_SKEW_MS_DEFAULT;
	lk->wait_timeout_ms = l->wait_timeout_s * 1000;
	return 0;
}

static void compact_report(struct dw_ctx *ctx, const struct dw_compact_result *r, int dry_run,
			   long long target_mb)
{
	cJSON *res = ctx->result;

	cJSON_AddBoolToObject(res, "dry_run", dry_run);
	dw_json_add_int(res, "target_mb", target_mb);
	dw_json_add_int(res, "partitions", r->partitions);
	dw_json_add_int(res, "merges", r->groups);
	dw_json_add_int(res, "files_in", r->files_in);
	dw_json_add_int(res, "files_out", r->files_out);
	dw_json_add_int(res, "bytes_in", r->bytes_in);
	dw_json_add_int(res, "bytes_out", r->bytes_out);
	dw_json_add_int(res, "records", r->records);
	dw_json_add_int(res, "left_alone", r->left_alone);
	dw_json_add_int(res, "recovered", r->recovered);
	if (dry_run)
		cJSON_AddItemToObject(res, "plan", cJSON_Duplicate(r->plan, 1));
}

static int compact(struct dw_ctx *ctx)
{
	struct etl_req q = { 0 };
	int lock = dw_req_has(ctx->req, "lock");
	struct dw_compact_opts o = { 0 };
	struct dw_compact_result r;
	struct dw_lock_opts lk;
	struct dw_lock_lease lease = { 0 };
	char *prefix, *holder = NULL, *lease_id = NULL;
	struct dw_aws *aws;
	int from_env, rc;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q))
		return -1;
	o.bucket = q.bucket;
	o.dry_run = q.dry_run;
	o.target_bytes = q.target_mb << 20;
	from_env = dw_compact_lock_from_env(&lk);
	if (from_env < 0)
		return -1;
	if (lock && from_env)
		return dw_invalid("lock", "compact runs under dw-lock exec's write lease already: leave out lock");
	if (lock && compact_lock_opts(&q.lock, &lk))
		return -1;
	prefix = dw_xstrdup(q.prefix);
	for (size_t n = strlen(prefix); n > 0 && prefix[n - 1] == '/'; n--)
		prefix[n - 1] = '\0';
	if (!*prefix) {
		free(prefix);
		return dw_invalid("prefix", "prefix must name the partitions' folder (never a whole bucket)");
	}
	o.prefix = prefix;
	if (!(aws = dw_ctx_aws(ctx))) {
		free(prefix);
		return -1;
	}
	if (lock && !o.dry_run) {
		if (dw_lock_acquire(aws, &lk, &lease)) {
			free(prefix);
			return dw_error_context("the write lease on %s", lk.resource);
		}
		/* copies: renewals refill the lease */
		lk.holder = holder = dw_xstrdup(lease.holder);
		lk.lease_id = lease_id = dw_xstrdup(lease.lease_id);
		lk.fence = lease.fence;
		o.own_lease = &lease;
		dw_json_add_int(ctx->result, "fencing_token", lease.fence);
	}
	if ((lock && !o.dry_run) || from_env)
		o.lock = &lk;
	dw_compact_result_init(&r);
	rc = dw_compact_run(aws, &o, &r);
	compact_report(ctx, &r, o.dry_run, q.target_mb);
	if (o.own_lease) {
		struct dw_error saved;
		int released = 0;
		dw_error_save(&saved);
		if (dw_lock_release(aws, &lk, &released))
			dw_warn("releasing the write lease failed (%s); it runs out by itself",
				dw_error_last()->message);
		dw_error_restore(&saved);
	}
	int nothing = rc == 0 && r.groups == 0 && r.recovered == 0;
	dw_compact_result_release(&r);
	dw_lock_lease_release(&lease);
	free(holder);
	free(lease_id);
	free(prefix);
	if (nothing)
		return dw_nothing_to_do(ctx, "no small files to merge");
	return rc;
}

/* ---- the request --------------------------------------------------------- */

#define F(kind, n, ...) DW_##kind(n, struct etl_req, __VA_ARGS__)
#define TRANSFORM_FIELDS \
	F(STR, "dest_bucket", dest_bucket, DW_REQUIRED, NULL, "bucket the Avro files are written to"), \
	F(STR, "dest_prefix", dest_prefix, 0, "demo", "{prefix} of key_format"), \
	F(STR, "key_format", key_format, 0, DW_ETL_KEY_FORMAT, \
	  "output keys ({prefix} {on} {YYYY} {MM} {DD} {basename} {name})"), \
	F(ANY, "mapping", mapping, 0, "{\"<on value>\": [{name, type, path}]} (default: vehicle, operating_period)"), \
	F(STR, "split_field", split_field, 0, "on", "the field that names a record's kind"), \
	F(CHOICE, "unknown", unknown, 0, "skip", DW_CHOICES("skip", "fail", "folder"), \
	  "a kind without mapping: skip (counted), fail, or folder (_unknown/)"), \
	F(CHOICE, "date_from", date_from, 0, "key", DW_CHOICES("key", "records"), \
	  "the date of the output keys: the file name's (key) or the records'"), \
	F(STR, "date_field", date_field, 0, "at", "date_from records: the record's time"), \
	F(CHOICE, "codec", codec, 0, "deflate", DW_CHOICES("deflate", "snappy", "null"), "Avro codec"), \
	F(INT, "concurrency", concurrency, 0, 4, 1, DW_ETL_MAX_CONCURRENCY, "files or messages in flight"), \
	F(INT, "read_chunk_bytes", read_chunk_bytes, 0, DW_ETL_CHUNK_BYTES, 65536, 256LL << 20, \
	  "bytes per ranged GET"), \
	F(INT, "part_mb", part_mb, 0, DW_ETL_PART_BYTES >> 20, DW_S3_MIN_PART >> 20, 1024, \
	  "an output past this is streamed as a multipart upload in parts of it"), \
	F(INT, "max_line_bytes", max_line_bytes, 0, DW_ETL_MAX_LINE, 1024, 1LL << 30, \
	  "a longer line is a bad line")

static const struct dw_field process_fields[] = {
	F(STR, "bucket", bucket, DW_REQUIRED, NULL, "bucket the event files are in"),
	F(STRINGS, "keys", keys, 0, "the files' keys (or hour / start and end)"),
	F(STR, "prefix", prefix, 0, NULL, "hours: folder the files are in"),
	F(STR, "hour", hour, 0, NULL, "an hour's files, as dw-fanout names them (2019-06-01T15)"),
	F(STR, "start", start, 0, NULL, "first hour of a range (instead of hour)"),
	F(STR, "end", end, 0, NULL, "end of the range, exclusive"),
	F(STR, "source_key_format", source_key_format, 0, DW_FANOUT_KEY_FORMAT,
	  "how the files are named (dw-fanout's key_format)"),
	TRANSFORM_FIELDS,
	DW_FIELDS_END
};

static const struct dw_field consume_fields[] = {
	F(STR, "queue_url", queue_url, DW_REQUIRED, NULL, "the SQS queue dw-fanout fills"),
	F(STR, "bucket", bucket, 0, NULL, "bucket of messages that hold a bare key (dw-fanout's key format)"),
	F(INT, "wait_s", wait_s, 0, 20, 0, 20, "long poll seconds"),
	F(INT, "visibility_timeout_s", visibility_timeout_s, DW_NODEFAULT, 0, 0, 43200,
	  "visibility timeout of received messages (default: the queue's)"),
	F(INT, "max_messages", max_messages, DW_NODEFAULT, 0, 0, 100000000,
	  "stop after receiving this many (default: no limit)"),
	F(INT, "idle_exit_s", idle_exit_s, 0, 60, 0, 86400, "stop after this long without messages (0: never)"),
	F(INT, "time_budget_s", time_budget_s, DW_NODEFAULT, 0, 0, 7 * 86400,
	  "stop receiving after this long (default: no limit)"),
	TRANSFORM_FIELDS,
	DW_FIELDS_END
};

static const struct dw_field lambda_fields[] = {
	F(STR, "bucket", bucket, 0, NULL, "bucket of messages that hold a bare key"),
	F(STR, "runtime_api", runtime_api, 0, NULL, "host:port of the Runtime API (default AWS_LAMBDA_RUNTIME_API)"),
	F(INT, "max_invocations", max_invocations, DW_NODEFAULT, 0, 0, 1LL << 40,
	  "exit after this many invocations (tests; default never)"),
	F(INT, "deadline_margin_ms", deadline_margin_ms, 0, DW_ETL_DEADLINE_MARGIN_MS, 0, 600000,
	  "start no message this long before the invocation's deadline; the unfinished ones are reported failed"),
	TRANSFORM_FIELDS,
	DW_FIELDS_END
};

static const struct dw_field redrive_fields[] = {
	F(STR, "queue_url", queue_url, DW_REQUIRED, NULL, "the source queue the messages go back to"),
	F(STR, "dlq_url", dlq_url, 0, NULL, "the dead-letter queue (default: from the queue's RedrivePolicy)"),
	F(INT, "max_messages", max_messages, 0, 1000, 1, 10000000, "move at most this many"),
	DW_FIELDS_END
};

static const struct dw_field compact_lock_fields[] = {
	DW_STR("resource", struct compact_lock, resource, DW_REQUIRED, NULL,
	       "the dw-lock resource of the partitions (e.g. lake/events)"),
	DW_STR("table", struct compact_lock, table, 0, DW_LOCK_TABLE_DEFAULT, "dw-lock's table"),
	DW_STR("holder", struct compact_lock, holder, 0, NULL, "holder name (default host:pid:random)"),
	DW_INT("ttl_s", struct compact_lock, ttl_s, 0, DW_LOCK_TTL_S_DEFAULT, 10, 86400,
	       "lease length, renewed while compaction runs"),
	DW_INT("wait_timeout_s", struct compact_lock, wait_timeout_s, 0, 3600, 0, 7 * 86400,
	       "wait this long for readers to finish, then exit 75"),
	DW_BOOL("writer_priority", struct compact_lock, writer_priority, 0, 1,
		"new readers wait while compaction waits"),
	DW_FIELDS_END
};

static const struct dw_field compact_fields[] = {
	F(STR, "bucket", bucket, DW_REQUIRED, NULL, "bucket of the Avro partitions"),
	F(STR, "prefix", prefix, DW_REQUIRED, NULL, "the partitions' prefix (dest_prefix of process; never empty)"),
	F(INT, "target_mb", target_mb, 0, DW_COMPACT_DEFAULT_MB, DW_COMPACT_MIN_MB, DW_COMPACT_MAX_MB,
	  "merged files up to this size"),
	F(BOOL, "dry_run", dry_run, 0, 0, "list what would be merged, change nothing"),
	F(STRUCT, "lock", lock, 0, compact_lock_fields, "take dw-lock's write lease (else run under dw-lock exec)"),
	DW_FIELDS_END
};
#undef F

static const struct dw_action actions[] = {
	{ "process", "transform the named files, or an hour's or a range's files",
	  process_fields, process,
	  "{\"bucket\": \"acme-events\", \"prefix\": \"incoming/\", \"hour\": \"2019-06-01T15\", "
	  "\"dest_bucket\": \"acme-lake\"}" },
	{ "consume", "work the SQS queue: transform each message's file, delete it when written",
	  consume_fields, consume,
	  "{\"queue_url\": \"https://sqs.us-east-1.amazonaws.com/123456789012/event-files\", "
	  "\"bucket\": \"acme-events\", \"dest_bucket\": \"acme-lake\"}" },
	{ "lambda", "run as a Lambda custom runtime (SQS event in, partial batch response out)",
	  lambda_fields, lambda, "{\"bucket\": \"acme-events\", \"dest_bucket\": \"acme-lake\"}" },
	{ "redrive", "move messages from the dead-letter queue back to the queue",
	  redrive_fields, redrive,
	  "{\"queue_url\": \"https://sqs.us-east-1.amazonaws.com/123456789012/event-files\"}" },
	{ "compact", "merge each partition folder's small Avro files into files of target_mb, under the write lease",
	  compact_fields, compact,
	  "{\"bucket\": \"acme-lake\", \"prefix\": \"events\", \"target_mb\": 128, "
	  "\"lock\": {\"resource\": \"lake/events\", \"ttl_s\": 300}}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator etl_op = {
	"dw-etl", "event files from S3 into Avro partitions, from SQS or Lambda", actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&etl_op, argc, argv);
}
