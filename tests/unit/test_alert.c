/* test_alert.c - dw-alert deliver's send rate and pacing arithmetic, with an
 * injected clock (no sleeping, no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ops/alert.h"

/* The send rate: the quota's, lowered (never raised) by the request. */
static void test_send_rate_is_min_of_quota_and_request(void **state)
{
	(void)state;
	assert_true(dw_alert_send_rate(14, 0) == 14);      /* no request: the quota */
	assert_true(dw_alert_send_rate(14, 5) == 5);       /* lower: taken */
	assert_true(dw_alert_send_rate(14, 50) == 14);     /* higher: capped */
	assert_true(dw_alert_send_rate(2.5, 1000) == 2.5);
	assert_true(dw_alert_send_rate(14, 0.5) == 0.5);
	/* no usable quota (0, missing, negative): 1 a second, still lowered */
	assert_true(dw_alert_send_rate(0, 0) == 1);
	assert_true(dw_alert_send_rate(-1, 0) == 1);
	assert_true(dw_alert_send_rate(0, 0.25) == 0.25);
	assert_true(dw_alert_send_rate(0, 10) == 1);
}

/* One recipient per mail: mails 1000/rate ms apart, the first at once. */
static void test_pace_one_recipient(void **state)
{
	struct dw_alert_pacer p;
	long long now = 5000;

	(void)state;
	dw_alert_pacer_init(&p, 2);
	assert_int_equal(dw_alert_pace(&p, now, 1), 0);
	assert_int_equal(dw_alert_pace(&p, now, 1), 500);   /* at 5500 */
	assert_int_equal(dw_alert_pace(&p, now, 1), 1000);  /* at 6000: the schedule, not the call */
	/* the caller slept as told: the next one waits a whole interval */
	now = 6000;
	assert_int_equal(dw_alert_pace(&p, now, 1), 500);
	/* part of the interval went by doing other work: only the rest */
	now = 6800;
	assert_int_equal(dw_alert_pace(&p, now, 1), 200);   /* at 7000 */
	/* idle for long: no wait, and no burst saved up either */
	now = 60000;
	assert_int_equal(dw_alert_pace(&p, now, 1), 0);
	assert_int_equal(dw_alert_pace(&p, now, 1), 500);
}

/* SES counts recipients: a mail to n spends n / rate seconds. */
static void test_pace_counts_recipients(void **state)
{
	struct dw_alert_pacer p;

	(void)state;
	dw_alert_pacer_init(&p, 1);
	assert_int_equal(dw_alert_pace(&p, 0, 5), 0);       /* goes at once ... */
	assert_int_equal(dw_alert_pace(&p, 0, 1), 5000);    /* ... then 5 s of budget are spent */
	assert_int_equal(dw_alert_pace(&p, 5000, 3), 1000); /* at 6000, spends 3 s */
	assert_int_equal(dw_alert_pace(&p, 6000, 1), 3000);
	/* 0 recipients cannot be sent; counted as one rather than free */
	dw_alert_pacer_init(&p, 4);
	assert_int_equal(dw_alert_pace(&p, 100, 0), 0);
	assert_int_equal(dw_alert_pace(&p, 100, 1), 250);
}

/* Fractional intervals do not drift: the schedule is kept exactly and only
 * the wait is rounded up (never early). */
static void test_pace_fractional_rate_no_drift(void **state)
{
	struct dw_alert_pacer p;
	long long now = 0;
	long total = 0;

	(void)state;
	dw_alert_pacer_init(&p, 3);                         /* 333.33 ms apart */
	assert_int_equal(dw_alert_pace(&p, 0, 1), 0);
	assert_int_equal(dw_alert_pace(&p, 0, 1), 334);
	assert_int_equal(dw_alert_pace(&p, 0, 1), 667);
	assert_int_equal(dw_alert_pace(&p, 1000, 1), 0);    /* the 4th is due at exactly 1000 */
	/* 300 mails at 3 a second, the caller sleeping as told: 100 s */
	dw_alert_pacer_init(&p, 3);
	for (int i = 0; i < 300; i++) {
		long w = dw_alert_pace(&p, now, 1);
		assert_true(w >= 0 && w <= 334);
		now += w;
		total += w;
	}
	assert_true(total >= 99666 && total <= 99668);      /* the 300th goes at 99,666.67 ms */
	/* a high rate: sub-millisecond intervals still add up */
	dw_alert_pacer_init(&p, 1000 * 3);
	now = 0;
	for (int i = 0; i < 3000; i++)
		now += dw_alert_pace(&p, now, 1);
	assert_true(now >= 999 && now <= 1000);
}

/* A rate that is not above 0 is 1 a second (never a division by zero). */
static void test_pace_bad_rate(void **state)
{
	struct dw_alert_pacer p;

	(void)state;
	dw_alert_pacer_init(&p, 0);
	assert_int_equal(dw_alert_pace(&p, 10, 1), 0);
	assert_int_equal(dw_alert_pace(&p, 10, 1), 1000);
	dw_alert_pacer_init(&p, -3);
	assert_int_equal(dw_alert_pace(&p, 10, 2), 0);
	assert_int_equal(dw_alert_pace(&p, 10, 1), 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_rate_is_min_of_quota_and_request),
		cmocka_unit_test(test_pace_one_recipient),
		cmocka_unit_test(test_pace_counts_recipients),
		cmocka_unit_test(test_pace_fractional_rate_no_drift),
		cmocka_unit_test(test_pace_bad_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
