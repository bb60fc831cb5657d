/* test_core.c - request validation, redaction, retry policy and AWS error
 * parsing, without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "base/json.h"
#include "base/log.h"
#include "base/redact.h"
#include "proto/req.h"
#include "base/timefmt.h"
#include "base/wait.h"

static const struct dw_field user_fields[] = {
	DW_FIELD("name", DW_T_STRING, DW_REQUIRED, NULL, NULL),
	DW_FIELD("password", DW_T_SECRET, DW_REQUIRED, NULL, NULL),
	DW_FIELDS_END
};

static const struct dw_field fields[] = {
	DW_FIELD("bucket", DW_T_STRING, DW_REQUIRED, NULL, NULL),
	DW_FIELD("count", DW_T_INT, 0, NULL, NULL),
	DW_FIELD("user", DW_T_OBJECT, 0, user_fields, NULL),
	DW_FIELD("columns", DW_T_OBJECTS, 0, user_fields, NULL),
	DW_FIELD("tags", DW_T_STRINGS, 0, NULL, NULL),
	DW_FIELDS_END
};

static int validate(const char *text)
{
	cJSON *req = NULL;
	int rc;

	assert_int_equal(dw_json_parse(text, strlen(text), "request", &req), 0);
	assert_non_null(req);
	dw_error_clear();
	rc = dw_req_validate(req, fields, NULL, "");
	cJSON_Delete(req);
	return rc;
}

static void test_valid_request(void **state)
{
	(void)state;
	assert_int_equal(validate("{\"bucket\":\"b\",\"count\":3,\"user\":{\"name\":\"n\",\"password_env\":\"X\"},"
				  "\"tags\":[\"a\"],\"columns\":[{\"name\":\"a\",\"password\":\"p\"}]}"), 0);
}

static void test_unknown_field_named(void **state)
{
	(void)state;
	assert_int_equal(validate("{\"bucket\":\"b\",\"buckett\":1}"), -1);
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_string_equal(dw_error_last()->field, "buckett");
	assert_non_null(strstr(dw_error_last()->message, "unknown field"));
}

static void test_nested_errors_have_paths(void **state)
{
	(void)state;
	assert_int_equal(validate("{\"bucket\":\"b\",\"user\":{\"name\":\"n\",\"pasword\":\"p\"}}"), -1);
	assert_string_equal(dw_error_last()->field, "user.pasword");
	assert_int_equal(validate("{\"bucket\":\"b\",\"columns\":[{\"name\":\"a\",\"password\":\"p\"},{\"name\":1,\"password\":\"p\"}]}"), -1);
	assert_string_equal(dw_error_last()->field, "columns[1].name");
	assert_int_equal(validate("{\"bucket\":\"b\",\"user\":{\"name\":\"n\"}}"), -1);
	assert_string_equal(dw_error_last()->field, "user.password");
}

static void test_types_and_required(void **state)
{
	(void)state;
	assert_int_equal(validate("{\"count\":1}"), -1);
	assert_string_equal(dw_error_last()->field, "bucket");
	assert_int_equal(validate("{\"bucket\":\"b\",\"count\":\"3\"}"), -1);
	assert_string_equal(dw_error_last()->field, "count");
	assert_int_equal(validate("{\"bucket\":\"b\",\"tags\":[1]}"), -1);
	assert_string_equal(dw_error_last()->field, "tags[0]");
	assert_int_equal(validate("[1]"), -1);
}

static void test_secret_env(void **state)
{
	cJSON *req = cJSON_Parse("{\"password_env\":\"DW_TEST_SECRET\"}");
	char *secret = NULL;

	(void)state;
	unsetenv("DW_TEST_SECRET");
	assert_int_equal(dw_req_secret(req, "password", "user", &secret), -1);
	assert_string_equal(dw_error_last()->field, "user.password_env");
	assert_null(strstr(dw_error_last()->message, "s3cr"));
	setenv("DW_TEST_SECRET", "s3cr3t-value", 1);
	assert_int_equal(dw_req_secret(req, "password", "user", &secret), 0);
	assert_string_equal(secret, "s3cr3t-value");
	free(secret);
	cJSON_Delete(req);
	dw_redact_clear();
}

static void redacted(const char *in, const char *want)
{
	char *buf = strdup(in);

	dw_redact(buf);
	assert_string_equal(buf, want);
	free(buf);
}

static void test_redaction(void **state)
{
	(void)state;
	dw_redact_secret("hunter2'\"\\");
	redacted("password is hunter2'\"\\ ok", "password is *** ok");
	redacted("Authorization: AWS4-HMAC-SHA256 Credential=AK/x, Signature=abcdef\nnext",
		 "Authorization: ***\nnext");
	redacted("url?X-Amz-Security-Token=tok123&Signature=0123abcd&x=1",
		 "url?X-Amz-Security-Token=***&Signature=***&x=1");
	redacted("{\"SecretAccessKey\":\"abc\\\"def\",\"AccessKeyId\":\"AKID\"}",
		 "{\"SecretAccessKey\":\"***\",\"AccessKeyId\":\"AKID\"}");
	redacted("<Credentials><SessionToken>FQoG+/=</SessionToken></Credentials>",
		 "<Credentials><SessionToken>***</SessionToken></Credentials>");
	redacted("{\"password_env\":\"PW_VAR\"}", "{\"password_env\":\"PW_VAR\"}");
	redacted("MasterUserPassword=abc%27def&Action=Restore",
		 "MasterUserPassword=***&Action=Restore");
	dw_redact_secret("ab"); /* too short to register */
	redacted("abab", "abab");
	dw_redact_clear();
	redacted("hunter2'\"\\", "hunter2'\"\\");
}

