/* req.c - request validation, declarative binding into options structs,
 * --help from the same tables, and typed getters. */
#include "proto/req.h"
#include "base/buf.h"
#include "base/redact.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct dw_field dw_common_fields[] = {
	DW_STR("action", struct dw_common_req, action, 0, NULL,
	       "the action, when not given as the first argument"),
	DW_STR("region", struct dw_common_req, region, 0, NULL,
	       "AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the profile)"),
	DW_STR("profile", struct dw_common_req, profile, 0, NULL,
	       "shared-config profile (else AWS_PROFILE)"),
	DW_STR("endpoint_url", struct dw_common_req, endpoint_url, 0, NULL,
	       "endpoint for every AWS service (else AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL)"),
	DW_MAP("endpoints", struct dw_common_req, endpoints, 0,
	       "per-service endpoints, e.g. {\"sqs\": \"http://127.0.0.1:9324\"}"),
	DW_INT("max_attempts", struct dw_common_req, max_attempts, DW_NODEFAULT, 0, 1, 20,
	       "tries per AWS call (else AWS_MAX_ATTEMPTS, 3)"),
	/* A day at most per AWS call: 9223372036854775807 s would overflow
	 * the milliseconds (issue 12). */
	DW_INT("timeout_s", struct dw_common_req, timeout_s, 0, 60, 1, 86400,
	       "time limit per AWS call in seconds"),
	DW_FIELDS_END
};

static const char *type_name(enum dw_ftype t)
{
	switch (t) {
	case DW_T_STRING: return "a string";
	case DW_T_INT: return "an integer";
	case DW_T_NUMBER: return "a number";
	case DW_T_BOOL: return "true or false";
	case DW_T_OBJECT: return "an object";
	case DW_T_STRINGS: return "an array of strings";
	case DW_T_OBJECTS: return "an array of objects";
	case DW_T_MAP: return "an object of names to values";
	case DW_T_SECRET: return "a string";
	case DW_T_ANY: break;
	}
	return "a value";
}

static void join_path(char *out, size_t len, const char *path, const char *name)
{
	if (path && *path)
		snprintf(out, len, "%s.%s", path, name);
	else
		snprintf(out, len, "%s", name);
}

static int secret_env_name(const char *key, char *name, size_t len)
{
	size_t n = strlen(key);

	if (n <= 4 || strcmp(key + n - 4, "_env") != 0 || n - 4 >= len)
		return 0;
	memcpy(name, key, n - 4);
	name[n - 4] = '\0';
	return 1;
}

