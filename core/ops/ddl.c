/* ddl.c - the table description, its checks, quoting, and the DDL each
 * dialect needs for an external table over files in S3. */
#include "ops/ddl.h"
#include "base/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SEGMENT 64

const struct dw_field dw_ddl_column_fields[] = {
	DW_STR("name", struct dw_ddl_column_req, name, DW_REQUIRED, NULL, "column name"),
	DW_STR("type", struct dw_ddl_column_req, type, DW_REQUIRED, NULL,
	       "string, int, bigint, double, float, boolean, date, timestamp, decimal(p,s)"),
	DW_STR("path", struct dw_ddl_column_req, path, 0, NULL,
	       "dotted path into the record, e.g. data.location.lat (default: the name)"),
	DW_FIELDS_END
};

static const struct dw_field substring_fields[] = {
	DW_INT("start", struct dw_ddl_substring_req, start, DW_REQUIRED, 0, 1, 1024, "first character, from 1"),
	DW_INT("length", struct dw_ddl_substring_req, length, DW_NODEFAULT, 0, 0, 1024,
	       "characters (default: to the end)"),
	DW_FIELDS_END
};

#define P(kind, n, ...) DW_##kind(n, struct dw_ddl_partition_req, __VA_ARGS__)
const struct dw_field dw_ddl_partition_fields[] = {
	P(STR, "name", name, DW_REQUIRED, NULL, "partition column name"),
	P(STR, "type", type, 0, "string", "its type"),
	P(INT, "segment", segment, DW_NODEFAULT, 0, 1, MAX_SEGMENT,
	  "1-based path segment below the location (default: its position)"),
	P(STR, "key", key, 0, NULL, "the segment reads key=value: the key"),
	P(STRUCT, "substring", substring, 0, substring_fields, "snowflake: only part of the segment"),
	P(STR, "format", format, 0, NULL, "date/timestamp format, e.g. yyyy-MM-dd"),
	P(STR, "range", range, 0, NULL, "athena/glue projection range, e.g. 2019-01-01,NOW or 0,23"),
	P(STR, "interval", interval, 0, NULL, "projection interval (with unit)"),
	P(STR, "unit", unit, 0, NULL, "projection interval unit, e.g. DAYS"),
	P(STRINGS, "values", values, 0, "projection enum values"),
	DW_FIELDS_END
};
#undef P

const struct dw_field dw_ddl_stage_fields[] = {
	DW_STR("storage_integration", struct dw_ddl_stage_req, storage_integration, DW_REQUIRED, NULL,
	       "storage integration name"),
	DW_STR("url", struct dw_ddl_stage_req, url, 0, NULL, "s3:// URL (default: location)"),
	DW_FIELDS_END
};

const struct dw_field dw_ddl_file_format_fields[] = {
	DW_STR("name", struct dw_ddl_file_format_req, name, DW_REQUIRED, NULL, "file format name"),
	DW_BOOL("create", struct dw_ddl_file_format_req, create, 0, 0,
		"also CREATE FILE FORMAT IF NOT EXISTS"),
	DW_FIELDS_END
};

#define O(kind, n, ...) DW_##kind(n, struct dw_ddl_options_req, __VA_ARGS__)
const struct dw_field dw_ddl_option_fields[] = {
	/* -1 when not given: other dialects refuse it only when given. */
	O(BOOL, "auto_refresh", auto_refresh, DW_NODEFAULT, -1, "snowflake: AUTO_REFRESH (default true)"),
	O(STR, "pattern", pattern, 0, NULL, "snowflake: PATTERN regular expression"),
	O(STR, "aws_sns_topic", aws_sns_topic, 0, NULL, "snowflake: AWS_SNS_TOPIC ARN"),
	O(BOOL, "projection", projection, 0, 1, "athena/glue: partition projection"),
	O(MAP, "table_properties", table_properties, 0, "athena/redshift/glue: extra table properties"),
	O(MAP, "serde_properties", serde_properties, 0, "athena/glue: extra SerDe properties"),
	O(BOOL, "replace", replace, 0, 0, "replace an existing table"),
	O(BOOL, "create_database", create_database, 0, 0,
	  "athena/glue: create the database when it is missing"),
	O(STR, "comment", comment, 0, NULL, "table comment"),
	DW_FIELDS_END
};
#undef O

static const char *const dialect_names[] = {
	[DW_DDL_SNOWFLAKE] = "snowflake", [DW_DDL_ATHENA] = "athena",
	[DW_DDL_REDSHIFT] = "redshift", [DW_DDL_GLUE] = "glue",
};
static const char *const format_names[] = {
	[DW_FMT_JSON] = "json", [DW_FMT_AVRO] = "avro",
	[DW_FMT_PARQUET] = "parquet", [DW_FMT_CSV] = "csv",
};
static const char *const kind_names[] = {
	[DW_TY_STRING] = "string", [DW_TY_INT] = "int", [DW_TY_BIGINT] = "bigint",
	[DW_TY_DOUBLE] = "double", [DW_TY_FLOAT] = "float", [DW_TY_BOOLEAN] = "boolean",
	[DW_TY_DATE] = "date", [DW_TY_TIMESTAMP] = "timestamp", [DW_TY_DECIMAL] = "decimal",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

static int is_hive(enum dw_ddl_dialect d)
{
	return d != DW_DDL_SNOWFLAKE;
}

/* ------------------------------------------------------------ quoting --- */

/* Snowflake's reserved words, and words sqlglot or Snowflake treat as
 * keywords in a column list (AT, BEFORE, CHANGES, COLUMNS, VALUE, ...). */
static const char *const snowflake_reserved[] = {
	"ACCOUNT", "ALL", "ALTER", "AND", "ANY", "AS", "AT", "BEFORE", "BETWEEN",
	"BY", "CASE", "CAST", "CHANGES", "CHECK", "COLUMN", "COLUMNS", "CONNECT",
	"CONNECTION", "CONSTRAINT", "CREATE", "CROSS", "CURRENT", "CURRENT_DATE",
	"CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "DATABASE", "DEFAULT",
	"DELETE", "DISTINCT", "DROP", "ELSE", "END", "EXISTS", "FALSE", "FOLLOWING",
	"FOR", "FROM", "FULL", "GRANT", "GROUP", "GSCLUSTER", "HAVING", "ILIKE",
	"IN", "INCREMENT", "INNER", "INSERT", "INTERSECT", "INTERVAL", "INTO",
	"IS", "ISSUE", "JOIN", "LATERAL", "LEFT", "LIKE", "LIMIT", "LOCALTIME",
	"LOCALTIMESTAMP", "MATCH_CONDITION", "METADATA$FILENAME", "MINUS",
	"NATURAL", "NOT", "NULL", "OF", "ON", "OR", "ORDER", "ORGANIZATION",
	"PARTITION", "QUALIFY", "REGEXP", "REVOKE", "RIGHT", "RLIKE", "ROW",
	"ROWS", "SAMPLE", "SCHEMA", "SELECT", "SET", "SOME", "START", "TABLE",
	"TABLESAMPLE", "THEN", "TO", "TRIGGER", "TRUE", "TRY_CAST", "UNION",
	"UNIQUE", "UPDATE", "USING", "VALUE", "VALUES", "VIEW", "WHEN",
	"WHENEVER", "WHERE", "WINDOW", "WITH",
};

static int snowflake_plain(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return 0;
	for (size_t i = 0; i < sizeof(snowflake_reserved) / sizeof(*snowflake_reserved); i++)
		if (strcasecmp(s, snowflake_reserved[i]) == 0)
			return 0;
	return 1;
}

static void quote_with(struct dw_buf *b, char q, const char *s)
{
	dw_buf_putc(b, q);
	for (const char *p = s; *p; p++) {
		if (*p == q)
			dw_buf_putc(b, q);
		dw_buf_putc(b, *p);
	}
	dw_buf_putc(b, q);
}

void dw_ddl_quote_ident(struct dw_buf *b, enum dw_ddl_dialect d, const char *name)
{
	switch (d) {
	case DW_DDL_SNOWFLAKE:
		if (snowflake_plain(name))
			dw_buf_puts(b, name);
		else
			quote_with(b, '"', name);
		break;
	case DW_DDL_ATHENA:
	case DW_DDL_GLUE:
		quote_with(b, '`', name);
		break;
	case DW_DDL_REDSHIFT:
		quote_with(b, '"', name);
		break;
	}
}

/* Every dialect here reads a backslash as an escape inside literals;
 * Hive DDL (Athena) escapes the quote with one too, the others double it.
 * Control characters were refused when the request was read, except the
 * tab a delimiter may be. */
void dw_ddl_quote_literal(struct dw_buf *b, enum dw_ddl_dialect d, const char *s)
{
	dw_buf_putc(b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\\')
			dw_buf_puts(b, "\\\\");
		else if (*p == '\'')
			dw_buf_puts(b, is_hive(d) && d != DW_DDL_REDSHIFT ? "\\'" : "''");
		else if (*p == '\t')
			dw_buf_puts(b, "\\t");
		else
			dw_buf_putc(b, *p);
	}
	dw_buf_putc(b, '\'');
}

/* database.schema.name in t's dialect, for the table (put_qualified) or
 * another object beside it (a Snowpipe). */
static void put_qualified_as(struct dw_buf *b, const struct dw_ddl_table *t, const char *name)
{
	const char *db = t->database, *sch = t->schema;

	if (t->dialect == DW_DDL_ATHENA || t->dialect == DW_DDL_GLUE)
		sch = NULL, db = db ? db : t->schema;
	else if (t->dialect == DW_DDL_REDSHIFT)
		db = NULL, sch = sch ? sch : t->database;
	if (db) {
		dw_ddl_quote_ident(b, t->dialect, db);
		dw_buf_putc(b, '.');
	}
	if (sch) {
		dw_ddl_quote_ident(b, t->dialect, sch);
		dw_buf_putc(b, '.');
	}
	dw_ddl_quote_ident(b, t->dialect, name);
}

static void put_qualified(struct dw_buf *b, const struct dw_ddl_table *t)
{
	put_qualified_as(b, t, t->name);
}

/* -------------------------------------------------------------- types --- */

const char *dw_ddl_dialect_name(enum dw_ddl_dialect d)
{
	return (size_t)d < sizeof(dialect_names) / sizeof(*dialect_names) ? dialect_names[d] : "";
}

int dw_ddl_parse_type(const char *s, const char *field, struct dw_ddl_type *out)
{
	int p = 0, sc = 0, n = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < NKINDS; i++)
		if (i != DW_TY_DECIMAL && strcasecmp(s, kind_names[i]) == 0) {
			out->kind = (enum dw_ddl_kind)i;
			return 0;
		}
	if (strcasecmp(s, "integer") == 0) {
		out->kind = DW_TY_INT;
		return 0;
	}
	if (strncasecmp(s, "decimal", 7) == 0 &&
	    (sscanf(s + 7, " ( %d , %d )%n", &p, &sc, &n) == 2 ||
	     (sc = 0, sscanf(s + 7, " ( %d )%n", &p, &n) == 1)) &&
	    s[7 + n] == '\0') {
		if (p < 1 || p > 38 || sc < 0 || sc > p)
			return dw_invalid(field, "%s: decimal precision must be 1..38 and scale 0..precision", field);
		out->kind = DW_TY_DECIMAL;
		out->precision = p;
		out->scale = sc;
		return 0;
	}
	return dw_invalid(field, "%s: unknown type \"%s\" (string, int, bigint, double, float, boolean, date, timestamp, decimal(p,s))",
			  field, s);
}

