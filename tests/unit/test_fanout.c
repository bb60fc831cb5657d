/* test_fanout.c - dw-fanout's hours and key formats, without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "aws/s3.h"
#include "base/buf.h"
#include "ops/fanout.h"

/* 2019-06-01T15:00:00Z */
#define H15 ((time_t)1559401200)

static time_t hour_of(const char *text, int round_up)
{
	time_t t = 0;

	dw_error_clear();
	if (dw_fanout_parse_hour(text, "hour", round_up, &t))
		return -1;
	return t;
}

static void test_hour_forms(void **state)
{
	(void)state;
	assert_int_equal(hour_of("2019-06-01T15", 0), H15);
	assert_int_equal(hour_of("2019-06-01T15:00", 0), H15);
	assert_int_equal(hour_of("2019-06-01T15:00:00+00:00", 0), H15);
	assert_int_equal(hour_of("2019-06-01T15:00:00Z", 0), H15);
	assert_int_equal(hour_of("2019-06-01 15:00:00.000000+00:00", 0), H15);
	assert_int_equal(hour_of("20190601T150000", 0), H15);
	assert_int_equal(hour_of("2019-06-01T17:00:00+02:00", 0), H15);
	assert_int_equal(hour_of("2019-06-01T10:00-05", 0), H15);
	assert_int_equal(hour_of("2019-06-01", 0), H15 - 15 * 3600);
	/* inside an hour: down for start and hour, up for end */
	assert_int_equal(hour_of("2019-06-01T15:59:59", 0), H15);
	assert_int_equal(hour_of("2019-06-01T15:00:01Z", 1), H15 + 3600);
	assert_int_equal(hour_of("2019-06-01T15:00:00.5Z", 1), H15 + 3600);
	assert_int_equal(hour_of("2019-06-01T15:00:00.000Z", 1), H15);
}

static void test_bad_hours(void **state)
{
	const char *bad[] = {
		"", "yesterday", "2019-06-01T24", "2019-13-01T01", "2019-02-29T01",
		"2019-06-31", "2019-06-01T15:60", "2019-06-01T15:00:00+0", "2019-06-01T15x",
		"2019-6-1T15", "2019-06-01T15:00:00.", "2019-06-01T15:00:00+24:00",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(hour_of(bad[i], 0), -1);
		assert_int_equal(dw_error_last()->kind, DW_INVALID);
		assert_string_equal(dw_error_last()->field, "hour");
	}
	assert_int_equal(hour_of("2020-02-29T01", 0) > 0, 1);
}

static char *prefix_of(const struct dw_fanout_keyfmt *k, time_t hour)
{
	struct dw_buf b;

	dw_buf_init(&b);
	dw_fanout_keyfmt_prefix(k, hour, &b);
	return dw_buf_detach(&b);
}

static void test_default_key_format(void **state)
{
	struct dw_fanout_keyfmt *k;
	int second = -2;
	char *p;

	(void)state;
	assert_int_equal(dw_fanout_keyfmt_new(DW_FANOUT_KEY_FORMAT, "key_format", &k), 0);
	assert_int_equal(dw_fanout_keyfmt_has_seconds(k), 1);
	p = prefix_of(k, H15 - 6 * 3600);
	assert_string_equal(p, "2019-06-01-09-");
	free(p);
	assert_int_equal(dw_fanout_keyfmt_match(k, "5-3-events.json", &second), 1);
	assert_int_equal(second, 5 * 60 + 3);
	assert_int_equal(dw_fanout_keyfmt_match(k, "59-59-events.json", &second), 1);
	assert_int_equal(second, 3599);
	assert_int_equal(dw_fanout_keyfmt_match(k, "05-03-x", &second), 1);
	assert_int_equal(second, 303);
	assert_int_equal(dw_fanout_keyfmt_match(k, "60-0-events.json", &second), 0);
	assert_int_equal(dw_fanout_keyfmt_match(k, "1-99-events.json", &second), 0);
	assert_int_equal(dw_fanout_keyfmt_match(k, "summary.json", &second), 0);
	assert_int_equal(dw_fanout_keyfmt_match(k, "5-3", &second), 0);
	assert_int_equal(dw_fanout_keyfmt_match(k, "", &second), 0);
	dw_fanout_keyfmt_free(k);
}

