/* etl.c - dw-etl's transform: JSON lines split by kind into Avro
 * containers, one per kind and date, with the columns of a mapping. */
#include "ops/etl.h"
#include "base/error.h"
#include "base/log.h"
#include "base/timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- mappings ------------------------------------------------------------ */

const char dw_etl_default_mapping[] =
	"{\"vehicle\": ["
	"{\"name\": \"event\", \"type\": \"string\"},"
	"{\"name\": \"on\", \"type\": \"string\"},"
	"{\"name\": \"at\", \"type\": \"timestamp\", \"path\": [\"at\", \"data.location.at\"]},"
	"{\"name\": \"organization_id\", \"type\": \"bigint\"},"
	"{\"name\": \"id\", \"type\": \"string\", \"path\": \"data.id\"},"
	"{\"name\": \"lat\", \"type\": \"double\", \"path\": \"data.location.lat\"},"
	"{\"name\": \"lng\", \"type\": \"double\", \"path\": \"data.location.lng\"}],"
	"\"operating_period\": ["
	"{\"name\": \"event\", \"type\": \"string\"},"
	"{\"name\": \"on\", \"type\": \"string\"},"
	"{\"name\": \"at\", \"type\": \"timestamp\"},"
	"{\"name\": \"organization_id\", \"type\": \"bigint\"},"
	"{\"name\": \"id\", \"type\": \"string\", \"path\": \"data.id\"},"
	"{\"name\": \"start\", \"type\": \"timestamp\", \"path\": \"data.start\"},"
	"{\"name\": \"finish\", \"type\": \"timestamp\", \"path\": \"data.finish\"}]}";

const char dw_etl_unknown_schema[] =
	"{\"type\":\"record\",\"name\":\"unknown\",\"namespace\":\"dwops.etl\",\"fields\":["
	"{\"name\":\"on\",\"type\":[\"null\",\"string\"],\"default\":null},"
	"{\"name\":\"record\",\"type\":\"string\"}]}";

struct path {
	char **seg;
	size_t n;
};

struct column {
	char *name;
	enum dw_etl_type type;
	int precision, scale;
	struct path *paths;
	size_t n_paths;
};

struct kind {
	char *on;
	struct column *cols;
	size_t n;
	char *schema;
};

struct dw_etl_mapping {
	struct kind *kinds;
	size_t n;
};

static const struct {
	const char *name;
	enum dw_etl_type type;
} type_names[] = {
	{ "string", DW_ETL_STRING }, { "int", DW_ETL_INT }, { "integer", DW_ETL_INT },
	{ "bigint", DW_ETL_BIGINT }, { "double", DW_ETL_DOUBLE }, { "float", DW_ETL_FLOAT },
	{ "boolean", DW_ETL_BOOLEAN }, { "date", DW_ETL_DATE }, { "timestamp", DW_ETL_TIMESTAMP },
};

static int parse_type(const char *text, struct column *c)
{
	char tail;

	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(text, type_names[i].name) == 0) {
			c->type = type_names[i].type;
			return 0;
		}
	if (sscanf(text, "decimal(%d,%d)%c", &c->precision, &c->scale, &tail) == 2 ||
	    sscanf(text, "decimal(%d, %d)%c", &c->precision, &c->scale, &tail) == 2) {
		if (c->precision < 1 || c->precision > 38 || c->scale < 0 || c->scale > c->precision)
			return -1;
		c->type = DW_ETL_DECIMAL;
		return 0;
	}
	return -1;
}

static int avro_name_ok(const char *s)
{
	if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

static int split_path(const char *text, struct path *p)
{
	const char *s = text;

	p->seg = NULL;
	p->n = 0;
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t len = dot ? (size_t)(dot - s) : strlen(s);
		if (len == 0)
			return -1;
		p->seg = dw_xrealloc(p->seg, (p->n + 1) * sizeof(*p->seg));
		p->seg[p->n++] = dw_xstrndup(s, len);
		if (!dot)
			return 0;
		s = dot + 1;
	}
}

static void column_release(struct column *c)
{
	for (size_t i = 0; i < c->n_paths; i++) {
		for (size_t j = 0; j < c->paths[i].n; j++)
			free(c->paths[i].seg[j]);
		free(c->paths[i].seg);
	}
	free(c->paths);
	free(c->name);
}

static int add_path(struct column *c, const char *text, const char *field)
{
	c->paths = dw_xrealloc(c->paths, (c->n_paths + 1) * sizeof(*c->paths));
	if (!text || split_path(text, &c->paths[c->n_paths])) {
		c->n_paths += text != NULL; /* freed with the column */
		return dw_invalid(field, "%s: a path is a dotted list of keys, e.g. data.location.lat",
				  field);
	}
	c->n_paths++;
	return 0;
}