void dw_ddl_type_name(const struct dw_ddl_type *t, char out[32])
{
	if (t->kind == DW_TY_DECIMAL)
		snprintf(out, 32, "decimal(%d,%d)", t->precision, t->scale);
	else
		snprintf(out, 32, "%s", kind_names[t->kind]);
}

static void put_type(struct dw_buf *b, enum dw_ddl_dialect d, const struct dw_ddl_type *t)
{
	static const char *const snowflake[] = {
		"VARCHAR", "INT", "BIGINT", "DOUBLE", "FLOAT", "BOOLEAN", "DATE",
		"TIMESTAMP_NTZ", "NUMBER",
	};
	static const char *const redshift[] = {
		"VARCHAR(65535)", "INT", "BIGINT", "DOUBLE PRECISION", "REAL",
		"BOOLEAN", "DATE", "TIMESTAMP", "DECIMAL",
	};

	if (d == DW_DDL_SNOWFLAKE)
		dw_buf_puts(b, snowflake[t->kind]);
	else if (d == DW_DDL_REDSHIFT)
		dw_buf_puts(b, redshift[t->kind]);
	else
		dw_buf_puts(b, kind_names[t->kind]);
	if (t->kind == DW_TY_DECIMAL)
		dw_buf_printf(b, "(%d,%d)", t->precision, t->scale);
}

/* ------------------------------------------------------ the request --- */

static int check_text(const char *s, const char *field)
{
	if (!*s)
		return dw_invalid(field, "%s must not be empty", field);
	if (strlen(s) > 1024)
		return dw_invalid(field, "%s is too long", field);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return dw_invalid(field, "%s must not hold control characters", field);
	return 0;
}

/* A copy of s (NULL: not given) into *out, once checked. */
static int take_text(const char *s, const char *field, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	if (check_text(s, field))
		return -1;
	*out = dw_xstrdup(s);
	return 0;
}

static void split_path(const char *s, char ***out, size_t *n)
{
	const char *p = s;

	*n = 0;
	*out = NULL;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		*out = dw_xrealloc(*out, (*n + 1) * sizeof(char *));
		(*out)[(*n)++] = dw_xstrndup(p, len);
		if (!dot)
			break;
		p = dot + 1;
	}
}

static int name_taken(const struct dw_ddl_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncolumns; i++)
		if (strcasecmp(t->columns[i].name, name) == 0)
			return 1;
	for (size_t i = 0; i < t->npartitions; i++)
		if (strcasecmp(t->partitions[i].name, name) == 0)
			return 1;
	return 0;
}

int dw_ddl_add_column(struct dw_ddl_table *t, const char *name,
		      const struct dw_ddl_type *type, const char *path,
		      long long present, const char *field)
{
	char where[200];
	struct dw_ddl_column *c;

	snprintf(where, sizeof(where), "%s.name", field);
	if (t->ncolumns + t->npartitions >= DW_DDL_MAX_COLUMNS)
		return dw_invalid("columns", "more than %d columns (partitions included): a table "
				  "that wide is refused", DW_DDL_MAX_COLUMNS);
	if (check_text(name, where))
		return -1;
	if (name_taken(t, name))
		return dw_invalid(where, "%s: column \"%s\" is named twice (names are case-insensitive)",
				  where, name);
	snprintf(where, sizeof(where), "%s.path", field);
	if (path && *path) {
		if (check_text(path, where))
			return -1;
		if (path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
			return dw_invalid(where, "%s: \"%s\" has an empty key", where, path);
	}
	t->columns = dw_xrealloc(t->columns, (t->ncolumns + 1) * sizeof(*t->columns));
	c = &t->columns[t->ncolumns++];
	memset(c, 0, sizeof(*c));
	c->name = dw_xstrdup(name);
	c->type = *type;
	c->present = present;
	if (path && *path) {
		split_path(path, &c->path, &c->npath);
	} else {
		c->path = dw_xmalloc(sizeof(char *));
		c->path[0] = dw_xstrdup(name);
		c->npath = 1;
	}
	return 0;
}

static int parse_columns(struct dw_ddl_table *t, const cJSON *arr)
{
	char field[64], tfield[80];
	struct dw_ddl_type ty;
	struct dw_ddl_column_req c;
	size_t i = 0;
	const cJSON *v;

	for (v = arr ? arr->child : NULL; v; v = v->next, i++) {
		snprintf(field, sizeof(field), "columns[%zu]", i);
		snprintf(tfield, sizeof(tfield), "%s.type", field);
		if (dw_req_bind_at(v, dw_ddl_column_fields, field, &c) ||
		    dw_ddl_parse_type(c.type, tfield, &ty) ||
		    dw_ddl_add_column(t, c.name, &ty, c.path, -1, field))
			return -1;
	}
	return 0;
}

/* Java-style date formats (what Athena projection takes), limited to the
 * letters Snowflake can be told as well. */
static int check_date_format(const char *f, const char *field)
{
	if (check_text(f, field))
		return -1;
	for (const char *p = f; *p; p++)
		if (!strchr("yMdHms-/_:. ", *p))
			return dw_invalid(field, "%s: \"%c\" is not supported in a date format (use y M d H m s and - / _ : . space)",
					  field, *p);
	return 0;
}

static int parse_partition(struct dw_ddl_table *t, const cJSON *p, size_t i)
{
	struct dw_ddl_partition *part = &t->partitions[i];
	struct dw_ddl_partition_req q;
	char f[64], w[96];

	snprintf(f, sizeof(f), "partitions[%zu]", i);
	if (dw_req_bind_at(p, dw_ddl_partition_fields, f, &q))
		return -1;
	snprintf(w, sizeof(w), "%s.name", f);
	if (check_text(q.name, w))
		return -1;
	if (name_taken(t, q.name))
		return dw_invalid(w, "%s: \"%s\" is also a column or another partition", w, q.name);
	part->name = dw_xstrdup(q.name);
	t->npartitions = i + 1;
	snprintf(w, sizeof(w), "%s.type", f);
	if (dw_ddl_parse_type(q.type, w, &part->type))
		return -1;
	/* A segment given is bounded by the table; its position may not be. */
	snprintf(w, sizeof(w), "%s.segment", f);
	long long seg = q.segment ? q.segment : (long long)i + 1;
	if (seg > MAX_SEGMENT)
		return dw_invalid(w, "%s: segment %lld is out of range (1..%d, counted below the location)",
				  w, seg, MAX_SEGMENT);
	part->segment = (int)seg;
	snprintf(w, sizeof(w), "%s.key", f);
	if (take_text(q.key, w, &part->key))
		return -1;
	if (part->key && strpbrk(part->key, "/="))
		return dw_invalid(w, "%s must not hold \"/\" or \"=\"", w);
	/* Bounded by the table (start 1..1024 when given, length 0..1024). */
	part->sub_start = q.substring.start;
	part->sub_length = q.substring.length;
	snprintf(w, sizeof(w), "%s.format", f);
	if (take_text(q.format, w, &part->format) ||
	    (part->format && check_date_format(part->format, w)))
		return -1;
	if (part->format && part->type.kind != DW_TY_DATE && part->type.kind != DW_TY_TIMESTAMP)
		return dw_invalid(w, "%s is only for date and timestamp partitions", w);
	snprintf(w, sizeof(w), "%s.range", f);
	if (take_text(q.range, w, &part->range))
		return -1;
	snprintf(w, sizeof(w), "%s.interval", f);
	if (take_text(q.interval, w, &part->interval))
		return -1;
	snprintf(w, sizeof(w), "%s.unit", f);
	if (take_text(q.unit, w, &part->unit))
		return -1;
	size_t k = 0;
	for (const cJSON *v = q.values ? q.values->child : NULL; v; v = v->next, k++) {
		snprintf(w, sizeof(w), "%s.values[%zu]", f, k);
		if (check_text(cJSON_GetStringValue(v), w))
			return -1;
		part->values = dw_xrealloc(part->values, (part->nvalues + 1) * sizeof(char *));
		part->values[part->nvalues++] = dw_xstrdup(cJSON_GetStringValue(v));
	}
	return 0;
}

static int parse_partitions(struct dw_ddl_table *t, const cJSON *arr)
{
	size_t n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0, i = 0;

	if (n == 0)
		return 0;
	t->partitions = dw_xcalloc(n, sizeof(*t->partitions));
	for (const cJSON *p = arr->child; p; p = p->next, i++)
		if (parse_partition(t, p, i))
			return -1;
	return 0;
}

static int parse_location(struct dw_ddl_table *t, const struct dw_ddl_req *q)
{
	const char *loc = q->location;
	size_t n;

	if (!loc)
		return 0;
	if (check_text(loc, "location"))
		return -1;
	if (strncmp(loc, "s3://", 5) != 0 || loc[5] == '/' || loc[5] == '\0')
		return dw_invalid("location", "location must be s3://bucket/prefix/, not \"%s\"", loc);
	n = strlen(loc);
	t->location = dw_xasprintf("%s%s", loc, loc[n - 1] == '/' ? "" : "/");
	return 0;
}

/* "name" or "db.schema.name", then an optional "/sub/path/". */
static int parse_stage(struct dw_ddl_table *t, const struct dw_ddl_req *q)
{
	const char *s = q->stage;
	const char *slash;

	if (!s)
		return dw_invalid("stage", "snowflake needs the stage the files are in (\"stage\": \"name[/sub/path]\")");
	if (check_text(s, "stage"))
		return -1;
	slash = strchr(s, '/');
	for (const char *p = s; *p && p != slash; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '$' || *p == '.'))
			return dw_invalid("stage", "stage name \"%.*s\" may hold letters, digits, _, $ and dots between parts",
					  (int)(slash ? slash - s : (long)strlen(s)), s);
	if (s[0] == '.' || s[0] == '/' || strstr(s, "..") || (slash && slash[-1] == '.'))
		return dw_invalid("stage", "stage name \"%s\" has an empty part", s);
	for (const char *p = slash; p && *p; p++) {
		if (!(isalnum((unsigned char)*p) || strchr("_-=./", *p)))
			return dw_invalid("stage", "stage path may hold letters, digits and _ - = . / only");
		if (*p == '/' && p[1] && p[1] != '/')
			t->stage_depth++;
	}
	t->stage = dw_xstrdup(s);
	return 0;
}

