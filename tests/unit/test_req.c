/* test_req.c - declarative request binding: defaults, bounds checked on the
 * 64-bit value before narrowing, choices, secrets, nested structs, paths in
 * errors, and --help written from the same table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/redact.h"
#include "proto/req.h"

struct login {
	const char *name;
	char *password;
	int port;
};

struct opts {
	const char *bucket, *format;
	int mode;                 /* choice index */
	int count;
	unsigned small;
	long wait_s;
	unsigned long limit;
	long long big;
	double ratio;
	int dry_run;
	_Bool fast;
	const cJSON *tags, *columns, *extra;
	struct login user;
	char *token;
	int untouched;            /* no field: bind leaves it alone */
};

#define F(kind, n, ...) DW_##kind(n, struct opts, __VA_ARGS__)
static const struct dw_field login_fields[] = {
	DW_STR("name", struct login, name, DW_REQUIRED, NULL, "login"),
	DW_SECRET("password", struct login, password, 0, "its password"),
	DW_INT("port", struct login, port, 0, 22, 1, 65535, "its port"),
	DW_FIELDS_END
};
static const struct dw_field column_fields[] = {
	DW_FIELD("name", DW_T_STRING, DW_REQUIRED, NULL, NULL),
	DW_CHOICE("type", struct opts, format, 0, NULL, DW_CHOICES("int", "string"), "its type"),
	DW_FIELDS_END
};
static const struct dw_field fields[] = {
	F(STR, "bucket", bucket, DW_REQUIRED, NULL, "the bucket"),
	F(CHOICE, "format", format, 0, "avro", DW_CHOICES("avro", "json"), "file format"),
	F(CHOICE, "mode", mode, 0, "read", DW_CHOICES("read", "write"), "lease mode"),
	F(INT, "count", count, 0, 4, 1, 64, "workers"),
	F(INT, "small", small, 0, 7, 0, 1LL << 40, "bounded by the member (unsigned)"),
	F(INT, "wait_s", wait_s, DW_NODEFAULT, -1, 0, 3600, "absent: -1"),
	F(INT, "limit", limit, 0, 100, 0, 1LL << 53, "a size_t"),
	F(INT, "big", big, 0, 0, -(1LL << 53), 1LL << 53, "epoch ms"),
	F(NUM, "ratio", ratio, 0, 0.5, 0, 1, "a fraction"),
	F(BOOL, "dry_run", dry_run, 0, 0, "change nothing"),
	F(BOOL, "fast", fast, 0, 1, "a _Bool"),
	F(STRINGS, "tags", tags, 0, "tags"),
	F(OBJS, "columns", columns, 0, column_fields, "columns"),
	F(MAP, "extra", extra, 0, "free keys"),
	F(STRUCT, "user", user, 0, login_fields, "the login"),
	F(SECRET, "token", token, 0, "an API token"),
	DW_FIELDS_END
};
#undef F

static cJSON *parse(const char *text)
{
	cJSON *req = NULL;

	assert_int_equal(dw_json_parse(text, strlen(text), "request", &req), 0);
	return req;
}

/* dw_req_bind of text; -1 leaves the error for the caller to look at. */
static int bind_text(const char *text, struct opts *o, cJSON **keep)
{
	cJSON *req = parse(text);
	int rc;

	memset(o, 0, sizeof(*o));
	o->untouched = 12345;
	dw_error_clear();
	rc = dw_req_bind(req, fields, o);
	*keep = req;
	return rc;
}

static void refused(const char *text, const char *field, const char *words)
{
	struct opts o;
	cJSON *req;

	assert_int_equal(bind_text(text, &o, &req), -1);
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_string_equal(dw_error_last()->field, field);
	if (words && !strstr(dw_error_last()->message, words))
		fail_msg("\"%s\" not in \"%s\"", words, dw_error_last()->message);
	assert_null(o.token);
	assert_null(o.user.password);
	cJSON_Delete(req);
}