static int parse_column(const cJSON *j, const char *field, struct column *c)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "path"), *p;
	char sub[256];

	memset(c, 0, sizeof(*c));
	if (!cJSON_IsObject(j))
		return dw_invalid(field, "%s must be a column object {\"name\", \"type\", \"path\"}", field);
	cJSON_ArrayForEach(p, j) {
		if (strcmp(p->string, "name") && strcmp(p->string, "type") && strcmp(p->string, "path")) {
			snprintf(sub, sizeof(sub), "%s.%s", field, p->string);
			return dw_invalid(sub, "unknown field \"%s\" in a column (name, type, path)",
					  p->string);
		}
	}
	snprintf(sub, sizeof(sub), "%s.name", field);
	if (!cJSON_IsString(name) || !avro_name_ok(name->valuestring))
		return dw_invalid(sub, "%s must be an Avro name (letters, digits, _; not starting with a digit)",
				  sub);
	c->name = dw_xstrdup(name->valuestring);
	snprintf(sub, sizeof(sub), "%s.type", field);
	if (!cJSON_IsString(type) || parse_type(type->valuestring, c))
		return dw_invalid(sub, "%s must be one of string, int, bigint, double, float, boolean, "
				  "date, timestamp, decimal(p,s)", sub);
	snprintf(sub, sizeof(sub), "%s.path", field);
	if (!path || cJSON_IsNull(path))
		return add_path(c, c->name, sub);
	if (cJSON_IsString(path))
		return add_path(c, path->valuestring, sub);
	if (!cJSON_IsArray(path) || cJSON_GetArraySize(path) == 0)
		return dw_invalid(sub, "%s must be a dotted path or a list of them", sub);
	cJSON_ArrayForEach(p, path)
		if (add_path(c, cJSON_IsString(p) ? p->valuestring : NULL, sub))
			return -1;
	return 0;
}

static cJSON *avro_type(const struct column *c)
{
	cJSON *t;

	switch (c->type) {
	case DW_ETL_STRING: return cJSON_CreateString("string");
	case DW_ETL_INT: return cJSON_CreateString("int");
	case DW_ETL_BIGINT: return cJSON_CreateString("long");
	case DW_ETL_DOUBLE: return cJSON_CreateString("double");
	case DW_ETL_FLOAT: return cJSON_CreateString("float");
	case DW_ETL_BOOLEAN: return cJSON_CreateString("boolean");
	case DW_ETL_DATE:
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "type", "int");
		cJSON_AddStringToObject(t, "logicalType", "date");
		return t;
	case DW_ETL_TIMESTAMP:
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "type", "long");
		cJSON_AddStringToObject(t, "logicalType", "timestamp-millis");
		return t;
	case DW_ETL_DECIMAL:
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "type", "bytes");
		cJSON_AddStringToObject(t, "logicalType", "decimal");
		cJSON_AddNumberToObject(t, "precision", c->precision);
		cJSON_AddNumberToObject(t, "scale", c->scale);
		return t;
	}
	return NULL;
}

/* A record name from the kind: invalid characters become '_'. */
static char *record_name(const char *on)
{
	char *s = dw_xasprintf("%s%s", isdigit((unsigned char)*on) || !*on ? "_" : "", on);

	for (char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			*p = '_';
	return s;
}

static void build_schema(struct kind *k)
{
	cJSON *s = cJSON_CreateObject(), *fields;
	char *name = record_name(k->on);

	cJSON_AddStringToObject(s, "type", "record");
	cJSON_AddStringToObject(s, "name", name);
	cJSON_AddStringToObject(s, "namespace", "dwops.etl");
	fields = cJSON_AddArrayToObject(s, "fields");
	for (size_t i = 0; i < k->n; i++) {
		cJSON *f = cJSON_CreateObject(), *u = cJSON_CreateArray();
		cJSON_AddStringToObject(f, "name", k->cols[i].name);
		cJSON_AddItemToArray(u, cJSON_CreateString("null"));
		cJSON_AddItemToArray(u, avro_type(&k->cols[i]));
		cJSON_AddItemToObject(f, "type", u);
		cJSON_AddNullToObject(f, "default");
		cJSON_AddItemToArray(fields, f);
	}
	k->schema = cJSON_PrintUnformatted(s);
	if (!k->schema) {
		fputs("dwops: out of memory\n", stderr);
		abort();
	}
	cJSON_Delete(s);
	free(name);
}

static int parse_kind(const cJSON *cols, const char *field, struct kind *k)
{
	const cJSON *c;
	char sub[256];
	size_t i = 0;

	if (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) == 0)
		return dw_invalid(field, "%s must be a non-empty list of columns", field);
	k->cols = dw_xcalloc((size_t)cJSON_GetArraySize(cols), sizeof(*k->cols));
	cJSON_ArrayForEach(c, cols) {
		snprintf(sub, sizeof(sub), "%s[%zu]", field, i);
		k->n = i + 1;
		if (parse_column(c, sub, &k->cols[i]))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(k->cols[j].name, k->cols[i].name) == 0)
				return dw_invalid(sub, "column \"%s\" is named twice in %s",
						  k->cols[i].name, field);
		i++;
	}
	build_schema(k);
	return 0;
}