/* create_stage and file_format were given when their required member is
 * set. */
static int parse_snowflake(struct dw_ddl_table *t, const struct dw_ddl_req *q)
{
	const struct dw_ddl_stage_req *cs = &q->create_stage;
	const struct dw_ddl_file_format_req *ff = &q->file_format;

	if (parse_stage(t, q))
		return -1;
	if (cs->storage_integration) {
		if (take_text(cs->storage_integration, "create_stage.storage_integration",
			      &t->storage_integration) ||
		    take_text(cs->url, "create_stage.url", &t->stage_url))
			return -1;
		if (!t->stage_url && t->location)
			t->stage_url = dw_xstrdup(t->location);
		if (!t->stage_url || strncmp(t->stage_url, "s3://", 5) != 0)
			return dw_invalid("create_stage.url", "create_stage needs an s3:// url (or a location)");
		if (strchr(t->stage, '/'))
			return dw_invalid("stage", "create_stage names the stage itself: give \"stage\" without a /sub/path");
	}
	if (ff->name) {
		if (take_text(ff->name, "file_format.name", &t->file_format_name))
			return -1;
		t->create_file_format = ff->create;
	}
	return 0;
}

static void take_map(const cJSON *m, struct dw_kvlist *out)
{
	const cJSON *v;
	long long n;

	if (!cJSON_IsObject(m))
		return;
	cJSON_ArrayForEach(v, m) {
		const char *k = v->string;
		if (cJSON_IsString(v))
			dw_kv_add(out, k, v->valuestring);
		else if (cJSON_IsBool(v))
			dw_kv_add(out, k, cJSON_IsTrue(v) ? "true" : "false");
		else if (dw_json_int(v, &n) == 0)
			dw_kv_addf(out, k, "%lld", n);
		else if (cJSON_IsNumber(v))
			dw_kv_addf(out, k, "%.17g", v->valuedouble);
	}
}

static int check_map(const struct dw_kvlist *l, const char *field)
{
	char w[200];

	for (size_t i = 0; i < l->n; i++) {
		snprintf(w, sizeof(w), "%s.%s", field, l->items[i].key);
		if (check_text(l->items[i].key, w) ||
		    (*l->items[i].value && check_text(l->items[i].value, w)))
			return -1;
	}
	return 0;
}

static int parse_options(struct dw_ddl_table *t, const struct dw_ddl_options_req *o)
{
	t->auto_refresh = o->auto_refresh != 0; /* -1 (not given): true */
	t->projection = o->projection;
	t->replace = o->replace;
	t->create_database = o->create_database;
	if (t->create_database && t->dialect != DW_DDL_ATHENA && t->dialect != DW_DDL_GLUE)
		return dw_invalid("options.create_database", "create_database is for athena and glue");
	if (take_text(o->pattern, "options.pattern", &t->pattern) ||
	    take_text(o->aws_sns_topic, "options.aws_sns_topic", &t->sns_topic) ||
	    take_text(o->comment, "options.comment", &t->comment))
		return -1;
	take_map(o->table_properties, &t->table_properties);
	take_map(o->serde_properties, &t->serde_properties);
	if (check_map(&t->table_properties, "options.table_properties") ||
	    check_map(&t->serde_properties, "options.serde_properties"))
		return -1;
	if (t->dialect == DW_DDL_REDSHIFT && t->serde_properties.n)
		return dw_invalid("options.serde_properties", "serde_properties are not supported for redshift");
	if (t->dialect != DW_DDL_SNOWFLAKE &&
	    (t->pattern || t->sns_topic || o->auto_refresh >= 0))
		return dw_invalid("options", "auto_refresh, pattern and aws_sns_topic are snowflake options");
	return 0;
}

/* format is an index into DW_DDL_FORMATS (checked by the binding); header
 * -1 was not given. */
static int parse_format(struct dw_ddl_table *t, const struct dw_ddl_req *q)
{
	const char *d = q->delimiter;

	if (q->format < 0 || (size_t)q->format >= sizeof(format_names) / sizeof(*format_names))
		return dw_invalid("format", "format must be one of: json, avro, parquet, csv");
	t->format = (enum dw_ddl_format)q->format;
	t->header = q->header > 0;
	if (t->format != DW_FMT_CSV && (d || q->header >= 0))
		return dw_invalid(d ? "delimiter" : "header", "delimiter and header are for csv");
	if (d && (strlen(d) != 1 || ((unsigned char)*d < 0x20 && *d != '\t') ||
		  strchr("'\"\\", *d)))
		return dw_invalid("delimiter", "delimiter must be one printable character (or a tab) other than quotes and backslash");
	t->delimiter = d ? *d : ',';
	return 0;
}

/* Every partition to add names each partition column once, with a value
 * that can be a path segment. */