static void test_retryable_codes(void **state)
{
	(void)state;
	assert_true(dw_aws_code_retryable("ThrottlingException"));
	assert_true(dw_aws_code_retryable("Throttling"));
	assert_true(dw_aws_code_retryable("SlowDown"));
	assert_true(dw_aws_code_retryable("RequestLimitExceeded"));
	assert_false(dw_aws_code_retryable("AccessDenied"));
	assert_false(dw_aws_code_retryable("ValidationException"));
}

static void test_backoff_full_jitter(void **state)
{
	(void)state;
	setenv("DW_RETRY_BASE_MS", "100", 1);
	for (int i = 0; i < 200; i++) {
		long first = dw_aws_backoff_ms(1), third = dw_aws_backoff_ms(3), late = dw_aws_backoff_ms(30);
		assert_in_range(first, 0, 100);
		assert_in_range(third, 0, 400);
		assert_in_range(late, 0, 2000); /* capped at 20 x base */
	}
	unsetenv("DW_RETRY_BASE_MS");
}

static void parse_error(enum dw_aws_protocol p, long status, const char *body,
			const char *header, const char *want_code, const char *want_msg)
{
	struct dw_http_response r;
	char code[96], msg[256];

	dw_http_response_init(&r);
	r.status = status;
	if (body)
		dw_buf_puts(&r.body, body);
	if (header)
		dw_kv_add(&r.headers, "x-amzn-query-error", header);
	dw_aws_error_parse(p, &r, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, want_code);
	assert_string_equal(msg, want_msg);
	dw_http_response_release(&r);
}

static void test_error_parsing(void **state)
{
	(void)state;
	parse_error(DW_PROTO_JSON, 400,
		    "{\"__type\":\"com.amazonaws.glue#EntityNotFoundException\",\"Message\":\"nope\"}",
		    NULL, "EntityNotFoundException", "nope");
	parse_error(DW_PROTO_JSON, 400, "{\"__type\":\"x#QueueDoesNotExist\",\"message\":\"m\"}",
		    "AWS.SimpleQueueService.NonExistentQueue;Sender",
		    "AWS.SimpleQueueService.NonExistentQueue", "m");
	parse_error(DW_PROTO_QUERY, 400,
		    "<ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code>"
		    "<Message>not found</Message></Error></ErrorResponse>",
		    NULL, "DBInstanceNotFound", "not found");
	parse_error(DW_PROTO_REST_XML, 404,
		    "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>",
		    NULL, "NoSuchKey", "gone");
	parse_error(DW_PROTO_REST_XML, 503, NULL, NULL, "ServiceUnavailable", "HTTP 503");
}