static void test_other_key_formats(void **state)
{
	struct dw_fanout_keyfmt *k;
	int second = -2;
	char *p;

	(void)state;
	assert_int_equal(dw_fanout_keyfmt_new("dt={YYYY}-{MM}-{DD}/hour={HH}/", "key_format", &k), 0);
	assert_int_equal(dw_fanout_keyfmt_has_seconds(k), 0);
	p = prefix_of(k, H15);
	assert_string_equal(p, "dt=2019-06-01/hour=15/");
	free(p);
	assert_int_equal(dw_fanout_keyfmt_match(k, "anything.json", &second), 1);
	assert_int_equal(second, -1);
	dw_fanout_keyfmt_free(k);

	assert_int_equal(dw_fanout_keyfmt_new("{YYYY}/{MM}/{DD}/{H}/{mm}{ss}.json", "key_format", &k), 0);
	p = prefix_of(k, H15 - 10 * 3600);
	assert_string_equal(p, "2019/06/01/5/");
	free(p);
	assert_int_equal(dw_fanout_keyfmt_match(k, "0503.json", &second), 1);
	assert_int_equal(second, 303);
	assert_int_equal(dw_fanout_keyfmt_match(k, "053.json", &second), 0);
	assert_int_equal(dw_fanout_keyfmt_match(k, "0503.csv", &second), 0);
	dw_fanout_keyfmt_free(k);
}

static void test_bad_key_formats(void **state)
{
	const char *bad[] = {
		"", "{YYYY}-{MM}-{DD}", "{YYYY}-{MM}-{DD}-{HH", "{YYYY}-{MM}-{DD}-{HH}-{minute}",
		"{YYYY}-{MM}-{m}-{DD}-{HH}", "{YYYY}-{MM}-{DD}-{HH}-{m}-{m}", "events/",
	};
	struct dw_fanout_keyfmt *k = (void *)1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dw_error_clear();
		assert_int_equal(dw_fanout_keyfmt_new(bad[i], "key_format", &k), -1);
		assert_null(k);
		assert_int_equal(dw_error_last()->kind, DW_INVALID);
		assert_string_equal(dw_error_last()->field, "key_format");
	}
}

/* message_format s3_event: a valid notification whose size is exact
 * beyond 32 bits and beyond cJSON's int (valueint saturates at INT_MAX). */
static void test_s3_event_size_is_exact(void **state)
{
	static const long long sizes[] = { 0, 2147483647LL, 4294967297LL, 6442450944LL,
					   9007199254740993LL };
	struct dw_s3_object o = { .key = "logs/2019/06/01/15/a b+\"c\".json",
				  .etag = "0123abcd", .last_modified = "2019-06-01T15:04:05.000Z" };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct dw_buf b;
		cJSON *ev = NULL;
		long long size = -1;
		char lit[40];

		o.size = sizes[i];
		dw_buf_init(&b);
		dw_fanout_s3_event(&b, "eu-west-1", "my.bucket", &o);
		assert_int_equal(dw_json_parse(b.data, b.len, "event", &ev), 0);
		const cJSON *rec = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ev, "Records"), 0);
		const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(rec, "s3");
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(s3, "object");
		const cJSON *bucket = cJSON_GetObjectItemCaseSensitive(s3, "bucket");
		/* the literal as written, and the value read back */
		snprintf(lit, sizeof(lit), "\"size\":%lld,", sizes[i]);
		assert_non_null(strstr(b.data, lit));
		if (sizes[i] <= (1LL << 53)) {
			assert_int_equal(dw_json_int(cJSON_GetObjectItemCaseSensitive(obj, "size"), &size), 0);
			assert_true(size == sizes[i]);
		}
		assert_string_equal(dw_json_str(rec, "eventName"), "ObjectCreated:Put");
		assert_string_equal(dw_json_str(rec, "awsRegion"), "eu-west-1");
		assert_string_equal(dw_json_str(rec, "eventTime"), "2019-06-01T15:04:05.000Z");
		assert_string_equal(dw_json_str(bucket, "name"), "my.bucket");
		assert_string_equal(dw_json_str(bucket, "arn"), "arn:aws:s3:::my.bucket");
		/* form-encoded as S3 notifications carry keys */
		assert_string_equal(dw_json_str(obj, "key"), "logs/2019/06/01/15/a+b%2B%22c%22.json");
		assert_string_equal(dw_json_str(obj, "eTag"), "0123abcd");
		cJSON_Delete(ev);
		dw_buf_release(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hour_forms),
		cmocka_unit_test(test_bad_hours),
		cmocka_unit_test(test_default_key_format),
		cmocka_unit_test(test_other_key_formats),
		cmocka_unit_test(test_bad_key_formats),
		cmocka_unit_test(test_s3_event_size_is_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