static void test_defaults(void **state)
{
	struct opts o;
	cJSON *req;

	(void)state;
	assert_int_equal(bind_text("{\"bucket\":\"b\",\"region\":\"eu-west-1\"}", &o, &req), 0);
	assert_string_equal(o.bucket, "b");
	assert_string_equal(o.format, "avro");
	assert_int_equal(o.mode, 0);
	assert_int_equal(o.count, 4);
	assert_int_equal(o.small, 7);
	assert_int_equal(o.wait_s, -1);
	assert_int_equal(o.limit, 100);
	assert_true(o.big == 0);
	assert_true(o.ratio == 0.5);
	assert_int_equal(o.dry_run, 0);
	assert_true(o.fast);
	assert_null(o.tags);
	assert_null(o.columns);
	assert_null(o.extra);
	assert_null(o.user.name);
	assert_int_equal(o.user.port, 22);
	assert_null(o.user.password);
	assert_null(o.token);
	assert_int_equal(o.untouched, 12345);
	dw_req_release(fields, &o);
	cJSON_Delete(req);
}

static void test_values(void **state)
{
	struct opts o;
	cJSON *req;

	(void)state;
	assert_int_equal(bind_text("{\"bucket\":\"b\",\"format\":\"json\",\"mode\":\"write\",\"count\":64,"
				   "\"small\":4294967295,\"wait_s\":0,\"limit\":9007199254740992,"
				   "\"big\":-9007199254740992,\"ratio\":1,\"dry_run\":true,\"fast\":false,"
				   "\"tags\":[\"a\"],\"columns\":[{\"name\":\"c\",\"type\":\"int\"}],"
				   "\"extra\":{\"k\":1},\"user\":{\"name\":\"n\",\"password\":\"pw-1234\","
				   "\"port\":2222},\"token\":\"tok-5678\",\"count_not\":null}", &o, &req), -1);
	assert_string_equal(dw_error_last()->field, "count_not");
	cJSON_Delete(req);
	assert_int_equal(bind_text("{\"bucket\":\"b\",\"format\":\"json\",\"mode\":\"write\","
				   "\"small\":4294967295,\"wait_s\":0,\"limit\":9007199254740992,"
				   "\"big\":-9007199254740992,\"ratio\":1,\"dry_run\":true,\"fast\":false,"
				   "\"tags\":[\"a\"],\"columns\":[{\"name\":\"c\",\"type\":\"int\"}],"
				   "\"extra\":{\"k\":1},\"user\":{\"name\":\"n\",\"password\":\"pw-1234\","
				   "\"port\":2222},\"token\":\"tok-5678\",\"count\":null}", &o, &req), 0);
	assert_string_equal(o.format, "json");
	assert_int_equal(o.mode, 1);
	assert_int_equal(o.count, 4); /* null is absent: the default */
	assert_true(o.small == 4294967295u);
	assert_int_equal(o.wait_s, 0);
	assert_true(o.limit == (1ULL << 53));
	assert_true(o.big == -(1LL << 53));
	assert_true(o.ratio == 1.0);
	assert_int_equal(o.dry_run, 1);
	assert_false(o.fast);
	assert_int_equal(cJSON_GetArraySize(o.tags), 1);
	assert_int_equal(cJSON_GetArraySize(o.columns), 1);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(o.extra, "k"));
	assert_string_equal(o.user.name, "n");
	assert_string_equal(o.user.password, "pw-1234");
	assert_int_equal(o.user.port, 2222);
	assert_string_equal(o.token, "tok-5678");
	dw_req_release(fields, &o);
	assert_null(o.token);
	assert_null(o.user.password);
	cJSON_Delete(req);
	dw_redact_clear();
}

static void test_bounds_before_narrowing(void **state)
{
	(void)state;
	refused("{\"bucket\":\"b\",\"count\":0}", "count", "between 1 and 64, not 0");
	refused("{\"bucket\":\"b\",\"count\":65}", "count", "between 1 and 64");
	/* 2^32 + 1 would be 1 in an int: refused on the 64-bit value. */
	refused("{\"bucket\":\"b\",\"count\":4294967297}", "count", "not 4294967297");
	/* The table allows 2^40 but the member is unsigned: cut to its range. */
	refused("{\"bucket\":\"b\",\"small\":4294967296}", "small", "between 0 and 4294967295");
	refused("{\"bucket\":\"b\",\"small\":-1}", "small", NULL);
	refused("{\"bucket\":\"b\",\"big\":9007199254740993}", "big", "2^53");
	refused("{\"bucket\":\"b\",\"ratio\":1.5}", "ratio", "between 0 and 1");
	refused("{\"bucket\":\"b\",\"count\":2.5}", "count", "whole number");
	refused("{\"bucket\":\"b\",\"user\":{\"name\":\"n\",\"port\":70000}}", "user.port",
		"user.port must be between 1 and 65535");
}

