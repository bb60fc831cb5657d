/* dw/ddl.h - external tables over the lake: a portable table description,
 * per-dialect quoting, and the DDL (or Glue TableInput) generated from it.
 *
 * A table is read from a request (dw_ddl_table_parse), which checks
 * everything a generator relies on, so generation after a successful parse
 * only fails for dialect-specific limits (e.g. a partition Athena cannot
 * project).  Statements come out as a dw_kvlist: key = kind
 * ("create_table", "add_partition", ...), value = the SQL text. */
#ifndef DW_DDL_H
#define DW_DDL_H

#include "base/json.h"
#include <stddef.h>
#include "base/buf.h"
#include "proto/req.h"

enum dw_ddl_dialect {
	DW_DDL_SNOWFLAKE,
	DW_DDL_ATHENA,
	DW_DDL_REDSHIFT,
	DW_DDL_GLUE,
};

enum dw_ddl_format { DW_FMT_JSON, DW_FMT_AVRO, DW_FMT_PARQUET, DW_FMT_CSV };

enum dw_ddl_kind {
	DW_TY_STRING, DW_TY_INT, DW_TY_BIGINT, DW_TY_DOUBLE, DW_TY_FLOAT,
	DW_TY_BOOLEAN, DW_TY_DATE, DW_TY_TIMESTAMP, DW_TY_DECIMAL,
};

struct dw_ddl_type {
	enum dw_ddl_kind kind;
	int precision, scale; /* decimal only */
};

struct dw_ddl_column {
	char *name;
	struct dw_ddl_type type;
	char **path;       /* keys into the record; defaults to { name } */
	size_t npath;
	long long present; /* records holding it, when inferred; else -1 */
};

struct dw_ddl_partition {
	char *name;
	struct dw_ddl_type type;
	int segment;       /* 1-based path segment below the location */
	char *key;         /* "key" of a key=value segment, or NULL */
	int sub_start;     /* 1-based substring of the segment; 0: whole */
	int sub_length;    /* 0: to the end */
	char *format;      /* date/timestamp format, Java style (yyyy-MM-dd) */
	char *range;       /* Athena projection range, e.g. "2019-01-01,NOW" */
	char *interval;    /* projection interval, with unit */
	char *unit;
	char **values;     /* enum projection values */
	size_t nvalues;
};

struct dw_ddl_table {
	enum dw_ddl_dialect dialect;
	enum dw_ddl_format format;
	char *database, *schema, *name;
	char *location;            /* s3://bucket/prefix/ (with the slash) */
	char delimiter;            /* csv */
	int header;                /* csv: the first line names the columns */
	/* Snowflake */
	char *stage;               /* name[/sub/path] */
	int stage_depth;           /* segments in the stage's sub-path */
	char *stage_url, *storage_integration; /* CREATE STAGE when set */
	char *file_format_name;    /* FILE_FORMAT = (FORMAT_NAME = ...) */
	int create_file_format;
	int auto_refresh;
	char *pattern, *sns_topic;
	/* Hive family (Athena, Redshift, Glue) */
	int projection;            /* partition projection (Athena, Glue) */
	struct dw_kvlist table_properties, serde_properties;
	cJSON *add_partitions;    /* [{partition: value}], may be NULL */
	int replace;               /* CREATE OR REPLACE / drop first */
	int create_database;       /* athena/glue: the database too */
	char *comment;
	struct dw_ddl_column *columns;
	size_t ncolumns;
	struct dw_ddl_partition *partitions;
	size_t npartitions;
};

/* ---- the request: a table description, bound declaratively ---- */

/* The choices of dialect and format, in enum order (a DW_CHOICE binds the
 * index). */
#define DW_DDL_DIALECTS DW_CHOICES("snowflake", "athena", "redshift", "glue")
#define DW_DDL_FORMATS DW_CHOICES("json", "avro", "parquet", "csv")

/* What the request says, borrowed from it (strings and JSON point into the
 * request, which must outlive the struct).  Filled by binding a table
 * holding DW_DDL_TABLE_FIELDS; columns and partitions stay JSON here and
 * dw_ddl_table_parse binds each element (dw_ddl_column_fields,
 * dw_ddl_partition_fields). */
struct dw_ddl_stage_req {
	const char *storage_integration; /* required: NULL when not given */
	const char *url;
};
struct dw_ddl_file_format_req {
	const char *name;                /* required: NULL when not given */
	int create;
};
struct dw_ddl_options_req {
	int auto_refresh;                /* -1: not given (true) */
	int projection, replace, create_database;
	const char *pattern, *aws_sns_topic, *comment;
	const cJSON *table_properties, *serde_properties;
};
struct dw_ddl_req {
	int dialect;                     /* enum dw_ddl_dialect */
	const char *table, *database, *schema;
	int format;                      /* enum dw_ddl_format */
	const char *delimiter;           /* NULL: not given (",") */
	int header;                      /* -1: not given (false) */
	const char *location, *stage;
	struct dw_ddl_stage_req create_stage;
	struct dw_ddl_file_format_req file_format;
	const cJSON *columns, *partitions, *add_partitions;
	struct dw_ddl_options_req options;
};

