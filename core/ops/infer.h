/* dw/infer.h - columns inferred from sample files: JSON lines (every value
 * looked at) and Avro (the schema in each container file's header).
 *
 * Nested objects become dotted paths; nulls do not decide a type; int and
 * float widen to double; strings that are all ISO dates or timestamps
 * become date or timestamp; anything conflicting becomes string. */
#ifndef DW_INFER_H
#define DW_INFER_H

#include "base/json.h"
#include "aws/aws.h"
#include "ops/ddl.h"

struct dw_infer_column {
	char *path;         /* "data.location.lat" */
	unsigned seen;      /* kinds of values seen (infer.c) */
	int precision, scale; /* Avro decimals */
	long long present;  /* records holding it (null or not); -1: Avro */
};

struct dw_infer {
	struct dw_infer_column *cols;
	size_t n;
	long long records;  /* records looked at */
	long long bad_lines;/* JSON lines that were not objects */
	long long files;
	int too_many;       /* more paths than DW_INFER_MAX_PATHS were seen */
	struct dw_infer_column spill; /* where the paths beyond go */
};

/* Distinct paths inference keeps track of (objects' keys included); a
 * sample holding more fails inference (TooManyColumns) rather than making
 * its cost grow with their square (issue 12 #15). */
#define DW_INFER_MAX_PATHS (2 * DW_DDL_MAX_COLUMNS)

void dw_infer_init(struct dw_infer *inf);
void dw_infer_release(struct dw_infer *inf);

/* Look at one JSON record (an object). */
void dw_infer_record(struct dw_infer *inf, const cJSON *record);
/* Look at the records of JSON-lines text, up to max_records in total; a
 * last line cut short (truncated is 1) is left out. */
void dw_infer_json_lines(struct dw_infer *inf, const char *data, size_t len,
			 long long max_records, int truncated);
/* Take the fields of an Avro container file's schema.  Raises DW_FAILED
 * when data is not an Avro container (what names the file). */
int dw_infer_avro(struct dw_infer *inf, const void *data, size_t len, const char *what);

/* The portable type column i resolves to; 0 when it is not a column of
 * its own (a path that only ever held objects with keys). */
int dw_infer_type(const struct dw_infer *inf, size_t i, struct dw_ddl_type *out);

struct dw_infer_source {
	const char *bucket, *prefix;
	enum dw_ddl_format format; /* json or avro */
	int max_files;             /* 0: 10 */
	long long max_records;     /* 0: 1000 */
};

/* Read up to max_files objects under the prefix and look at them. */
int dw_infer_s3(struct dw_aws *aws, const struct dw_infer_source *src, struct dw_infer *inf);

/* Add the inferred columns to t, after the columns it already has: a path
 * or name already there, or a partition's name, is left out.  Names are the
 * paths with "_" for ".".  A column the table cannot take (a name that
 * differs from another only in case, a control character) is left out with
 * a warning. */
void dw_infer_add_columns(const struct dw_infer *inf, struct dw_ddl_table *t);

#endif
