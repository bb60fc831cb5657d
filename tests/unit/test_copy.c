/* test_copy.c - the names and quoting dw-snapshot relies on: copy names
 * that RDS accepts, MySQL identifiers and the safe-name rule; and the
 * restore waiters' decisions on each poll, an instance's and an Aurora
 * cluster's (moto's restores are available at once, so the integration
 * tests never see the other states). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "base/buf.h"
#include "ops/copy.h"
#include "base/error.h"
#include "db/mysql.h"
#include "proto/mysqlreq.h"

static void test_default_name(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(dw_copy_default_name("jane", out, sizeof(out)), 0);
	assert_string_equal(out, "dw-snapshot-jane");
	assert_int_equal(dw_copy_default_name("Jane.Doe@Example.com", out, sizeof(out)), 0);
	assert_string_equal(out, "dw-snapshot-jane-doe-example-com");
	assert_int_equal(dw_copy_default_name("a--b__c-", out, sizeof(out)), 0);
	assert_string_equal(out, "dw-snapshot-a-b-c");
	assert_int_equal(dw_copy_default_name("zoë", out, sizeof(out)), 0);
	assert_string_equal(out, "dw-snapshot-zo");
	assert_int_equal(dw_copy_default_name("@@@", out, sizeof(out)), -1);
	assert_int_equal(dw_copy_default_name("", out, sizeof(out)), -1);
}

static void test_default_name_is_valid_and_fits(void **state)
{
	char owner[200], out[64];

	(void)state;
	memset(owner, 'x', sizeof(owner) - 1);
	owner[sizeof(owner) - 1] = '\0';
	owner[20] = '-';
	assert_int_equal(dw_copy_default_name(owner, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 63);
	assert_true(dw_copy_valid_name(out));
	/* Cut right after a hyphen (12 + 50 + 1 = 63): no trailing hyphen. */
	memset(owner, 'y', sizeof(owner) - 1);
	owner[50] = '.';
	assert_int_equal(dw_copy_default_name(owner, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 62);
	assert_true(dw_copy_valid_name(out));
}

static void test_valid_name(void **state)
{
	(void)state;
	assert_true(dw_copy_valid_name("dw-snapshot-jane"));
	assert_true(dw_copy_valid_name("a"));
	assert_false(dw_copy_valid_name(""));
	assert_false(dw_copy_valid_name("1abc"));
	assert_false(dw_copy_valid_name("abc-"));
	assert_false(dw_copy_valid_name("a--b"));
	assert_false(dw_copy_valid_name("a_b"));
	assert_false(dw_copy_valid_name("a b"));
	assert_false(dw_copy_valid_name(
		"a234567890123456789012345678901234567890123456789012345678901234"));
}

static void test_quote_ident(void **state)
{
	struct dw_buf b;

	(void)state;
	dw_buf_init(&b);
	dw_mysql_quote_ident(&b, "plain");
	assert_string_equal(b.data, "`plain`");
	dw_buf_clear(&b);
	dw_mysql_quote_ident(&b, "a`b``c");
	assert_string_equal(b.data, "`a``b````c`");
	dw_buf_release(&b);
}

static void test_safe_name(void **state)
{
	(void)state;
	assert_true(dw_mysql_safe_name("analytics_2024", 64));
	assert_false(dw_mysql_safe_name("", 64));
	assert_false(dw_mysql_safe_name("abc", 2));
	assert_false(dw_mysql_safe_name("a-b", 64));
	assert_false(dw_mysql_safe_name("a'b", 64));
	assert_false(dw_mysql_safe_name("a`b", 64));
	assert_false(dw_mysql_safe_name("a.b", 64));
	assert_false(dw_mysql_safe_name("\xc3\xa9t\xc3\xa9", 64));
}

/* tls.mode is bound as its index in the table's choices: their order must
 * be the enum's. */
static enum dw_mysql_tls tls_mode_of(const char *text, int *rc)
{
	cJSON *tls = cJSON_Parse(text);
	enum dw_mysql_tls t = DW_MYSQL_TLS_VERIFY;
	const char *ca = NULL;

	*rc = dw_req_mysql_tls(tls, "tls", &t, &ca);
	cJSON_Delete(tls);
	return t;
}

