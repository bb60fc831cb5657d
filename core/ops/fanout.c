/* fanout.c - one SQS message per S3 object of an hour, for hours and
 * ranges of hours.
 *
 * Everything runs in one event loop on one pool: ListObjectsV2 pages of up
 * to list_ahead hours and the SendMessageBatch calls made from them are in
 * flight together.  Batches made from a page wait in the fan-out's own
 * queue and go to the pool only while fewer than concurrency are there, so
 * a list request never queues behind hundreds of batches: the next pages
 * arrive while the previous ones are still being sent.  A new page is only
 * asked for while the batches held (queued, in flight, and those the pages
 * being listed will make) stay under a high water mark of PAGES_AHEAD pages
 * beyond what is in flight, so memory is bounded by that window, not by the
 * range.  Entries a batch answer lists as Failed are sent again after a
 * backoff when SQS says the fault was its own, and reported otherwise. */
#include "ops/fanout.h"
#include "base/log.h"
#include "base/redact.h"
#include "aws/s3.h"
#include "aws/sigv4.h"
#include "aws/sqs.h"
#include "base/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hours --------------------------------------------------------------- */

int dw_fanout_parse_hour(const char *text, const char *field, int round_up,
			 time_t *out)
{
	int inexact = 0;
	time_t t;

	if (!text || dw_time_parse(text, &t, &inexact))
		return dw_invalid(field, "%s \"%s\" is not an hour: write e.g. 2019-06-01T15, "
				  "2019-06-01T15:00:00+00:00 or 2019-06-01", field,
				  text ? text : "");
	long rem = (long)(((t % 3600) + 3600) % 3600);
	t -= rem;
	if (round_up && (rem || inexact))
		t += 3600;
	*out = t;
	return 0;
}

int dw_fanout_pick_hours(const char *hour, const char *from, const char *to,
			 time_t *start, time_t *end)
{
	if (hour && (from || to))
		return dw_invalid(from ? "start" : "end", "give either hour or start and end, not both");
	if (hour) {
		if (dw_fanout_parse_hour(hour, "hour", 0, start))
			return -1;
		*end = *start + 3600;
		return 0;
	}
	if (!from || !to)
		return dw_invalid(from ? "end" : to ? "start" : "hour",
				  "give hour, or start and end (end exclusive)");
	if (dw_fanout_parse_hour(from, "start", 0, start) ||
	    dw_fanout_parse_hour(to, "end", 1, end))
		return -1;
	if (*end <= *start)
		return dw_invalid("end", "end (%s) must be after start (%s)", to, from);
	if ((*end - *start) / 3600 > DW_FANOUT_MAX_HOURS)
		return dw_invalid("end", "the range is longer than %d hours", DW_FANOUT_MAX_HOURS);
	return 0;
}

/* ---- key formats --------------------------------------------------------- */

/* Exactly n digits at *p. */
static int take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

enum piece_kind {
	P_TEXT, P_YEAR, P_MONTH, P_DAY, P_HOUR, P_HOUR1,
	P_MIN, P_MIN2, P_SEC, P_SEC2,
};

static const struct {
	const char *name;
	enum piece_kind kind;
} tokens[] = {
	{ "YYYY", P_YEAR }, { "MM", P_MONTH }, { "DD", P_DAY }, { "HH", P_HOUR },
	{ "H", P_HOUR1 }, { "m", P_MIN }, { "mm", P_MIN2 }, { "s", P_SEC },
	{ "ss", P_SEC2 },
};

struct piece {
	enum piece_kind kind;
	char *text; /* P_TEXT */
	size_t len;
};

struct dw_fanout_keyfmt {
	struct piece *pieces;
	size_t n;
	size_t split; /* pieces before this one make the hour's prefix */
	int has_seconds;
};

static void add_piece(struct dw_fanout_keyfmt *k, enum piece_kind kind,
		      const char *text, size_t len)
{
	k->pieces = dw_xrealloc(k->pieces, (k->n + 1) * sizeof(*k->pieces));
	k->pieces[k->n].kind = kind;
	k->pieces[k->n].text = text ? dw_xstrndup(text, len) : NULL;
	k->pieces[k->n].len = len;
	k->n++;
}

static int find_token(const char *name, size_t len, enum piece_kind *kind)
{
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		if (strlen(tokens[i].name) == len && strncmp(tokens[i].name, name, len) == 0) {
			*kind = tokens[i].kind;
			return 0;
		}
	return -1;
}