static int check_add_partitions(const struct dw_ddl_table *t)
{
	char w[200];
	size_t i = 0;
	const cJSON *row;
	long long n;

	if (!t->add_partitions)
		return 0;
	if (t->dialect == DW_DDL_SNOWFLAKE || t->dialect == DW_DDL_GLUE ||
	    (t->dialect == DW_DDL_ATHENA && t->projection))
		return dw_invalid("add_partitions", "add_partitions is for redshift, and athena with options.projection false");
	for (row = t->add_partitions->child; row; row = row->next, i++) {
		const cJSON *v;
		size_t nkeys = 0;
		cJSON_ArrayForEach(v, row) {
			const char *k = v->string;
			size_t j;
			nkeys++;
			snprintf(w, sizeof(w), "add_partitions[%zu].%s", i, k);
			for (j = 0; j < t->npartitions; j++)
				if (strcmp(t->partitions[j].name, k) == 0)
					break;
			if (j == t->npartitions)
				return dw_invalid(w, "%s: no partition is named \"%s\"", w, k);
			if (!cJSON_IsString(v) && dw_json_int(v, &n) != 0)
				return dw_invalid(w, "%s must be a string or an integer", w);
			if (cJSON_IsString(v) && (check_text(v->valuestring, w) ||
						  strchr(v->valuestring, '/')))
				return dw_invalid(w, "%s must be one path segment", w);
		}
		if (nkeys != t->npartitions) {
			snprintf(w, sizeof(w), "add_partitions[%zu]", i);
			return dw_invalid(w, "%s must give a value for each of the %zu partitions", w,
					  t->npartitions);
		}
	}
	return 0;
}

void dw_ddl_table_init(struct dw_ddl_table *t)
{
	memset(t, 0, sizeof(*t));
	dw_kv_init(&t->table_properties);
	dw_kv_init(&t->serde_properties);
}

int dw_ddl_table_parse(struct dw_ddl_table *t, const struct dw_ddl_req *q)
{
	/* The binding has checked the choice; a struct filled otherwise may
	 * not have. */
	if (q->dialect < 0 || (size_t)q->dialect >= sizeof(dialect_names) / sizeof(*dialect_names))
		return dw_invalid("dialect", "dialect must be one of: snowflake, athena, redshift, glue");
	t->dialect = (enum dw_ddl_dialect)q->dialect;
	if (!q->table)
		return dw_invalid("table", "table is required");
	if (take_text(q->table, "table", &t->name) ||
	    take_text(q->database, "database", &t->database) ||
	    take_text(q->schema, "schema", &t->schema) ||
	    parse_format(t, q) || parse_location(t, q) || parse_options(t, &q->options))
		return -1;
	if (t->dialect == DW_DDL_SNOWFLAKE ? parse_snowflake(t, q) :
	    (q->stage || q->create_stage.storage_integration || q->file_format.name) ?
	    dw_invalid("stage", "stage, create_stage and file_format are snowflake fields") : 0)
		return -1;
	if ((t->dialect == DW_DDL_ATHENA || t->dialect == DW_DDL_GLUE) && !t->database && !t->schema)
		return dw_invalid("database", "%s needs the database the table goes in",
				  dialect_names[t->dialect]);
	if (t->dialect == DW_DDL_REDSHIFT && !t->database && !t->schema)
		return dw_invalid("schema", "redshift needs the external schema the table goes in");
	/* Counted before any is read: the checks compare names pairwise. */
	if ((long long)cJSON_GetArraySize(q->columns) + cJSON_GetArraySize(q->partitions) >
	    DW_DDL_MAX_COLUMNS)
		return dw_invalid("columns", "more than %d columns (partitions included): a table "
				  "that wide is refused", DW_DDL_MAX_COLUMNS);
	if (parse_partitions(t, q->partitions) || parse_columns(t, q->columns))
		return -1;
	/* A copy the table owns: it may outlive the request. */
	if (cJSON_IsArray(q->add_partitions))
		t->add_partitions = cJSON_Duplicate(q->add_partitions, 1);
	return check_add_partitions(t);
}

void dw_ddl_table_release(struct dw_ddl_table *t)
{
	for (size_t i = 0; i < t->ncolumns; i++) {
		free(t->columns[i].name);
		for (size_t k = 0; k < t->columns[i].npath; k++)
			free(t->columns[i].path[k]);
		free(t->columns[i].path);
	}
	free(t->columns);
	for (size_t i = 0; i < t->npartitions; i++) {
		struct dw_ddl_partition *p = &t->partitions[i];
		free(p->name);
		free(p->key);
		free(p->format);
		free(p->range);
		free(p->interval);
		free(p->unit);
		for (size_t k = 0; k < p->nvalues; k++)
			free(p->values[k]);
		free(p->values);
	}
	free(t->partitions);
	free(t->database);
	free(t->schema);
	free(t->name);
	free(t->location);
	free(t->stage);
	free(t->stage_url);
	free(t->storage_integration);
	free(t->file_format_name);
	free(t->pattern);
	free(t->sns_topic);
	free(t->comment);
	dw_kv_release(&t->table_properties);
	dw_kv_release(&t->serde_properties);
	cJSON_Delete(t->add_partitions);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------- Hive family: column tree --- */

/* Athena, Redshift and Glue have no column expressions: a nested path is a
 * struct column named after its first key, holding the rest. */
struct node {
	const char *name;
	const struct dw_ddl_type *type; /* leaf; NULL for a struct */
	struct node *kids;
	size_t nkids;
};

static void node_release(struct node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_release(&n->kids[i]);
	free(n->kids);
}

static struct node *node_kid(struct node *n, const char *name)
{
	for (size_t i = 0; i < n->nkids; i++)
		if (strcasecmp(n->kids[i].name, name) == 0)
			return &n->kids[i];
	n->kids = dw_xrealloc(n->kids, (n->nkids + 1) * sizeof(*n->kids));
	memset(&n->kids[n->nkids], 0, sizeof(*n->kids));
	n->kids[n->nkids].name = name;
	return &n->kids[n->nkids++];
}

static int tree_add(struct node *root, const struct dw_ddl_column *c, size_t idx,
		    const char *top)
{
	struct node *n = root;
	char w[64];

	snprintf(w, sizeof(w), "columns[%zu].path", idx);
	for (size_t k = 0; k < c->npath; k++) {
		struct node *kid = node_kid(n, k == 0 ? top : c->path[k]);
		int last = k + 1 == c->npath;
		if (kid->type || (last && kid->nkids))
			return dw_invalid(w, "%s: column \"%s\" overlaps another column's path", w, c->name);
		if (last)
			kid->type = &c->type;
		n = kid;
	}
	return 0;
}

static int build_tree(const struct dw_ddl_table *t, struct node *root)
{
	char w[64];

	memset(root, 0, sizeof(*root));
	for (size_t i = 0; i < t->ncolumns; i++) {
		const struct dw_ddl_column *c = &t->columns[i];
		const char *top = c->path[0];
		snprintf(w, sizeof(w), "columns[%zu].path", i);
		/* A top-level key under another name: only the JSON SerDe of
		 * Athena/Glue can map it. */
		if (c->npath == 1 && strcmp(c->path[0], c->name) != 0) {
			if (t->format != DW_FMT_JSON || t->dialect == DW_DDL_REDSHIFT) {
				node_release(root);
				return dw_invalid(w, "%s: %s %s reads columns by their key: name the column \"%s\"",
						  w, dialect_names[t->dialect], format_names[t->format], c->path[0]);
			}
			top = c->name;
		}
		if (tree_add(root, c, i, top)) {
			node_release(root);
			return -1;
		}
	}
	return 0;
}

/* Struct field names: Athena DDL quotes them all (keywords included);
 * Glue type strings and Redshift keep plain ones as they are, quoting
 * others as Athena's type parser takes them. */
static void put_field_name(struct dw_buf *b, enum dw_ddl_dialect d, const char *name)
{
	int plain = d != DW_DDL_ATHENA && (isalpha((unsigned char)*name) || *name == '_');

	for (const char *p = name; *p; p++)
		plain = plain && (isalnum((unsigned char)*p) || *p == '_');
	if (plain)
		dw_buf_puts(b, name);
	else
		dw_ddl_quote_ident(b, d == DW_DDL_REDSHIFT ? DW_DDL_REDSHIFT : DW_DDL_ATHENA, name);
}

static void put_node_type(struct dw_buf *b, enum dw_ddl_dialect d, const struct node *n)
{
	if (n->type) {
		put_type(b, d, n->type);
		return;
	}
	dw_buf_puts(b, d == DW_DDL_REDSHIFT ? "STRUCT<" : "struct<");
	for (size_t i = 0; i < n->nkids; i++) {
		if (i)
			dw_buf_putc(b, ',');
		put_field_name(b, d, n->kids[i].name);
		dw_buf_putc(b, ':');
		put_node_type(b, d, &n->kids[i]);
	}
	dw_buf_putc(b, '>');
}

static cJSON *avro_logical(const char *type, const char *logical)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "logicalType", logical);
	return o;
}

static cJSON *avro_leaf(const struct dw_ddl_type *t)
{
	static const char *const prim[] = {
		"string", "int", "long", "double", "float", "boolean",
	};
	cJSON *o;

	switch (t->kind) {
	case DW_TY_DATE:
		return avro_logical("int", "date");
	case DW_TY_TIMESTAMP:
		return avro_logical("long", "timestamp-millis");
	case DW_TY_DECIMAL:
		o = avro_logical("bytes", "decimal");
		dw_json_add_int(o, "precision", t->precision);
		dw_json_add_int(o, "scale", t->scale);
		return o;
	default:
		return cJSON_CreateString(prim[t->kind]);
	}
}

