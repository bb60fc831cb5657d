/* infer.c - columns from sample records: JSON lines and Avro schemas. */
#include "ops/infer.h"
#include "base/timefmt.h"
#include "base/log.h"
#include "aws/s3.h"

#include <ctype.h>
#include <stdint.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Kinds of values seen at a path. */
enum {
	S_BOOL = 1u << 0,
	S_INT32 = 1u << 1,  /* Avro int */
	S_INT = 1u << 2,    /* JSON integer, Avro long */
	S_FLOAT32 = 1u << 3,/* Avro float */
	S_FLOAT = 1u << 4,  /* JSON real, Avro double */
	S_DECIMAL = 1u << 5,
	S_DATE = 1u << 6,
	S_TS = 1u << 7,
	S_STR = 1u << 8,
	S_OBJ = 1u << 9,    /* an object with keys: its keys are columns */
	S_OTHER = 1u << 10, /* arrays, maps, empty objects: kept as text */
};
#define S_NUMBER (S_INT32 | S_INT | S_FLOAT32 | S_FLOAT | S_DECIMAL)

/* Avro values are small; a schema nested deeper than this is refused. */
#define MAX_DEPTH 32
/* Objects read per file: JSON lines are sampled from the start. */
#define JSON_SAMPLE_BYTES (16LL << 20)
#define AVRO_HEADER_BYTES (1LL << 20)

void dw_infer_init(struct dw_infer *inf)
{
	memset(inf, 0, sizeof(*inf));
}

void dw_infer_release(struct dw_infer *inf)
{
	for (size_t i = 0; i < inf->n; i++)
		free(inf->cols[i].path);
	free(inf->cols);
	memset(inf, 0, sizeof(*inf));
}

static struct dw_infer_column *column_at(struct dw_infer *inf, const char *path)
{
	for (size_t i = 0; i < inf->n; i++)
		if (strcmp(inf->cols[i].path, path) == 0)
			return &inf->cols[i];
	if (inf->n >= DW_INFER_MAX_PATHS) {
		inf->too_many = 1;
		return &inf->spill;
	}
	inf->cols = dw_xrealloc(inf->cols, (inf->n + 1) * sizeof(*inf->cols));
	memset(&inf->cols[inf->n], 0, sizeof(*inf->cols));
	inf->cols[inf->n].path = dw_xstrdup(path);
	return &inf->cols[inf->n++];
}

static int digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The shape 2019-06-01 at s. */
static int date_shape(const char *s)
{
	return digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
	       digits(s + 8, 2);
}

/* A time that exists, as the one ISO 8601 parser decides (2019-02-31 and
 * 24:00 are strings, not dates). */
static int valid_time(const char *s)
{
	time_t t;

	return dw_time_parse(s, &t, NULL) == 0;
}

/* 2019-06-01 */
static int is_date(const char *s)
{
	return date_shape(s) && s[10] == '\0' && valid_time(s);
}

/* 2019-06-01T15:04[:05[.123]][Z|+hh[:]mm], or with a space for the T */
static int is_timestamp(const char *s)
{
	const char *p = s + 16;

	if (!date_shape(s) || (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2) ||
	    s[13] != ':' || !digits(s + 14, 2))
		return 0;
	if (*p == ':') {
		if (!digits(p + 1, 2))
			return 0;
		p += 3;
		if (*p == '.' && isdigit((unsigned char)p[1]))
			for (p++; isdigit((unsigned char)*p); p++)
				;
	}
	if (*p == 'Z')
		p++;
	else if ((*p == '+' || *p == '-') && digits(p + 1, 2))
		p += (p[3] == ':' && digits(p + 4, 2)) ? 6 : digits(p + 3, 2) ? 5 : 3;
	return *p == '\0' && valid_time(s);
}

static unsigned string_kind(const char *s)
{
	size_t n = strlen(s);

	if (n == 10 && is_date(s))
		return S_DATE;
	if (n >= 16 && is_timestamp(s))
		return S_TS;
	return S_STR;
}

static void observe(struct dw_infer *inf, const char *path, const cJSON *v, int depth);