static int split_pieces(struct dw_fanout_keyfmt *k, const char *text,
			const char *field)
{
	const char *p = text;

	while (*p) {
		const char *open = strchr(p, '{');
		if (!open) {
			add_piece(k, P_TEXT, p, strlen(p));
			break;
		}
		if (open > p)
			add_piece(k, P_TEXT, p, (size_t)(open - p));
		const char *close = strchr(open, '}');
		enum piece_kind kind;
		if (!close || find_token(open + 1, (size_t)(close - open - 1), &kind))
			return dw_invalid(field, "key_format \"%s\": unknown or unclosed token at "
					  "\"%.20s\" (tokens: {YYYY} {MM} {DD} {HH} {H} {m} {mm} {s} {ss})",
					  text, open);
		add_piece(k, kind, NULL, 0);
		p = close + 1;
	}
	return 0;
}

static int check_pieces(struct dw_fanout_keyfmt *k, const char *text,
			const char *field)
{
	unsigned seen = 0, mins = 0, secs = 0;

	k->split = k->n;
	for (size_t i = 0; i < k->n; i++) {
		enum piece_kind kind = k->pieces[i].kind;
		int is_ms = kind == P_MIN || kind == P_MIN2 || kind == P_SEC || kind == P_SEC2;
		if (is_ms && k->split == k->n)
			k->split = i;
		if (!is_ms && kind != P_TEXT && k->split != k->n)
			return dw_invalid(field, "key_format \"%s\": the date and hour must come "
					  "before the minute and second", text);
		if (kind != P_TEXT)
			seen |= 1u << (kind == P_HOUR1 ? P_HOUR : kind);
		mins += kind == P_MIN || kind == P_MIN2;
		secs += kind == P_SEC || kind == P_SEC2;
	}
	unsigned need = (1u << P_YEAR) | (1u << P_MONTH) | (1u << P_DAY) | (1u << P_HOUR);
	if ((seen & need) != need)
		return dw_invalid(field, "key_format \"%s\" must name the year, month, day and "
				  "hour ({YYYY} {MM} {DD} {HH})", text);
	if (mins > 1 || secs > 1)
		return dw_invalid(field, "key_format \"%s\" names the minute or second twice", text);
	k->has_seconds = mins == 1 && secs == 1;
	return 0;
}

int dw_fanout_keyfmt_new(const char *text, const char *field,
			 struct dw_fanout_keyfmt **out)
{
	struct dw_fanout_keyfmt *k = dw_xcalloc(1, sizeof(*k));