/* An Avro record schema for the Avro SerDe: every field nullable. */
static cJSON *avro_record(const struct node *n, const char *name)
{
	cJSON *rec = cJSON_CreateObject(), *fields;

	cJSON_AddStringToObject(rec, "type", "record");
	cJSON_AddStringToObject(rec, "name", name);
	fields = cJSON_AddArrayToObject(rec, "fields");

	for (size_t i = 0; i < n->nkids; i++) {
		const struct node *k = &n->kids[i];
		char *sub = dw_xasprintf("%s_%s", name, k->name);
		/* Avro type names are [A-Za-z0-9_]; field names stay as given */
		for (char *p = sub; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				*p = '_';
		cJSON *f = cJSON_CreateObject(), *ty;
		cJSON_AddStringToObject(f, "name", k->name);
		ty = cJSON_AddArrayToObject(f, "type");
		cJSON_AddItemToArray(ty, cJSON_CreateString("null"));
		cJSON_AddItemToArray(ty, k->type ? avro_leaf(k->type) : avro_record(k, sub));
		cJSON_AddNullToObject(f, "default");
		cJSON_AddItemToArray(fields, f);
		free(sub);
	}
	return rec;
}

/* ------------------------------------------ Hive family: storage, etc --- */

struct hive_storage {
	const char *serde, *input, *output, *classification;
	struct dw_kvlist serde_params, table_params;
};

static const char TEXT_IN[] = "org.apache.hadoop.mapred.TextInputFormat";
static const char TEXT_OUT[] = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

static void partition_template(struct dw_buf *b, const struct dw_ddl_table *t)
{
	dw_buf_puts(b, t->location);
	for (size_t i = 0; i < t->npartitions; i++) {
		if (t->partitions[i].key)
			dw_buf_printf(b, "%s=", t->partitions[i].key);
		dw_buf_printf(b, "${%s}/", t->partitions[i].name);
	}
}

/* key_fmt holds one %s, for the partition's name. */
static void kv_add_named(struct dw_kvlist *l, const char *key_fmt, const char *name,
			 const char *value)
{
	char *key = dw_xasprintf(key_fmt, name);

	dw_kv_add(l, key, value);
	free(key);
}

static const char *projection_type(const struct dw_ddl_partition *p)
{
	switch (p->type.kind) {
	case DW_TY_DATE:
	case DW_TY_TIMESTAMP: return "date";
	case DW_TY_INT:
	case DW_TY_BIGINT: return "integer";
	case DW_TY_STRING: return p->nvalues ? "enum" : "injected";
	default: return NULL;
	}
}

static int add_projection(const struct dw_ddl_table *t, struct dw_kvlist *params)
{
	struct dw_buf tmpl;
	char w[64];

	dw_kv_add(params, "projection.enabled", "true");
	for (size_t i = 0; i < t->npartitions; i++) {
		const struct dw_ddl_partition *p = &t->partitions[i];
		const char *type = projection_type(p);
		snprintf(w, sizeof(w), "partitions[%zu]", i);
		if (!type)
			return dw_invalid(w, "%s: a %s partition cannot be projected (set options.projection false)",
					  w, kind_names[p->type.kind]);
		if (p->type.kind != DW_TY_STRING && !p->range)
			return dw_invalid(w, "%s: projecting a %s partition needs its range, e.g. %s",
					  w, kind_names[p->type.kind],
					  strcmp(type, "date") == 0 ? "\"2019-01-01,NOW\"" : "\"0,23\"");
		kv_add_named(params, "projection.%s.type", p->name, type);
		if (p->range)
			kv_add_named(params, "projection.%s.range", p->name, p->range);
		if (strcmp(type, "date") == 0)
			kv_add_named(params, "projection.%s.format", p->name,
				     p->format ? p->format : p->type.kind == DW_TY_DATE ?
				     "yyyy-MM-dd" : "yyyy-MM-dd HH:mm:ss");
		if (p->interval)
			kv_add_named(params, "projection.%s.interval", p->name, p->interval);
		if (p->unit)
			kv_add_named(params, "projection.%s.interval.unit", p->name, p->unit);
		if (p->nvalues) {
			struct dw_buf v;
			dw_buf_init(&v);
			for (size_t k = 0; k < p->nvalues; k++)
				dw_buf_printf(&v, "%s%s", k ? "," : "", p->values[k]);
			kv_add_named(params, "projection.%s.values", p->name, v.data);
			dw_buf_release(&v);
		}
	}
	dw_buf_init(&tmpl);
	partition_template(&tmpl, t);
	dw_kv_add(params, "storage.location.template", tmpl.data);
	dw_buf_release(&tmpl);
	return 0;
}

static int check_hive_partitions(const struct dw_ddl_table *t)
{
	char w[64];

	for (size_t i = 0; i < t->npartitions; i++) {
		const struct dw_ddl_partition *p = &t->partitions[i];
		snprintf(w, sizeof(w), "partitions[%zu].substring", i);
		if (p->sub_start)
			return dw_invalid(w, "%s: %s reads partitions from whole directory names; substring is snowflake-only",
					  w, dialect_names[t->dialect]);
		snprintf(w, sizeof(w), "partitions[%zu].segment", i);
		if (p->segment != (int)i + 1)
			return dw_invalid(w, "%s: %s partitions are the directories right below the location, in order: partition %zu must be segment %zu (move the location down instead)",
					  w, dialect_names[t->dialect], i + 1, i + 1);
	}
	return 0;
}

int dw_ddl_check_columns(const struct dw_ddl_table *t)
{
	if (is_hive(t->dialect) && !t->location)
		return dw_invalid("location", "location (s3://bucket/prefix/) is required for %s",
				  dialect_names[t->dialect]);
	if (t->ncolumns == 0)
		return dw_invalid("columns", "the table has no columns: give columns, or infer them");
	for (size_t i = 0; i < t->ncolumns; i++) {
		const struct dw_ddl_column *c = &t->columns[i];
		char w[64];
		snprintf(w, sizeof(w), "columns[%zu].path", i);
		if (t->format == DW_FMT_CSV && (c->npath != 1 || strcmp(c->path[0], c->name) != 0))
			return dw_invalid(w, "%s: csv columns are read by position; a path does not apply", w);
	}
	if (is_hive(t->dialect)) {
		struct node root;
		if (check_hive_partitions(t) || build_tree(t, &root))
			return -1;
		node_release(&root);
	}
	return 0;
}

static void hive_storage_release(struct hive_storage *s)
{
	dw_kv_release(&s->serde_params);
	dw_kv_release(&s->table_params);
}

static int hive_storage(const struct dw_ddl_table *t, const struct node *root,
			struct hive_storage *s)
{
	memset(s, 0, sizeof(*s));
	dw_kv_init(&s->serde_params);
	dw_kv_init(&s->table_params);
	s->classification = format_names[t->format];
	s->input = TEXT_IN;
	s->output = TEXT_OUT;
	switch (t->format) {
	case DW_FMT_JSON:
		s->serde = "org.openx.data.jsonserde.JsonSerDe";
		for (size_t i = 0; i < t->ncolumns; i++) {
			const struct dw_ddl_column *c = &t->columns[i];
			if (c->npath == 1 && strcmp(c->path[0], c->name) != 0)
				kv_add_named(&s->serde_params, "mapping.%s", c->name, c->path[0]);
		}
		break;
	case DW_FMT_AVRO: {
		s->serde = "org.apache.hadoop.hive.serde2.avro.AvroSerDe";
		s->input = "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat";
		s->output = "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat";
		cJSON *schema = avro_record(root, "record");
		char *text = dw_json_print(schema);
		dw_kv_add(&s->serde_params, "avro.schema.literal", text ? text : "");
		cJSON_free(text);
		cJSON_Delete(schema);
		break;
	}
	case DW_FMT_PARQUET:
		s->serde = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
		s->input = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
		s->output = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
		break;
	case DW_FMT_CSV: {
		char d[2] = { t->delimiter, '\0' };
		s->serde = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
		dw_kv_add(&s->serde_params, "field.delim", d);
		break;
	}
	}
	for (size_t i = 0; i < t->serde_properties.n; i++)
		dw_kv_add(&s->serde_params, t->serde_properties.items[i].key,
			  t->serde_properties.items[i].value);
	if (t->dialect == DW_DDL_GLUE)
		dw_kv_add(&s->table_params, "EXTERNAL", "TRUE");
	dw_kv_add(&s->table_params, "classification", s->classification);
	if (t->format == DW_FMT_CSV && t->header)
		dw_kv_add(&s->table_params, "skip.header.line.count", "1");
	if (t->dialect != DW_DDL_REDSHIFT && t->projection && t->npartitions &&
	    add_projection(t, &s->table_params)) {
		hive_storage_release(s);
		return -1;
	}
	for (size_t i = 0; i < t->table_properties.n; i++)
		dw_kv_add(&s->table_params, t->table_properties.items[i].key,
			  t->table_properties.items[i].value);
	return 0;
}

static void put_properties(struct dw_buf *b, enum dw_ddl_dialect d, const struct dw_kvlist *l)
{
	dw_buf_puts(b, "(");
	for (size_t i = 0; i < l->n; i++) {
		dw_buf_puts(b, i ? ",\n  " : "\n  ");
		dw_ddl_quote_literal(b, d, l->items[i].key);
		dw_buf_putc(b, '=');
		dw_ddl_quote_literal(b, d, l->items[i].value);
	}
	dw_buf_puts(b, ")");
}

static void put_hive_columns(struct dw_buf *b, const struct dw_ddl_table *t, const struct node *root)
{
	dw_buf_puts(b, " (");
	for (size_t i = 0; i < root->nkids; i++) {
		dw_buf_puts(b, i ? ",\n  " : "\n  ");
		dw_ddl_quote_ident(b, t->dialect, root->kids[i].name);
		dw_buf_putc(b, ' ');
		put_node_type(b, t->dialect, &root->kids[i]);
	}
	dw_buf_puts(b, "\n)");
	if (t->comment && t->dialect == DW_DDL_ATHENA) {
		dw_buf_puts(b, "\nCOMMENT ");
		dw_ddl_quote_literal(b, t->dialect, t->comment);
	}
	if (t->npartitions) {
		dw_buf_puts(b, "\nPARTITIONED BY (");
		for (size_t i = 0; i < t->npartitions; i++) {
			if (i)
				dw_buf_puts(b, ", ");
			dw_ddl_quote_ident(b, t->dialect, t->partitions[i].name);
			dw_buf_putc(b, ' ');
			put_type(b, t->dialect, &t->partitions[i].type);
		}
		dw_buf_puts(b, ")");
	}
}

static void put_drop(struct dw_kvlist *out, const struct dw_ddl_table *t)
{
	struct dw_buf b;

	dw_buf_init(&b);
	dw_buf_puts(&b, t->dialect == DW_DDL_SNOWFLAKE ? "DROP EXTERNAL TABLE IF EXISTS " :
		    "DROP TABLE IF EXISTS ");
	put_qualified(&b, t);
	dw_kv_add(out, "drop_table", b.data);
	dw_buf_release(&b);
}

static void put_add_partitions(struct dw_kvlist *out, const struct dw_ddl_table *t)
{
	const cJSON *row;

	for (row = t->add_partitions ? t->add_partitions->child : NULL; row; row = row->next) {
		struct dw_buf b, loc;
		dw_buf_init(&b);
		dw_buf_init(&loc);
		dw_buf_puts(&loc, t->location);
		dw_buf_puts(&b, "ALTER TABLE ");
		put_qualified(&b, t);
		dw_buf_puts(&b, " ADD IF NOT EXISTS PARTITION (");
		for (size_t k = 0; k < t->npartitions; k++) {
			const struct dw_ddl_partition *p = &t->partitions[k];
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, p->name);
			char num[32];
			long long iv = 0;
			const char *val = cJSON_IsString(v) ? v->valuestring : num;
			dw_json_int(v, &iv); /* checked by check_add_partitions */
			snprintf(num, sizeof(num), "%lld", iv);
			if (k)
				dw_buf_puts(&b, ", ");
			dw_ddl_quote_ident(&b, t->dialect, p->name);
			dw_buf_putc(&b, '=');
			dw_ddl_quote_literal(&b, t->dialect, val);
			dw_buf_printf(&loc, "%s%s%s/", p->key ? p->key : "", p->key ? "=" : "", val);
		}
		dw_buf_puts(&b, ") LOCATION ");
		dw_ddl_quote_literal(&b, t->dialect, loc.data);
		dw_kv_add(out, "add_partition", b.data);
		dw_buf_release(&b);
		dw_buf_release(&loc);
	}
}

