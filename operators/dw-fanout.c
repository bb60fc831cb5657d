/* dw-fanout - one SQS message per S3 event file of an hour (or a range of
 * hours), so that workers process the hour's files in parallel. */
#include "ops/fanout.h"
#include "proto/op.h"
#include "base/timefmt.h"

#include <string.h>

/* hour, or start and end: which hours to send, as whole hours. */
static int pick_hours(const cJSON *req, time_t *start, time_t *end)
{
	return dw_fanout_pick_hours(dw_req_str(req, "hour", NULL), dw_req_str(req, "start", NULL),
				    dw_req_str(req, "end", NULL), start, end);
}

/* What SQS accepts as a MessageGroupId. */
static int group_id_ok(const char *id)
{
	size_t n = strlen(id);

	for (const char *p = id; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return 0;
	return n >= 1 && n <= 128;
}

static int pick_options(const cJSON *req, struct dw_fanout_config *c)
{
	static const char *const formats[] = { "key", "s3_event", NULL };
	static const char *const empties[] = { "skip", "fail", "ok", NULL };
	const char *fmt = dw_req_str(req, "message_format", "key");
	const char *empty = dw_req_str(req, "empty", "skip");
	const char *url = c->queue_url;

	if (dw_req_choice(req, "message_format", "", formats) ||
	    dw_req_choice(req, "empty", "", empties))
		return -1;
	c->message = fmt[0] == 's' ? DW_FANOUT_MSG_S3_EVENT : DW_FANOUT_MSG_KEY;
	c->empty = empty[0] == 'f' ? DW_FANOUT_EMPTY_FAIL
		 : empty[0] == 'o' ? DW_FANOUT_EMPTY_OK : DW_FANOUT_EMPTY_SKIP;
	/* checked in 64 bits, then narrowed: 4294967297 is not 1 */
	long long concurrency = dw_req_int(req, "concurrency", 32);
	if (concurrency < 1 || concurrency > DW_FANOUT_MAX_CONCURRENCY)
		return dw_invalid("concurrency", "concurrency must be between 1 and %d, not %lld",
				  DW_FANOUT_MAX_CONCURRENCY, concurrency);
	c->concurrency = (int)concurrency;
	long long page_size = dw_req_int(req, "page_size", 1000);
	if (page_size < 1 || page_size > 1000)
		return dw_invalid("page_size", "page_size must be between 1 and 1000, not %lld",
				  page_size);
	c->page_size = (int)page_size;
	if (c->message_group_id && !group_id_ok(c->message_group_id))
		return dw_invalid("message_group_id", "message_group_id must be 1 to 128 printable "
				  "ASCII characters without spaces");
	if (!*c->bucket)
		return dw_invalid("bucket", "bucket must not be empty");
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return dw_invalid("queue_url", "queue_url must be a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)");
	return 0;
}

/* The result: the core's struct as JSON. */
static void put_result(cJSON *r, const struct dw_fanout_config *c,
		       const struct dw_fanout_result *f)
{
	char a[32], b[32];

	dw_time_format_iso(c->start, a);
	dw_time_format_iso(c->end, b);
	cJSON_AddStringToObject(r, "bucket", c->bucket);
	cJSON_AddStringToObject(r, "queue_url", c->queue_url);
	cJSON_AddBoolToObject(r, "fifo", f->fifo);
	cJSON_AddStringToObject(r, "message_format",
				c->message == DW_FANOUT_MSG_S3_EVENT ? "s3_event" : "key");
	cJSON_AddStringToObject(r, "start", a);
	cJSON_AddStringToObject(r, "end", b);
	dw_json_add_int(r, "hours", (long long)f->hours);
	dw_json_add_int(r, "listed", (long long)f->listed);
	dw_json_add_int(r, "skipped", (long long)f->skipped);
	dw_json_add_int(r, "sent", (long long)f->sent);
	if (c->dry_run) {
		cJSON_AddTrueToObject(r, "dry_run");
		dw_json_add_int(r, "would_send", (long long)f->would_send);
	}
	dw_json_add_int(r, "failed", (long long)f->failed);
	dw_json_add_int(r, "batches", (long long)f->batches);
	dw_json_add_int(r, "entry_retries", (long long)f->entry_retries);
	dw_json_add_int(r, "list_pages", (long long)f->list_pages);
	dw_json_add_int(r, "requests", (long long)f->requests);
	dw_json_add_int(r, "retries", (long long)f->retries);
	dw_json_add_int(r, "empty_hours", (long long)f->empty_hours);
	if (f->incomplete_hours)
		dw_json_add_int(r, "incomplete_hours", (long long)f->incomplete_hours);
	if (f->has_seconds)
		dw_json_add_int(r, "missing_seconds", (long long)f->missing_seconds);
	cJSON_AddNumberToObject(r, "elapsed_s", f->elapsed_s);
	cJSON *hours = cJSON_AddArrayToObject(r, "per_hour");
	for (size_t i = 0; i < f->n_per_hour; i++) {
		const struct dw_fanout_hour *h = &f->per_hour[i];
		char iso[32];
		cJSON *o = cJSON_CreateObject();
		dw_time_format_iso(h->hour, iso);
		cJSON_AddStringToObject(o, "hour", iso);
		cJSON_AddStringToObject(o, "prefix", h->prefix);
		dw_json_add_int(o, "listed", (long long)h->listed);
		dw_json_add_int(o, "sent", (long long)h->sent);
		dw_json_add_int(o, "failed", (long long)h->failed);
		dw_json_add_int(o, "skipped", (long long)h->skipped);
		if (c->dry_run)
			dw_json_add_int(o, "would_send", (long long)h->would_send);
		if (h->missing_seconds >= 0)
			dw_json_add_int(o, "missing_seconds", h->missing_seconds);
		if (h->incomplete)
			cJSON_AddTrueToObject(o, "incomplete");
		cJSON_AddItemToArray(hours, o);
	}
	if (f->per_hour_omitted)
		dw_json_add_int(r, "per_hour_omitted", (long long)f->per_hour_omitted);
	if (f->n_failures) {
		cJSON *failures = cJSON_AddArrayToObject(r, "failures");
		for (size_t i = 0; i < f->n_failures; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "key", f->failures[i].key);
			cJSON_AddStringToObject(o, "code", f->failures[i].code);
			cJSON_AddStringToObject(o, "message", f->failures[i].message);
			cJSON_AddItemToArray(failures, o);
		}
	}
	if (f->failures_omitted)
		dw_json_add_int(r, "failures_omitted", (long long)f->failures_omitted);
}

