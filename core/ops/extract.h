/* ops/extract.h - dw-extract: the rows of a MySQL table newer than a
 * watermark, sent to Kinesis, Firehose or S3, without losing a row.
 *
 * The read is a keyset over (cursor, tiebreak) with bound parameters:
 *   WHERE ((c = ? AND t > ?) OR c > ?) AND c < ? ORDER BY c, t LIMIT ?
 * so rows sharing a cursor value across a page boundary are neither lost
 * nor read twice.  The upper bound is the source's clock (UTC) minus
 * lag_s, and below the start of the oldest open transaction when the
 * login may read information_schema.INNODB_TRX: a transaction that commits
 * late cannot hold a row below a watermark that moved past it.  The
 * watermark (cursor value and tiebreak) moves only after the sink accepted
 * every record of a page; delivery is at least once and every record
 * carries table, pk, cursor and run_id for the warehouse to de-duplicate.
 *
 * State: an SSM parameter (no conditional write: the version written must
 * be the one read plus one, else WatermarkConflict) or a DynamoDB item
 * (a conditional write on its version).  A dw-lock write lease on the
 * table keeps two runs from interleaving. */
#ifndef DW_EXTRACT_H
#define DW_EXTRACT_H

#include "db/mysql.h"
#include "ops/lock.h"

#include <cjson/cJSON.h>

struct dw_aws;

enum dw_extract_store { DW_EXTRACT_SSM, DW_EXTRACT_DYNAMODB };
enum dw_extract_sink { DW_EXTRACT_KINESIS, DW_EXTRACT_FIREHOSE, DW_EXTRACT_S3 };

#define DW_EXTRACT_STATE_TABLE "dwops-extract-state"
#define DW_EXTRACT_PAGE_ROWS 5000
#define DW_EXTRACT_LAG_S 60

struct dw_extract_opts {
	struct dw_mysql_target mysql;
	const char *table;            /* "db.table" */
	const char *const *columns;   /* NULL: every column */
	size_t n_columns;
	const char *cursor;           /* a DATETIME or TIMESTAMP column */
	const char *tiebreak;         /* NULL: the (one-column) primary key */
	long long lag_s;
	int guard_trx;                /* -1: when the login may (default), 0 off, 1 required */
	long long page_rows, max_rows, time_budget_s;  /* 0: no limit */
	enum dw_extract_store store;
	const char *state_name;       /* SSM parameter, or the item's key */
	const char *state_table;      /* DynamoDB: NULL DW_EXTRACT_STATE_TABLE */
	enum dw_extract_sink sink;
	const char *stream;           /* Kinesis stream or Firehose delivery stream */
	const char *bucket, *prefix;  /* S3 */
	struct dw_lock_opts lock;     /* resource NULL: "dw-extract/<table>" */
	int dry_run;
	/* reset: the new watermark (cursor NULL: none, from the first row) */
	const char *reset_cursor, *reset_tiebreak;
};

struct dw_extract_result {
	char run_id[33];
	long long rows, pages, records_sent, record_retries, calls;
	char *from_cursor, *from_tiebreak;   /* NULL: no watermark yet */
	char *to_cursor, *to_tiebreak;
	char *upper_bound;
	char *source_now;
	int guarded;                  /* the open-transaction guard was applied */
	char *oldest_trx;             /* its start, when it lowered the bound */
	long long null_cursor_rows;   /* never extracted (see the README) */
	long long state_version;
	int complete;                 /* every row below the bound was read */
	char *index;                  /* the index serving (cursor, tiebreak), or NULL */
	long long fence;
	long long lag_s;              /* status: the watermark's lag behind the clock */
	int has_lag;
};

void dw_extract_result_init(struct dw_extract_result *r);
void dw_extract_result_release(struct dw_extract_result *r);
/* The result fields as JSON into obj. */
void dw_extract_result_json(const struct dw_extract_result *r, cJSON *obj, int run);

/* Checks that need no server: names, bounds, sink and state fields. */
int dw_extract_check(const struct dw_extract_opts *o);
/* 1 when name is a MySQL identifier dwops agrees to quote: 1 to 64 of
 * [A-Za-z0-9_$] (anything else, backticks and quotes first, is refused). */
int dw_extract_safe_ident(const char *name);

/* run: 0 done (r->rows may be 0: the caller reports nothing to do). */
int dw_extract_run(struct dw_aws *aws, const struct dw_extract_opts *o,
		   struct dw_extract_result *r);
/* status: the watermark, its version, the lag behind the source's clock. */
int dw_extract_status(struct dw_aws *aws, const struct dw_extract_opts *o,
		      struct dw_extract_result *r);
/* reset: set the watermark (refused, Locked, while a run holds the lease). */
int dw_extract_set_watermark(struct dw_aws *aws, const struct dw_extract_opts *o,
		     struct dw_extract_result *r);

/* The watermark's stored form (pure; unit-tested). */
char *dw_extract_state_text(const char *cursor, const char *tiebreak, const char *table,
			    const char *run_id);
int dw_extract_state_parse(const char *text, char **cursor, char **tiebreak);

#endif