	*out = NULL;
	if (!text || !*text) {
		free(k);
		return dw_invalid(field, "key_format must not be empty");
	}
	if (split_pieces(k, text, field) || check_pieces(k, text, field)) {
		dw_fanout_keyfmt_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

void dw_fanout_keyfmt_free(struct dw_fanout_keyfmt *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free(k->pieces[i].text);
	free(k->pieces);
	free(k);
}

int dw_fanout_keyfmt_has_seconds(const struct dw_fanout_keyfmt *k)
{
	return k->has_seconds;
}

void dw_fanout_keyfmt_prefix(const struct dw_fanout_keyfmt *k, time_t hour,
			     struct dw_buf *out)
{
	struct tm tm;

	gmtime_r(&hour, &tm);
	for (size_t i = 0; i < k->split; i++) {
		switch (k->pieces[i].kind) {
		case P_TEXT: dw_buf_append(out, k->pieces[i].text, k->pieces[i].len); break;
		case P_YEAR: dw_buf_printf(out, "%04d", tm.tm_year + 1900); break;
		case P_MONTH: dw_buf_printf(out, "%02d", tm.tm_mon + 1); break;
		case P_DAY: dw_buf_printf(out, "%02d", tm.tm_mday); break;
		case P_HOUR: dw_buf_printf(out, "%02d", tm.tm_hour); break;
		case P_HOUR1: dw_buf_printf(out, "%d", tm.tm_hour); break;
		default: break; /* minute and second never come before split */
		}
	}
}

/* A minute or second: padded takes exactly two digits, else one or two. */
static int take_sixty(const char **p, int padded, int *out)
{
	int n = isdigit((unsigned char)(*p)[0]) ? 1 + (isdigit((unsigned char)(*p)[1]) != 0) : 0;

	if (n == 0 || (padded && n != 2) || take_digits(p, n, out) || *out > 59)
		return -1;
	return 0;
}

int dw_fanout_keyfmt_match(const struct dw_fanout_keyfmt *k, const char *rest,
			   int *second)
{
	int minute = -1, sec = -1;

	for (size_t i = k->split; i < k->n; i++) {
		const struct piece *pc = &k->pieces[i];
		int bad = 0;
		switch (pc->kind) {
		case P_TEXT:
			bad = strncmp(rest, pc->text, pc->len) != 0;
			rest += bad ? 0 : pc->len;
			break;
		case P_MIN: case P_MIN2:
			bad = take_sixty(&rest, pc->kind == P_MIN2, &minute);
			break;
		case P_SEC: case P_SEC2:
			bad = take_sixty(&rest, pc->kind == P_SEC2, &sec);
			break;
		default:
			bad = 1;
		}
		if (bad)
			return 0;
	}
	*second = k->has_seconds ? minute * 60 + sec : -1;
	return 1;
}

/* ---- the fan-out --------------------------------------------------------- */

#define BATCH_MAX 10
#define PAGE_KEYS 1000
#define FAILURES_LIMIT 50
/* Pages of batches held beyond the concurrency's worth in flight.  One page
 * ahead left the senders idle whenever a page was slow to come (ElasticMQ +
 * gofakes3, a day: 3.2 s one page ahead, 2.8 s four); four pages of 1,000
 * keys are ~0.5 MB. */
#define PAGES_AHEAD 4
/* Hours listed at once (their pages come one after another): a day's hours
 * are four pages each, so four hours keep four pages coming. */
#define LIST_AHEAD 4

/* One object to send, kept until SQS took it or it was given up on. */
struct entry {
	long long size;
	char *etag, *modified;
	char key[];
};

struct fanout;

enum list_state { LIST_WAITING, LIST_BUSY, LIST_DONE };

/* An hour from its first listed page until its last message is settled. */
struct hour {
	struct fanout *f;
	time_t t;
	char *prefix;
	size_t prefix_len;
	char *token;              /* the next page's continuation token */
	enum list_state state;
	int list_failed;
	unsigned long listed, matched, skipped, sent, failed;
	long unsettled;           /* matched entries neither sent nor failed */
	unsigned char *seconds;   /* bitmap of the seconds present */
	int distinct, missing;    /* missing: -1 when the format has no seconds */
	struct batch *filling;
	struct hour *next;
};

struct batch {
	struct hour *h;
	struct batch *next;       /* in the fan-out's queue */
	int n;
	int tries;                /* entry-level sends so far */
	struct entry *e[BATCH_MAX];
};

struct fanout {
	struct dw_aws *aws;
	struct dw_aws_pool *pool;
	const struct dw_fanout_config *cfg;
	struct dw_fanout_result *result;
	int fifo, max_attempts, list_ahead, page_size, high_water;
	time_t next_hour;
	unsigned long total_hours;
	struct hour *head, *tail;  /* open hours, oldest first */
	int listing;
	long batches_waiting;      /* in the pool: in flight or backing off */
	struct batch *queue, *queue_tail; /* made, not yet given to the pool */
	long queued;
	int stop;                  /* a fatal error: list no more */
	struct dw_error stop_err;
	/* totals */
	unsigned long hours, listed, matched, skipped, sent, failed, failed_transient,
		batches, pages, empty_hours, missing, entry_retries, incomplete_hours;
	time_t first_empty, first_incomplete;
};

static struct entry *entry_new(const struct dw_s3_object *o)
{
	size_t kl = strlen(o->key) + 1, el = strlen(o->etag) + 1;
	size_t ml = strlen(o->last_modified) + 1;
	struct entry *e = dw_xmalloc(sizeof(*e) + kl + el + ml);

	e->size = o->size;
	memcpy(e->key, o->key, kl);
	e->etag = e->key + kl;
	memcpy(e->etag, o->etag, el);
	e->modified = e->etag + el;
	memcpy(e->modified, o->last_modified, ml);
	return e;
}

/* S3 notifications carry the key form-encoded: spaces as '+', '/' kept. */
static char *notification_key(const char *key)
{
	struct dw_buf b;

	dw_buf_init(&b);
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (isalnum(*p) || strchr("-_.~/", *p))
			dw_buf_putc(&b, (char)*p);
		else if (*p == ' ')
			dw_buf_putc(&b, '+');
		else
			dw_buf_printf(&b, "%%%02X", *p);
	}
	return dw_buf_detach(&b);
}

/* The inside of a JSON string literal.  Keys come from S3's XML, so they
 * are UTF-8; only quotes, backslashes and control characters need escaping. */
static void put_json_chars(struct dw_buf *b, const char *s)
{
	for (const char *run = s;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		dw_buf_append(b, run, (size_t)(s - run));
		if (!c)
			break;
		if (c == '"' || c == '\\')
			dw_buf_printf(b, "\\%c", c);
		else
			dw_buf_printf(b, "\\u%04x", c);
		run = s + 1;
	}
}

static void put_json_string(struct dw_buf *b, const char *s)
{
	dw_buf_putc(b, '"');
	put_json_chars(b, s);
	dw_buf_putc(b, '"');
}

/* Written straight as JSON text: a tree built and printed per message
 * cost more than the rest of the entry. */
void dw_fanout_s3_event(struct dw_buf *ev, const char *region, const char *bucket,
			const struct dw_s3_object *o)
{
	char *key = notification_key(o->key);

	dw_buf_puts(ev, "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","
		    "\"awsRegion\":");
	put_json_string(ev, region);
	dw_buf_puts(ev, ",\"eventTime\":");
	put_json_string(ev, o->last_modified);
	dw_buf_puts(ev, ",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"s3SchemaVersion\":\"1.0\","
		    "\"configurationId\":\"dw-fanout\",\"bucket\":{\"name\":");
	put_json_string(ev, bucket);
	dw_buf_puts(ev, ",\"arn\":\"arn:aws:s3:::");
	put_json_chars(ev, bucket);
	dw_buf_puts(ev, "\"},\"object\":{\"key\":");
	put_json_string(ev, key);
	dw_buf_printf(ev, ",\"size\":%lld,\"eTag\":", o->size);
	put_json_string(ev, o->etag);
	dw_buf_puts(ev, "}}}]}");
	free(key);
}

static void on_batch_done(void *ud, const struct dw_http_response *resp,
			  const struct dw_error *err);

/* The batch's entries for SendMessageBatch (dw_sqs_send_batch_body writes
 * the text).  S3 event bodies are written into one buffer, each ended by
 * its NUL, and pointed at once the buffer no longer moves. */
static void batch_send(struct fanout *f, struct batch *b, long delay_ms)
{
	struct dw_sqs_entry e[BATCH_MAX];
	struct dw_sqs_attr from[BATCH_MAX];
	char hash[BATCH_MAX][65];
	size_t at[BATCH_MAX];
	struct dw_buf events;

	dw_buf_init(&events);
	for (int i = 0; i < b->n; i++) {
		const struct entry *x = b->e[i];
		from[i] = (struct dw_sqs_attr){ "from", x->key };
		e[i] = (struct dw_sqs_entry){ .body = x->key, .attrs = &from[i], .n_attrs = 1 };
		if (f->cfg->message == DW_FANOUT_MSG_S3_EVENT) {
			struct dw_s3_object o = { .key = x->key, .size = x->size, .etag = x->etag,
						  .last_modified = x->modified };
			at[i] = events.len;
			dw_fanout_s3_event(&events, dw_aws_region(f->aws), f->cfg->bucket, &o);
			dw_buf_putc(&events, '\0');
		}
		if (f->fifo) {
			/* Same object, same id: a re-run inside SQS's five-minute
			 * deduplication window does not send it twice. */
			char *name = dw_xasprintf("%s/%s", f->cfg->bucket, x->key);
			dw_sha256_hex(name, strlen(name), hash[i]);
			free(name);
			e[i].dedup_id = hash[i];
			e[i].group_id = f->cfg->message_group_id ? f->cfg->message_group_id : hash[i];
		}
	}
	for (int i = 0; f->cfg->message == DW_FANOUT_MSG_S3_EVENT && i < b->n; i++)
		e[i].body = events.data + at[i];
	b->tries++;
	f->batches++;
	f->batches_waiting++;
	dw_aws_pool_submit_after(f->pool, dw_sqs_send_batch_request(f->cfg->queue_url, e, (size_t)b->n),
				 delay_ms, on_batch_done, b);
	dw_buf_release(&events);
}

static void record_failure(struct fanout *f, struct hour *h, struct entry *e,
			   const char *code, const char *message, int transient)
{
	h->failed++;
	f->failed_transient += transient != 0;
	struct dw_fanout_result *r = f->result;
	if (r->n_failures < FAILURES_LIMIT) {
		r->failures = dw_xrealloc(r->failures, (r->n_failures + 1) * sizeof(*r->failures));
		r->failures[r->n_failures++] = (struct dw_fanout_failure){
			.key = dw_xstrdup(e->key), .code = dw_xstrdup(code),
			.message = dw_xstrdup(message),
		};
	} else {
		r->failures_omitted++;
	}
	dw_warn("not sent: s3://%s/%s: %s: %s", f->cfg->bucket, e->key, code, message);
}

static void settle(struct hour *h, struct entry *e)
{
	h->unsettled--;
	free(e);
}

/* A whole call failed for good: every entry failed with it. */
static void batch_failed(struct fanout *f, struct batch *b, const struct dw_error *err)
{
	int transient = err->kind == DW_TRANSIENT;

	for (int i = 0; i < b->n; i++) {
		record_failure(f, b->h, b->e[i], err->code, err->message, transient);
		settle(b->h, b->e[i]);
	}
	if (!transient && !f->stop) {
		/* AccessDenied, a deleted queue, ...: the next calls would fail
		 * the same way, so stop listing and report. */
		f->stop = 1;
		f->stop_err = *err;
	}
}

/* Settle what the answer settled; what is to be sent again moves to retry. */
static void batch_answer(struct fanout *f, struct batch *b, const struct dw_sqs_verdict *v,
			 struct batch *retry)
{
	for (int k = 0; k < b->n; k++) {
		switch (v[k].fate) {
		case DW_SQS_SENT:
			b->h->sent++;
			settle(b->h, b->e[k]);
			break;
		case DW_SQS_REJECTED:
			record_failure(f, b->h, b->e[k], v[k].code, v[k].message, 0);
			settle(b->h, b->e[k]);
			break;
		case DW_SQS_RESEND:
			retry->e[retry->n++] = b->e[k];
			break;
		}
	}
}

static void on_batch_done(void *ud, const struct dw_http_response *resp,
			  const struct dw_error *err)
{
	struct dw_sqs_verdict v[BATCH_MAX];
	struct batch *b = ud;
	struct hour *h = b->h;
	struct fanout *f = h->f;
	unsigned odd = 0;

	f->batches_waiting--;
	if (err) {
		batch_failed(f, b, err);
		free(b);
		return;
	}
	struct batch *retry = dw_xcalloc(1, sizeof(*retry));
	retry->h = h;
	retry->tries = b->tries;
	/* An answer we cannot read settles nothing (every verdict RESEND):
	 * it is all sent again. */
	if (dw_sqs_batch_answer(resp, (size_t)b->n, v, &odd))
		dw_warn("SendMessageBatch: %s; sending the batch again", dw_error_last()->message);
	else if (odd)
		dw_warn("SendMessageBatch answered %u items with unknown, missing or repeated "
			"ids; what they name is sent again", odd);
	batch_answer(f, b, v, retry);
	free(b);
	if (retry->n && retry->tries < f->max_attempts) {
		f->entry_retries += (unsigned long)retry->n;
		dw_warn("%d entries of a batch failed on SQS's side; sending them again", retry->n);
		batch_send(f, retry, dw_aws_backoff_ms(retry->tries));
		return;
	}
	for (int k = 0; k < retry->n; k++) {
		record_failure(f, h, retry->e[k], "BatchEntryFailed",
			       "SQS kept failing this entry; gave up after retries", 1);
		settle(h, retry->e[k]);
	}
	free(retry);
}

static void hour_flush(struct hour *h)
{
	struct fanout *f = h->f;
	struct batch *b = h->filling;

	h->filling = NULL;
	if (!b || !b->n) {
		free(b);
		return;
	}
	b->next = NULL;
	if (f->queue_tail)
		f->queue_tail->next = b;
	else
		f->queue = b;
	f->queue_tail = b;
	f->queued++;
}

/* Give queued batches to the pool while fewer than concurrency are there. */
static void batches_start(struct fanout *f)
{
	while (f->queue && f->batches_waiting < f->cfg->concurrency) {
		struct batch *b = f->queue;
		f->queue = b->next;
		if (!f->queue)
			f->queue_tail = NULL;
		f->queued--;
		batch_send(f, b, 0);
	}
}

static int on_object(void *ud, const struct dw_s3_object *o)
{
	struct hour *h = ud;
	int second;

	h->listed++;
	if (strncmp(o->key, h->prefix, h->prefix_len) != 0 || o->key[strlen(o->key) - 1] == '/' ||
	    !dw_fanout_keyfmt_match(h->f->cfg->keyfmt, o->key + h->prefix_len, &second)) {
		h->skipped++;
		return 0;
	}
	if (second >= 0 && h->seconds && !(h->seconds[second / 8] & (1u << (second % 8)))) {
		h->seconds[second / 8] |= (unsigned char)(1u << (second % 8));
		h->distinct++;
	}
	h->matched++;
	if (h->f->cfg->dry_run)
		return 0;
	h->unsettled++;
	if (!h->filling) {
		h->filling = dw_xcalloc(1, sizeof(*h->filling));
		h->filling->h = h;
	}
	h->filling->e[h->filling->n++] = entry_new(o);
	if (h->filling->n == BATCH_MAX)
		hour_flush(h);
	return 0;
}

static void list_stop(struct fanout *f, struct hour *h, const struct dw_error *err)
{
	h->list_failed = 1;
	if (f->stop)
		return;
	f->stop = 1;
	f->stop_err = *err;
	if (strcmp(err->code, "NoSuchBucket") == 0 && f->batches == 0) {
		f->stop_err.kind = DW_INVALID;
		snprintf(f->stop_err.field, sizeof(f->stop_err.field), "bucket");
	}
	dw_redact_format(f->stop_err.message, sizeof(f->stop_err.message),
			 "listing s3://%s/%s: %s", f->cfg->bucket, h->prefix, err->message);
}

static void on_list_done(void *ud, const struct dw_http_response *resp,
			 const struct dw_error *err)
{
	struct hour *h = ud;
	struct fanout *f = h->f;
	struct dw_s3_list l = { .bucket = f->cfg->bucket, .on_object = on_object, .ud = h };
	char *next = NULL;

	f->listing--;
	f->pages++;
	free(h->token);
	h->token = NULL;
	h->state = LIST_DONE;
	if (err) {
		list_stop(f, h, err);
		return;
	}
	if (dw_s3_list_parse(&l, resp, &next)) {
		struct dw_error e;
		dw_error_save(&e);
		list_stop(f, h, &e);
	}
	hour_flush(h);
	if (next && !f->stop) {
		h->token = next;
		h->state = LIST_WAITING;
		return;
	}
	free(next);
	if (h->seconds) {
		h->missing = 3600 - h->distinct;
		free(h->seconds);
		h->seconds = NULL;
	}
}

static struct hour *hour_open(struct fanout *f)
{
	struct hour *h = dw_xcalloc(1, sizeof(*h));
	struct dw_buf prefix;