static void test_tls_modes(void **state)
{
	int rc;

	(void)state;
	assert_int_equal(tls_mode_of("{}", &rc), DW_MYSQL_TLS_VERIFY);
	assert_int_equal(rc, 0);
	assert_int_equal(tls_mode_of("{\"mode\":\"verify\"}", &rc), DW_MYSQL_TLS_VERIFY);
	assert_int_equal(tls_mode_of("{\"mode\":\"required\"}", &rc), DW_MYSQL_TLS_REQUIRED);
	assert_int_equal(rc, 0);
	assert_int_equal(tls_mode_of("{\"mode\":\"disabled\"}", &rc), DW_MYSQL_TLS_DISABLED);
	assert_int_equal(rc, 0);
	tls_mode_of("{\"mode\":\"off\"}", &rc);
	assert_int_equal(rc, -1);
	assert_string_equal(dw_error_last()->field, "tls.mode");
	tls_mode_of("{\"mode\":\"required\",\"ca_file\":\"/x\"}", &rc);
	assert_int_equal(rc, -1);
}

static void test_failed_states(void **state)
{
	(void)state;
	assert_true(dw_copy_status_failed("incompatible-restore"));
	assert_true(dw_copy_status_failed("storage-full"));
	assert_true(dw_copy_status_failed("deleting"));
	assert_false(dw_copy_status_failed("creating"));
	assert_false(dw_copy_status_failed("modifying"));
	assert_false(dw_copy_status_failed("available"));
}

/* Every state the waiter stops early on: DW_FAILED, naming the state. */
static void test_wait_stops_on_failed_states(void **state)
{
	static const char *const failed[] = {
		"failed", "incompatible-restore", "incompatible-parameters",
		"incompatible-network", "inaccessible-encryption-credentials",
		"deleting", "storage-full",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++) {
		dw_error_clear();
		/* Early on, long before the deadline, and with no time left. */
		assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", failed[i], 0, 600, 30), -1);
		assert_int_equal(dw_error_last()->kind, DW_FAILED);
		assert_string_equal(dw_error_last()->code, "CopyFailed");
		assert_non_null(strstr(dw_error_last()->message, failed[i]));
		assert_non_null(strstr(dw_error_last()->message, "dw-snapshot-uma"));
		dw_error_clear();
		assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", failed[i], 9999, 600, 30), -1);
		assert_int_equal(dw_error_last()->kind, DW_FAILED);
		assert_string_equal(dw_error_last()->code, "CopyFailed");
	}
}

static void test_wait_done_when_available(void **state)
{
	(void)state;
	dw_error_clear();
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "available", 0, 600, 30), 1);
	/* Available counts even when the time is up. */
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "available", 600, 600, 30), 1);
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "available", 5000, 600, 30), 1);
	assert_int_equal(dw_error_last()->kind, DW_OK);
}

static void test_wait_keeps_waiting_on_transitional_states(void **state)
{
	static const char *const busy[] = {
		"creating", "modifying", "backing-up", "starting", "rebooting",
		"configuring-enhanced-monitoring", "stopped",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++) {
		dw_error_clear();
		assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", busy[i], 0, 600, 30), 0);
		assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", busy[i], 570, 600, 30), 0);
		assert_int_equal(dw_error_last()->kind, DW_OK);
	}
}

/* It gives up once another poll would end past wait_timeout_s. */
static void test_wait_timeout_boundary(void **state)
{
	(void)state;
	dw_error_clear();
	/* 570 + 30 = 600: the next poll is still in time. */
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "creating", 570, 600, 30), 0);
	assert_int_equal(dw_error_last()->kind, DW_OK);
	/* 571 + 30 > 600: give up now, transient. */
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "creating", 571, 600, 30), -1);
	assert_int_equal(dw_error_last()->kind, DW_TRANSIENT);
	assert_string_equal(dw_error_last()->code, "WaitTimeout");
	assert_non_null(strstr(dw_error_last()->message, "dw-snapshot-uma is still creating after 571s"));
	assert_non_null(strstr(dw_error_last()->message, "wait_timeout_s 600"));
	dw_error_clear();
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "modifying", 3, 3, 1), -1);
	assert_int_equal(dw_error_last()->kind, DW_TRANSIENT);
	assert_string_equal(dw_error_last()->code, "WaitTimeout");
	assert_non_null(strstr(dw_error_last()->message, "modifying"));
	dw_error_clear();
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "backing-up", 2, 3, 1), 0);
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "backing-up", 3, 3, 1), -1);
	assert_string_equal(dw_error_last()->code, "WaitTimeout");
	/* A failed state past the deadline is still reported as failed. */
	dw_error_clear();
	assert_int_equal(dw_copy_wait_verdict("dw-snapshot-uma", "storage-full", 9999, 600, 30), -1);
	assert_int_equal(dw_error_last()->kind, DW_FAILED);
}