static int fanout(struct dw_ctx *ctx)
{
	struct dw_fanout_config c = {
		.bucket = dw_req_str(ctx->req, "bucket", ""),
		.folder = dw_req_str(ctx->req, "prefix", NULL),
		.queue_url = dw_req_str(ctx->req, "queue_url", ""),
		.message_group_id = dw_req_str(ctx->req, "message_group_id", NULL),
		.dry_run = dw_req_bool(ctx->req, "dry_run", 0),
	};
	struct dw_fanout_keyfmt *keyfmt = NULL;
	struct dw_fanout_result res = { 0 };
	struct dw_aws *aws;
	int rc;

	if (pick_hours(ctx->req, &c.start, &c.end) || pick_options(ctx->req, &c) ||
	    dw_fanout_keyfmt_new(dw_req_str(ctx->req, "key_format", DW_FANOUT_KEY_FORMAT),
				 "key_format", &keyfmt))
		return -1;
	c.keyfmt = keyfmt;
	aws = dw_ctx_aws(ctx);
	rc = aws ? dw_fanout_run(aws, &c, &res) : -1;
	if (res.started)
		put_result(ctx->result, &c, &res);
	if (rc == 0 && res.nothing_to_do)
		rc = dw_nothing_to_do(ctx, "no objects found for the hour(s)");
	dw_fanout_result_release(&res);
	dw_fanout_keyfmt_free(keyfmt);
	return rc;
}

static const struct dw_field fanout_fields[] = {
	DW_FIELD("bucket", DW_T_STRING, DW_REQUIRED, NULL, "bucket the event files are in"),
	DW_FIELD("prefix", DW_T_STRING, 0, NULL, "folder the files are in (a \"/\" is added)"),
	DW_FIELD("hour", DW_T_STRING, 0, NULL, "the hour, e.g. 2019-06-01T15 or 2019-06-01T15:00:00+00:00"),
	DW_FIELD("start", DW_T_STRING, 0, NULL, "first hour of a range (instead of hour)"),
	DW_FIELD("end", DW_T_STRING, 0, NULL, "end of the range, exclusive"),
	DW_FIELD("queue_url", DW_T_STRING, DW_REQUIRED, NULL, "SQS queue URL (.fifo: FIFO ids are set)"),
	DW_FIELD("key_format", DW_T_STRING, 0, NULL, "key layout, default " DW_FANOUT_KEY_FORMAT
	  " ({YYYY} {MM} {DD} {HH} {H} {m} {mm} {s} {ss})"),
	DW_FIELD("message_format", DW_T_STRING, 0, NULL, "key (default) or s3_event"),
	DW_FIELD("message_group_id", DW_T_STRING, 0, NULL, "FIFO: one group for all (default: one per object)"),
	DW_FIELD("concurrency", DW_T_INT, 0, NULL, "SendMessageBatch calls in flight (default 32)"),
	DW_FIELD("page_size", DW_T_INT, 0, NULL, "keys per ListObjectsV2 page (default 1000)"),
	DW_FIELD("empty", DW_T_STRING, 0, NULL, "no files for the hour(s): skip (exit 99, default), fail, ok"),
	DW_FIELD("dry_run", DW_T_BOOL, 0, NULL, "list and count what would be sent, send nothing"),
	DW_FIELDS_END
};

static const struct dw_action actions[] = {
	{ "fanout", "send one SQS message per S3 object of an hour or a range of hours",
	  fanout_fields, fanout,
	  "{\"bucket\": \"events\", \"hour\": \"2019-06-01T15\", "
	  "\"queue_url\": \"https://sqs.us-east-1.amazonaws.com/123456789012/events\"}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator fanout_op = {
	"dw-fanout", "fan the S3 event files of an hour out to SQS", actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&fanout_op, argc, argv);
}