static void test_choices_types_required_paths(void **state)
{
	(void)state;
	refused("{\"bucket\":\"b\",\"format\":\"csv\"}", "format", "one of: avro, json");
	refused("{\"bucket\":\"b\",\"mode\":\"Write\"}", "mode", "one of: read, write");
	refused("{\"bucket\":\"b\",\"columns\":[{\"name\":\"a\"},{\"name\":\"c\",\"type\":\"float\"}]}",
		"columns[1].type", "one of: int, string");
	refused("{\"bucket\":\"b\",\"dry_run\":\"yes\"}", "dry_run", "true or false");
	refused("{\"count\":3}", "bucket", "required");
	refused("{\"bucket\":\"b\",\"user\":{\"port\":23}}", "user.name", "required");
	refused("{\"bucket\":\"b\",\"user\":{\"name\":\"n\",\"pasword\":\"x\"}}", "user.pasword",
		"unknown field");
	refused("{\"bucket\":\"b\",\"buckett\":\"b\"}", "buckett", "unknown field");
	refused("{\"bucket\":\"b\",\"tags\":[1]}", "tags[0]", NULL);
	refused("{\"bucket\":\"b\",\"timeout_s\":0}", "timeout_s", "between 1 and 86400");
}

static void test_secrets(void **state)
{
	struct opts o;
	cJSON *req;

	(void)state;
	setenv("DW_TEST_BIND_PW", "from-the-env", 1);
	unsetenv("DW_TEST_BIND_UNSET");
	assert_int_equal(bind_text("{\"bucket\":\"b\",\"user\":{\"name\":\"n\","
				   "\"password_env\":\"DW_TEST_BIND_PW\"}}", &o, &req), 0);
	assert_string_equal(o.user.password, "from-the-env");
	dw_req_release(fields, &o);
	cJSON_Delete(req);
	/* A failure after a secret was read frees it (nothing for the caller). */
	refused("{\"bucket\":\"b\",\"token\":\"tok-1234\",\"user\":{\"name\":\"n\","
		"\"password_env\":\"DW_TEST_BIND_UNSET\"}}", "user.password_env", "not set");
	refused("{\"bucket\":\"b\",\"token\":\"a-token\",\"token_env\":\"DW_TEST_BIND_PW\"}", "token",
		"not both");
	dw_redact_clear();
}

static void test_bind_at_names_the_path(void **state)
{
	cJSON *req = parse("{\"name\":\"n\",\"port\":0}");
	struct login l;

	(void)state;
	assert_int_equal(dw_req_bind_at(req, login_fields, "ssh_tunnel", &l), -1);
	assert_string_equal(dw_error_last()->field, "ssh_tunnel.port");
	cJSON_Delete(req);
	req = parse("{\"name\":\"n\",\"region\":\"x\"}");
	/* Only an operator's request takes the common fields. */
	assert_int_equal(dw_req_bind_at(req, login_fields, "ssh_tunnel", &l), -1);
	assert_string_equal(dw_error_last()->field, "ssh_tunnel.region");
	cJSON_Delete(req);
}

static void test_help_from_the_table(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	dw_req_print_help(out, fields, 0);
	fclose(out);
	assert_non_null(strstr(text, "workers (default 4) [1..64]\n"));
	assert_non_null(strstr(text, "file format (default avro) {avro|json}\n"));
	assert_non_null(strstr(text, "change nothing (default false)\n"));
	assert_non_null(strstr(text, "absent: -1 [0..3600]\n"));
	assert_non_null(strstr(text, "bounded by the member (unsigned) (default 7) [0..4294967295]\n"));
	assert_non_null(strstr(text, "(required) the bucket\n"));
	assert_non_null(strstr(text, "      port                   integer   its port (default 22) [1..65535]\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bounds_before_narrowing),
		cmocka_unit_test(test_choices_types_required_paths),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_bind_at_names_the_path),
		cmocka_unit_test(test_help_from_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
