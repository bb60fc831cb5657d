/* test_lock.c - dw-lock's grant rules and lock item, without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ops/lock.h"
#include "aws/dynamodb.h"
#include "base/error.h"

#define NOW 1700000000000LL
#define SKEW 2000LL
#define TTL 60000LL

static int may(const struct dw_lock_state *s, const char *holder, int write, long long now)
{
	char why[256];

	return dw_lock_may_grant(s, holder, write, now, SKEW, why, sizeof(why));
}

static void test_readers_share_writers_exclude(void **state)
{
	struct dw_lock_state s = { 0 };

	(void)state;
	assert_true(may(&s, "a", 0, NOW));
	assert_true(may(&s, "a", 1, NOW));
	dw_lock_state_grant(&s, "r1", "L1", 0, NOW, TTL, SKEW);
	dw_lock_state_grant(&s, "r2", "L2", 0, NOW, TTL, SKEW);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.fence, 0);
	assert_true(may(&s, "r3", 0, NOW));
	assert_false(may(&s, "w", 1, NOW));
	/* readers gone: a writer gets it and the fencing token grows */
	assert_int_equal(dw_lock_state_remove(&s, "r1"), 1);
	assert_int_equal(dw_lock_state_remove(&s, "r1"), 0);
	assert_int_equal(dw_lock_state_remove(&s, "r2"), 1);
	assert_true(may(&s, "w", 1, NOW));
	dw_lock_state_grant(&s, "w", "L3", 1, NOW, TTL, SKEW);
	assert_int_equal(s.fence, 1);
	assert_false(may(&s, "r1", 0, NOW));
	assert_false(may(&s, "w2", 1, NOW));
	/* the holder itself is not blocked by its own lease (re-acquire) */
	assert_true(may(&s, "w", 1, NOW));
	dw_lock_state_grant(&s, "w", "L4", 1, NOW + 1, TTL, SKEW);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.fence, 2);
	assert_string_equal(s.e[0].lease, "L4");
	dw_lock_state_release(&s);
}

static void test_expiry_with_skew_margin(void **state)
{
	struct dw_lock_state s = { 0 };

	(void)state;
	dw_lock_state_grant(&s, "w", "L", 1, NOW, TTL, SKEW);
	/* dead to others only skew after its expiry */
	assert_false(may(&s, "x", 0, NOW + TTL));
	assert_false(may(&s, "x", 0, NOW + TTL + SKEW - 1));
	assert_true(may(&s, "x", 0, NOW + TTL + SKEW));
	/* a grant drops dead entries */
	dw_lock_state_grant(&s, "x", "L2", 0, NOW + TTL + SKEW, TTL, SKEW);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.e[0].holder, "x");
	assert_int_equal(s.fence, 1);
	dw_lock_state_release(&s);
}

static void test_writer_priority_blocks_new_readers(void **state)
{
	struct dw_lock_state s = { 0 };

	(void)state;
	dw_lock_state_grant(&s, "r1", "L1", 0, NOW, TTL, SKEW);
	s.waiter = strdup("w");
	s.waiter_exp = NOW + 4000;
	s.waiter_prio = 0;
	assert_true(may(&s, "r2", 0, NOW));   /* default: readers first */
	s.waiter_prio = 1;
	assert_false(may(&s, "r2", 0, NOW));
	assert_true(may(&s, "r2", 0, NOW + 4000 + SKEW)); /* the waiter died */
	assert_false(may(&s, "w", 1, NOW));   /* still r1 */
	dw_lock_state_remove(&s, "r1");
	assert_true(may(&s, "w", 1, NOW));
	dw_lock_state_grant(&s, "w", "L2", 1, NOW, TTL, SKEW);
	assert_null(s.waiter);                 /* the slot is freed by the grant */
	dw_lock_state_release(&s);
}

static void test_item_round_trip(void **state)
{
	struct dw_lock_state s = { 0 }, t;
	cJSON *item;

	(void)state;
	s.ver = 41;
	s.fence = 7;
	s.wid = strdup("abc");
	dw_lock_state_grant(&s, "host:1:aa", "L1", 0, NOW, TTL, SKEW);
	dw_lock_state_grant(&s, "host:2:bb", "L2", 0, NOW + 5, TTL, SKEW);
	s.waiter = strdup("host:3:cc");
	s.waiter_exp = NOW + 10;
	s.waiter_prio = 1;
	item = dw_lock_state_item(&s, "lake/events");
	assert_string_equal(dw_ddb_get_s(item, "resource"), "lake/events");
	assert_int_equal(dw_lock_state_read(&t, item), 0);
	assert_true(t.exists);
	assert_int_equal(t.ver, 41);
	assert_int_equal(t.fence, 7);
	assert_int_equal(t.n, 2);
	struct dw_lock_entry *e = dw_lock_state_find(&t, "host:2:bb");
	assert_non_null(e);
	assert_string_equal(e->lease, "L2");
	assert_int_equal(e->granted_ms, NOW + 5);
	assert_int_equal(e->expires_ms, NOW + 5 + TTL);
	assert_false(e->write);
	assert_string_equal(t.waiter, "host:3:cc");
	assert_true(t.waiter_prio);
	dw_lock_state_release(&t);
	cJSON_Delete(item);

	/* a writer round trip */
	dw_lock_state_release(&s);
	dw_lock_state_grant(&s, "w", "LW", 1, NOW, TTL, SKEW);
	item = dw_lock_state_item(&s, "r");
	assert_int_equal(dw_lock_state_read(&t, item), 0);
	assert_int_equal(t.n, 1);
	assert_true(t.e[0].write);
	assert_string_equal(t.e[0].holder, "w");
	assert_int_equal(t.fence, 1);
	dw_lock_state_release(&t);
	dw_lock_state_release(&s);
	cJSON_Delete(item);
}

static void test_foreign_item_refused(void **state)
{
	struct dw_lock_state t;
	cJSON *item = cJSON_Parse("{\"resource\":{\"S\":\"x\"},\"other\":{\"S\":\"y\"}}");

	(void)state;
	assert_int_equal(dw_lock_state_read(&t, item), -1);
	assert_true(dw_error_is("InvalidLockItem"));
	dw_lock_state_release(&t);
	cJSON_Delete(item);
	assert_int_equal(dw_lock_state_read(&t, NULL), 0);
	assert_false(t.exists);
	dw_lock_state_release(&t);
}

static void test_default_holder_unique(void **state)
{
	char *a = dw_lock_default_holder(), *b = dw_lock_default_holder();

	(void)state;
	assert_string_not_equal(a, b);
	assert_non_null(strchr(a, ':'));
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_share_writers_exclude),
		cmocka_unit_test(test_expiry_with_skew_margin),
		cmocka_unit_test(test_writer_priority_blocks_new_readers),
		cmocka_unit_test(test_item_round_trip),
		cmocka_unit_test(test_foreign_item_refused),
		cmocka_unit_test(test_default_holder_unique),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
