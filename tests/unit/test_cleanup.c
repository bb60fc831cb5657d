/* test_cleanup.c - the clean-up policy checks, the deletion guard, the
 * plan's report, and the CloudWatch period choice, without AWS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "ops/cleanup.h"
#include "aws/cloudwatch.h"

/* Read a policy from JSON text; returns dw_cleanup_policy_read's result. */
static int read_policy(const char *text, struct dw_cleanup_policy *p)
{
	cJSON *req = NULL;
	int rc;

	assert_int_equal(dw_json_parse(text, strlen(text), "policy", &req), 0);
	rc = dw_cleanup_policy_read(p, req);
	/* The policy borrows strings from the request: check before freeing. */
	if (rc == 0)
		dw_cleanup_policy_release(p);
	cJSON_Delete(req);
	return rc;
}

static void assert_rejected(const char *text, const char *field)
{
	struct dw_cleanup_policy p;

	assert_int_equal(read_policy(text, &p), -1);
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_string_equal(dw_error_last()->field, field);
}

static void test_policy_read(void **state)
{
	cJSON *req = cJSON_Parse("{\"snapshots\": {\"idle_hours\": 6, \"owner\": \"ann\"},"
				 " \"s3\": [{\"bucket\": \"b\", \"prefix\": \"p/\", \"older_than_days\": 3,"
				 " \"keep_latest\": 2}],"
				 " \"tables\": [{\"database\": \"d\", \"pattern\": \"tmp_*\","
				 " \"location_empty\": true}],"
				 " \"queues\": [{\"prefix\": \"q-\", \"unused_days\": 7}]}");
	struct dw_cleanup_policy p;

	(void)state;
	assert_int_equal(dw_cleanup_policy_read(&p, req), 0);
	assert_true(p.copies.enabled);
	assert_int_equal(p.copies.idle_hours, 6);
	assert_string_equal(p.copies.owner, "ann");
	assert_int_equal(p.ns3, 1);
	assert_string_equal(p.s3[0].prefix, "p/");
	assert_int_equal(p.s3[0].older_than_days, 3);
	assert_int_equal(p.s3[0].keep_latest, 2);
	assert_int_equal(p.ntables, 1);
	assert_int_equal(p.tables[0].older_than_days, -1); /* age is not a reason */
	assert_true(p.tables[0].location_empty);
	assert_int_equal(p.nqueues, 1);
	assert_int_equal(p.queues[0].unused_days, 7);
	dw_cleanup_policy_release(&p);
	cJSON_Delete(req);
}

static void test_policy_rejects(void **state)
{
	(void)state;
	assert_rejected("{}", "");
	assert_rejected("{\"s3\": []}", "");
	assert_rejected("{\"s3\": [{\"bucket\": \"b\", \"prefix\": \"\", \"older_than_days\": 1}]}",
			"s3[0].prefix");
	assert_rejected("{\"s3\": [{\"bucket\": \"b\", \"prefix\": \"p\"}]}", "s3[0].older_than_days");
	assert_rejected("{\"s3\": [{\"bucket\": \"b\", \"prefix\": \"p\", \"older_than_days\": 1,"
			" \"keep_latest\": -1}]}", "s3[0].keep_latest");
	assert_rejected("{\"tables\": [{\"database\": \"d\", \"pattern\": \"*\","
			" \"location_empty\": false}]}", "tables[0]");
	assert_rejected("{\"tables\": [{\"database\": \"d\", \"pattern\": \"*\","
			" \"older_than_days\": 0}]}", "tables[0].older_than_days");
	assert_rejected("{\"queues\": [{\"prefix\": \"\", \"unused_days\": 3}]}", "queues[0].prefix");
	assert_rejected("{\"queues\": [{\"prefix\": \"q\", \"unused_days\": 456}]}",
			"queues[0].unused_days");
	assert_rejected("{\"snapshots\": {\"idle_hours\": -1}}", "snapshots.idle_hours");
	/* range-checked in 64 bits: 2^32 + 7 is not 7, -2^32 + 3 is not 3 */
	assert_rejected("{\"queues\": [{\"prefix\": \"q\", \"unused_days\": 4294967303}]}",
			"queues[0].unused_days");
	assert_rejected("{\"s3\": [{\"bucket\": \"b\", \"prefix\": \"p\", \"older_than_days\": -4294967293}]}",
			"s3[0].older_than_days");
}

