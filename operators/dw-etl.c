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

/* Everything a transforming action reads from its request, in one place. */
struct etl_opts {
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

static int int_field(const cJSON *req, const char *name, long long def, long long lo,
		     long long hi, long long *out)
{
	*out = dw_req_int(req, name, def);
	if (*out < lo || *out > hi)
		return dw_invalid(name, "%s must be between %lld and %lld", name, lo, hi);
	return 0;
}

static int pick_transform(const struct dw_ctx *ctx, struct etl_opts *o)
{
	static const char *const unknowns[] = { "skip", "fail", "folder", NULL };
	static const char *const dates[] = { "key", "records", NULL };
	static const char *const codecs[] = { "deflate", "snappy", "null", NULL };
	const cJSON *req = ctx->req, *mapping = cJSON_GetObjectItemCaseSensitive(req, "mapping");
	struct dw_etl_config *e = &o->run.etl;
	long long v;

	if (dw_req_choice(req, "unknown", "", unknowns) || dw_req_choice(req, "date_from", "", dates) ||
	    dw_req_choice(req, "codec", "", codecs))
		return -1;
	if (!mapping || cJSON_IsNull(mapping)) {
		o->default_mapping = cJSON_Parse(dw_etl_default_mapping);
		mapping = o->default_mapping;
	}
	if (dw_etl_mapping_new(mapping, "mapping", &o->mapping) ||
	    dw_etl_keyfmt_new(dw_req_str(req, "key_format", DW_ETL_KEY_FORMAT), "key_format",
			      &o->keyfmt))
		return -1;
	const char *unknown = dw_req_str(req, "unknown", "skip");
	e->mapping = o->mapping;
	e->keyfmt = o->keyfmt;
	e->split_field = dw_req_str(req, "split_field", "on");
	e->unknown = unknown[0] == 'f' ? (unknown[1] == 'a' ? DW_ETL_UNKNOWN_FAIL : DW_ETL_UNKNOWN_FOLDER)
				       : DW_ETL_UNKNOWN_SKIP;
	e->date_from = strcmp(dw_req_str(req, "date_from", "key"), "records") == 0
		       ? DW_ETL_DATE_RECORDS : DW_ETL_DATE_KEY;
	e->date_field = dw_req_str(req, "date_field", "at");
	e->prefix = dw_req_str(req, "dest_prefix", "demo");
	dw_avro_codec_parse(dw_req_str(req, "codec", "deflate"), &e->codec);
	if (!*e->split_field || !*e->date_field)
		return dw_invalid(*e->split_field ? "date_field" : "split_field", "must not be empty");
	if (int_field(req, "max_line_bytes", DW_ETL_MAX_LINE, 1024, 1LL << 30, &v))
		return -1;
	e->max_line = (size_t)v;
	return 0;
}

static int pick_run(const struct dw_ctx *ctx, struct etl_opts *o)
{
	const cJSON *req = ctx->req;
	long long v;

	memset(o, 0, sizeof(*o));
	dw_ctx_aws_config(ctx, &o->aws);
	o->run.aws_cfg = &o->aws;
	o->run.dest_bucket = dw_req_str(req, "dest_bucket", "");
	o->run.source_bucket = dw_req_str(req, "bucket", NULL);
	if (!*o->run.dest_bucket)
		return dw_invalid("dest_bucket", "dest_bucket must not be empty");
	if (int_field(req, "concurrency", 4, 1, DW_ETL_MAX_CONCURRENCY, &v))
		return -1;
	o->run.concurrency = (int)v;
	if (int_field(req, "read_chunk_bytes", DW_ETL_CHUNK_BYTES, 65536, 256LL << 20, &v))
		return -1;
	o->run.chunk_bytes = (size_t)v;
	if (int_field(req, "part_mb", DW_ETL_PART_BYTES >> 20, DW_S3_MIN_PART >> 20, 1024, &v))
		return -1;
	o->run.part_bytes = (size_t)v << 20;
	return pick_transform(ctx, o);
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
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(ctx->req, "keys"), *k;
	const char *hour = dw_req_str(ctx->req, "hour", NULL);
	int has_hours = hour || dw_req_str(ctx->req, "start", NULL) || dw_req_str(ctx->req, "end", NULL);
	struct dw_fanout_keyfmt *srcfmt = NULL;
	time_t start = 0, end = 0;
	struct dw_aws *aws;
	int rc = -1;

	if (pick_run(ctx, &o))
		goto out;
	if (!o.run.source_bucket || !*o.run.source_bucket) {
		rc = dw_invalid("bucket", "bucket (where the event files are) is required");
		goto out;
	}
	if ((keys != NULL) == has_hours) {
		rc = dw_invalid(keys ? "keys" : "hour", "give keys, or hour / start and end, not %s",
				keys ? "both" : "neither");
		goto out;
	}
	if (has_hours && (dw_fanout_pick_hours(hour, dw_req_str(ctx->req, "start", NULL),
					       dw_req_str(ctx->req, "end", NULL), &start, &end) ||
			  dw_fanout_keyfmt_new(dw_req_str(ctx->req, "source_key_format",
							  DW_FANOUT_KEY_FORMAT),
					       "source_key_format", &srcfmt)))
		goto out;
	cJSON_ArrayForEach(k, keys)
		if (!*k->valuestring) {
			rc = dw_invalid("keys", "keys must not hold an empty key");
			goto out;
		}
	if (!(aws = dw_ctx_aws(ctx)))
		goto out;
	if (has_hours) {
		rc = dw_etl_process_hours(aws, &o.run, dw_req_str(ctx->req, "prefix", NULL), srcfmt,
					  start, end, ctx->result);
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

static int pick_queue(const cJSON *req, const char *name, int required)
{
	const char *url = dw_req_str(req, name, NULL);

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
	long long v;
	struct dw_aws *aws;
	int rc = -1;

	if (pick_run(ctx, &o) || pick_queue(ctx->req, "queue_url", 1))
		goto out;
	o.run.queue_url = dw_req_str(ctx->req, "queue_url", NULL);
	if (int_field(ctx->req, "wait_s", 20, 0, 20, &v))
		goto out;
	o.run.wait_s = (int)v;
	if (int_field(ctx->req, "visibility_timeout_s", 0, 0, 43200, &v))
		goto out;
	o.run.visibility_s = (int)v;
	if (int_field(ctx->req, "max_messages", 0, 0, 100000000, &v))
		goto out;
	o.run.max_messages = (long)v;
	if (int_field(ctx->req, "idle_exit_s", 60, 0, 86400, &v))
		goto out;
	o.run.idle_exit_s = (int)v;
	if (int_field(ctx->req, "time_budget_s", 0, 0, 7 * 86400, &v))
		goto out;
	o.run.time_budget_s = (int)v;
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
	const char *api = dw_req_str(ctx->req, "runtime_api", getenv("AWS_LAMBDA_RUNTIME_API"));
	long long max, margin;
	int rc = -1;

	if (pick_run(ctx, &o) || int_field(ctx->req, "max_invocations", 0, 0, 1LL << 40, &max) ||
	    int_field(ctx->req, "deadline_margin_ms", DW_ETL_DEADLINE_MARGIN_MS, 0, 600000, &margin))
		goto out;
	o.run.deadline_margin_ms = (int)margin;
	if (!api || !*api) {
		rc = dw_invalid("runtime_api", "AWS_LAMBDA_RUNTIME_API is not set: lambda runs as a "
				"Lambda function's bootstrap (or give runtime_api host:port)");
		goto out;
	}
	rc = dw_etl_lambda(&o.run, api, (long)max, ctx->result);
out:
	opts_release(&o);
	return rc;
}

/* ---- redrive ------------------------------------------------------------- */

static int redrive(struct dw_ctx *ctx)
{
	const char *queue = dw_req_str(ctx->req, "queue_url", NULL);
	const char *dlq = dw_req_str(ctx->req, "dlq_url", NULL);
	struct dw_aws *aws;
	long long max;

	if (pick_queue(ctx->req, "queue_url", 1) || pick_queue(ctx->req, "dlq_url", 0) ||
	    int_field(ctx->req, "max_messages", 1000, 1, 10000000, &max))
		return -1;
	if (!(aws = dw_ctx_aws(ctx)))
		return -1;
	return finish(ctx, dw_etl_redrive(aws, queue, dlq, (long)max, ctx->result),
		      "the dead-letter queue is empty");
}


/* ---- compact ------------------------------------------------------------- */

/* The write lease compact takes itself (its "lock" field). */
static int compact_lock_opts(const cJSON *lock, struct dw_lock_opts *lk)
{
	long long ttl, wait;

	dw_lock_opts_init(lk);
	lk->write = 1;
	lk->wait = 1;
	lk->resource = dw_req_str(lock, "resource", NULL);
	lk->table = dw_req_str(lock, "table", DW_LOCK_TABLE_DEFAULT);
	lk->holder = dw_req_str(lock, "holder", NULL);
	lk->writer_priority = dw_req_bool(lock, "writer_priority", 1);
	if (!*lk->resource)
		return dw_invalid("lock.resource", "lock.resource must not be empty");
	ttl = dw_req_int(lock, "ttl_s", DW_LOCK_TTL_S_DEFAULT);
	if (ttl < 10 || ttl > 86400)
		return dw_invalid("lock.ttl_s", "lock.ttl_s must be between 10 and 86400");
	wait = dw_req_int(lock, "wait_timeout_s", 3600);
	if (wait < 0 || wait > 7 * 86400)
		return dw_invalid("lock.wait_timeout_s", "lock.wait_timeout_s must be between 0 and 604800");
	lk->ttl_ms = ttl * 1000;
	lk->skew_ms = DW_LOCK_SKEW_MS_DEFAULT;
	lk->wait_timeout_ms = wait * 1000;
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
	const cJSON *lock = cJSON_GetObjectItemCaseSensitive(ctx->req, "lock");
	struct dw_compact_opts o = { 0 };
	struct dw_compact_result r;
	struct dw_lock_opts lk;
	struct dw_lock_lease lease = { 0 };
	char *prefix, *holder = NULL, *lease_id = NULL;
	struct dw_aws *aws;
	long long mb;
	int from_env, rc;

	o.bucket = dw_req_str(ctx->req, "bucket", NULL);
	o.dry_run = dw_req_bool(ctx->req, "dry_run", 0);
	if (int_field(ctx->req, "target_mb", DW_COMPACT_DEFAULT_MB, DW_COMPACT_MIN_MB, DW_COMPACT_MAX_MB, &mb))
		return -1;
	o.target_bytes = mb << 20;
	from_env = dw_compact_lock_from_env(&lk);
	if (from_env < 0)
		return -1;
	if (lock && from_env)
		return dw_invalid("lock", "compact runs under dw-lock exec's write lease already: leave out lock");
	if (lock && compact_lock_opts(lock, &lk))
		return -1;
	prefix = dw_xstrdup(dw_req_str(ctx->req, "prefix", ""));
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
	compact_report(ctx, &r, o.dry_run, mb);
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

#define TRANSFORM_FIELDS \
	DW_FIELD("dest_bucket", DW_T_STRING, DW_REQUIRED, NULL, "bucket the Avro files are written to"), \
	DW_FIELD("dest_prefix", DW_T_STRING, 0, NULL, "{prefix} of key_format (default demo)"), \
	DW_FIELD("key_format", DW_T_STRING, 0, NULL, "output keys, default " DW_ETL_KEY_FORMAT \
	  " ({prefix} {on} {YYYY} {MM} {DD} {basename} {name})"), \
	DW_FIELD("mapping", DW_T_ANY, 0, NULL, "{\"<on value>\": [{name, type, path}]} (default: vehicle, operating_period)"), \
	DW_FIELD("split_field", DW_T_STRING, 0, NULL, "the field that names a record's kind (default on)"), \
	DW_FIELD("unknown", DW_T_STRING, 0, NULL, "a kind without mapping: skip (default, counted), fail, folder (_unknown/)"), \
	DW_FIELD("date_from", DW_T_STRING, 0, NULL, "the date of the output keys: key (the file name, default) or records"), \
	DW_FIELD("date_field", DW_T_STRING, 0, NULL, "date_from records: the record's time (default at)"), \
	DW_FIELD("codec", DW_T_STRING, 0, NULL, "Avro codec: deflate (default), snappy, null"), \
	DW_FIELD("concurrency", DW_T_INT, 0, NULL, "files or messages in flight (1-64, default 4)"), \
	DW_FIELD("read_chunk_bytes", DW_T_INT, 0, NULL, "bytes per ranged GET (default 4 MiB)"), \
	DW_FIELD("part_mb", DW_T_INT, 0, NULL, "an output past this is streamed as a multipart upload in parts of it (5-1024, default 8)"), \
	DW_FIELD("max_line_bytes", DW_T_INT, 0, NULL, "a longer line is a bad line (default 16 MiB)")

static const struct dw_field process_fields[] = {
	DW_FIELD("bucket", DW_T_STRING, DW_REQUIRED, NULL, "bucket the event files are in"),
	DW_FIELD("keys", DW_T_STRINGS, 0, NULL, "the files' keys (or hour / start and end)"),
	DW_FIELD("prefix", DW_T_STRING, 0, NULL, "hours: folder the files are in"),
	DW_FIELD("hour", DW_T_STRING, 0, NULL, "an hour's files, as dw-fanout names them (2019-06-01T15)"),
	DW_FIELD("start", DW_T_STRING, 0, NULL, "first hour of a range (instead of hour)"),
	DW_FIELD("end", DW_T_STRING, 0, NULL, "end of the range, exclusive"),
	DW_FIELD("source_key_format", DW_T_STRING, 0, NULL, "how the files are named (dw-fanout's key_format, default "
	  DW_FANOUT_KEY_FORMAT ")"),
	TRANSFORM_FIELDS,
	DW_FIELDS_END
};

static const struct dw_field consume_fields[] = {
	DW_FIELD("queue_url", DW_T_STRING, DW_REQUIRED, NULL, "the SQS queue dw-fanout fills"),
	DW_FIELD("bucket", DW_T_STRING, 0, NULL, "bucket of messages that hold a bare key (dw-fanout's key format)"),
	DW_FIELD("wait_s", DW_T_INT, 0, NULL, "long poll seconds (0-20, default 20)"),
	DW_FIELD("visibility_timeout_s", DW_T_INT, 0, NULL, "visibility timeout of received messages (default: the queue's)"),
	DW_FIELD("max_messages", DW_T_INT, 0, NULL, "stop after receiving this many (default: no limit)"),
	DW_FIELD("idle_exit_s", DW_T_INT, 0, NULL, "stop after this long without messages (default 60; 0: never)"),
	DW_FIELD("time_budget_s", DW_T_INT, 0, NULL, "stop receiving after this long (default: no limit)"),
	TRANSFORM_FIELDS,
	DW_FIELDS_END
};

static const struct dw_field lambda_fields[] = {
	DW_FIELD("bucket", DW_T_STRING, 0, NULL, "bucket of messages that hold a bare key"),
	DW_FIELD("runtime_api", DW_T_STRING, 0, NULL, "host:port of the Runtime API (default AWS_LAMBDA_RUNTIME_API)"),
	DW_FIELD("max_invocations", DW_T_INT, 0, NULL, "exit after this many invocations (tests; default never)"),
	DW_FIELD("deadline_margin_ms", DW_T_INT, 0, NULL, "start no message this long before the invocation's deadline; the "
	  "unfinished ones are reported failed (default 2000)"),
	TRANSFORM_FIELDS,
	DW_FIELDS_END
};

static const struct dw_field redrive_fields[] = {
	DW_FIELD("queue_url", DW_T_STRING, DW_REQUIRED, NULL, "the source queue the messages go back to"),
	DW_FIELD("dlq_url", DW_T_STRING, 0, NULL, "the dead-letter queue (default: from the queue's RedrivePolicy)"),
	DW_FIELD("max_messages", DW_T_INT, 0, NULL, "move at most this many (default 1000)"),
	DW_FIELDS_END
};

static const struct dw_field compact_lock_fields[] = {
	DW_FIELD("resource", DW_T_STRING, DW_REQUIRED, NULL, "the dw-lock resource of the partitions (e.g. lake/events)"),
	DW_FIELD("table", DW_T_STRING, 0, NULL, "dw-lock's table (default dwops-locks)"),
	DW_FIELD("holder", DW_T_STRING, 0, NULL, "holder name (default host:pid:random)"),
	DW_FIELD("ttl_s", DW_T_INT, 0, NULL, "lease length, renewed while compaction runs (10..86400, default 120)"),
	DW_FIELD("wait_timeout_s", DW_T_INT, 0, NULL, "wait this long for readers to finish, then exit 75 (default 3600)"),
	DW_FIELD("writer_priority", DW_T_BOOL, 0, NULL, "new readers wait while compaction waits (default true)"),
	DW_FIELDS_END
};

static const struct dw_field compact_fields[] = {
	DW_FIELD("bucket", DW_T_STRING, DW_REQUIRED, NULL, "bucket of the Avro partitions"),
	DW_FIELD("prefix", DW_T_STRING, DW_REQUIRED, NULL, "the partitions' prefix (dest_prefix of process; never empty)"),
	DW_FIELD("target_mb", DW_T_INT, 0, NULL, "merged files up to this size, 16..256 (default 128)"),
	DW_FIELD("dry_run", DW_T_BOOL, 0, NULL, "list what would be merged, change nothing"),
	DW_FIELD("lock", DW_T_OBJECT, 0, compact_lock_fields, "take dw-lock's write lease (else run under dw-lock exec)"),
	DW_FIELDS_END
};

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