int dw_etl_mapping_new(const cJSON *json, const char *field,
		       struct dw_etl_mapping **out)
{
	struct dw_etl_mapping *m = dw_xcalloc(1, sizeof(*m));
	const cJSON *kind;
	char sub[256];

	*out = NULL;
	if (!cJSON_IsObject(json) || !json->child) {
		free(m);
		return dw_invalid(field, "%s must be an object of kinds: {\"<%s value>\": [columns]}",
				  field, "on");
	}
	m->kinds = dw_xcalloc((size_t)cJSON_GetArraySize(json), sizeof(*m->kinds));
	cJSON_ArrayForEach(kind, json) {
		struct kind *k = &m->kinds[m->n++];
		k->on = dw_xstrdup(kind->string);
		snprintf(sub, sizeof(sub), "%s.%s", field, kind->string);
		if (!*kind->string || strcmp(kind->string, DW_ETL_UNKNOWN_FOLDER_NAME) == 0 ||
		    strchr(kind->string, '/')) {
			dw_etl_mapping_free(m);
			return dw_invalid(sub, "%s: a kind must be non-empty, hold no \"/\" and not be %s",
					  sub, DW_ETL_UNKNOWN_FOLDER_NAME);
		}
		if (parse_kind(kind, sub, k)) {
			dw_etl_mapping_free(m);
			return -1;
		}
	}
	*out = m;
	return 0;
}

void dw_etl_mapping_free(struct dw_etl_mapping *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->kinds[i].n; j++)
			column_release(&m->kinds[i].cols[j]);
		free(m->kinds[i].cols);
		free(m->kinds[i].on);
		cJSON_free(m->kinds[i].schema);
	}
	free(m->kinds);
	free(m);
}

size_t dw_etl_mapping_kinds(const struct dw_etl_mapping *m)
{
	return m->n;
}

const char *dw_etl_mapping_kind(const struct dw_etl_mapping *m, size_t i)
{
	return m->kinds[i].on;
}

const char *dw_etl_mapping_schema(const struct dw_etl_mapping *m, size_t i)
{
	return m->kinds[i].schema;
}

static const struct kind *find_kind(const struct dw_etl_mapping *m, const char *on)
{
	for (size_t i = 0; on && i < m->n; i++)
		if (strcmp(m->kinds[i].on, on) == 0)
			return &m->kinds[i];
	return NULL;
}

/* ---- output keys --------------------------------------------------------- */

enum ktok { K_TEXT, K_PREFIX, K_ON, K_YEAR, K_MONTH, K_DAY, K_BASENAME, K_NAME };

static const struct {
	const char *name;
	enum ktok tok;
} key_tokens[] = {
	{ "prefix", K_PREFIX }, { "on", K_ON }, { "YYYY", K_YEAR }, { "MM", K_MONTH },
	{ "DD", K_DAY }, { "basename", K_BASENAME }, { "name", K_NAME },
};

struct kpiece {
	enum ktok tok;
	char *text;
};

struct dw_etl_keyfmt {
	struct kpiece *p;
	size_t n;
};

static void kpiece_add(struct dw_etl_keyfmt *k, enum ktok tok, const char *text, size_t len)
{
	k->p = dw_xrealloc(k->p, (k->n + 1) * sizeof(*k->p));
	k->p[k->n].tok = tok;
	k->p[k->n].text = text ? dw_xstrndup(text, len) : NULL;
	k->n++;
}

static int ktoken(const char *name, size_t len, enum ktok *tok)
{
	for (size_t i = 0; i < sizeof(key_tokens) / sizeof(key_tokens[0]); i++)
		if (strlen(key_tokens[i].name) == len && memcmp(key_tokens[i].name, name, len) == 0) {
			*tok = key_tokens[i].tok;
			return 0;
		}
	return -1;
}

int dw_etl_keyfmt_new(const char *text, const char *field,
		      struct dw_etl_keyfmt **out)
{
	struct dw_etl_keyfmt *k = dw_xcalloc(1, sizeof(*k));
	unsigned seen = 0;
	const char *p = text;