/* One element of columns and of partitions, bound by dw_ddl_table_parse. */
struct dw_ddl_column_req {
	const char *name, *type, *path;
};
struct dw_ddl_substring_req {
	int start;                       /* 0: not given (the whole segment) */
	int length;                      /* 0: to the end */
};
struct dw_ddl_partition_req {
	const char *name, *type;
	int segment;                     /* 0: not given (its position) */
	const char *key;
	struct dw_ddl_substring_req substring;
	const char *format, *range, *interval, *unit;
	const cJSON *values;
};

extern const struct dw_field dw_ddl_column_fields[];    /* struct dw_ddl_column_req */
extern const struct dw_field dw_ddl_partition_fields[]; /* struct dw_ddl_partition_req */
extern const struct dw_field dw_ddl_stage_fields[];     /* struct dw_ddl_stage_req */
extern const struct dw_field dw_ddl_file_format_fields[]; /* struct dw_ddl_file_format_req */
extern const struct dw_field dw_ddl_option_fields[];    /* struct dw_ddl_options_req */

/* The fields of a table description, bound into the struct dw_ddl_req
 * member m of T (m may be nested: "a.b"): an action's field table starts
 * with DW_DDL_TABLE_FIELDS(T, m) and adds its own. */
#define DW_DDL_TABLE_FIELDS(T, m) \
	DW_CHOICE("dialect", T, m.dialect, DW_REQUIRED, NULL, DW_DDL_DIALECTS, "the engine"), \
	DW_STR("table", T, m.table, DW_REQUIRED, NULL, "table name"), \
	DW_STR("database", T, m.database, 0, NULL, "database (Athena/Glue database, Snowflake database)"), \
	DW_STR("schema", T, m.schema, 0, NULL, "schema (Snowflake schema, Redshift external schema)"), \
	DW_CHOICE("format", T, m.format, 0, "json", DW_DDL_FORMATS, "file format"), \
	DW_STR("delimiter", T, m.delimiter, 0, NULL, "csv: one-character field delimiter (default \",\")"), \
	DW_BOOL("header", T, m.header, DW_NODEFAULT, -1, "csv: the first line holds the column names (default false)"), \
	DW_STR("location", T, m.location, 0, NULL, "s3://bucket/prefix/ the files live under"), \
	DW_STR("stage", T, m.stage, 0, NULL, "snowflake: stage name, optionally with /sub/path"), \
	DW_STRUCT("create_stage", T, m.create_stage, 0, dw_ddl_stage_fields, "snowflake: also CREATE STAGE"), \
	DW_STRUCT("file_format", T, m.file_format, 0, dw_ddl_file_format_fields, "snowflake: a named FILE FORMAT"), \
	DW_OBJS("columns", T, m.columns, 0, dw_ddl_column_fields, "columns (else inferred)"), \
	DW_OBJS("partitions", T, m.partitions, 0, dw_ddl_partition_fields, "partition columns read from the object path"), \
	DW_OBJS("add_partitions", T, m.add_partitions, 0, NULL, "redshift/athena without projection: partitions to add, {name: value}"), \
	DW_STRUCT("options", T, m.options, 0, dw_ddl_option_fields, "dialect options")

/* The most columns (partitions included) a table may have (issue 12 #15:
 * checks that compare names pairwise grow with the square of the count;
 * 10,000 takes about 0.3 s, far above what engines take: Redshift allows
 * 1,600). */
#define DW_DDL_MAX_COLUMNS 10000

void dw_ddl_table_init(struct dw_ddl_table *t);
void dw_ddl_table_release(struct dw_ddl_table *t);
/* Read and check a bound request (nothing of q is kept: t owns copies).
 * Columns may be empty here (to be inferred); dw_ddl_check_columns checks
 * them once they are all known. */
int dw_ddl_table_parse(struct dw_ddl_table *t, const struct dw_ddl_req *q);
/* Add a column (copies); path NULL or "" means { name }.  Raises DW_INVALID
 * for a bad name or path, naming field. */
int dw_ddl_add_column(struct dw_ddl_table *t, const char *name,
		      const struct dw_ddl_type *type, const char *path,
		      long long present, const char *field);
int dw_ddl_check_columns(const struct dw_ddl_table *t);

/* "snowflake", "athena", ... */
const char *dw_ddl_dialect_name(enum dw_ddl_dialect d);
/* "string", "bigint", "decimal(10,2)", ... */
int dw_ddl_parse_type(const char *s, const char *field, struct dw_ddl_type *out);
/* The portable name back: "decimal(10,2)" etc. into out. */
void dw_ddl_type_name(const struct dw_ddl_type *t, char out[32]);

