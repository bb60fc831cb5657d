/* dw-fanout - one SQS message per S3 event file of an hour (or a range of
 * hours), so that workers process the hour's files in parallel. */
#include "ops/fanout.h"
#include "proto/op.h"
#include "base/timefmt.h"

#include <string.h>

/* The request, bound by fanout_fields. */
struct fanout_req {
	const char *bucket, *prefix, *hour, *start, *end, *queue_url, *key_format;
	const char *message_group_id;
	int message_format;         /* index in message_formats: enum dw_fanout_message */
	int empty;                  /* index in empties: enum dw_fanout_empty */
	int concurrency, page_size, dry_run;
};

/* What SQS accepts as a MessageGroupId. */
static int group_id_ok(const char *id)
{
	size_t n = strlen(id);

	for (const char *p = id; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return 0;
	return n >= 1 && n <= 128;
}

/* The checks the table cannot make, and the config for the core. */
static int read_config(const struct fanout_req *q, struct dw_fanout_config *c)
{
	/* The choices' order is the enums' (message_formats, empties). */
	*c = (struct dw_fanout_config){
		.bucket = q->bucket, .folder = q->prefix, .queue_url = q->queue_url,
		.message_group_id = q->message_group_id, .dry_run = q->dry_run,
		.message = (enum dw_fanout_message)q->message_format,
		.empty = (enum dw_fanout_empty)q->empty,
		.concurrency = q->concurrency, .page_size = q->page_size,
	};
	if (c->message_group_id && !group_id_ok(c->message_group_id))
		return dw_invalid("message_group_id", "message_group_id must be 1 to 128 printable "
				  "ASCII characters without spaces");
	if (!*c->bucket)
		return dw_invalid("bucket", "bucket must not be empty");
	if (strncmp(c->queue_url, "https://", 8) != 0 && strncmp(c->queue_url, "http://", 7) != 0)
		return dw_invalid("queue_url", "queue_url must be a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)");
	/* hour, or start and end: which hours to send, as whole hours. */
	return dw_fanout_pick_hours(q->hour, q->start, q->end, &c->start, &c->end);
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

#define F(kind, n, ...) DW_##kind(n, struct fanout_req, __VA_ARGS__)
static const struct dw_field fanout_fields[] = {
	F(STR, "bucket", bucket, DW_REQUIRED, NULL, "bucket the event files are in"),
	F(STR, "prefix", prefix, 0, NULL, "folder the files are in (a \"/\" is added)"),
	F(STR, "hour", hour, 0, NULL, "the hour, e.g. 2019-06-01T15 or 2019-06-01T15:00:00+00:00"),
	F(STR, "start", start, 0, NULL, "first hour of a range (instead of hour)"),
	F(STR, "end", end, 0, NULL, "end of the range, exclusive"),
	F(STR, "queue_url", queue_url, DW_REQUIRED, NULL, "SQS queue URL (.fifo: FIFO ids are set)"),
	F(STR, "key_format", key_format, 0, DW_FANOUT_KEY_FORMAT,
	  "key layout ({YYYY} {MM} {DD} {HH} {H} {m} {mm} {s} {ss})"),
	F(CHOICE, "message_format", message_format, 0, "key", DW_CHOICES("key", "s3_event"),
	  "the message body: the key, or an S3 event notification"),
	F(STR, "message_group_id", message_group_id, 0, NULL, "FIFO: one group for all (default: one per object)"),
	F(INT, "concurrency", concurrency, 0, 32, 1, DW_FANOUT_MAX_CONCURRENCY, "SendMessageBatch calls in flight"),
	F(INT, "page_size", page_size, 0, 1000, 1, 1000, "keys per ListObjectsV2 page"),
	F(CHOICE, "empty", empty, 0, "skip", DW_CHOICES("skip", "fail", "ok"),
	  "no files for the hour(s): skip (exit 99), fail, or ok"),
	F(BOOL, "dry_run", dry_run, 0, 0, "list and count what would be sent, send nothing"),
	DW_FIELDS_END
};
#undef F

static int fanout(struct dw_ctx *ctx)
{
	struct fanout_req q;
	struct dw_fanout_config c;
	struct dw_fanout_keyfmt *keyfmt = NULL;
	struct dw_fanout_result res = { 0 };
	struct dw_aws *aws;
	int rc;

	if (dw_req_bind(ctx->req, fanout_fields, &q) || read_config(&q, &c) ||
	    dw_fanout_keyfmt_new(q.key_format, "key_format", &keyfmt))
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