	*out = NULL;
	while (p && *p) {
		const char *open = strchr(p, '{'), *close;
		enum ktok tok;
		if (!open) {
			kpiece_add(k, K_TEXT, p, strlen(p));
			break;
		}
		if (open > p)
			kpiece_add(k, K_TEXT, p, (size_t)(open - p));
		close = strchr(open, '}');
		if (!close || ktoken(open + 1, (size_t)(close - open - 1), &tok)) {
			dw_etl_keyfmt_free(k);
			return dw_invalid(field, "%s \"%s\": unknown or unclosed token at \"%.20s\" "
					  "(tokens: {prefix} {on} {YYYY} {MM} {DD} {basename} {name})",
					  field, text, open);
		}
		seen |= 1u << tok;
		kpiece_add(k, tok, NULL, 0);
		p = close + 1;
	}
	if (!(seen & (1u << K_ON)) || !(seen & ((1u << K_BASENAME) | (1u << K_NAME)))) {
		dw_etl_keyfmt_free(k);
		return dw_invalid(field, "%s \"%s\" must name {on} and {basename} or {name}, so that "
				  "no two outputs share a key", field, text ? text : "");
	}
	if (text[0] == '/') {
		dw_etl_keyfmt_free(k);
		return dw_invalid(field, "%s must not start with \"/\"", field);
	}
	*out = k;
	return 0;
}

void dw_etl_keyfmt_free(struct dw_etl_keyfmt *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free(k->p[i].text);
	free(k->p);
	free(k);
}

void dw_etl_keyfmt_render(const struct dw_etl_keyfmt *k, const char *prefix,
			  const char *on, time_t day, const char *source,
			  struct dw_buf *out)
{
	const char *name = strrchr(source, '/');
	const char *dot;
	struct tm tm;

	name = name ? name + 1 : source;
	dot = strrchr(name, '.');
	gmtime_r(&day, &tm);
	for (size_t i = 0; i < k->n; i++) {
		switch (k->p[i].tok) {
		case K_TEXT: dw_buf_puts(out, k->p[i].text); break;
		case K_PREFIX: dw_buf_puts(out, prefix ? prefix : ""); break;
		case K_ON: dw_buf_puts(out, on); break;
		case K_YEAR: dw_buf_printf(out, "%04d", tm.tm_year + 1900); break;
		case K_MONTH: dw_buf_printf(out, "%02d", tm.tm_mon + 1); break;
		case K_DAY: dw_buf_printf(out, "%02d", tm.tm_mday); break;
		case K_BASENAME:
			dw_buf_append(out, name, dot && dot != name ? (size_t)(dot - name) : strlen(name));
			break;
		case K_NAME: dw_buf_puts(out, name); break;
		}
	}
}

/* A valid YYYY-MM-DD at p: midnight UTC, or -1 (the one ISO 8601 parser
 * decides what is valid). */
static time_t date_at(const char *p)
{
	char d[11];

	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? p[i] != '-' : !isdigit((unsigned char)p[i]))
			return -1;
	memcpy(d, p, 10);
	d[10] = '\0';
	return dw_time_parse_iso(d);
}

static int find_date(const char *s, time_t *day)
{
	for (size_t n = strlen(s), i = 0; i + 10 <= n; i++) {
		time_t t = date_at(s + i);
		if (t != (time_t)-1) {
			*day = t;
			return 0;
		}
	}
	return -1;
}

int dw_etl_key_date(const char *key, time_t *day)
{
	const char *name = strrchr(key, '/');

	if (find_date(name ? name + 1 : key, day) == 0)
		return 0;
	return find_date(key, day);
}

/* ---- values -------------------------------------------------------------- */

#define EXACT_LIMIT 9007199254740992.0 /* 2^53: doubles are exact below */

static int exact_int(const cJSON *v, long long *out)
{
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d != floor(d) || fabs(d) > EXACT_LIMIT)
			return -1;
		*out = (long long)d;
		return 0;
	}
	if (cJSON_IsString(v) && *v->valuestring) {
		char *end;
		errno = 0;
		long long n = strtoll(v->valuestring, &end, 10);
		if (*end || errno)
			return -1;
		*out = n;
		return 0;
	}
	return -1;
}

static int to_double(const cJSON *v, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v) && *v->valuestring) {
		char *end;
		double d = strtod(v->valuestring, &end);
		if (*end || !isfinite(d))
			return -1;
		*out = d;
		return 0;
	}
	return -1;
}

/* ISO 8601 text as milliseconds since the epoch (fraction kept to the
 * millisecond); numbers are seconds since the epoch. */
static int to_millis(const cJSON *v, long long *ms)
{
	if (cJSON_IsNumber(v)) {
		if (!isfinite(v->valuedouble) || fabs(v->valuedouble) > 1e13)
			return -1;
		*ms = llround(v->valuedouble * 1000.0);
		return 0;
	}
	if (!cJSON_IsString(v))
		return -1;
	const char *s = v->valuestring;
	time_t t = dw_time_parse_iso(s);
	if (t == (time_t)-1 || strlen(s) < 10)
		return -1;
	long frac = 0;
	if ((s[10] == 'T' || s[10] == 't' || s[10] == ' ') && strlen(s) > 19 &&
	    (s[19] == '.' || s[19] == ',')) {
		const char *p = s + 20;
		for (int i = 0; i < 3; i++)
			frac = frac * 10 + (isdigit((unsigned char)*p) ? *p++ - '0' : 0);
	}
	*ms = (long long)t * 1000 + frac;
	return 0;
}