static void test_iso_times(void **state)
{
	(void)state;
	assert_int_equal(dw_time_parse_iso("2019-06-01T15:00:00Z"), 1559401200);
	assert_int_equal(dw_time_parse_iso("2019-06-01T15:00:00+00:00"), 1559401200);
	assert_int_equal(dw_time_parse_iso("2019-06-01T17:00:00.123+02:00"), 1559401200);
	assert_int_equal(dw_time_parse_iso("2019-06-01"), 1559347200);
	assert_int_equal(dw_time_parse_iso("2019-06-01T15:00:00+0x"), -1);
	assert_int_equal(dw_time_parse_iso("yesterday"), -1);
}

/* The forms the one parser accepts, all the same instant or day. */
static void test_iso_accepted_forms(void **state)
{
	time_t t;
	int inexact = -1;

	(void)state;
	assert_int_equal(dw_time_parse_iso("2019-06-01T15"), 1559401200);
	assert_int_equal(dw_time_parse_iso("2019-06-01T15:00"), 1559401200);
	assert_int_equal(dw_time_parse_iso("2019-06-01 15:00:00"), 1559401200);
	assert_int_equal(dw_time_parse_iso("20190601T150000Z"), 1559401200);
	assert_int_equal(dw_time_parse_iso("2019-06-01T10:00:00-05"), 1559401200);
	assert_int_equal(dw_time_parse_iso("2019-06-01T20:30:00+0530"), 1559401200);
	assert_int_equal(dw_time_parse_iso("20190601"), 1559347200);
	assert_int_equal(dw_time_parse_iso("2019-06-01T15:00:00.000Z"), 1559401200);
	assert_int_equal(dw_time_parse("2019-06-01T15:00:00.000Z", &t, &inexact), 0);
	assert_int_equal(inexact, 0);
	assert_int_equal(dw_time_parse("2019-06-01T15:00:00.5Z", &t, &inexact), 0);
	assert_int_equal(inexact, 1);
	assert_int_equal(t, 1559401200);
	assert_int_equal(dw_time_parse_iso("2019-12-31T23:59:59Z"), 1577836799);
}

/* Dates that do not exist are refused, never moved to another day. */
static void test_iso_invalid_dates(void **state)
{
	time_t t = 12345;

	(void)state;
	assert_int_equal(dw_time_parse_iso("2019-02-31"), -1);
	assert_int_equal(dw_time_parse("2019-02-31T00:00:00Z", &t, NULL), -1);
	assert_int_equal(t, 12345); /* untouched */
	assert_int_equal(dw_time_parse_iso("2019-13-01"), -1);
	assert_int_equal(dw_time_parse_iso("2019-00-10"), -1);
	assert_int_equal(dw_time_parse_iso("2019-04-31"), -1);
	assert_int_equal(dw_time_parse_iso("2019-06-00"), -1);
	assert_int_equal(dw_time_parse_iso("2019-06-01T24:00:00Z"), -1);
	assert_int_equal(dw_time_parse_iso("2019-06-01T24:00"), -1);
	assert_int_equal(dw_time_parse_iso("2019-06-01T23:60:00Z"), -1);
	assert_int_equal(dw_time_parse_iso("2016-12-31T23:59:60Z"), -1);
	assert_int_equal(dw_time_parse_iso("2019-06-01T15:00:00+24:00"), -1);
	assert_int_equal(dw_time_parse_iso("2019-6-1"), -1);
	assert_int_equal(dw_time_parse_iso("2019-06-01T15:00:00."), -1);
	assert_int_equal(dw_time_parse_iso("2019-06-01T15:00:00Zjunk"), -1);
	assert_int_equal(dw_time_parse_iso(""), -1);
	assert_int_equal(dw_time_parse_iso(NULL), -1);
	/* leap years: every 4th, not every 100th, but every 400th */
	assert_int_equal(dw_time_parse_iso("2020-02-29"), 1582934400);
	assert_int_equal(dw_time_parse_iso("2019-02-29"), -1);
	assert_int_equal(dw_time_parse_iso("2000-02-29"), 951782400);
	assert_int_equal(dw_time_parse_iso("1900-02-29"), -1);
	assert_int_equal(dw_time_parse_iso("2100-02-29T00:00:00Z"), -1);
}