static void observe_object(struct dw_infer *inf, const char *path, const cJSON *obj, int depth)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, obj) {
		const char *k = v->string;
		char *sub = path ? dw_xasprintf("%s.%s", path, k) : dw_xstrdup(k);
		/* a key holding a dot reads as a deeper path (documented) */
		observe(inf, sub, v, depth + 1);
		free(sub);
	}
}

static void observe(struct dw_infer *inf, const char *path, const cJSON *v, int depth)
{
	struct dw_infer_column *c = column_at(inf, path);
	long long n;

	c->present++;
	if (cJSON_IsBool(v)) {
		c->seen |= S_BOOL;
	} else if (cJSON_IsNumber(v)) {
		/* dw_json_parse keeps 2.0 and 1e3 apart from integers */
		c->seen |= dw_json_int(v, &n) == 0 ? S_INT : S_FLOAT;
	} else if (cJSON_IsString(v)) {
		c->seen |= string_kind(v->valuestring);
	} else if (cJSON_IsArray(v)) {
		c->seen |= S_OTHER;
	} else if (cJSON_IsObject(v)) {
		if (!v->child || depth >= MAX_DEPTH) {
			c->seen |= S_OTHER;
		} else {
			c->seen |= S_OBJ;
			observe_object(inf, path, v, depth);
		}
	}
}

void dw_infer_record(struct dw_infer *inf, const cJSON *record)
{
	inf->records++;
	observe_object(inf, NULL, record, 0);
}

/* Only white space in p[0, n): looked at within n, the data has no
 * terminator (found by fuzz_json_infer: strspn read past the end). */
static int blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

void dw_infer_json_lines(struct dw_infer *inf, const char *data, size_t len,
			 long long max_records, int truncated)
{
	const char *p = data, *end = data + len;

	while (p < end && inf->records < max_records) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		cJSON *rec = NULL;

		if (!nl && truncated)
			break;
		if (!blank(p, n)) {
			/* A line that is not one JSON object (or repeats a key)
			 * is counted, not an error of the run. */
			if (dw_json_parse(p, n, "record", &rec))
				dw_error_clear();
			if (cJSON_IsObject(rec))
				dw_infer_record(inf, rec);
			else
				inf->bad_lines++;
			cJSON_Delete(rec);
		}
		p += n + 1;
	}
}

/* ---------------------------------------------------------------- Avro --- */

struct reader {
	const unsigned char *p, *end;
};

/* Avro longs are zig-zag varints. */
static int read_long(struct reader *r, long long *out)
{
	unsigned long long v = 0;
	int shift = 0;

	while (r->p < r->end && shift < 64) {
		unsigned char b = *r->p++;
		v |= (unsigned long long)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = (long long)(v >> 1) ^ -(long long)(v & 1);
			return 0;
		}
		shift += 7;
	}
	return -1;
}

static int read_bytes(struct reader *r, const unsigned char **s, long long *n)
{
	if (read_long(r, n) || *n < 0 || *n > r->end - r->p)
		return -1;
	*s = r->p;
	r->p += *n;
	return 0;
}

/* The "avro.schema" entry of the header's metadata map, as new JSON. */
static cJSON *avro_header_schema(const void *data, size_t len)
{
	struct reader r = { data, (const unsigned char *)data + len };
	long long count, size;

	if (len < 4 || memcmp(data, "Obj\x01", 4) != 0)
		return NULL;
	r.p += 4;
	while (read_long(&r, &count) == 0 && count != 0) {
		/* A negative count is followed by the block's size; LLONG_MIN has
		 * no positive counterpart (a hostile file, issue 12 #11). */
		if (count == LLONG_MIN || (count < 0 && read_long(&r, &size)))
			return NULL;
		for (long long i = 0; i < (count < 0 ? -count : count); i++) {
			const unsigned char *k, *v;
			long long kn, vn;
			if (read_bytes(&r, &k, &kn) || read_bytes(&r, &v, &vn))
				return NULL;
			if (kn == 11 && memcmp(k, "avro.schema", 11) == 0) {
				cJSON *schema = NULL;
				if (dw_json_parse((const char *)v, (size_t)vn, "avro.schema", &schema))
					dw_error_clear(); /* reported as NotAvro */
				return schema;
			}
		}
	}
	return NULL;
}