static void put_null(struct dw_buf *b)
{
	dw_avro_put_long(b, 0);
}

/* A string column takes any scalar as its text, and objects and arrays as
 * compact JSON. */
static void put_text(struct dw_buf *b, const cJSON *v)
{
	char num[64];

	dw_avro_put_long(b, 1);
	if (cJSON_IsString(v)) {
		dw_avro_put_string(b, v->valuestring);
	} else if (cJSON_IsBool(v)) {
		dw_avro_put_string(b, cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsNumber(v)) {
		long long n;
		if (exact_int(v, &n) == 0)
			snprintf(num, sizeof(num), "%lld", n);
		else
			snprintf(num, sizeof(num), "%.17g", v->valuedouble);
		dw_avro_put_string(b, num);
	} else {
		char *text = cJSON_PrintUnformatted(v);
		dw_avro_put_string(b, text ? text : "");
		cJSON_free(text);
	}
}

/* Encode v (present, not null) as column c: 0, or -1 when it does not fit
 * (the caller writes null and counts it). */
static int put_value(struct dw_buf *b, const struct column *c, const cJSON *v)
{
	long long n;
	double d;
	__int128 dec;

	switch (c->type) {
	case DW_ETL_STRING:
		put_text(b, v);
		return 0;
	case DW_ETL_INT:
	case DW_ETL_BIGINT:
		if (exact_int(v, &n) || (c->type == DW_ETL_INT && (n < INT32_MIN || n > INT32_MAX)))
			return -1;
		dw_avro_put_long(b, 1);
		dw_avro_put_long(b, n);
		return 0;
	case DW_ETL_DOUBLE:
	case DW_ETL_FLOAT:
		if (to_double(v, &d))
			return -1;
		dw_avro_put_long(b, 1);
		if (c->type == DW_ETL_DOUBLE)
			dw_avro_put_double(b, d);
		else
			dw_avro_put_float(b, (float)d);
		return 0;
	case DW_ETL_BOOLEAN:
		if (cJSON_IsBool(v))
			n = cJSON_IsTrue(v);
		else if (cJSON_IsString(v) && (!strcmp(v->valuestring, "true") || !strcmp(v->valuestring, "false")))
			n = v->valuestring[0] == 't';
		else
			return -1;
		dw_avro_put_long(b, 1);
		dw_avro_put_boolean(b, (int)n);
		return 0;
	case DW_ETL_DATE:
		if (!cJSON_IsString(v) || to_millis(v, &n))
			return -1;
		dw_avro_put_long(b, 1);
		dw_avro_put_long(b, (long long)floor((double)n / 86400000.0));
		return 0;
	case DW_ETL_TIMESTAMP:
		if (to_millis(v, &n))
			return -1;
		dw_avro_put_long(b, 1);
		dw_avro_put_long(b, n);
		return 0;
	case DW_ETL_DECIMAL: {
		char text[128];
		if (cJSON_IsNumber(v)) {
			if (!isfinite(v->valuedouble) || fabs(v->valuedouble) > 1e38)
				return -1;
			/* A double holds about 15 significant digits: printed to
			 * the scale, it is the number the JSON text meant. */
			snprintf(text, sizeof(text), "%.*f", c->scale, v->valuedouble);
		} else if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof(text)) {
			snprintf(text, sizeof(text), "%s", v->valuestring);
		} else {
			return -1;
		}
		if (dw_avro_decimal_parse(text, c->precision, c->scale, &dec))
			return -1;
		dw_avro_put_long(b, 1);
		dw_avro_put_decimal(b, dec);
		return 0;
	}
	}
	return -1;
}

/* The value at a path; JSON null counts as absent. */
static const cJSON *lookup(const cJSON *rec, const struct path *p)
{
	const cJSON *v = rec;

	for (size_t i = 0; i < p->n && v; i++)
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, p->seg[i]) : NULL;
	return v && !cJSON_IsNull(v) ? v : NULL;
}

static const cJSON *column_value(const cJSON *rec, const struct column *c)
{
	for (size_t i = 0; i < c->n_paths; i++) {
		const cJSON *v = lookup(rec, &c->paths[i]);
		if (v)
			return v;
	}
	return NULL;
}

static const cJSON *lookup_dotted(const cJSON *rec, const char *dotted)
{
	struct path p;
	const cJSON *v = NULL;

	if (split_path(dotted, &p) == 0)
		v = lookup(rec, &p);
	for (size_t j = 0; j < p.n; j++)
		free(p.seg[j]);
	free(p.seg);
	return v;
}