/* A scripted poll: PENDING until `done_at`, then DONE; FAILED (with an
 * error raised) at `fail_at`. */
struct script {
	int polls, done_at, fail_at;
	long last_interval;
};

static enum dw_wait_state scripted(void *ud, struct dw_wait_poll *p)
{
	struct script *s = ud;

	s->polls++;
	s->last_interval = p->interval_ms;
	snprintf(p->status, sizeof(p->status), "step %d", s->polls);
	if (s->fail_at && s->polls == s->fail_at)
		return dw_fail("ThingBroke", "the thing broke"), DW_WAIT_FAILED;
	return s->polls == s->done_at ? DW_WAIT_DONE : DW_WAIT_PENDING;
}

static void test_wait_done(void **state)
{
	struct script s = { .done_at = 3 };
	struct dw_wait w = { .what = "thing", .interval_ms = 1, .timeout_s = 60 };

	(void)state;
	dw_error_clear();
	assert_int_equal(dw_wait_until(&w, scripted, &s), 0);
	assert_int_equal(s.polls, 3);
	assert_int_equal(dw_error_last()->kind, DW_OK);
	/* done at once: one poll, no sleep */
	s = (struct script){ .done_at = 1 };
	assert_int_equal(dw_wait_until(&w, scripted, &s), 0);
	assert_int_equal(s.polls, 1);
}

static void test_wait_failure(void **state)
{
	struct script s = { .done_at = 5, .fail_at = 2 };
	struct dw_wait w = { .what = "thing", .interval_ms = 1, .timeout_s = 60 };

	(void)state;
	dw_error_clear();
	assert_int_equal(dw_wait_until(&w, scripted, &s), -1);
	assert_int_equal(s.polls, 2);
	/* the poll's own error, untouched */
	assert_string_equal(dw_error_last()->code, "ThingBroke");
	assert_int_equal(dw_error_last()->kind, DW_FAILED);
}

static void test_wait_timeout(void **state)
{
	struct script s = { .done_at = 1000 };
	struct dw_wait w = { .what = "crawler c", .interval_ms = 1, .timeout_s = 0,
			     .timeout_hint = "; wait again later" };

	(void)state;
	dw_error_clear();
	assert_int_equal(dw_wait_until(&w, scripted, &s), -1);
	assert_int_equal(s.polls, 1); /* looked once, then the time was up */
	assert_int_equal(dw_error_last()->kind, DW_TRANSIENT);
	assert_string_equal(dw_error_last()->code, "WaitTimeout");
	assert_non_null(strstr(dw_error_last()->message, "crawler c is still step 1 after 0s; wait again later"));
	/* a limit that began long ago (a launch's earlier waits) is spent */
	s = (struct script){ .done_at = 1000 };
	w.timeout_s = 600;
	w.start = time(NULL) - 700;
	assert_int_equal(dw_wait_until(&w, scripted, &s), -1);
	assert_int_equal(s.polls, 1);
	assert_string_equal(dw_error_last()->code, "WaitTimeout");
	/* done on the last poll counts as done */
	s = (struct script){ .done_at = 1 };
	assert_int_equal(dw_wait_until(&w, scripted, &s), 0);
}

static void test_wait_backoff(void **state)
{
	struct script s = { .done_at = 5 };
	struct dw_wait w = { .what = "q", .interval_ms = 1, .max_interval_ms = 4,
			     .timeout_s = 60 };

	(void)state;
	assert_int_equal(dw_wait_until(&w, scripted, &s), 0);
	/* 1, 2, 4, 4, 4: doubling up to the cap */
	assert_int_equal(s.last_interval, 4);
	s = (struct script){ .done_at = 2 };
	assert_int_equal(dw_wait_until(&w, scripted, &s), 0);
	assert_int_equal(s.last_interval, 2);
}

/* ---- strict JSON (base/json.h) ------------------------------------------ */

static int parse(const char *text, cJSON **out)
{
	dw_error_clear();
	return dw_json_parse(text, strlen(text), "request", out);
}

/* The options lock.c's waits use: a limit in the error's field, no limit
 * at all, jittered pauses (the time limit still ends the wait on time). */