static struct dw_cleanup_item item(enum dw_cleanup_kind kind, const char *scope,
				   const char *name)
{
	struct dw_cleanup_item it = {
		.kind = kind, .rule = dw_xstrdup("r"), .scope = scope ? dw_xstrdup(scope) : NULL,
		.name = dw_xstrdup(name), .reason = dw_xstrdup("why"),
	};
	return it;
}

static void add(struct dw_cleanup_plan *plan, struct dw_cleanup_item it)
{
	plan->items = dw_xrealloc(plan->items, (plan->n + 1) * sizeof(*plan->items));
	plan->items[plan->n++] = it;
	plan->cap = plan->n;
}

static void test_guard_and_report(void **state)
{
	struct dw_cleanup_plan plan;
	char *target;

	(void)state;
	dw_cleanup_plan_init(&plan, 1000);
	add(&plan, item(DW_CLEANUP_COPY, NULL, "dw-snapshot-ann"));
	add(&plan, item(DW_CLEANUP_OBJECT, "bucket", "tmp/a b"));
	add(&plan, item(DW_CLEANUP_TABLE, "db", "tmp_t"));
	add(&plan, item(DW_CLEANUP_QUEUE, NULL, "https://sqs/1/q"));
	plan.items[2].status = DW_CLEANUP_FAILED;
	plan.items[2].error = dw_xstrdup("AccessDenied: no");
	plan.items[3].status = DW_CLEANUP_DONE;

	assert_int_equal(dw_cleanup_guard(&plan, 4), 0);
	assert_int_equal(dw_cleanup_guard(&plan, 3), -1);
	assert_string_equal(dw_error_last()->code, "TooManyDeletions");
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_int_equal(dw_cleanup_count(&plan, DW_CLEANUP_PLANNED), 2);
	assert_int_equal(dw_cleanup_count(&plan, DW_CLEANUP_FAILED), 1);

	/* What dw-cleanup prints for each item (kind, target, status, error). */
	target = dw_cleanup_item_target(&plan.items[1]);
	assert_string_equal(target, "s3://bucket/tmp/a b");
	free(target);
	assert_string_equal(dw_cleanup_kind_name(plan.items[1].kind), "s3-object");
	target = dw_cleanup_item_target(&plan.items[2]);
	assert_string_equal(target, "db.tmp_t");
	free(target);
	assert_string_equal(dw_cleanup_status_name(plan.items[2].status), "failed");
	assert_string_equal(plan.items[2].error, "AccessDenied: no");
	assert_null(plan.items[0].error);
	assert_string_equal(dw_cleanup_status_name(plan.items[3].status), "done");
	dw_cleanup_plan_release(&plan);
}

static void test_cloudwatch_period(void **state)
{
	(void)state;
	assert_int_equal(dw_cw_default_period(3600), 3600);          /* at least an hour */
	assert_int_equal(dw_cw_default_period(1440L * 3600), 3600);  /* 1440 hourly points */
	assert_int_equal(dw_cw_default_period(1441L * 3600), 3660);  /* whole minutes, <= 1440 */
	assert_true((365L * 86400) / dw_cw_default_period(365L * 86400) <= 1440);
	assert_int_equal(dw_cw_default_period(365L * 86400) % 60, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_read),
		cmocka_unit_test(test_policy_rejects),
		cmocka_unit_test(test_guard_and_report),
		cmocka_unit_test(test_cloudwatch_period),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