static void avro_observe(struct dw_infer *inf, const char *path, const cJSON *type, int depth);

/* ["null", T] is T; a union of several types is text. */
static const cJSON *avro_unnull(const cJSON *type)
{
	const cJSON *only = NULL, *t;
	size_t n = 0;

	if (!cJSON_IsArray(type))
		return type;
	cJSON_ArrayForEach(t, type) {
		if (cJSON_IsString(t) && strcmp(t->valuestring, "null") == 0)
			continue;
		only = t;
		n++;
	}
	return n == 1 ? only : NULL;
}

static unsigned avro_primitive(const char *name)
{
	static const struct { const char *name; unsigned seen; } prims[] = {
		{ "boolean", S_BOOL }, { "int", S_INT32 }, { "long", S_INT },
		{ "float", S_FLOAT32 }, { "double", S_FLOAT }, { "string", S_STR },
		{ "bytes", S_OTHER }, { "null", 0 },
	};

	for (size_t i = 0; i < sizeof(prims) / sizeof(*prims); i++)
		if (strcmp(name, prims[i].name) == 0)
			return prims[i].seen;
	return S_OTHER; /* a named type defined elsewhere */
}

static void avro_observe_record(struct dw_infer *inf, const char *path, const cJSON *rec, int depth)
{
	const cJSON *fields = cJSON_GetObjectItemCaseSensitive(rec, "fields"), *f;

	if (!cJSON_IsArray(fields))
		return;
	cJSON_ArrayForEach(f, fields) {
		const char *name = dw_json_str(f, "name");
		if (!name)
			continue;
		char *sub = path ? dw_xasprintf("%s.%s", path, name) : dw_xstrdup(name);
		avro_observe(inf, sub, cJSON_GetObjectItemCaseSensitive(f, "type"), depth + 1);
		free(sub);
	}
}

/* A decimal's precision or scale: 0 unless an integer in 0..1000. */
static int avro_digits(const cJSON *t, const char *name)
{
	long long v;

	if (dw_json_int(cJSON_GetObjectItemCaseSensitive(t, name), &v) || v < 0 || v > 1000)
		return 0;
	return (int)v;
}

static void avro_observe(struct dw_infer *inf, const char *path, const cJSON *type, int depth)
{
	const cJSON *t = avro_unnull(type);
	struct dw_infer_column *c = column_at(inf, path);
	const char *kind, *logical;

	c->present = -1;
	if (!t) {
		c->seen |= S_OTHER;
		return;
	}
	if (cJSON_IsString(t)) {
		c->seen |= avro_primitive(t->valuestring);
		return;
	}
	kind = dw_json_str(t, "type");
	logical = dw_json_str(t, "logicalType");
	if (!kind) {
		c->seen |= S_OTHER;
	} else if (logical && strcmp(logical, "date") == 0) {
		c->seen |= S_DATE;
	} else if (logical && strncmp(logical, "timestamp-", 10) == 0) {
		c->seen |= S_TS;
	} else if (logical && strcmp(logical, "decimal") == 0) {
		int p = avro_digits(t, "precision");
		int s = avro_digits(t, "scale");
		c->seen |= S_DECIMAL;
		if (p > c->precision)
			c->precision = p;
		if (s > c->scale)
			c->scale = s;
	} else if (strcmp(kind, "record") == 0 && depth < MAX_DEPTH &&
		   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "fields")) > 0) {
		c->seen |= S_OBJ;
		avro_observe_record(inf, path, t, depth);
	} else if (strcmp(kind, "enum") == 0) {
		c->seen |= S_STR;
	} else {
		c->seen |= avro_primitive(kind) == S_OTHER ? S_OTHER : avro_primitive(kind);
	}
}