/* ---- transforming a file ------------------------------------------------- */

int dw_etl_file_init(struct dw_etl_file *f, const struct dw_etl_config *cfg,
		     const char *bucket, const char *key)
{
	memset(f, 0, sizeof(*f));
	f->cfg = cfg;
	f->source = dw_xasprintf("%s/%s", bucket, key);
	f->key = dw_xstrdup(key);
	dw_buf_init(&f->carry);
	f->unknown_counts = cJSON_CreateObject();
	if (dw_etl_key_date(key, &f->key_day))
		f->key_day = (time_t)-1;
	if (cfg->date_from == DW_ETL_DATE_KEY && f->key_day == (time_t)-1)
		return dw_fail("NoDateInKey", "s3://%s: the file name holds no date (YYYY-MM-DD); "
			       "set date_from to records to take it from the records", f->source);
	return 0;
}

void dw_etl_file_release(struct dw_etl_file *f)
{
	for (size_t i = 0; i < f->n_outputs; i++) {
		dw_avro_writer_release(&f->outputs[i]->w);
		free(f->outputs[i]->on);
		free(f->outputs[i]->key);
		free(f->outputs[i]);
	}
	free(f->outputs);
	free(f->source);
	free(f->key);
	dw_buf_release(&f->carry);
	cJSON_Delete(f->unknown_counts);
	memset(f, 0, sizeof(*f));
}

static struct dw_etl_output *output_for(struct dw_etl_file *f, const char *on,
					const char *schema, time_t day)
{
	for (size_t i = 0; i < f->n_outputs; i++)
		if (f->outputs[i]->day == day && strcmp(f->outputs[i]->on, on) == 0)
			return f->outputs[i];
	struct dw_etl_output *o = dw_xcalloc(1, sizeof(*o));
	char iso[32];
	struct dw_buf key;
	const char *parts[3] = { f->source, on, iso };
	unsigned char sync[DW_AVRO_SYNC_LEN];

	dw_time_format_iso(day, iso);
	dw_avro_sync_derive(parts, 3, sync);
	o->on = dw_xstrdup(on);
	o->day = day;
	dw_buf_init(&key);
	dw_etl_keyfmt_render(f->cfg->keyfmt, f->cfg->prefix, on, day, f->key, &key);
	o->key = dw_buf_detach(&key);
	dw_avro_writer_init(&o->w, schema, f->cfg->codec, sync);
	f->outputs = dw_xrealloc(f->outputs, (f->n_outputs + 1) * sizeof(struct dw_etl_output *));
	f->outputs[f->n_outputs++] = o;
	return o;
}

static void bad_line(struct dw_etl_file *f, const char *why)
{
	f->bad_lines++;
	if (!f->first_bad[0])
		snprintf(f->first_bad, sizeof(f->first_bad), "line %llu: %s", f->lines, why);
}

/* Well-formed UTF-8 (Avro strings must be), without overlongs or
 * surrogates. */
static int utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4; cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += len;
	}
	return 1;
}

static void count_unknown(struct dw_etl_file *f, const char *on)
{
	const char *name = on ? on : "null";
	cJSON *n = cJSON_GetObjectItemCaseSensitive(f->unknown_counts, name);

	f->unknown_records++;
	if (n)
		cJSON_SetNumberValue(n, n->valuedouble + 1);
	else
		cJSON_AddNumberToObject(f->unknown_counts, name, 1);
}

static int record_day(struct dw_etl_file *f, const cJSON *rec, time_t *day)
{
	long long ms;

	if (f->cfg->date_from == DW_ETL_DATE_KEY) {
		*day = f->key_day;
		return 0;
	}
	const cJSON *v = lookup_dotted(rec, f->cfg->date_field ? f->cfg->date_field : "at");
	if (!v || to_millis(v, &ms))
		return -1;
	*day = (time_t)(floor((double)ms / 86400000.0) * 86400.0);
	return 0;
}

static int unknown_record(struct dw_etl_file *f, const char *on, const char *line,
			  size_t len, time_t day)
{
	count_unknown(f, on);
	if (f->cfg->unknown == DW_ETL_UNKNOWN_FAIL) {
		f->failed = 1;
		snprintf(f->first_unknown, sizeof(f->first_unknown), "%s", on ? on : "null");
		return dw_fail("UnknownKind", "s3://%s line %llu: no mapping for %s \"%s\" "
			       "(unknown: fail)", f->source, f->lines,
			       f->cfg->split_field ? f->cfg->split_field : "on", on ? on : "null");
	}
	if (f->cfg->unknown == DW_ETL_UNKNOWN_SKIP)
		return 0;
	struct dw_etl_output *o = output_for(f, DW_ETL_UNKNOWN_FOLDER_NAME, dw_etl_unknown_schema, day);
	if (on) {
		dw_avro_put_long(&o->w.rec, 1);
		dw_avro_put_string(&o->w.rec, on);
	} else {
		put_null(&o->w.rec);
	}
	dw_avro_put_bytes(&o->w.rec, line, len);
	o->records++;
	if (dw_avro_writer_end_record(&o->w)) {
		f->failed = 1;
		return -1;
	}
	return 0;
}