static void athena_create(struct dw_buf *b, const struct dw_ddl_table *t,
			  const struct node *root, const struct hive_storage *s)
{
	dw_buf_puts(b, "CREATE EXTERNAL TABLE IF NOT EXISTS ");
	put_qualified(b, t);
	put_hive_columns(b, t, root);
	dw_buf_puts(b, "\nROW FORMAT SERDE ");
	dw_ddl_quote_literal(b, t->dialect, s->serde);
	if (s->serde_params.n) {
		dw_buf_puts(b, "\nWITH SERDEPROPERTIES ");
		put_properties(b, t->dialect, &s->serde_params);
	}
	dw_buf_puts(b, "\nSTORED AS INPUTFORMAT ");
	dw_ddl_quote_literal(b, t->dialect, s->input);
	dw_buf_puts(b, " OUTPUTFORMAT ");
	dw_ddl_quote_literal(b, t->dialect, s->output);
	dw_buf_puts(b, "\nLOCATION ");
	dw_ddl_quote_literal(b, t->dialect, t->location);
	dw_buf_puts(b, "\nTBLPROPERTIES ");
	put_properties(b, t->dialect, &s->table_params);
}

/* Redshift takes neither WITH SERDEPROPERTIES for these formats nor (in
 * sqlglot) TABLE PROPERTIES inside CREATE: the properties follow in an
 * ALTER TABLE ... SET TABLE PROPERTIES, which Redshift documents too. */
static void redshift_create(struct dw_buf *b, const struct dw_ddl_table *t,
			    const struct node *root, const struct hive_storage *s)
{
	char d[2] = { t->delimiter, '\0' };

	dw_buf_puts(b, "CREATE EXTERNAL TABLE ");
	put_qualified(b, t);
	put_hive_columns(b, t, root);
	switch (t->format) {
	case DW_FMT_JSON:
		dw_buf_puts(b, "\nROW FORMAT SERDE ");
		dw_ddl_quote_literal(b, t->dialect, s->serde);
		dw_buf_puts(b, "\nSTORED AS INPUTFORMAT ");
		dw_ddl_quote_literal(b, t->dialect, s->input);
		dw_buf_puts(b, " OUTPUTFORMAT ");
		dw_ddl_quote_literal(b, t->dialect, s->output);
		break;
	case DW_FMT_CSV:
		dw_buf_puts(b, "\nROW FORMAT DELIMITED FIELDS TERMINATED BY ");
		dw_ddl_quote_literal(b, t->dialect, d);
		dw_buf_puts(b, "\nSTORED AS TEXTFILE");
		break;
	case DW_FMT_AVRO: dw_buf_puts(b, "\nSTORED AS AVRO"); break;
	case DW_FMT_PARQUET: dw_buf_puts(b, "\nSTORED AS PARQUET"); break;
	}
	dw_buf_puts(b, "\nLOCATION ");
	dw_ddl_quote_literal(b, t->dialect, t->location);
}

static int hive_statements(const struct dw_ddl_table *t, struct dw_kvlist *out)
{
	struct node root;
	struct hive_storage s;
	struct dw_buf b;

	if (dw_ddl_check_columns(t) || build_tree(t, &root))
		return -1;
	if (hive_storage(t, &root, &s)) {
		node_release(&root);
		return -1;
	}
	dw_buf_init(&b);
	if (t->create_database) {
		dw_buf_puts(&b, "CREATE DATABASE IF NOT EXISTS ");
		dw_ddl_quote_ident(&b, t->dialect, t->database ? t->database : t->schema);
		dw_kv_add(out, "create_database", b.data);
		dw_buf_clear(&b);
	}
	if (t->replace)
		put_drop(out, t);
	if (t->dialect == DW_DDL_ATHENA)
		athena_create(&b, t, &root, &s);
	else
		redshift_create(&b, t, &root, &s);
	dw_kv_add(out, "create_table", b.data);
	if (t->dialect == DW_DDL_REDSHIFT && s.table_params.n > 1) {
		/* classification is Glue's; Redshift has no use for it */
		struct dw_kvlist props;
		dw_kv_init(&props);
		for (size_t i = 0; i < s.table_params.n; i++)
			if (strcmp(s.table_params.items[i].key, "classification") != 0)
				dw_kv_add(&props, s.table_params.items[i].key, s.table_params.items[i].value);
		dw_buf_clear(&b);
		dw_buf_puts(&b, "ALTER TABLE ");
		put_qualified(&b, t);
		dw_buf_puts(&b, " SET TABLE PROPERTIES ");
		put_properties(&b, t->dialect, &props);
		dw_kv_add(out, "set_table_properties", b.data);
		dw_kv_release(&props);
	}
	put_add_partitions(out, t);
	dw_buf_release(&b);
	hive_storage_release(&s);
	node_release(&root);
	return 0;
}

/* ----------------------------------------------------------- Snowflake --- */

static void put_stage_ref(struct dw_buf *b, const char *stage, int with_path)
{
	const char *p = stage;

	for (;;) {
		size_t n = strcspn(p, "./");
		char *part = dw_xstrndup(p, n);
		dw_ddl_quote_ident(b, DW_DDL_SNOWFLAKE, part);
		free(part);
		p += n;
		if (*p != '.')
			break;
		dw_buf_putc(b, '.');
		p++;
	}
	if (with_path)
		dw_buf_puts(b, p);
}

