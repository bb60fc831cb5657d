/* dw/fanout.h - fan the S3 objects of an hour (or a range of hours) out to
 * SQS, one message per object.
 *
 * For each hour the objects under the hour's key prefix are listed
 * (ListObjectsV2, every page) and sent with SendMessageBatch, ten entries
 * a call, many calls in flight through one pool.  Listing and sending
 * overlap, and memory stays bounded: only a window of pages and batches
 * is ever held, however long the range. */
#ifndef DW_FANOUT_H
#define DW_FANOUT_H

#include "base/json.h"
#include <time.h>
#include "aws/aws.h"

/* ---- hours --------------------------------------------------------------- */

/* An hour as users and Airflow write it: "2019-06-01T15", "2019-06-01T15:00",
 * "2019-06-01T15:00:00+00:00", "2019-06-01 15:00:00.123Z", "20190601T150000",
 * or a bare date "2019-06-01" (its first hour).  Offsets are turned into
 * UTC.  A time inside an hour is rounded down (round_up 0) or up (1) to a
 * whole hour.  Raises DW_INVALID for field when text is none of these. */
int dw_fanout_parse_hour(const char *text, const char *field, int round_up,
			 time_t *out);

/* The hours a request names: hour (one hour), or from and to (the fields
 * "start" and "end": end exclusive, rounded up); NULL when absent.  Raises DW_INVALID naming the field at fault. */
int dw_fanout_pick_hours(const char *hour, const char *from, const char *to,
			 time_t *start, time_t *end);

/* ---- key formats --------------------------------------------------------- */

/* How an hour's objects are named, as a template of the key's start:
 *   {YYYY} {MM} {DD} {HH}  year, month, day, hour (zero-padded)
 *   {H}                    hour, not padded
 *   {m} {s}                minute and second, not padded (1-2 digits)
 *   {mm} {ss}              minute and second, zero-padded
 * The text before the first minute/second token is the hour's listing
 * prefix and must hold the year, month, day and hour; the rest is matched
 * against each listed key, so only keys of the hour are sent.  When the
 * template has both a minute and a second, seconds are tallied and the
 * hour's missing seconds reported.  Default: DW_FANOUT_KEY_FORMAT. */
#define DW_FANOUT_KEY_FORMAT "{YYYY}-{MM}-{DD}-{HH}-{m}-{s}-"

struct dw_fanout_keyfmt;

int dw_fanout_keyfmt_new(const char *text, const char *field,
			 struct dw_fanout_keyfmt **out);
void dw_fanout_keyfmt_free(struct dw_fanout_keyfmt *k);
/* 1 when the format names minute and second (missing seconds are known). */
int dw_fanout_keyfmt_has_seconds(const struct dw_fanout_keyfmt *k);
/* Append the hour's listing prefix (without any folder) to out. */
void dw_fanout_keyfmt_prefix(const struct dw_fanout_keyfmt *k, time_t hour,
			     struct dw_buf *out);
/* Does rest (a key after its hour prefix) belong to the hour?  1 yes, 0 no;
 * *second gets the second of the hour (0-3599), or -1 when unknown. */
int dw_fanout_keyfmt_match(const struct dw_fanout_keyfmt *k, const char *rest,
			   int *second);

/* ---- the fan-out --------------------------------------------------------- */

enum dw_fanout_message {
	DW_FANOUT_MSG_KEY,      /* body: the key; attribute "from": the key */
	DW_FANOUT_MSG_S3_EVENT, /* body: an S3 ObjectCreated:Put notification */
};

enum dw_fanout_empty {
	DW_FANOUT_EMPTY_SKIP, /* nothing to do (exit 99) when nothing was found */
	DW_FANOUT_EMPTY_FAIL, /* an hour without objects is an error */
	DW_FANOUT_EMPTY_OK,   /* an hour without objects is fine */
};

struct dw_fanout_config {
	const char *bucket;
	const char *folder;           /* may be NULL; a "/" is put after it */
	const struct dw_fanout_keyfmt *keyfmt;
	time_t start, end;            /* whole hours, end exclusive */
	const char *queue_url;
	enum dw_fanout_message message;
	const char *message_group_id; /* FIFO; NULL: derived from bucket and key */
	int concurrency;              /* SendMessageBatch calls in flight */
	int list_ahead;               /* hours listed at once; 0: 4 */
	int page_size;                /* keys per ListObjectsV2 page; 0: 1000 */
	enum dw_fanout_empty empty;
	int dry_run;                  /* list and count only: nothing is sent */
	int per_hour_limit;           /* hours listed in the result; 0: 168 */
};

/* The per-hour list is complete for ranges up to this many hours; beyond,
 * only hours with failures or without objects are listed, up to the limit. */
#define DW_FANOUT_PER_HOUR_LIMIT 168
#define DW_FANOUT_MAX_HOURS (24 * 366 * 10)
#define DW_FANOUT_MAX_CONCURRENCY 256

/* One hour of a fan-out, as the result lists it. */
struct dw_fanout_hour {
	time_t hour;
	char *prefix;                 /* the listing prefix */
	unsigned long listed, sent, failed, skipped;
	unsigned long would_send;     /* dry run */
	long missing_seconds;         /* -1 when the key format has no seconds */
	int incomplete;               /* its listing did not finish */
};

/* A message that could not be sent. */
struct dw_fanout_failure {
	char *key, *code, *message;
};

/* What a fan-out did (filled also when it fails). */
struct dw_fanout_result {
	int started;                  /* it got past the checks: the rest is meaningful */
	int fifo;
	unsigned long hours, listed, skipped, sent, would_send, failed, batches,
		entry_retries, list_pages, requests, retries, empty_hours,
		incomplete_hours, missing_seconds;
	int has_seconds;              /* missing_seconds means something */
	double elapsed_s;
	/* Hours listed in detail (see DW_FANOUT_PER_HOUR_LIMIT), and how many
	 * were left out. */
	struct dw_fanout_hour *per_hour;
	size_t n_per_hour;
	unsigned long per_hour_omitted;
	/* The first failures (up to 50), and how many more there were. */
	struct dw_fanout_failure *failures;
	size_t n_failures;
	unsigned long failures_omitted;
	int nothing_to_do;            /* empty SKIP and nothing found */
};
void dw_fanout_result_release(struct dw_fanout_result *r);

/* Check the queue (it must exist; FIFO is detected), then list and send.
 * Fills out (also when failing; release it either way).  Returns 0 (with
 * out->nothing_to_do when empty is SKIP and nothing was found), or -1 with
 * an error raised: DW_INVALID when the queue or bucket does not exist
 * (nothing was sent), DW_TRANSIENT when everything unsent failed only for
 * lack of retries, else DW_FAILED. */
int dw_fanout_run(struct dw_aws *aws, const struct dw_fanout_config *cfg,
		  struct dw_fanout_result *out);

/* The S3 notification (eventVersion 2.1, ObjectCreated:Put) that
 * message_format s3_event sends for o, appended to out as JSON text.  The
 * size is an exact integer: a 6 GiB object says 6442450944. */
struct dw_buf;
struct dw_s3_object;
void dw_fanout_s3_event(struct dw_buf *out, const char *region, const char *bucket,
			const struct dw_s3_object *o);

#endif
