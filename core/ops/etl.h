/* dw/etl.h - dw-etl's transform: event files (JSON lines) into one Avro
 * container per kind of record (the record's split field, `on`), with the
 * columns of each kind given in dw-ddl's column model.
 *
 * This part needs no network: a file is fed in chunks of any size (lines
 * may straddle them), and the outputs (key and container bytes) come out
 * at the end.  core/ops/etlrun.c reads the files from S3 in ranges, writes
 * the outputs, and runs the SQS worker, the Lambda runtime and redrive. */
#ifndef DW_ETL_H
#define DW_ETL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <time.h>
#include "base/avro.h"
#include "base/buf.h"

/* ---- mappings ------------------------------------------------------------ */

/* Column types: dw-ddl's portable names. */
enum dw_etl_type {
	DW_ETL_STRING, DW_ETL_INT, DW_ETL_BIGINT, DW_ETL_DOUBLE, DW_ETL_FLOAT,
	DW_ETL_BOOLEAN, DW_ETL_DATE, DW_ETL_TIMESTAMP, DW_ETL_DECIMAL,
};

struct dw_etl_mapping;

/* The seed's two kinds, as a mapping object (examples/dw-etl uses it too):
 * vehicle = the record's fields, data.* and data.location.* (the top-level
 * `at` wins over data.location.at); operating_period = the record's fields
 * and data.*. */
extern const char dw_etl_default_mapping[];

/* A mapping from its JSON: {"<on value>": [column, ...], ...}, each column
 * {"name", "type", "path"} as in dw-ddl, where path (default: the name) is
 * a dotted path into the record or a list of them, the first present one
 * winning.  Names must be Avro names ([A-Za-z_][A-Za-z0-9_]*), unique per
 * kind; types dw-ddl's (string, int, bigint, double, float, boolean, date,
 * timestamp, decimal(p,s)).  Raises DW_INVALID naming field (e.g.
 * "mapping.vehicle[2].type") when something is wrong. */
int dw_etl_mapping_new(const cJSON *json, const char *field,
		       struct dw_etl_mapping **out);
void dw_etl_mapping_free(struct dw_etl_mapping *m);
size_t dw_etl_mapping_kinds(const struct dw_etl_mapping *m);
const char *dw_etl_mapping_kind(const struct dw_etl_mapping *m, size_t i);
/* The Avro schema written for kind i (NUL-terminated JSON text). */
const char *dw_etl_mapping_schema(const struct dw_etl_mapping *m, size_t i);
/* The schema of the _unknown folder's files: {on, record} strings. */
extern const char dw_etl_unknown_schema[];

/* ---- output keys --------------------------------------------------------- */

/* Tokens: {prefix} {on} {YYYY} {MM} {DD} {basename} (the file name without
 * its last extension) {name} (the whole file name).  Must name {on} and
 * {basename} or {name}, so that two kinds or two files never share a key.
 * Default: the seed's layout, which the lake's Snowflake table reads
 * (on_part = segment 2, date_part = first 10 characters of segment 6). */
#define DW_ETL_KEY_FORMAT "{prefix}/{on}/{YYYY}/{MM}/{DD}/{basename}.avro"

struct dw_etl_keyfmt;
int dw_etl_keyfmt_new(const char *text, const char *field,
		      struct dw_etl_keyfmt **out);
void dw_etl_keyfmt_free(struct dw_etl_keyfmt *k);
/* Append the key of an output: source is the input file's key, day the
 * output's date (midnight UTC). */
void dw_etl_keyfmt_render(const struct dw_etl_keyfmt *k, const char *prefix,
			  const char *on, time_t day, const char *source,
			  struct dw_buf *out);

/* The date a file's name holds: the first YYYY-MM-DD in its last path
 * segment, else in the whole key (dt=2019-06-01/...).  0 and *day
 * (midnight UTC), or -1 when there is none (nothing raised). */
int dw_etl_key_date(const char *key, time_t *day);

/* ---- transforming a file ------------------------------------------------- */

enum dw_etl_unknown { DW_ETL_UNKNOWN_SKIP, DW_ETL_UNKNOWN_FAIL, DW_ETL_UNKNOWN_FOLDER };
enum dw_etl_date_from { DW_ETL_DATE_KEY, DW_ETL_DATE_RECORDS };

struct dw_etl_config {
	const struct dw_etl_mapping *mapping;
	const char *split_field;          /* NULL: "on" (a dotted path) */
	enum dw_etl_unknown unknown;
	enum dw_etl_date_from date_from;
	const char *date_field;           /* DATE_RECORDS: NULL: "at" */
	const struct dw_etl_keyfmt *keyfmt;
	const char *prefix;               /* {prefix} */
	enum dw_avro_codec codec;
	size_t max_line;                  /* 0: DW_ETL_MAX_LINE */
};

#define DW_ETL_MAX_LINE (16u << 20)
#define DW_ETL_UNKNOWN_FOLDER_NAME "_unknown"

/* One output file: a kind (or _unknown) and a date. */
struct dw_etl_output {
	char *on;
	time_t day;
	char *key;
	struct dw_avro_writer w;
	unsigned long long records;
};

struct dw_etl_file {
	const struct dw_etl_config *cfg;
	char *source;                     /* bucket/key, for the sync markers */
	char *key;
	time_t key_day;                   /* -1 when the name holds no date */
	struct dw_buf carry;              /* a line not yet ended */
	int skipping;                     /* inside an over-long line */
	/* counts */
	unsigned long long lines, records, bad_lines, unknown_records,
		invalid_values, bytes;
	char first_bad[160];              /* why the first bad line was bad */
	char first_unknown[128];          /* the first unknown kind (FAIL) */
	int failed;                       /* unknown FAIL met, or a codec error */
	struct dw_etl_output **outputs;
	size_t n_outputs;
	cJSON *unknown_counts;            /* {"<on>": n} of unknown kinds */
};

/* Start a file: bucket and key name it (sync markers, keys and the date). */
int dw_etl_file_init(struct dw_etl_file *f, const struct dw_etl_config *cfg,
		     const char *bucket, const char *key);
void dw_etl_file_release(struct dw_etl_file *f);
/* Feed the next len bytes of the file.  -1 with an error raised when the
 * file must fail (an unknown kind with unknown=fail: UnknownKind). */
int dw_etl_file_feed(struct dw_etl_file *f, const char *data, size_t len);
/* End of the file: the last line, and the outputs' last blocks.  -1 with
 * an error raised when the file fails: UnknownKind, or AllLinesBad when it
 * had lines and none was a record. */
int dw_etl_file_finish(struct dw_etl_file *f);

/* ---- messages ------------------------------------------------------------ */

/* One file a message names. */
struct dw_etl_ref {
	char *bucket;
	char *key;
};

struct dw_etl_refs {
	struct dw_etl_ref *items;
	size_t n;
	int test_event;                   /* an s3:TestEvent: nothing to do */
};

/* What an SQS message body names: an S3 event notification (real, or
 * dw-fanout's s3_event; keys form-decoded; only ObjectCreated events), an
 * s3:TestEvent (test_event set, no files), or, anything else, dw-fanout's
 * key format: the body is the key in default_bucket.  -1 with an error
 * raised (BadMessage) when the body is empty, a notification has no
 * object, or a bare key comes without a default bucket. */
int dw_etl_message_refs(const char *body, const char *default_bucket,
			struct dw_etl_refs *out);
void dw_etl_refs_release(struct dw_etl_refs *r);
/* "a+b%2Fc" -> "a b/c" (a new string). */
char *dw_etl_form_decode(const char *s);

#endif