static int mapped_record(struct dw_etl_file *f, const struct kind *k, const cJSON *rec,
			 time_t day)
{
	struct dw_etl_output *o = output_for(f, k->on, k->schema, day);

	for (size_t i = 0; i < k->n; i++) {
		const cJSON *v = column_value(rec, &k->cols[i]);
		if (!v) {
			put_null(&o->w.rec);
		} else if (put_value(&o->w.rec, &k->cols[i], v)) {
			f->invalid_values++;
			put_null(&o->w.rec);
		}
	}
	o->records++;
	if (dw_avro_writer_end_record(&o->w)) {
		f->failed = 1;
		return -1;
	}
	return 0;
}

static int handle_line(struct dw_etl_file *f, const char *line, size_t len)
{
	const char *end = NULL;
	char num[64];
	time_t day;
	int rc;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	size_t lead = 0;
	while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
		lead++;
	if (lead == len)
		return 0; /* blank lines are no lines */
	f->lines++;
	if (!utf8_ok((const unsigned char *)line, len)) {
		bad_line(f, "not UTF-8");
		return 0;
	}
	cJSON *rec = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (!cJSON_IsObject(rec)) {
		bad_line(f, rec ? "not a JSON object" : "not JSON");
		cJSON_Delete(rec);
		return 0;
	}
	while (end && end < line + len && (*end == ' ' || *end == '\t'))
		end++;
	if (!end || end != line + len) {
		bad_line(f, "text after the JSON object");
		cJSON_Delete(rec);
		return 0;
	}
	if (record_day(f, rec, &day)) {
		bad_line(f, "no valid date in the date field");
		cJSON_Delete(rec);
		return 0;
	}
	const cJSON *split = lookup_dotted(rec, f->cfg->split_field ? f->cfg->split_field : "on");
	const char *on = NULL;
	if (cJSON_IsString(split)) {
		on = split->valuestring;
	} else if (cJSON_IsNumber(split) || cJSON_IsBool(split)) {
		char *t = cJSON_PrintUnformatted(split);
		snprintf(num, sizeof(num), "%s", t ? t : "");
		cJSON_free(t);
		on = num;
	}
	f->records++;
	const struct kind *k = find_kind(f->cfg->mapping, on);
	rc = k ? mapped_record(f, k, rec, day) : unknown_record(f, on, line, len, day);
	cJSON_Delete(rec);
	return rc;
}

int dw_etl_file_feed(struct dw_etl_file *f, const char *data, size_t len)
{
	size_t max = f->cfg->max_line ? f->cfg->max_line : DW_ETL_MAX_LINE;

	if (f->failed)
		return -1;
	f->bytes += len;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (f->skipping) {
			/* the rest of an over-long line */
		} else if (f->carry.len + n > max) {
			f->lines++;
			bad_line(f, "longer than max_line_bytes");
			dw_buf_clear(&f->carry);
			f->skipping = 1;
		} else if (nl && f->carry.len == 0) {
			if (handle_line(f, data, n))
				return -1;
		} else {
			dw_buf_append(&f->carry, data, n);
			if (nl) {
				int rc = handle_line(f, f->carry.data, f->carry.len);
				dw_buf_clear(&f->carry);
				if (rc)
					return -1;
			}
		}
		if (nl)
			f->skipping = 0;
		data += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
	return 0;
}

int dw_etl_file_finish(struct dw_etl_file *f)
{
	if (f->failed)
		return -1;
	if (!f->skipping && f->carry.len) {
		int rc = handle_line(f, f->carry.data, f->carry.len);
		dw_buf_clear(&f->carry);
		if (rc)
			return -1;
	}
	f->skipping = 0;
	if (f->lines && f->bad_lines == f->lines)
		return dw_fail("AllLinesBad", "s3://%s: none of its %llu lines is a JSON object (%s)",
			       f->source, f->lines, f->first_bad);
	for (size_t i = 0; i < f->n_outputs; i++)
		if (dw_avro_writer_finish(&f->outputs[i]->w))
			return -1;
	return 0;
}

/* ---- messages ------------------------------------------------------------ */

char *dw_etl_form_decode(const char *s)
{
	struct dw_buf b;

	dw_buf_init(&b);
	dw_buf_puts(&b, "");
	for (; *s; s++) {
		if (*s == '+') {
			dw_buf_putc(&b, ' ');
		} else if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
			char hex[3] = { s[1], s[2], 0 };
			dw_buf_putc(&b, (char)strtol(hex, NULL, 16));
			s += 2;
		} else {
			dw_buf_putc(&b, *s);
		}
	}
	return dw_buf_detach(&b);
}