	dw_buf_init(&prefix);
	if (f->cfg->folder && *f->cfg->folder) {
		dw_buf_puts(&prefix, f->cfg->folder);
		if (f->cfg->folder[strlen(f->cfg->folder) - 1] != '/')
			dw_buf_putc(&prefix, '/');
	}
	dw_fanout_keyfmt_prefix(f->cfg->keyfmt, f->next_hour, &prefix);
	h->f = f;
	h->t = f->next_hour;
	h->prefix_len = prefix.len;
	h->prefix = dw_buf_detach(&prefix);
	h->missing = -1;
	if (dw_fanout_keyfmt_has_seconds(f->cfg->keyfmt))
		h->seconds = dw_xcalloc(3600 / 8, 1);
	f->next_hour += 3600;
	if (f->tail)
		f->tail->next = h;
	else
		f->head = h;
	f->tail = h;
	return h;
}

static void list_next_page(struct fanout *f, struct hour *h)
{
	struct dw_s3_list l = { .bucket = f->cfg->bucket, .prefix = h->prefix,
				.page_size = f->page_size };

	h->state = LIST_BUSY;
	f->listing++;
	dw_aws_pool_submit(f->pool, dw_s3_list_request(&l, h->token), on_list_done, h);
}

/* The oldest hour with a page to ask for, opening a new hour if none. */
static struct hour *hour_to_list(struct fanout *f)
{
	for (struct hour *h = f->head; h; h = h->next)
		if (h->state == LIST_WAITING)
			return h;
	if (f->next_hour < f->cfg->end)
		return hour_open(f);
	return NULL;
}

static void hour_report(struct fanout *f, const struct hour *h)
{
	char iso[32];
	int complete = !h->list_failed && h->state == LIST_DONE;
	int problem = h->failed || !h->matched || !complete;
	int limit = f->cfg->per_hour_limit > 0 ? f->cfg->per_hour_limit : DW_FANOUT_PER_HOUR_LIMIT;

	dw_time_format_iso(h->t, iso);
	if (f->total_hours <= 48 || problem)
		dw_log(problem ? DW_LOG_WARN : DW_LOG_INFO,
		       "%s (%s): listed %lu, %s %lu, failed %lu%s", iso, h->prefix, h->listed,
		       f->cfg->dry_run ? "would send" : "sent", f->cfg->dry_run ? h->matched : h->sent,
		       h->failed, complete ? "" : ", listing incomplete");
	struct dw_fanout_result *r = f->result;
	if ((f->total_hours > (unsigned long)limit && !problem) ||
	    r->n_per_hour >= (size_t)limit) {
		r->per_hour_omitted++;
		return;
	}
	r->per_hour = dw_xrealloc(r->per_hour, (r->n_per_hour + 1) * sizeof(*r->per_hour));
	r->per_hour[r->n_per_hour++] = (struct dw_fanout_hour){
		.hour = h->t, .prefix = dw_xstrdup(h->prefix), .listed = h->listed,
		.sent = h->sent, .failed = h->failed, .skipped = h->skipped,
		.would_send = h->matched, .missing_seconds = h->missing >= 0 ? h->missing : -1,
		.incomplete = !complete,
	};
}

static void hour_close(struct fanout *f, struct hour *h)
{
	int complete = !h->list_failed && h->state == LIST_DONE;

	hour_report(f, h);
	f->hours++;
	f->listed += h->listed;
	f->matched += h->matched;
	f->skipped += h->skipped;
	f->sent += h->sent;
	f->failed += h->failed;
	if (h->missing > 0)
		f->missing += (unsigned long)h->missing;
	if (!h->matched && complete && !f->empty_hours++)
		f->first_empty = h->t;
	if (!complete && !f->incomplete_hours++)
		f->first_incomplete = h->t;
	free(h->seconds);
	free(h->token);
	free(h->prefix);
	free(h);
}

/* Report and free, in order, the hours that are settled (all, at the end). */
static void hours_close(struct fanout *f, int all)
{
	while (f->head && (all || (f->head->state == LIST_DONE && f->head->unsettled == 0))) {
		struct hour *h = f->head;
		f->head = h->next;
		if (!f->head)
			f->tail = NULL;
		hour_close(f, h);
	}
}

static void run_loop(struct fanout *f)
{
	struct hour *h;

	for (;;) {
		batches_start(f);
		/* Each page being listed may still bring page_size/10 batches. */
		while (!f->stop && f->listing < f->list_ahead &&
		       f->batches_waiting + f->queued +
		       (f->listing + 1L) * (f->page_size / BATCH_MAX + 1) <= f->high_water &&
		       (h = hour_to_list(f)) != NULL)
			list_next_page(f, h);
		hours_close(f, 0);
		int pending = dw_aws_pool_pending(f->pool);
		if (pending == 0)
			break;
		dw_aws_pool_wait(f->pool, pending - 1);
	}
	/* After a stop, hours never (fully) listed are reported as such. */
	hours_close(f, 1);
	while (f->next_hour < f->cfg->end) {
		hour_open(f);
		hours_close(f, 1);
	}
}

static int check_queue(struct dw_aws *aws, const char *url, int *fifo)
{
	cJSON *attrs = NULL;
	size_t n = strlen(url);

	*fifo = n > 5 && strcmp(url + n - 5, ".fifo") == 0;
	if (dw_sqs_queue_attributes(aws, url, &attrs) == 0) {
		const char *f = dw_json_str(attrs, "FifoQueue");
		*fifo |= f && strcmp(f, "true") == 0;
		cJSON_Delete(attrs);
		return 0;
	}
	const struct dw_error *e = dw_error_last();
	if (strstr(e->code, "NonExistentQueue") || strstr(e->code, "QueueDoesNotExist"))
		return dw_invalid("queue_url", "queue %s does not exist", url);
	if (e->http_status == 403 || strstr(e->code, "AccessDenied")) {
		/* Sending may be allowed where reading attributes is not. */
		dw_warn("cannot read the queue's attributes (%s); going on", e->code);
		return 0;
	}
	return dw_error_context("checking queue %s", url);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void fill_result(struct fanout *f, double elapsed)
{
	const struct dw_aws_stats *st = dw_aws_stats(f->aws);
	struct dw_fanout_result *r = f->result;

	r->started = 1;
	r->fifo = f->fifo;
	r->hours = f->total_hours;
	r->listed = f->listed;
	r->skipped = f->skipped;
	r->sent = f->sent;
	r->would_send = f->matched;
	r->failed = f->failed;
	r->batches = f->batches;
	r->entry_retries = f->entry_retries;
	r->list_pages = f->pages;
	r->requests = (unsigned long)st->requests;
	r->retries = (unsigned long)st->retries;
	r->empty_hours = f->empty_hours;
	r->incomplete_hours = f->incomplete_hours;
	r->has_seconds = dw_fanout_keyfmt_has_seconds(f->cfg->keyfmt);
	r->missing_seconds = f->missing;
	r->elapsed_s = (double)(long long)(elapsed * 1000) / 1000;
}

void dw_fanout_result_release(struct dw_fanout_result *r)
{
	for (size_t i = 0; i < r->n_per_hour; i++)
		free(r->per_hour[i].prefix);
	for (size_t i = 0; i < r->n_failures; i++) {
		free(r->failures[i].key);
		free(r->failures[i].code);
		free(r->failures[i].message);
	}
	free(r->per_hour);
	free(r->failures);
	memset(r, 0, sizeof(*r));
}

/* The verdict once everything settled. */
static int outcome(struct fanout *f)
{
	char iso[32];

	if (f->stop) {
		dw_error_restore(&f->stop_err);
		if (f->stop_err.kind == DW_INVALID)
			return -1;
		return dw_error_context("%lu sent, %lu not sent, %lu hour(s) not completely listed "
					"(re-run the range to finish)", f->sent, f->failed,
					f->incomplete_hours);
	}
	if (f->failed) {
		const char *key = f->result->n_failures ? f->result->failures[0].key : NULL;
		return dw_raise(f->failed_transient == f->failed ? DW_TRANSIENT : DW_FAILED,
				"SendFailed", NULL, "%lu of %lu messages could not be sent "
				"(first: %s; see result.failures)", f->failed, f->matched, key ? key : "?");
	}
	if (f->matched == 0 && f->cfg->empty == DW_FANOUT_EMPTY_SKIP) {
		f->result->nothing_to_do = 1;
		return 0;
	}
	if (f->empty_hours && f->cfg->empty == DW_FANOUT_EMPTY_FAIL) {
		dw_time_format_iso(f->first_empty, iso);
		return dw_fail("NoObjects", "%lu of %lu hour(s) had no objects (first: %s)",
			       f->empty_hours, f->total_hours, iso);
	}
	return 0;
}

int dw_fanout_run(struct dw_aws *aws, const struct dw_fanout_config *cfg,
		  struct dw_fanout_result *out)
{
	struct fanout f = { .aws = aws, .cfg = cfg, .result = out };
	struct timespec t0;
	int rc;

	if (cfg->end <= cfg->start)
		return dw_invalid("end", "end must be after start");
	if ((cfg->end - cfg->start) / 3600 > DW_FANOUT_MAX_HOURS)
		return dw_invalid("end", "the range is longer than %d hours", DW_FANOUT_MAX_HOURS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (check_queue(aws, cfg->queue_url, &f.fifo))
		return -1;
	f.total_hours = (unsigned long)((cfg->end - cfg->start) / 3600);
	f.next_hour = cfg->start;
	f.max_attempts = dw_aws_max_attempts(aws);
	f.list_ahead = cfg->list_ahead > 0 ? cfg->list_ahead : LIST_AHEAD;
	f.page_size = cfg->page_size > 0 ? cfg->page_size : PAGE_KEYS;
	f.high_water = cfg->concurrency + PAGES_AHEAD * (f.page_size / BATCH_MAX + 1);
	f.pool = dw_aws_pool_new(aws, cfg->concurrency + f.list_ahead);
	dw_info("%s s3://%s/%s for %lu hour(s) to %s%s",
		cfg->dry_run ? "dry run: listing, not sending," : "fanning out", cfg->bucket,
		cfg->folder ? cfg->folder : "", f.total_hours, cfg->queue_url, f.fifo ? " (FIFO)" : "");
	run_loop(&f);
	dw_aws_pool_free(f.pool);
	fill_result(&f, seconds_since(&t0));
	rc = outcome(&f);
	if (cfg->dry_run)
		dw_info("dry run: listed %lu, would send %lu, nothing sent, %.2f s", f.listed,
			f.matched, seconds_since(&t0));
	else
		dw_info("listed %lu, sent %lu, failed %lu in %lu batches, %.2f s", f.listed, f.sent,
			f.failed, f.batches, seconds_since(&t0));
	return rc;
}