static void test_cluster_failed_states(void **state)
{
	static const char *const failed[] = {
		"failed", "cloning-failed", "migration-failed",
		"inaccessible-encryption-credentials", "incompatible-parameters",
		"incompatible-network", "deleting",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++) {
		assert_true(dw_copy_cluster_status_failed(failed[i]));
		dw_error_clear();
		assert_int_equal(dw_copy_cluster_wait_verdict("dw-snapshot-uma", failed[i], 0, 600, 30),
				 -1);
		assert_int_equal(dw_error_last()->kind, DW_FAILED);
		assert_string_equal(dw_error_last()->code, "CopyFailed");
		assert_non_null(strstr(dw_error_last()->message, "cluster dw-snapshot-uma"));
		assert_non_null(strstr(dw_error_last()->message, failed[i]));
		/* Past the deadline it is still failed, not a timeout. */
		dw_error_clear();
		assert_int_equal(dw_copy_cluster_wait_verdict("dw-snapshot-uma", failed[i], 9999, 600,
							      30), -1);
		assert_int_equal(dw_error_last()->kind, DW_FAILED);
	}
	assert_false(dw_copy_cluster_status_failed("available"));
	assert_false(dw_copy_cluster_status_failed("creating"));
	/* "storage-full" is an instance's state, not a cluster's. */
	assert_false(dw_copy_cluster_status_failed("storage-full"));
}

static void test_cluster_wait_done_and_pending(void **state)
{
	static const char *const busy[] = {
		"creating", "modifying", "backing-up", "starting", "stopped", "stopping",
		"maintenance", "upgrading", "resetting-master-credentials",
	};

	(void)state;
	dw_error_clear();
	assert_int_equal(dw_copy_cluster_wait_verdict("c", "available", 0, 600, 30), 1);
	assert_int_equal(dw_copy_cluster_wait_verdict("c", "available", 5000, 600, 30), 1);
	for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++) {
		assert_int_equal(dw_copy_cluster_wait_verdict("c", busy[i], 0, 600, 30), 0);
		assert_int_equal(dw_copy_cluster_wait_verdict("c", busy[i], 570, 600, 30), 0);
	}
	assert_int_equal(dw_error_last()->kind, DW_OK);
}

static void test_cluster_wait_timeout_boundary(void **state)
{
	(void)state;
	dw_error_clear();
	assert_int_equal(dw_copy_cluster_wait_verdict("dw-snapshot-uma", "creating", 570, 600, 30),
			 0);
	assert_int_equal(dw_copy_cluster_wait_verdict("dw-snapshot-uma", "creating", 571, 600, 30),
			 -1);
	assert_int_equal(dw_error_last()->kind, DW_TRANSIENT);
	assert_string_equal(dw_error_last()->code, "WaitTimeout");
	assert_non_null(strstr(dw_error_last()->message,
			       "cluster dw-snapshot-uma is still creating after 571s"));
	assert_non_null(strstr(dw_error_last()->message, "wait_timeout_s 600"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_name),
		cmocka_unit_test(test_default_name_is_valid_and_fits),
		cmocka_unit_test(test_valid_name),
		cmocka_unit_test(test_quote_ident),
		cmocka_unit_test(test_safe_name),
		cmocka_unit_test(test_tls_modes),
		cmocka_unit_test(test_failed_states),
		cmocka_unit_test(test_wait_stops_on_failed_states),
		cmocka_unit_test(test_wait_done_when_available),
		cmocka_unit_test(test_wait_keeps_waiting_on_transitional_states),
		cmocka_unit_test(test_wait_timeout_boundary),
		cmocka_unit_test(test_cluster_failed_states),
		cmocka_unit_test(test_cluster_wait_done_and_pending),
		cmocka_unit_test(test_cluster_wait_timeout_boundary),
	};

	return cmocka_run_group_tests_name("copy", tests, NULL, NULL);
}