static void test_wait_lock_options(void **state)
{
	struct script s = { .done_at = 1000 };
	struct dw_wait w = { .what = "the write lock on r", .interval_ms = 1, .timeout_s = 0,
			     .timeout_field = "wait_timeout_s", .jitter = 1 };
	struct timespec t0, t1;

	(void)state;
	assert_int_equal(dw_wait_until(&w, scripted, &s), -1);
	assert_string_equal(dw_error_last()->code, "WaitTimeout");
	assert_string_equal(dw_error_last()->field, "wait_timeout_s");
	/* forever: only the poll ends it, long after a 0 s limit */
	s = (struct script){ .done_at = 30 };
	w.forever = 1;
	assert_int_equal(dw_wait_until(&w, scripted, &s), 0);
	assert_int_equal(s.polls, 30);
	/* jitter: 30 to 50 ms pauses; the 1 s limit is measured in ms, never
	 * cut short by a whole-second tick of time() */
	s = (struct script){ .done_at = 1000 };
	w = (struct dw_wait){ .what = "x", .interval_ms = 40, .timeout_s = 1, .jitter = 1,
			      .progress_every_s = 60 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(dw_wait_until(&w, scripted, &s), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 1000);
	assert_true(s.polls >= 2 && s.polls <= 35); /* at least 30 ms each */
}

static void test_json_duplicate_keys(void **state)
{
	cJSON *doc = NULL;

	(void)state;
	assert_int_equal(parse("{\"dry_run\": true, \"bucket\": \"b\", \"dry_run\": false}", &doc), -1);
	assert_null(doc);
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_string_equal(dw_error_last()->code, "DuplicateKey");
	assert_string_equal(dw_error_last()->field, "dry_run");
	assert_non_null(strstr(dw_error_last()->message, "\"dry_run\""));
	/* Nested, and inside arrays, by path. */
	assert_int_equal(parse("{\"user\": {\"name\": \"n\", \"password\": \"a\", \"password\": \"b\"}}", &doc), -1);
	assert_string_equal(dw_error_last()->field, "user.password");
	assert_null(strstr(dw_error_last()->message, "\"a\""));
	assert_int_equal(parse("{\"columns\": [{\"a\": 1}, {\"b\": 1, \"b\": 2}]}", &doc), -1);
	assert_string_equal(dw_error_last()->field, "columns[1].b");
	/* The same key after decoding escapes is the same key. */
	assert_int_equal(parse("{\"dry_run\": true, \"dry\\u005frun\": false}", &doc), -1);
	assert_string_equal(dw_error_last()->field, "dry_run");
	/* Keys differing in case are different keys (lookups are exact). */
	assert_int_equal(parse("{\"a\": 1, \"A\": 2}", &doc), 0);
	cJSON_Delete(doc);
}

static void test_json_duplicate_keys_many(void **state)
{
	/* 5000 keys: the sorted check, with the repeat far apart. */
	size_t cap = 5000 * 16 + 64, len = 0;
	char *text = malloc(cap);
	cJSON *doc = NULL;

	(void)state;
	assert_non_null(text);
	text[len++] = '{';
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(text + len, cap - len, "\"k%d\":%d,", i, i);
	len += (size_t)snprintf(text + len, cap - len, "\"k17\":0}");
	dw_error_clear();
	assert_int_equal(dw_json_parse(text, len, "request", &doc), -1);
	assert_string_equal(dw_error_last()->field, "k17");
	memcpy(text + len - 7, "new", 3); /* "k17" -> "new": no repeat left */
	assert_int_equal(dw_json_parse(text, len, "request", &doc), 0);
	assert_int_equal(cJSON_GetArraySize(doc), 5001);
	cJSON_Delete(doc);
	free(text);
}

static void test_json_syntax_errors_say_where(void **state)
{
	static const char *const bad[] = {
		"{\"user\": \"u\",\n \"password\": \"D1rect-pw\\q\"}",  /* bad escape */
		"{\"user\": \"u\",\n \"password\": \"D1rect-pw\" x}",   /* junk */
		"{\"user\": \"u\",\n \"password\": \"D1rect-pw",        /* unterminated */
		"{\"user\": \"u\",\n \"password\": D1rect-pw}",          /* bare word */
		"{\"user\": \"u\",\n \"password\": \"D1rect-pw\"} {}",  /* two values */
	};
	cJSON *doc = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &doc), -1);
		assert_string_equal(dw_error_last()->code, "InvalidJSON");
		assert_int_equal(dw_error_last()->kind, DW_INVALID);
		assert_non_null(strstr(dw_error_last()->message, "line 2, column "));
		assert_null(strstr(dw_error_last()->message, "D1rect"));
		assert_null(strstr(dw_error_last()->message, "pw"));
	}
	assert_int_equal(parse("{\"a\":\n\n   01}", &doc), -1);
	assert_non_null(strstr(dw_error_last()->message, "line 3, column 5"));
	/* Columns count characters, not bytes. */
	assert_int_equal(parse("[\"\xc3\xa9\xc3\xa9\", x]", &doc), -1);
	assert_non_null(strstr(dw_error_last()->message, "line 1, column 8"));
}