/* Quoting: append name / literal s to b as dialect requires.  Snowflake
 * quotes only where needed (so that plain names stay case-insensitive);
 * Athena/Glue (backticks) and Redshift (double quotes) always quote. */
void dw_ddl_quote_ident(struct dw_buf *b, enum dw_ddl_dialect d, const char *name);
void dw_ddl_quote_literal(struct dw_buf *b, enum dw_ddl_dialect d, const char *s);

/* The statements creating the table (stage, file format, table, partitions,
 * properties), in order.  Glue has none: see dw_ddl_glue_table_input. */
int dw_ddl_create_statements(const struct dw_ddl_table *t, struct dw_kvlist *out);
int dw_ddl_drop_statements(const struct dw_ddl_table *t, struct dw_kvlist *out);
/* Snowpipe landing for dw-extract's records (JSON lines: {"table",
 * "run_id", "pk", "cursor", "row"}): the landing table (SOURCE_TABLE, PK,
 * CURSOR_VALUE, RUN_ID, ROW_DATA VARIANT, FILE_NAME, LOADED_AT) and a pipe
 * (AUTO_INGEST = auto_ingest) copying every new file of t->stage into it,
 * after the stage when create_stage was given.  t is a Snowflake
 * description without columns or partitions (the landing's are fixed) in
 * JSON; pipe NULL names the pipe <table>_pipe.  Raises DW_INVALID naming
 * the field otherwise. */
int dw_ddl_landing_statements(const struct dw_ddl_table *t, const char *pipe,
			      int auto_ingest, struct dw_kvlist *out);

/* The Glue TableInput (new reference) for the Hive-family description. */
int dw_ddl_glue_table_input(const struct dw_ddl_table *t, cJSON **out);

/* ---- results and applying them (ddlapply.c) ---- */

/* A zip at path holding NN-<kind>.sql per statement (and table_input.json
 * when given), for Jenkins to archive.  *files is how many; with nothing to
 * write no file is made and *files is 0. */
int dw_ddl_write_bundle(const char *path, const struct dw_kvlist *st,
			const cJSON *table_input, size_t *files);

/* Bundles go under one output directory, a setting of the worker and never
 * the request's (issue 12 #1): DW_DDL_BUNDLE_DIR, else the working
 * directory.  The request's bundle is a relative path ending in .zip: no
 * absolute path, no "." or ".." segment, no symlink on the way or at the
 * end, its folder must exist, and a file already there is replaced only
 * when it is a dwops bundle (a zip marked as one).  *out (may be NULL) is
 * the path to write, a new string.  Raises DW_INVALID with field bundle. */
#define DW_DDL_BUNDLE_DIR_ENV "DW_DDL_BUNDLE_DIR"
int dw_ddl_bundle_path(const char *bundle, char **out);

struct dw_aws;
struct dw_ddl_athena_opts {
	const char *workgroup;       /* NULL: primary */
	const char *output_location; /* NULL: the workgroup's */
	int wait_s;                  /* per statement; 0: 300 */
};
/* One change applied: a statement run on Athena (kind is the statement's,
 * with Athena's query id and final state), or a Glue catalog change (kind
 * create_table / update_table with the table, or delete_table with
 * whether it existed).  Strings point into the table and statements. */
struct dw_ddl_applied {
	const char *kind;
	char query_execution_id[128]; /* Athena, else "" */
	char state[32];               /* Athena, else "" */
	const char *table;            /* create_table / update_table, else NULL */
	int existed;                  /* delete_table: 0 or 1; else -1 */
};

/* What an apply did, in order; kept when it fails midway (what was done
 * before the failure).  Zero-initialise; release with dw_ddl_applied_release. */
struct dw_ddl_applied_list {
	struct dw_ddl_applied *v;
	size_t n;
};
void dw_ddl_applied_release(struct dw_ddl_applied_list *l);

/* Run the statements on Athena in order, each waited for (dw_athena_run),
 * appending each to applied. */
int dw_ddl_apply_athena(struct dw_aws *aws, const struct dw_ddl_table *t,
			const struct dw_kvlist *st, const struct dw_ddl_athena_opts *o,
			struct dw_ddl_applied_list *applied);
/* Glue: create the table or update it (the database first when
 * create_database), appending create_table or update_table. */
int dw_ddl_apply_glue(struct dw_aws *aws, const struct dw_ddl_table *t,
		      const cJSON *table_input, struct dw_ddl_applied_list *applied);
/* Glue DeleteTable; a table that is not there is no error: appends
 * delete_table with existed. */
int dw_ddl_drop_glue(struct dw_aws *aws, const struct dw_ddl_table *t,
		     struct dw_ddl_applied_list *applied);

#endif
