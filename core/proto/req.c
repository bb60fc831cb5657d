/* req.c - request validation and typed getters. */
#include "proto/req.h"
#include "base/buf.h"
#include "base/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	long long n;
	int ok = 1;

	switch (f->type) {
	case DW_T_STRING:
	case DW_T_SECRET: ok = cJSON_IsString(v); break;
	case DW_T_INT: /* exact integers: checked below */
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
	/* Exact in 64 bits or refused: 2^53+1 would silently read as 2^53. */
	if (f->type == DW_T_INT && dw_json_int(v, &n))
		return dw_invalid(where, "%s must be a whole number between -2^53 and 2^53",
				  where);
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

int dw_req_choice(const cJSON *obj, const char *name, const char *path,
		  const char *const *choices)
{
	const char *v = dw_req_str(obj, name, NULL);
	char where[256];
	struct dw_buf list;

	if (!v)
		return 0;
	for (const char *const *c = choices; *c; c++)
		if (strcmp(*c, v) == 0)
			return 0;
	dw_buf_init(&list);
	for (const char *const *c = choices; *c; c++)
		dw_buf_printf(&list, "%s%s", c == choices ? "" : ", ", *c);
	join_path(where, sizeof(where), path, name);
	dw_invalid(where, "%s must be one of: %s", where, list.data);
	dw_buf_release(&list);
	return -1;
}