/* Java letters to Snowflake's: yyyy-MM-dd HH:mm:ss -> YYYY-MM-DD HH24:MI:SS */
static void put_snowflake_format(struct dw_buf *b, const char *f)
{
	struct dw_buf s;

	dw_buf_init(&s);
	for (const char *p = f; *p;) {
		size_t run = strspn(p, (char[]){ *p, '\0' });
		switch (*p) {
		case 'y': dw_buf_puts(&s, run == 2 ? "YY" : "YYYY"); break;
		case 'M': dw_buf_puts(&s, "MM"); break;
		case 'd': dw_buf_puts(&s, "DD"); break;
		case 'H': dw_buf_puts(&s, "HH24"); break;
		case 'm': dw_buf_puts(&s, "MI"); break;
		case 's': dw_buf_puts(&s, "SS"); break;
		default: dw_buf_append(&s, p, run); break;
		}
		p += run;
	}
	dw_ddl_quote_literal(b, DW_DDL_SNOWFLAKE, s.data);
	dw_buf_release(&s);
}

static void put_partition_expr(struct dw_buf *b, const struct dw_ddl_table *t,
			       const struct dw_ddl_partition *p)
{
	struct dw_buf e;

	dw_buf_init(&e);
	dw_buf_printf(&e, "SPLIT_PART(METADATA$FILENAME, '/', %d)", p->segment + t->stage_depth);
	if (p->key) {
		char *in = dw_buf_detach(&e);
		dw_buf_printf(&e, "SUBSTR(%s, %zu)", in, strlen(p->key) + 2);
		free(in);
	}
	if (p->sub_start) {
		char *in = dw_buf_detach(&e);
		dw_buf_printf(&e, "SUBSTR(%s, %d", in, p->sub_start);
		if (p->sub_length)
			dw_buf_printf(&e, ", %d", p->sub_length);
		dw_buf_putc(&e, ')');
		free(in);
	}
	switch (p->type.kind) {
	case DW_TY_STRING:
		dw_buf_puts(b, e.data);
		break;
	case DW_TY_DATE:
	case DW_TY_TIMESTAMP:
		dw_buf_printf(b, "%s(%s, ", p->type.kind == DW_TY_DATE ? "TO_DATE" : "TO_TIMESTAMP_NTZ",
			      e.data);
		put_snowflake_format(b, p->format ? p->format : p->type.kind == DW_TY_DATE ?
				     "yyyy-MM-dd" : "yyyy-MM-dd HH:mm:ss");
		dw_buf_putc(b, ')');
		break;
	default:
		dw_buf_printf(b, "CAST(%s AS ", e.data);
		put_type(b, DW_DDL_SNOWFLAKE, &p->type);
		dw_buf_putc(b, ')');
		break;
	}
	dw_buf_release(&e);
}

/* value:"a"."b" for keys that fit in double quotes, value['k'] otherwise:
 * element names are case-sensitive either way. */
static void put_value_path(struct dw_buf *b, const struct dw_ddl_table *t, size_t idx)
{
	const struct dw_ddl_column *c = &t->columns[idx];

	dw_buf_puts(b, "value");
	if (t->format == DW_FMT_CSV) {
		dw_buf_printf(b, ":c%zu", idx + 1);
		return;
	}
	for (size_t k = 0; k < c->npath; k++) {
		const char *key = c->path[k];
		if (strpbrk(key, "\"'\\")) {
			dw_buf_putc(b, '[');
			dw_ddl_quote_literal(b, DW_DDL_SNOWFLAKE, key);
			dw_buf_putc(b, ']');
		} else {
			dw_buf_printf(b, "%s\"%s\"", k ? "." : ":", key);
		}
	}
}

static void put_file_format(struct dw_buf *b, const struct dw_ddl_table *t, int inline_only)
{
	static const char *const types[] = { "JSON", "AVRO", "PARQUET", "CSV" };
	char d[2] = { t->delimiter, '\0' };

	if (t->file_format_name && !inline_only) {
		struct dw_buf name;
		dw_buf_init(&name);
		put_stage_ref(&name, t->file_format_name, 0);
		dw_buf_puts(b, "(FORMAT_NAME = ");
		dw_ddl_quote_literal(b, DW_DDL_SNOWFLAKE, name.data);
		dw_buf_putc(b, ')');
		dw_buf_release(&name);
		return;
	}
	if (!inline_only)
		dw_buf_putc(b, '(');
	dw_buf_printf(b, "TYPE = %s", types[t->format]);
	if (t->format == DW_FMT_CSV) {
		dw_buf_puts(b, " FIELD_DELIMITER = ");
		dw_ddl_quote_literal(b, DW_DDL_SNOWFLAKE, d);
		dw_buf_printf(b, " SKIP_HEADER = %d", t->header ? 1 : 0);
	}
	if (!inline_only)
		dw_buf_putc(b, ')');
}

static void snowflake_setup(const struct dw_ddl_table *t, struct dw_kvlist *out)
{
	struct dw_buf b;

	dw_buf_init(&b);
	if (t->stage_url) {
		dw_buf_puts(&b, "CREATE STAGE IF NOT EXISTS ");
		put_stage_ref(&b, t->stage, 0);
		dw_buf_puts(&b, "\nURL = ");
		dw_ddl_quote_literal(&b, DW_DDL_SNOWFLAKE, t->stage_url);
		dw_buf_puts(&b, "\nSTORAGE_INTEGRATION = ");
		dw_ddl_quote_ident(&b, DW_DDL_SNOWFLAKE, t->storage_integration);
		dw_kv_add(out, "create_stage", b.data);
		dw_buf_clear(&b);
	}
	if (t->file_format_name && t->create_file_format) {
		dw_buf_puts(&b, "CREATE FILE FORMAT IF NOT EXISTS ");
		put_stage_ref(&b, t->file_format_name, 0);
		dw_buf_putc(&b, ' ');
		put_file_format(&b, t, 1);
		dw_kv_add(out, "create_file_format", b.data);
	}
	dw_buf_release(&b);
}

static int snowflake_statements(const struct dw_ddl_table *t, struct dw_kvlist *out)
{
	struct dw_buf b;

	if (dw_ddl_check_columns(t))
		return -1;
	if (t->file_format_name && strchr(t->file_format_name, '/'))
		return dw_invalid("file_format.name", "file_format.name must be a name, not a path");
	snowflake_setup(t, out);
	dw_buf_init(&b);
	dw_buf_puts(&b, t->replace ? "CREATE OR REPLACE EXTERNAL TABLE " :
		    "CREATE EXTERNAL TABLE IF NOT EXISTS ");
	put_qualified(&b, t);
	dw_buf_puts(&b, " (");
	for (size_t i = 0; i < t->npartitions; i++) {
		dw_buf_puts(&b, i ? ",\n  " : "\n  ");
		dw_ddl_quote_ident(&b, DW_DDL_SNOWFLAKE, t->partitions[i].name);
		dw_buf_putc(&b, ' ');
		put_type(&b, DW_DDL_SNOWFLAKE, &t->partitions[i].type);
		dw_buf_puts(&b, " AS (");
		put_partition_expr(&b, t, &t->partitions[i]);
		dw_buf_putc(&b, ')');
	}
	for (size_t i = 0; i < t->ncolumns; i++) {
		dw_buf_puts(&b, i || t->npartitions ? ",\n  " : "\n  ");
		dw_ddl_quote_ident(&b, DW_DDL_SNOWFLAKE, t->columns[i].name);
		dw_buf_putc(&b, ' ');
		put_type(&b, DW_DDL_SNOWFLAKE, &t->columns[i].type);
		dw_buf_puts(&b, " AS (");
		put_value_path(&b, t, i);
		dw_buf_puts(&b, "::");
		put_type(&b, DW_DDL_SNOWFLAKE, &t->columns[i].type);
		dw_buf_putc(&b, ')');
	}
	dw_buf_puts(&b, "\n)");
	if (t->npartitions) {
		dw_buf_puts(&b, "\nPARTITION BY (");
		for (size_t i = 0; i < t->npartitions; i++) {
			if (i)
				dw_buf_puts(&b, ", ");
			dw_ddl_quote_ident(&b, DW_DDL_SNOWFLAKE, t->partitions[i].name);
		}
		dw_buf_putc(&b, ')');
	}
	dw_buf_puts(&b, "\nLOCATION = @");
	put_stage_ref(&b, t->stage, 1);
	dw_buf_printf(&b, "\nAUTO_REFRESH = %s", t->auto_refresh ? "TRUE" : "FALSE");
	if (t->pattern) {
		dw_buf_puts(&b, "\nPATTERN = ");
		dw_ddl_quote_literal(&b, DW_DDL_SNOWFLAKE, t->pattern);
	}
	dw_buf_puts(&b, "\nFILE_FORMAT = ");
	put_file_format(&b, t, 0);
	if (t->sns_topic) {
		dw_buf_puts(&b, "\nAWS_SNS_TOPIC = ");
		dw_ddl_quote_literal(&b, DW_DDL_SNOWFLAKE, t->sns_topic);
	}
	if (t->comment) {
		dw_buf_puts(&b, "\nCOMMENT = ");
		dw_ddl_quote_literal(&b, DW_DDL_SNOWFLAKE, t->comment);
	}
	dw_kv_add(out, "create_table", b.data);
	dw_buf_release(&b);
	return 0;
}