static void test_json_strict(void **state)
{
	static const char *const bad[] = {
		"", "   ", "{", "[1,]", "{\"a\":1,}", "+1", ".5", "1.", "01", "-", "1e",
		"\"a\tb\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00x\"", "\"\xff\"",
		"\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "NaN", "Infinity", "[1] x", "{'a':1}",
		"// c\n{}", "\"a\"\x01",
		"1111111111111111111111111111111111111111111111111111111111111111", /* 64 */
	};
	cJSON *doc = NULL;
	char deep[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &doc), -1);
		assert_null(doc);
		assert_string_equal(dw_error_last()->code, "InvalidJSON");
	}
	/* 64 levels are fine, 65 are not. */
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	assert_int_equal(dw_json_parse(deep, 128, "request", &doc), 0);
	cJSON_Delete(doc);
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	assert_int_equal(dw_json_parse(deep, 130, "request", &doc), -1);
	assert_non_null(strstr(dw_error_last()->message, "deeper than 64"));
	/* What is fine. */
	assert_int_equal(parse("\xEF\xBB\xBF {\"a\": [true, false, null, -0, 1.5e-3, \"\\ud83d\\ude00\xc3\xa9\"]} \n", &doc), 0);
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "a")));
	cJSON_Delete(doc);
	/* A byte order mark before a one-byte value (fuzz_req_snapshot found
	 * it): cJSON skips a mark only when 2 more bytes follow, so this was
	 * refused as NoMemory, exit 1 for a request that is valid JSON. */
	assert_int_equal(parse("\xEF\xBB\xBF" "5", &doc), 0);
	assert_true(cJSON_IsNumber(doc) && doc->valuedouble == 5);
	cJSON_Delete(doc);
	assert_int_equal(parse("\xEF\xBB\xBF" "{}", &doc), 0);
	cJSON_Delete(doc);
	assert_int_equal(parse("\xEF\xBB\xBF", &doc), -1);
	assert_string_equal(dw_error_last()->code, "InvalidJSON");
	assert_int_equal(parse("\xEF\xBB\xBF\xEF\xBB\xBF" "{}", &doc), -1);
	assert_string_equal(dw_error_last()->code, "InvalidJSON");
}