int dw_infer_avro(struct dw_infer *inf, const void *data, size_t len, const char *what)
{
	cJSON *schema = avro_header_schema(data, len);

	if (!cJSON_IsObject(schema) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(schema, "fields"))) {
		cJSON_Delete(schema);
		return dw_fail("NotAvro", "%s is not an Avro container file with a record schema", what);
	}
	avro_observe_record(inf, NULL, schema, 0);
	cJSON_Delete(schema);
	return 0;
}

/* ------------------------------------------------------------ results --- */

/* A path whose parent was sometimes a value (not an object) cannot be a
 * column of its own: the parent is kept as text instead. */
static int parent_is_value(const struct dw_infer *inf, const char *path)
{
	for (size_t i = 0; i < inf->n; i++) {
		const struct dw_infer_column *c = &inf->cols[i];
		size_t n = strlen(c->path);
		if (strncmp(path, c->path, n) == 0 && path[n] == '.' &&
		    (c->seen & ~(unsigned)S_OBJ))
			return 1;
	}
	return 0;
}

static enum dw_ddl_kind number_kind(unsigned s)
{
	if (s == S_INT32)
		return DW_TY_INT;
	if ((s & ~(unsigned)(S_INT32 | S_INT)) == 0)
		return DW_TY_BIGINT;
	if (s == S_FLOAT32)
		return DW_TY_FLOAT;
	return s == S_DECIMAL ? DW_TY_DECIMAL : DW_TY_DOUBLE;
}

int dw_infer_type(const struct dw_infer *inf, size_t i, struct dw_ddl_type *out)
{
	const struct dw_infer_column *c = &inf->cols[i];
	unsigned s = c->seen & ~(unsigned)S_OBJ;

	memset(out, 0, sizeof(*out));
	if (parent_is_value(inf, c->path))
		return 0;
	if (c->seen & S_OBJ) {
		if (!s)
			return 0;
		out->kind = DW_TY_STRING; /* sometimes an object, sometimes not */
		return 1;
	}
	if (s == S_BOOL)
		out->kind = DW_TY_BOOLEAN;
	else if (s && (s & ~(unsigned)S_NUMBER) == 0)
		out->kind = number_kind(s);
	else if (s == S_DATE)
		out->kind = DW_TY_DATE;
	else if (s && (s & ~(unsigned)(S_DATE | S_TS)) == 0)
		out->kind = DW_TY_TIMESTAMP;
	else
		out->kind = DW_TY_STRING;
	if (out->kind == DW_TY_DECIMAL) {
		out->precision = c->precision > 0 && c->precision <= 38 ? c->precision : 38;
		out->scale = c->scale <= out->precision ? c->scale : 0;
	}
	return 1;
}

static int same_path(const struct dw_ddl_column *c, const char *path)
{
	struct dw_buf p;
	int same;

	dw_buf_init(&p);
	for (size_t k = 0; k < c->npath; k++)
		dw_buf_printf(&p, "%s%s", k ? "." : "", c->path[k]);
	same = strcmp(p.data, path) == 0;
	dw_buf_release(&p);
	return same;
}

/* 1 when a column already reads path (the request's own wins). */
static int has_path(const struct dw_ddl_table *t, const char *path)
{
	for (size_t i = 0; i < t->ncolumns; i++)
		if (same_path(&t->columns[i], path))
			return 1;
	return 0;
}

/* 1 when a partition is named so: its value comes from the object path. */
static int is_partition(const struct dw_ddl_table *t, const char *name)
{
	for (size_t i = 0; i < t->npartitions; i++)
		if (strcasecmp(t->partitions[i].name, name) == 0)
			return 1;
	return 0;
}

void dw_infer_add_columns(const struct dw_infer *inf, struct dw_ddl_table *t)
{
	for (size_t i = 0; i < inf->n; i++) {
		struct dw_ddl_type type;
		char *name, field[64];
		if (!dw_infer_type(inf, i, &type))
			continue;
		name = dw_xstrdup(inf->cols[i].path);
		for (char *p = name; *p; p++)
			if (*p == '.')
				*p = '_';
		snprintf(field, sizeof(field), "infer.columns[%zu]", i);
		if (!has_path(t, inf->cols[i].path) && !is_partition(t, name) &&
		    dw_ddl_add_column(t, name, &type, inf->cols[i].path,
				      inf->cols[i].present, field)) {
			/* the data's problem (a key named like another column,
			 * a control character, an empty key), not the
			 * request's: the other columns are still worth having */
			dw_warn("inferred column \"%s\" left out: %s", inf->cols[i].path,
				dw_error_last()->message);
			dw_error_clear();
		}
		free(name);
	}
}