static void add_ref(struct dw_etl_refs *r, const char *bucket, char *key)
{
	r->items = dw_xrealloc(r->items, (r->n + 1) * sizeof(*r->items));
	r->items[r->n].bucket = dw_xstrdup(bucket);
	r->items[r->n].key = key;
	r->n++;
}

static const cJSON *get_path(const cJSON *o, const char *a, const char *b, const char *c)
{
	o = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		o = cJSON_GetObjectItemCaseSensitive(o, b);
	if (c)
		o = cJSON_GetObjectItemCaseSensitive(o, c);
	return o;
}

static int notification_refs(const cJSON *records, struct dw_etl_refs *out)
{
	const cJSON *rec;

	cJSON_ArrayForEach(rec, records) {
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(rec, "eventSource");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(rec, "eventName");
		if (!cJSON_IsString(src) || strcmp(src->valuestring, "aws:s3") != 0 ||
		    !cJSON_IsString(name) || strncmp(name->valuestring, "ObjectCreated:", 14) != 0)
			continue; /* removals and other events name no file to load */
		const cJSON *bucket = get_path(rec, "s3", "bucket", "name");
		const cJSON *key = get_path(rec, "s3", "object", "key");
		if (!cJSON_IsString(bucket) || !cJSON_IsString(key) || !*key->valuestring)
			return dw_fail("BadMessage", "an S3 event notification without s3.bucket.name "
				       "and s3.object.key");
		add_ref(out, bucket->valuestring, dw_etl_form_decode(key->valuestring));
	}
	return 0;
}

static int json_refs(const cJSON *body, struct dw_etl_refs *out, int depth)
{
	const cJSON *records = cJSON_GetObjectItemCaseSensitive(body, "Records");
	const cJSON *event = cJSON_GetObjectItemCaseSensitive(body, "Event");
	const cJSON *sns = cJSON_GetObjectItemCaseSensitive(body, "Message");

	if (cJSON_IsArray(records))
		return notification_refs(records, out);
	if (cJSON_IsString(event) && strcmp(event->valuestring, "s3:TestEvent") == 0) {
		out->test_event = 1;
		return 0;
	}
	/* An S3 notification delivered through SNS: the notification is the
	 * envelope's Message. */
	if (depth == 0 && cJSON_IsString(sns) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(body, "TopicArn"))) {
		cJSON *inner = cJSON_Parse(sns->valuestring);
		int rc = cJSON_IsObject(inner) ? json_refs(inner, out, 1)
			 : dw_fail("BadMessage", "an SNS message that is not an S3 notification");
		cJSON_Delete(inner);
		return rc;
	}
	return dw_fail("BadMessage", "a JSON message that is no S3 event notification "
		       "(no Records, not an s3:TestEvent)");
}

int dw_etl_message_refs(const char *body, const char *default_bucket,
			struct dw_etl_refs *out)
{
	size_t len = body ? strlen(body) : 0;
	int rc;

	memset(out, 0, sizeof(*out));
	while (len && isspace((unsigned char)body[len - 1]))
		len--;
	while (len && isspace((unsigned char)*body)) {
		body++;
		len--;
	}
	if (!len)
		return dw_fail("BadMessage", "an empty message");
	if (*body == '{') {
		cJSON *j = cJSON_ParseWithLength(body, len);
		if (cJSON_IsObject(j)) {
			rc = json_refs(j, out, 0);
			cJSON_Delete(j);
			if (rc)
				dw_etl_refs_release(out);
			return rc;
		}
		cJSON_Delete(j);
	}
	/* dw-fanout's key format: the body is the key (or s3://bucket/key). */
	if (len > 5 && strncmp(body, "s3://", 5) == 0) {
		const char *slash = memchr(body + 5, '/', len - 5);
		if (!slash || slash == body + 5 || slash + 1 == body + len)
			return dw_fail("BadMessage", "a message s3://... without bucket and key");
		char *bucket = dw_xstrndup(body + 5, (size_t)(slash - body - 5));
		add_ref(out, bucket, dw_xstrndup(slash + 1, (size_t)(body + len - slash - 1)));
		free(bucket);
		return 0;
	}
	if (!default_bucket || !*default_bucket)
		return dw_fail("BadMessage", "the message is a bare key but the request names no bucket");
	if (memchr(body, '\n', len))
		return dw_fail("BadMessage", "a message that is neither a key nor an S3 notification");
	add_ref(out, default_bucket, dw_xstrndup(body, len));
	return 0;
}

void dw_etl_refs_release(struct dw_etl_refs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].bucket);
		free(r->items[i].key);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}