static void test_json_integers_exact(void **state)
{
	static const long long values[] = {
		6442450944LL,              /* a 6 GiB object */
		1764633600123LL,           /* epoch milliseconds */
		-2147483649LL, 4294967297LL,
		9007199254740991LL, -9007199254740991LL, 9007199254740992LL,
		9007199254740993LL, 9223372036854775807LL, -9223372036854775807LL - 1,
	};
	char text[64], *printed;
	cJSON *doc = NULL, *obj;
	long long got;

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		/* Written exactly ... */
		obj = cJSON_CreateObject();
		assert_non_null(dw_json_add_int(obj, "n", values[i]));
		printed = dw_json_print(obj);
		snprintf(text, sizeof(text), "{\"n\":%lld}", values[i]);
		assert_string_equal(printed, text);
		assert_int_equal(dw_json_int(cJSON_GetObjectItemCaseSensitive(obj, "n"), &got), 0);
		assert_true(got == values[i]);
		cJSON_Delete(obj);
		/* ... and read exactly, or refused when a double cannot hold it. */
		assert_int_equal(parse(printed, &doc), 0);
		int rc = dw_json_int(cJSON_GetObjectItemCaseSensitive(doc, "n"), &got);
		if (values[i] >= -9007199254740992LL && values[i] <= 9007199254740992LL) {
			assert_int_equal(rc, 0);
			assert_true(got == values[i]);
		} else {
			assert_int_equal(rc, -1);
		}
		cJSON_Delete(doc);
		cJSON_free(printed);
	}
	/* Not integers: fractions, exponents, other types. */
	static const char *const not_int[] = { "1.0", "1.5", "1e3", "-0.0", "\"7\"", "true", "null", "1e400" };
	for (size_t i = 0; i < sizeof(not_int) / sizeof(not_int[0]); i++) {
		assert_int_equal(parse(not_int[i], &doc), 0);
		assert_int_equal(dw_json_int(doc, &got), -1);
		cJSON_Delete(doc);
	}
	/* Kept through a copy. */
	assert_int_equal(parse("[1.0, 3]", &doc), 0);
	obj = cJSON_Duplicate(doc, 1);
	assert_int_equal(dw_json_int(cJSON_GetArrayItem(obj, 0), &got), -1);
	assert_int_equal(dw_json_int(cJSON_GetArrayItem(obj, 1), &got), 0);
	assert_true(got == 3);
	cJSON_Delete(obj);
	cJSON_Delete(doc);
	/* dw_json_str */
	assert_int_equal(parse("{\"s\": \"v\", \"n\": 1}", &doc), 0);
	assert_string_equal(dw_json_str(doc, "s"), "v");
	assert_null(dw_json_str(doc, "n"));
	assert_null(dw_json_str(doc, "S"));
	assert_null(dw_json_str(doc, "absent"));
	cJSON_Delete(doc);
}

static void test_req_int_exact_and_checked(void **state)
{
	cJSON *req = NULL;

	(void)state;
	assert_int_equal(validate("{\"bucket\":\"b\",\"count\":4294967297}"), 0);
	assert_int_equal(parse("{\"bucket\":\"b\",\"count\":-2147483649}", &req), 0);
	assert_true(dw_req_int(req, "count", 0) == -2147483649LL);
	assert_true(dw_req_int(req, "absent", 42) == 42);
	cJSON_Delete(req);
	assert_int_equal(validate("{\"bucket\":\"b\",\"count\":9223372036854775807}"), -1);
	assert_string_equal(dw_error_last()->field, "count");
	assert_int_equal(validate("{\"bucket\":\"b\",\"count\":1.5}"), -1);
	assert_string_equal(dw_error_last()->field, "count");
	assert_int_equal(validate("{\"bucket\":\"b\",\"count\":2.0}"), -1);
	assert_string_equal(dw_error_last()->field, "count");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_request),
		cmocka_unit_test(test_unknown_field_named),
		cmocka_unit_test(test_nested_errors_have_paths),
		cmocka_unit_test(test_types_and_required),
		cmocka_unit_test(test_secret_env),
		cmocka_unit_test(test_redaction),
		cmocka_unit_test(test_retryable_codes),
		cmocka_unit_test(test_backoff_full_jitter),
		cmocka_unit_test(test_error_parsing),
		cmocka_unit_test(test_iso_times),
		cmocka_unit_test(test_iso_accepted_forms),
		cmocka_unit_test(test_iso_invalid_dates),
		cmocka_unit_test(test_wait_done),
		cmocka_unit_test(test_wait_failure),
		cmocka_unit_test(test_wait_timeout),
		cmocka_unit_test(test_wait_backoff),
		cmocka_unit_test(test_wait_lock_options),
		cmocka_unit_test(test_json_duplicate_keys),
		cmocka_unit_test(test_json_duplicate_keys_many),
		cmocka_unit_test(test_json_syntax_errors_say_where),
		cmocka_unit_test(test_json_strict),
		cmocka_unit_test(test_json_integers_exact),
		cmocka_unit_test(test_req_int_exact_and_checked),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