/* ------------------------------------------------------------------ S3 --- */

struct sample {
	char **keys;
	size_t n, max;
};

static int take_key(void *ud, const struct dw_s3_object *o)
{
	struct sample *s = ud;
	size_t n = strlen(o->key);

	if (o->size == 0 || (n && o->key[n - 1] == '/'))
		return 0;
	s->keys = dw_xrealloc(s->keys, (s->n + 1) * sizeof(char *));
	s->keys[s->n++] = dw_xstrdup(o->key);
	return s->n >= s->max ? 1 : 0;
}

static int look_at(struct dw_aws *aws, const struct dw_infer_source *src, const char *key,
		   long long max_records, struct dw_infer *inf)
{
	long long limit = src->format == DW_FMT_AVRO ? AVRO_HEADER_BYTES : JSON_SAMPLE_BYTES;
	struct dw_buf body;
	char what[1200];
	int rc = 0;

	snprintf(what, sizeof(what), "s3://%s/%s", src->bucket, key);
	dw_buf_init(&body);
	if (dw_s3_get_object(aws, src->bucket, key, limit, &body)) {
		dw_buf_release(&body);
		return dw_error_context("reading %s", what);
	}
	if (body.len >= 2 && (unsigned char)body.data[0] == 0x1f && (unsigned char)body.data[1] == 0x8b)
		rc = dw_fail("Compressed", "%s is gzip-compressed; inference reads uncompressed files", what);
	else if (src->format == DW_FMT_AVRO)
		rc = dw_infer_avro(inf, body.data, body.len, what);
	else
		dw_infer_json_lines(inf, body.data ? body.data : "", body.len, max_records,
				    (long long)body.len >= limit);
	inf->files++;
	dw_info("inferred from %s: %lld records so far, %zu paths", what, inf->records, inf->n);
	dw_buf_release(&body);
	return rc;
}

int dw_infer_s3(struct dw_aws *aws, const struct dw_infer_source *src, struct dw_infer *inf)
{
	long long max_records = src->max_records > 0 ? src->max_records : 1000;
	struct sample s = { NULL, 0, (size_t)(src->max_files > 0 ? src->max_files : 10) };
	struct dw_s3_list l = {
		.bucket = src->bucket, .prefix = src->prefix, .on_object = take_key, .ud = &s,
	};
	int rc = 0;

	if (src->format != DW_FMT_JSON && src->format != DW_FMT_AVRO)
		return dw_invalid("infer", "inference reads json lines and avro files");
	if (dw_s3_list_objects(aws, &l))
		return dw_error_context("listing s3://%s/%s", src->bucket, src->prefix ? src->prefix : "");
	for (size_t i = 0; i < s.n && rc == 0; i++)
		if (src->format == DW_FMT_AVRO || inf->records < max_records)
			rc = look_at(aws, src, s.keys[i], max_records, inf);
	for (size_t i = 0; i < s.n; i++)
		free(s.keys[i]);
	free(s.keys);
	if (rc == 0 && inf->too_many)
		rc = dw_fail("TooManyColumns", "the sample files under s3://%s/%s hold more than %d "
			     "distinct keys: too wide to infer a table from", src->bucket,
			     src->prefix ? src->prefix : "", DW_INFER_MAX_PATHS);
	else if (rc == 0 && s.n == 0)
		rc = dw_fail("NoFiles", "no files under s3://%s/%s to infer columns from",
			     src->bucket, src->prefix ? src->prefix : "");
	else if (rc == 0 && inf->n == 0)
		rc = dw_fail("NothingInferred", "the sample files under s3://%s/%s hold no %s records",
			     src->bucket, src->prefix ? src->prefix : "",
			     src->format == DW_FMT_AVRO ? "avro" : "json");
	return rc;
}