static const struct dw_field *lookup(const struct dw_field *fields,
				     const char *name)
{
	for (const struct dw_field *f = fields; f && f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* The field a key belongs to: itself, or a secret's "_env" twin. */
static const struct dw_field *field_for_key(const struct dw_field *fields,
					    const struct dw_field *extra,
					    const char *key, int *is_env)
{
	const struct dw_field *f = lookup(fields, key);
	char base[128];

	if (!f)
		f = lookup(extra, key);
	*is_env = 0;
	if (f || !secret_env_name(key, base, sizeof(base)))
		return f;
	f = lookup(fields, base);
	if (!f)
		f = lookup(extra, base);
	if (f && f->type == DW_T_SECRET) {
		*is_env = 1;
		return f;
	}
	return NULL;
}

/* ---- bounds and choices --------------------------------------------------- */

/* The range the member can hold. */
static void member_range(enum dw_bind b, long long *lo, long long *hi)
{
	switch (b) {
	case DW_B_INT: *lo = INT_MIN; *hi = INT_MAX; break;
	case DW_B_UINT: *lo = 0; *hi = UINT_MAX; break;
	case DW_B_LONG: *lo = LONG_MIN; *hi = LONG_MAX; break;
	case DW_B_ULONG: *lo = 0; *hi = LLONG_MAX; break;
	default: *lo = LLONG_MIN; *hi = LLONG_MAX; break;
	}
}

/* The inclusive bounds of an integer field: the table's, cut to what its
 * member holds. */
static void int_bounds(const struct dw_field *f, long long *lo, long long *hi)
{
	member_range(f->bind, lo, hi);
	if (f->flags & DW_F_BOUNDED_) {
		if (f->min > *lo)
			*lo = f->min;
		if (f->max < *hi)
			*hi = f->max;
	}
}

static int choice_index(const struct dw_field *f, const char *v)
{
	for (int i = 0; f->choices[i]; i++)
		if (strcmp(f->choices[i], v) == 0)
			return i;
	return -1;
}

static int refuse_choice(const char *where, const char *const *choices)
{
	struct dw_buf list;

	dw_buf_init(&list);
	for (const char *const *c = choices; *c; c++)
		dw_buf_printf(&list, "%s%s", c == choices ? "" : ", ", *c);
	dw_invalid(where, "%s must be one of: %s", where, list.data);
	dw_buf_release(&list);
	return -1;
}

static int check_bounds(const cJSON *v, const struct dw_field *f, const char *where)
{
	long long n, lo, hi;

	if (f->type == DW_T_INT) {
		/* Exact in 64 bits or refused: 2^53+1 would silently read as 2^53. */
		if (dw_json_int(v, &n))
			return dw_invalid(where, "%s must be a whole number between -2^53 and 2^53",
					  where);
		int_bounds(f, &lo, &hi);
		if (n < lo || n > hi)
			return dw_invalid(where, "%s must be between %lld and %lld, not %lld",
					  where, lo, hi, n);
	}
	if (f->type == DW_T_NUMBER && (f->flags & DW_F_BOUNDED_) &&
	    (!isfinite(v->valuedouble) || v->valuedouble < (double)f->min ||
	     v->valuedouble > (double)f->max))
		return dw_invalid(where, "%s must be between %lld and %lld", where, f->min, f->max);
	if (f->type == DW_T_STRING && f->choices && choice_index(f, v->valuestring) < 0)
		return refuse_choice(where, f->choices);
	return 0;
}

/* ---- validation ----------------------------------------------------------- */

static int check_value(const cJSON *v, const struct dw_field *f,
		       const char *where);

static int check_items(const cJSON *arr, const struct dw_field *f,
		       const char *where)
{
	char item[256];
	size_t i = 0;
	const cJSON *v;

	for (v = arr->child; v; v = v->next, i++) {
		snprintf(item, sizeof(item), "%s[%zu]", where, i);
		if (f->type == DW_T_STRINGS && !cJSON_IsString(v))
			return dw_invalid(item, "%s must be a string", item);
		if (f->type == DW_T_OBJECTS) {
			if (!cJSON_IsObject(v))
				return dw_invalid(item, "%s must be an object", item);
			if (f->sub && dw_req_validate(v, f->sub, NULL, item))
				return -1;
		}
	}
	return 0;
}

static int check_map(const cJSON *obj, const char *where)
{
	char item[256];

	for (const cJSON *v = obj->child; v; v = v->next) {
		if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
			join_path(item, sizeof(item), where, v->string);
			return dw_invalid(item, "%s must be a string, number or boolean",
					  item);
		}
	}
	return 0;
}

static int check_value(const cJSON *v, const struct dw_field *f,
		       const char *where)
{
	int ok = 1;

	switch (f->type) {
	case DW_T_STRING:
	case DW_T_SECRET: ok = cJSON_IsString(v); break;
	case DW_T_INT: /* exact integers: checked with the bounds */
	case DW_T_NUMBER: ok = cJSON_IsNumber(v); break;
	case DW_T_BOOL: ok = cJSON_IsBool(v); break;
	case DW_T_OBJECT:
	case DW_T_MAP: ok = cJSON_IsObject(v); break;
	case DW_T_STRINGS:
	case DW_T_OBJECTS: ok = cJSON_IsArray(v); break;
	case DW_T_ANY: break;
	}
	if (!ok)
		return dw_invalid(where, "%s must be %s", where, type_name(f->type));
	if (check_bounds(v, f, where))
		return -1;
	if (f->type == DW_T_OBJECT && f->sub)
		return dw_req_validate(v, f->sub, NULL, where);
	if (f->type == DW_T_MAP)
		return check_map(v, where);
	if (f->type == DW_T_STRINGS || f->type == DW_T_OBJECTS)
		return check_items(v, f, where);
	return 0;
}

static int check_required(const cJSON *obj, const struct dw_field *fields,
			  const char *path)
{
	char where[256], env[160];

	for (const struct dw_field *f = fields; f && f->name; f++) {
		if (!(f->flags & DW_REQUIRED))
			continue;
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		if (v && !cJSON_IsNull(v))
			continue;
		snprintf(env, sizeof(env), "%s_env", f->name);
		if (f->type == DW_T_SECRET && cJSON_GetObjectItemCaseSensitive(obj, env))
			continue;
		join_path(where, sizeof(where), path, f->name);
		if (f->type == DW_T_SECRET)
			return dw_invalid(where, "%s (or %s_env) is required", where,
					  where);
		return dw_invalid(where, "%s is required", where);
	}
	return 0;
}

int dw_req_validate(const cJSON *obj, const struct dw_field *fields,
		    const struct dw_field *extra, const char *path)
{
	char where[256];

	if (!cJSON_IsObject(obj))
		return dw_invalid(path, "%s must be a JSON object",
				  path && *path ? path : "the request");
	for (const cJSON *v = obj->child; v; v = v->next) {
		const char *key = v->string;
		int is_env;
		const struct dw_field *f = field_for_key(fields, extra, key, &is_env);

		join_path(where, sizeof(where), path, key);
		if (!f)
			return dw_invalid(where, "unknown field \"%s\"", where);
		if (cJSON_IsNull(v))
			continue;
		if (is_env) {
			if (!cJSON_IsString(v))
				return dw_invalid(where, "%s must be the name of an environment variable", where);
			continue;
		}
		if (check_value(v, f, where))
			return -1;
	}
	if (check_required(obj, fields, path))
		return -1;
	return check_required(obj, extra, path);
}

/* ---- binding -------------------------------------------------------------- */

static void *member(void *opts, const struct dw_field *f)
{
	return (char *)opts + f->offset;
}

/* Store n (already within the member's range) in the member. */
static void store_int(void *p, enum dw_bind b, long long n)
{
	switch (b) {
	case DW_B_INT: *(int *)p = (int)n; break;
	case DW_B_UINT: *(unsigned *)p = (unsigned)n; break;
	case DW_B_LONG: *(long *)p = (long)n; break;
	case DW_B_ULONG: *(unsigned long *)p = (unsigned long)n; break;
	case DW_B_LLONG: *(long long *)p = n; break;
	case DW_B_BOOL: *(_Bool *)p = n != 0; break;
	default: break;
	}
}

/* The integer a field binds: the value, or the default; a boolean as 0/1,
 * a choice as its index. */
static long long int_value(const cJSON *v, const struct dw_field *f)
{
	long long n = f->def_int;

	if (f->type == DW_T_BOOL)
		return v ? cJSON_IsTrue(v) : f->def_int;
	if (f->type == DW_T_STRING)
		return v ? choice_index(f, v->valuestring) :
		       f->def_str ? choice_index(f, f->def_str) : -1;
	if (v)
		dw_json_int(v, &n);
	return n;
}

/* Secret members to NULL first, so that a failure half-way leaves nothing
 * dw_req_release cannot free. */
static void null_secrets(const struct dw_field *fields, void *opts)
{
	for (const struct dw_field *f = fields; f && f->name; f++) {
		if (f->bind == DW_B_SECRET)
			*(char **)member(opts, f) = NULL;
		else if (f->bind == DW_B_STRUCT)
			null_secrets(f->sub, member(opts, f));
	}
}

static int fill(const cJSON *obj, const struct dw_field *fields, const char *path,
		void *opts)
{
	char where[256];

	for (const struct dw_field *f = fields; f && f->name; f++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		void *p = member(opts, f);

		if (cJSON_IsNull(v))
			v = NULL;
		switch (f->bind) {
		case DW_B_NONE: break;
		case DW_B_INT: case DW_B_UINT: case DW_B_LONG: case DW_B_ULONG:
		case DW_B_LLONG: case DW_B_BOOL:
			store_int(p, f->bind, int_value(v, f));
			break;
		case DW_B_DOUBLE: *(double *)p = v ? v->valuedouble : f->def_num; break;
		case DW_B_STR: *(const char **)p = v ? v->valuestring : f->def_str; break;
		case DW_B_JSON: *(const cJSON **)p = v; break;
		case DW_B_SECRET:
			if (dw_req_secret(obj, f->name, path, (char **)p))
				return -1;
			break;
		case DW_B_STRUCT:
			join_path(where, sizeof(where), path, f->name);
			if (fill(v, f->sub, where, p))
				return -1;
			break;
		}
	}
	return 0;
}

static int bind(const cJSON *obj, const struct dw_field *fields,
		const struct dw_field *extra, const char *path, void *opts)
{
	null_secrets(fields, opts);
	if (dw_req_validate(obj, fields, extra, path))
		return -1;
	if (fill(obj, fields, path, opts)) {
		dw_req_release(fields, opts);
		return -1;
	}
	return 0;
}

int dw_req_bind(const cJSON *req, const struct dw_field *fields, void *opts)
{
	return bind(req, fields, dw_common_fields, "", opts);
}

int dw_req_bind_at(const cJSON *obj, const struct dw_field *fields,
		   const char *path, void *opts)
{
	return bind(obj, fields, NULL, path, opts);
}

void dw_req_release(const struct dw_field *fields, void *opts)
{
	for (const struct dw_field *f = fields; f && f->name; f++) {
		if (f->bind == DW_B_SECRET) {
			char **s = member(opts, f);
			free(*s);
			*s = NULL;
		} else if (f->bind == DW_B_STRUCT) {
			dw_req_release(f->sub, member(opts, f));
		}
	}
}

void dw_req_common(const cJSON *req, struct dw_common_req *out)
{
	/* Validated by dw_op_main (bounds included), and no secrets: fill
	 * cannot fail. */
	(void)fill(req, dw_common_fields, "", out);
}

int dw_req_has(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return v && !cJSON_IsNull(v);
}

/* ---- --help --------------------------------------------------------------- */

static const char *const type_words[] = {
	[DW_T_STRING] = "string", [DW_T_INT] = "integer", [DW_T_NUMBER] = "number",
	[DW_T_BOOL] = "boolean", [DW_T_OBJECT] = "object", [DW_T_STRINGS] = "[string]",
	[DW_T_OBJECTS] = "[object]", [DW_T_MAP] = "object", [DW_T_SECRET] = "secret",
	[DW_T_ANY] = "any",
};

/* " (default D) [lo..hi] {a|b}" from the table. */
static void print_facts(FILE *out, const struct dw_field *f)
{
	long long lo, hi;

	if (!(f->flags & (DW_REQUIRED | DW_NODEFAULT))) {
		if (f->def_str)
			fprintf(out, " (default %s)", f->def_str);
		else if ((f->flags & DW_F_DEFAULT_) && f->type == DW_T_BOOL)
			fprintf(out, " (default %s)", f->def_int ? "true" : "false");
		else if ((f->flags & DW_F_DEFAULT_) && f->type == DW_T_NUMBER)
			fprintf(out, " (default %g)", f->def_num);
		else if (f->flags & DW_F_DEFAULT_)
			fprintf(out, " (default %lld)", f->def_int);
	}
	if (f->type == DW_T_INT && (f->flags & DW_F_BOUNDED_)) {
		int_bounds(f, &lo, &hi);
		fprintf(out, " [%lld..%lld]", lo, hi);
	} else if (f->type == DW_T_NUMBER && (f->flags & DW_F_BOUNDED_)) {
		fprintf(out, " [%lld..%lld]", f->min, f->max);
	}
	if (f->choices) {
		fputs(" {", out);
		for (const char *const *c = f->choices; *c; c++)
			fprintf(out, "%s%s", c == f->choices ? "" : "|", *c);
		fputc('}', out);
	}
}

void dw_req_print_help(FILE *out, const struct dw_field *fields, int depth)
{
	for (const struct dw_field *f = fields; f && f->name; f++) {
		fprintf(out, "%*s%-22s %-9s %s%s", 4 + 2 * depth, "", f->name,
			type_words[f->type], (f->flags & DW_REQUIRED) ? "(required) " : "",
			f->help ? f->help : "");
		print_facts(out, f);
		fputc('\n', out);
		if (f->type == DW_T_SECRET)
			fprintf(out, "%*s%-22s %-9s the environment variable holding %s\n",
				4 + 2 * depth, "", "", "", f->name);
		if (f->sub)
			dw_req_print_help(out, f->sub, depth + 1);
	}
}

/* ---- getters -------------------------------------------------------------- */

const char *dw_req_str(const cJSON *obj, const char *name, const char *def)
{
	const char *v = dw_json_str(obj, name);

	return v ? v : def;
}

long long dw_req_int(const cJSON *obj, const char *name, long long def)
{
	long long v;

	return dw_json_int(cJSON_GetObjectItemCaseSensitive(obj, name), &v) ? def : v;
}

int dw_req_bool(const cJSON *obj, const char *name, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

int dw_req_secret(const cJSON *obj, const char *name, const char *path,
		  char **out)
{
	char env_key[160], where[256];
	const char *direct = dw_req_str(obj, name, NULL);
	const char *env_name;

	snprintf(env_key, sizeof(env_key), "%s_env", name);
	env_name = dw_req_str(obj, env_key, NULL);
	*out = NULL;
	if (direct && env_name) {
		join_path(where, sizeof(where), path, name);
		return dw_invalid(where, "give %s or %s_env, not both", where, where);
	}
	if (direct) {
		*out = dw_xstrdup(direct);
	} else if (env_name) {
		const char *value = getenv(env_name);
		join_path(where, sizeof(where), path, env_key);
		if (!value || !*value)
			return dw_invalid(where, "%s names the environment variable %s, which is not set",
					  where, env_name);
		*out = dw_xstrdup(value);
	} else {
		return 0;
	}
	dw_redact_secret(*out);
	return 0;
}
