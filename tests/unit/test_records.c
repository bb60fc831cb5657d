/* test_records.c - cutting record lists into Kinesis/Firehose calls and
 * resending only the failed entries, without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/records.h"
#include "aws/kinesis.h"
#include "aws/firehose.h"
#include "base/buf.h"
#include "base/error.h"

static const struct dw_record_limits small = { .max_records = 3, .max_bytes = 10,
					       .max_record_bytes = 6 };

static void test_fit_counts_and_bytes(void **state)
{
	struct dw_record r[5] = {
		{ "aaaa", 4, NULL }, { "bbbb", 4, NULL }, { "cc", 2, NULL },
		{ "d", 1, NULL }, { "e", 1, "k" },
	};
	const struct dw_record *p[5] = { &r[0], &r[1], &r[2], &r[3], &r[4] };

	(void)state;
	assert_int_equal(dw_records_fit(p, 5, &small), 3);      /* 4+4+2 = 10 bytes */
	assert_int_equal(dw_records_fit(p + 1, 4, &small), 3);  /* 3 records */
	assert_int_equal(dw_records_fit(p + 3, 2, &small), 2);  /* key counts: 1+2 */
	assert_int_equal(dw_records_fit(p, 0, &small), 0);
	/* the real limits: 500 records, 5 MiB (Kinesis) / 4 MiB (Firehose) */
	struct dw_record *big = calloc(600, sizeof(*big));
	const struct dw_record **bp = calloc(600, sizeof(*bp));
	static char mib[1u << 20];
	for (int i = 0; i < 600; i++) {
		big[i].data = mib;
		big[i].len = 10;
		big[i].key = "k";
		bp[i] = &big[i];
	}
	assert_int_equal(dw_records_fit(bp, 600, &dw_kinesis_limits), 500);
	for (int i = 0; i < 600; i++)
		big[i].len = (1u << 20) - 1;  /* with the key: exactly 1 MiB each */
	assert_int_equal(dw_records_check(big, 600, &dw_kinesis_limits), 0);
	assert_int_equal(dw_records_fit(bp, 600, &dw_kinesis_limits), 5);
	for (int i = 0; i < 600; i++)
		big[i].key = NULL, big[i].len = 1000u << 10;
	assert_int_equal(dw_records_fit(bp, 600, &dw_firehose_limits), 4);
	big[7].len = (1000u << 10) + 1;
	assert_int_equal(dw_records_check(big, 600, &dw_firehose_limits), -1);
	assert_string_equal(dw_error_last()->code, "RecordTooLarge");
	dw_error_clear();
	free(big);
	free(bp);
}

/* A fake service: fails the records whose data is in fail_once on their
 * first sending, those in fail_always every time; records each sending. */
struct fake {
	const char *fail_once, *fail_always;
	char seen[64];
	size_t n_seen;
	int calls, call_error_at;
	size_t max_call;
};

static int fake_put(void *ud, const struct dw_record *const *recs, size_t n,
		    unsigned char *failed, char *why, size_t why_len)
{
	struct fake *f = ud;

	f->calls++;
	if (f->calls == f->call_error_at)
		return dw_fail("NetworkError", "down");
	if (n > f->max_call)
		f->max_call = n;
	for (size_t i = 0; i < n; i++) {
		char c = recs[i]->data[0];
		int first = memchr(f->seen, c, f->n_seen) == NULL;
		f->seen[f->n_seen++] = c;
		failed[i] = (first && strchr(f->fail_once, c)) || strchr(f->fail_always, c);
		if (failed[i] && !why[0])
			snprintf(why, why_len, "ProvisionedThroughputExceededException: slow down");
	}
	return 0;
}

static void make(struct dw_record *r, const char *letters)
{
	for (size_t i = 0; letters[i]; i++) {
		r[i].data = &letters[i];
		r[i].len = 1;
		r[i].key = "k";
	}
}

static void test_only_failed_records_are_resent_once(void **state)
{
	const char *letters = "abcdefgh";
	struct dw_record r[8];
	struct fake f = { .fail_once = "bg", .fail_always = "" };
	struct dw_records_send s = { .limits = &small, .max_attempts = 3, .put = fake_put, .ud = &f };

	(void)state;
	make(r, letters);
	assert_int_equal(dw_records_send(&s, r, 8), 0);
	assert_int_equal(s.retried, 2);
	/* 8 records in calls of at most 3: 3 calls, then one call with b and g */
	assert_int_equal(s.calls, 4);
	assert_int_equal(f.n_seen, 10);
	assert_memory_equal(f.seen + 8, "bg", 2);
	assert_int_equal(f.max_call, 3);
}

static void test_records_failing_every_time_raise_send_failed(void **state)
{
	const char *letters = "abcd";
	struct dw_record r[4];
	struct fake f = { .fail_once = "", .fail_always = "c" };
	struct dw_records_send s = { .limits = &small, .max_attempts = 3, .put = fake_put, .ud = &f };

	(void)state;
	make(r, letters);
	assert_int_equal(dw_records_send(&s, r, 4), -1);
	assert_string_equal(dw_error_last()->code, "SendFailed");
	assert_int_equal(dw_error_last()->kind, DW_TRANSIENT);
	assert_non_null(strstr(dw_error_last()->message, "ProvisionedThroughputExceeded"));
	assert_int_equal(s.retried, 2);
	dw_error_clear();
}

static void test_call_error_stops(void **state)
{
	const char *letters = "abcdef";
	struct dw_record r[6];
	struct fake f = { .fail_once = "", .fail_always = "", .call_error_at = 2 };
	struct dw_records_send s = { .limits = &small, .max_attempts = 3, .put = fake_put, .ud = &f };

	(void)state;
	make(r, letters);
	assert_int_equal(dw_records_send(&s, r, 6), -1);
	assert_string_equal(dw_error_last()->code, "NetworkError");
	dw_error_clear();
}

static void test_answer_and_wire_helpers(void **state)
{
	cJSON *ans = cJSON_Parse("{\"FailedRecordCount\":1,\"Records\":[{\"SequenceNumber\":\"1\"},"
				 "{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":\"oops\"},"
				 "{\"SequenceNumber\":\"2\"}]}");
	unsigned char failed[3];
	char why[64] = "";
	struct dw_buf b;

	(void)state;
	assert_int_equal(dw_records_answer(ans, "Records", 3, failed, why, sizeof(why)), 0);
	assert_memory_equal(failed, "\0\1\0", 3);
	assert_string_equal(why, "InternalFailure: oops");
	assert_int_equal(dw_records_answer(ans, "Records", 4, failed, why, sizeof(why)), -1);
	assert_string_equal(dw_error_last()->code, "InvalidResponse");
	dw_error_clear();
	cJSON_Delete(ans);
	dw_buf_init(&b);
	dw_records_b64(&b, "hello", 5);
	dw_records_json_string(&b, "a\"b\\c\n");
	assert_string_equal(b.data, "\"aGVsbG8=\"\"a\\\"b\\\\c\\u000a\"");
	dw_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_counts_and_bytes),
		cmocka_unit_test(test_only_failed_records_are_resent_once),
		cmocka_unit_test(test_records_failing_every_time_raise_send_failed),
		cmocka_unit_test(test_call_error_stops),
		cmocka_unit_test(test_answer_and_wire_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