/* ---------------------------------------------------- Snowpipe landing --- */

/* The landing table's columns, what the pipe's COPY fills each with from a
 * dw-extract record ($1: the JSON line), and its type.  The primary key is
 * text whatever its type (exact digits of a BIGINT UNSIGNED too); the
 * cursor is the source's DATETIME(6) in UTC. */
static const struct {
	const char *column, *type, *from;
} landing_columns[] = {
	{ "SOURCE_TABLE", "VARCHAR NOT NULL", "$1:\"table\"::VARCHAR" },
	{ "PK", "VARCHAR NOT NULL", "$1:\"pk\"::VARCHAR" },
	{ "CURSOR_VALUE", "TIMESTAMP_NTZ(6)", "$1:\"cursor\"::TIMESTAMP_NTZ(6)" },
	{ "RUN_ID", "VARCHAR NOT NULL", "$1:\"run_id\"::VARCHAR" },
	{ "ROW_DATA", "VARIANT", "$1:\"row\"" },
	{ "FILE_NAME", "VARCHAR", "METADATA$FILENAME" },
};

static int check_landing(const struct dw_ddl_table *t)
{
	if (t->dialect != DW_DDL_SNOWFLAKE)
		return dw_invalid("dialect", "the landing table and its pipe are Snowflake's: dialect snowflake");
	if (t->format != DW_FMT_JSON)
		return dw_invalid("format", "dw-extract's records are JSON lines: format json");
	if (t->ncolumns || t->npartitions)
		return dw_invalid(t->ncolumns ? "columns" : "partitions", "the landing table's columns "
				  "are fixed (SOURCE_TABLE, PK, CURSOR_VALUE, RUN_ID, ROW_DATA, FILE_NAME, "
				  "LOADED_AT): leave out columns and partitions");
	if (t->file_format_name)
		return dw_invalid("file_format", "the pipe reads FILE_FORMAT = (TYPE = JSON): leave out file_format");
	return 0;
}

static void landing_table(struct dw_buf *b, const struct dw_ddl_table *t)
{
	dw_buf_puts(b, t->replace ? "CREATE OR REPLACE TABLE " : "CREATE TABLE IF NOT EXISTS ");
	put_qualified(b, t);
	dw_buf_puts(b, " (");
	for (size_t i = 0; i < sizeof(landing_columns) / sizeof(*landing_columns); i++)
		dw_buf_printf(b, "%s\n  %s %s", i ? "," : "", landing_columns[i].column,
			      landing_columns[i].type);
	dw_buf_puts(b, ",\n  LOADED_AT TIMESTAMP_LTZ DEFAULT CURRENT_TIMESTAMP()\n)");
	if (t->comment) {
		dw_buf_puts(b, "\nCOMMENT = ");
		dw_ddl_quote_literal(b, DW_DDL_SNOWFLAKE, t->comment);
	}
}

static void landing_pipe(struct dw_buf *b, const struct dw_ddl_table *t, const char *pipe,
			 int auto_ingest)
{
	size_t n = sizeof(landing_columns) / sizeof(*landing_columns);

	dw_buf_puts(b, t->replace ? "CREATE OR REPLACE PIPE " : "CREATE PIPE IF NOT EXISTS ");
	put_qualified_as(b, t, pipe);
	dw_buf_printf(b, "\nAUTO_INGEST = %s", auto_ingest ? "TRUE" : "FALSE");
	if (t->sns_topic) {
		dw_buf_puts(b, "\nAWS_SNS_TOPIC = ");
		dw_ddl_quote_literal(b, DW_DDL_SNOWFLAKE, t->sns_topic);
	}
	if (t->comment) {
		dw_buf_puts(b, "\nCOMMENT = ");
		dw_ddl_quote_literal(b, DW_DDL_SNOWFLAKE, t->comment);
	}
	dw_buf_puts(b, "\nAS COPY INTO ");
	put_qualified(b, t);
	dw_buf_puts(b, " (");
	for (size_t i = 0; i < n; i++)
		dw_buf_printf(b, "%s%s", i ? ", " : "", landing_columns[i].column);
	dw_buf_puts(b, ")\nFROM (SELECT ");
	for (size_t i = 0; i < n; i++)
		dw_buf_printf(b, "%s%s", i ? ", " : "", landing_columns[i].from);
	dw_buf_puts(b, " FROM @");
	put_stage_ref(b, t->stage, 1);
	dw_buf_puts(b, ")\nFILE_FORMAT = (TYPE = JSON)");
	if (t->pattern) {
		dw_buf_puts(b, "\nPATTERN = ");
		dw_ddl_quote_literal(b, DW_DDL_SNOWFLAKE, t->pattern);
	}
}

int dw_ddl_landing_statements(const struct dw_ddl_table *t, const char *pipe,
			      int auto_ingest, struct dw_kvlist *out)
{
	struct dw_buf b, name;

	if (check_landing(t))
		return -1;
	if (pipe && check_text(pipe, "pipe"))
		return -1;
	dw_buf_init(&name);
	if (pipe)
		dw_buf_puts(&name, pipe);
	else
		dw_buf_printf(&name, "%s_pipe", t->name);
	snowflake_setup(t, out);
	dw_buf_init(&b);
	landing_table(&b, t);
	dw_kv_add(out, "create_table", b.data);
	dw_buf_clear(&b);
	landing_pipe(&b, t, name.data, auto_ingest);
	dw_kv_add(out, "create_pipe", b.data);
	dw_buf_release(&b);
	dw_buf_release(&name);
	return 0;
}

/* ------------------------------------------------------------- public --- */

int dw_ddl_create_statements(const struct dw_ddl_table *t, struct dw_kvlist *out)
{
	switch (t->dialect) {
	case DW_DDL_SNOWFLAKE: return snowflake_statements(t, out);
	case DW_DDL_ATHENA:
	case DW_DDL_REDSHIFT: return hive_statements(t, out);
	case DW_DDL_GLUE: return dw_ddl_check_columns(t);
	}
	return 0;
}

int dw_ddl_drop_statements(const struct dw_ddl_table *t, struct dw_kvlist *out)
{
	if (t->dialect != DW_DDL_GLUE)
		put_drop(out, t);
	return 0;
}

/* A later item of the same key replaces an earlier one. */
static cJSON *kv_object(const struct dw_kvlist *l)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; i < l->n; i++) {
		cJSON *v = cJSON_CreateString(l->items[i].value);
		if (cJSON_GetObjectItemCaseSensitive(o, l->items[i].key))
			cJSON_ReplaceItemInObjectCaseSensitive(o, l->items[i].key, v);
		else
			cJSON_AddItemToObject(o, l->items[i].key, v);
	}
	return o;
}

static cJSON *glue_column(const char *name, struct dw_buf *type)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "Name", name);
	cJSON_AddStringToObject(o, "Type", type->data ? type->data : "");
	return o;
}

int dw_ddl_glue_table_input(const struct dw_ddl_table *t, cJSON **out)
{
	struct node root;
	struct hive_storage s;
	struct dw_buf type;
	cJSON *cols, *keys, *in, *sd, *serde;

	*out = NULL;
	if (dw_ddl_check_columns(t) || build_tree(t, &root))
		return -1;
	if (hive_storage(t, &root, &s)) {
		node_release(&root);
		return -1;
	}
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "Name", t->name);
	cJSON_AddStringToObject(in, "TableType", "EXTERNAL_TABLE");
	cJSON_AddItemToObject(in, "Parameters", kv_object(&s.table_params));
	keys = cJSON_AddArrayToObject(in, "PartitionKeys");
	sd = cJSON_AddObjectToObject(in, "StorageDescriptor");
	cols = cJSON_AddArrayToObject(sd, "Columns");
	cJSON_AddStringToObject(sd, "Location", t->location);
	cJSON_AddStringToObject(sd, "InputFormat", s.input);
	cJSON_AddStringToObject(sd, "OutputFormat", s.output);
	serde = cJSON_AddObjectToObject(sd, "SerdeInfo");
	cJSON_AddStringToObject(serde, "SerializationLibrary", s.serde);
	cJSON_AddItemToObject(serde, "Parameters", kv_object(&s.serde_params));
	dw_buf_init(&type);
	for (size_t i = 0; i < root.nkids; i++) {
		dw_buf_clear(&type);
		put_node_type(&type, DW_DDL_GLUE, &root.kids[i]);
		cJSON_AddItemToArray(cols, glue_column(root.kids[i].name, &type));
	}
	for (size_t i = 0; i < t->npartitions; i++) {
		dw_buf_clear(&type);
		put_type(&type, DW_DDL_GLUE, &t->partitions[i].type);
		cJSON_AddItemToArray(keys, glue_column(t->partitions[i].name, &type));
	}
	dw_buf_release(&type);
	if (t->comment)
		cJSON_AddStringToObject(in, "Description", t->comment);
	hive_storage_release(&s);
	node_release(&root);
	*out = in;
	return 0;
}
