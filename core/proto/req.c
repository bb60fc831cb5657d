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

static int check_value(const json_t *v, const struct dw_field *f,
		       const char *where);

static int check_items(const json_t *arr, const struct dw_field *f,
		       const char *where)
{
	char item[256];
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		snprintf(item, sizeof(item), "%s[%zu]", where, i);
		if (f->type == DW_T_STRINGS && !json_is_string(v))
			return dw_invalid(item, "%s must be a string", item);
		if (f->type == DW_T_OBJECTS) {
			if (!json_is_object(v))
				return dw_invalid(item, "%s must be an object", item);
			if (f->sub && dw_req_validate(v, f->sub, NULL, item))
				return -1;
		}
	}
	return 0;
}

static int check_map(const json_t *obj, const char *where)
{
	char item[256];
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		if (json_is_object(v) || json_is_array(v)) {
			join_path(item, sizeof(item), where, k);
			return dw_invalid(item, "%s must be a string, number or boolean",
					  item);
		}
	}
	return 0;
}

static int check_value(const json_t *v, const struct dw_field *f,
		       const char *where)
{
	int ok = 1;

	switch (f->type) {
	case DW_T_STRING:
	case DW_T_SECRET: ok = json_is_string(v); break;
	case DW_T_INT: ok = json_is_integer(v); break;
	case DW_T_NUMBER: ok = json_is_number(v); break;
	case DW_T_BOOL: ok = json_is_boolean(v); break;
	case DW_T_OBJECT:
	case DW_T_MAP: ok = json_is_object(v); break;
	case DW_T_STRINGS:
	case DW_T_OBJECTS: ok = json_is_array(v); break;
	case DW_T_ANY: break;
	}
	if (!ok)
		return dw_invalid(where, "%s must be %s", where, type_name(f->type));
	if (f->type == DW_T_OBJECT && f->sub)
		return dw_req_validate(v, f->sub, NULL, where);
	if (f->type == DW_T_MAP)
		return check_map(v, where);
	if (f->type == DW_T_STRINGS || f->type == DW_T_OBJECTS)
		return check_items(v, f, where);
	return 0;
}

static int check_required(const json_t *obj, const struct dw_field *fields,
			  const char *path)
{
	char where[256], env[160];

	for (const struct dw_field *f = fields; f && f->name; f++) {
		if (!(f->flags & DW_REQUIRED))
			continue;
		const json_t *v = json_object_get(obj, f->name);
		if (v && !json_is_null(v))
			continue;
		snprintf(env, sizeof(env), "%s_env", f->name);
		if (f->type == DW_T_SECRET && json_object_get(obj, env))
			continue;
		join_path(where, sizeof(where), path, f->name);
		if (f->type == DW_T_SECRET)
			return dw_invalid(where, "%s (or %s_env) is required", where,
					  where);
		return dw_invalid(where, "%s is required", where);
	}
	return 0;
}

int dw_req_validate(const json_t *obj, const struct dw_field *fields,
		    const struct dw_field *extra, const char *path)
{
	char where[256];
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return dw_invalid(path, "%s must be a JSON object",
				  path && *path ? path : "the request");
	json_object_foreach((json_t *)obj, key, v) {
		int is_env;
		const struct dw_field *f = field_for_key(fields, extra, key, &is_env);

		join_path(where, sizeof(where), path, key);
		if (!f)
			return dw_invalid(where, "unknown field \"%s\"", where);
		if (json_is_null(v))
			continue;
		if (is_env) {
			if (!json_is_string(v))
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

const char *dw_req_str(const json_t *obj, const char *name, const char *def)
{
	const json_t *v = json_object_get(obj, name);

	return json_is_string(v) ? json_string_value(v) : def;
}

long long dw_req_int(const json_t *obj, const char *name, long long def)
{
	const json_t *v = json_object_get(obj, name);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

int dw_req_bool(const json_t *obj, const char *name, int def)
{
	const json_t *v = json_object_get(obj, name);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

double dw_req_num(const json_t *obj, const char *name, double def)
{
	const json_t *v = json_object_get(obj, name);

	return json_is_number(v) ? json_number_value(v) : def;
}

int dw_req_secret(const json_t *obj, const char *name, const char *path,
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

int dw_req_choice(const json_t *obj, const char *name, const char *path,
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
	dw_buf_free(&list);
	return -1;
}
