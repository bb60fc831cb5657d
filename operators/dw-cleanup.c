/* dw-cleanup - plan and apply the clean-up of what the platform leaves
 * behind: expired or idle warehouse copies, stale S3 objects, Glue tables
 * that are old or whose data is gone, and empty, unused SQS queues.
 * Dry-run by default; the plan logic lives in core/cleanup.c. */
#include "ops/cleanup.h"
#include "base/log.h"
#include "proto/op.h"
#include "base/timefmt.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DELETIONS 100

/* The request besides the policy (which the core reads, its sections bound
 * by the core's tables). */
struct cleanup_req {
	const char *now, *expect_plan;
	size_t max_deletions;
	int dry_run;
};

#define F(kind, n, ...) DW_##kind(n, struct cleanup_req, __VA_ARGS__)
#define POLICY_FIELDS \
	DW_FIELD("snapshots", DW_T_OBJECT, 0, dw_cleanup_snapshot_fields, "destroy expired (and idle) dwops-managed warehouse copies"), \
	DW_FIELD("s3", DW_T_OBJECTS, 0, dw_cleanup_s3_fields, "rules for stale objects"), \
	DW_FIELD("tables", DW_T_OBJECTS, 0, dw_cleanup_table_fields, "rules for Glue tables"), \
	DW_FIELD("queues", DW_T_OBJECTS, 0, dw_cleanup_queue_fields, "rules for SQS queues"), \
	F(INT, "max_deletions", max_deletions, 0, DEFAULT_MAX_DELETIONS, 1, 1LL << 53, \
	  "refuse to apply a plan with more deletions than this"), \
	F(STR, "now", now, 0, NULL, "ISO 8601 time to measure ages against instead of the clock (tests, what-if planning)")

static const struct dw_field plan_fields[] = {
	POLICY_FIELDS,
	DW_FIELDS_END
};
static const struct dw_field apply_fields[] = {
	POLICY_FIELDS,
	F(BOOL, "dry_run", dry_run, 0, 0, "only plan"),
	F(STR, "expect_plan", expect_plan, 0, NULL,
	  "the reviewed plan's plan_hash: refuse (PlanChanged, exit 2) unless the plan is that one"),
	DW_FIELDS_END
};
#undef F

struct options {
	struct dw_cleanup_policy policy;
	time_t now;
	size_t max_deletions;
	const char *expect_plan;
};

static int read_options(const struct dw_ctx *ctx, struct options *o, int *dry_run)
{
	struct cleanup_req q = { 0 };

	if (dw_req_bind(ctx->req, ctx->action->fields, &q))
		return -1;
	o->now = q.now ? dw_time_parse_iso(q.now) : time(NULL);
	if (o->now < 0)
		return dw_invalid("now", "now must be an ISO 8601 time like 2026-01-31T00:00:00Z, not \"%s\"", q.now);
	o->max_deletions = q.max_deletions;
	o->expect_plan = q.expect_plan;
	if (o->expect_plan && (strlen(o->expect_plan) != 64 ||
			       strspn(o->expect_plan, "0123456789abcdef") != 64))
		return dw_invalid("expect_plan", "expect_plan must be a plan's plan_hash (64 "
				  "lower-case hex digits)");
	*dry_run = *dry_run || q.dry_run;
	return dw_cleanup_policy_read(&o->policy, ctx->req);
}

/* [{kind, target, reason, rule, status[, error]}] */
static cJSON *items_json(const struct dw_cleanup_plan *plan)
{
	cJSON *items = cJSON_CreateArray();

	for (size_t i = 0; i < plan->n; i++) {
		const struct dw_cleanup_item *it = &plan->items[i];
		char *target = dw_cleanup_item_target(it);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", dw_cleanup_kind_name(it->kind));
		cJSON_AddStringToObject(o, "target", target);
		cJSON_AddStringToObject(o, "reason", it->reason);
		cJSON_AddStringToObject(o, "rule", it->rule);
		cJSON_AddStringToObject(o, "status", dw_cleanup_status_name(it->status));
		if (it->error)
			cJSON_AddStringToObject(o, "error", it->error);
		cJSON_AddItemToArray(items, o);
		free(target);
	}
	return items;
}

static void report(struct dw_ctx *ctx, const struct dw_cleanup_plan *plan,
		   const struct options *o, int dry_run)
{
	char iso[32], hash[65];
	cJSON *counts = cJSON_CreateObject(), *r = ctx->result;

	dw_cleanup_plan_hash(plan, hash);
	cJSON_AddStringToObject(ctx->result, "plan_hash", hash);

	dw_time_format_iso(plan->now, iso);
	for (size_t i = 0; i < plan->n; i++) {
		const char *kind = dw_cleanup_kind_name(plan->items[i].kind);
		cJSON *n = cJSON_GetObjectItemCaseSensitive(counts, kind);
		if (n)
			cJSON_SetNumberValue(n, n->valuedouble + 1);
		else
			dw_json_add_int(counts, kind, 1);
	}
	cJSON_AddBoolToObject(r, "dry_run", dry_run);
	cJSON_AddStringToObject(r, "now", iso);
	dw_json_add_int(r, "max_deletions", (long long)o->max_deletions);
	cJSON_AddBoolToObject(r, "over_limit", plan->n > o->max_deletions);
	dw_json_add_int(r, "planned", (long long)plan->n);
	dw_json_add_int(r, "deleted", (long long)dw_cleanup_count(plan, DW_CLEANUP_DONE));
	dw_json_add_int(r, "failed", (long long)dw_cleanup_count(plan, DW_CLEANUP_FAILED));
	cJSON_AddItemToObject(r, "counts", counts);
	cJSON_AddItemToObject(r, "items", items_json(plan));
}

static int plan_and_maybe_apply(struct dw_ctx *ctx, struct options *o, int dry_run)
{
	struct dw_cleanup_plan plan;
	struct dw_aws *aws = dw_ctx_aws(ctx);
	int rc;

	if (!aws)
		return -1;
	dw_cleanup_plan_init(&plan, o->now);
	rc = dw_cleanup_plan_make(aws, &o->policy, &plan);
	/* Exactly the reviewed plan, or nothing (issue 12 #16). */
	if (rc == 0 && !dry_run && o->expect_plan)
		rc = dw_cleanup_expect(&plan, o->expect_plan);
	if (rc == 0 && plan.n == 0) {
		report(ctx, &plan, o, dry_run);
		dw_cleanup_plan_release(&plan);
		return dw_nothing_to_do(ctx, "nothing to clean up");
	}
	if (rc == 0 && dry_run) {
		for (size_t i = 0; i < plan.n; i++) {
			char *target = dw_cleanup_item_target(&plan.items[i]);
			dw_info("would delete %s: %s", target, plan.items[i].reason);
			free(target);
		}
		if (plan.n > o->max_deletions)
			dw_warn("the plan has %zu deletions, more than max_deletions (%zu): apply would refuse it",
				plan.n, o->max_deletions);
	}
	if (rc == 0 && !dry_run)
		rc = dw_cleanup_guard(&plan, o->max_deletions);
	if (rc == 0 && !dry_run)
		rc = dw_cleanup_apply(aws, &plan);
	report(ctx, &plan, o, dry_run);
	dw_cleanup_plan_release(&plan);
	return rc;
}

static int run(struct dw_ctx *ctx, int dry_run)
{
	struct options o = { 0 };
	int rc;

	if (read_options(ctx, &o, &dry_run))
		return -1;
	rc = plan_and_maybe_apply(ctx, &o, dry_run);
	dw_cleanup_policy_release(&o.policy);
	return rc;
}

static int do_plan(struct dw_ctx *ctx)
{
	return run(ctx, 1);
}

static int do_apply(struct dw_ctx *ctx)
{
	return run(ctx, 0); /* or the request's dry_run */
}

static const struct dw_action actions[] = {
	{ "plan", "list what would be deleted, each with its reason; changes nothing", plan_fields, do_plan,
	  "{\"snapshots\": {\"idle_hours\": 48}, \"s3\": [{\"bucket\": \"dw-work\", \"prefix\": \"tmp/\", "
	  "\"older_than_days\": 7, \"keep_latest\": 10}]}" },
	{ "apply", "delete what the plan lists, reporting each item as done or failed", apply_fields, do_apply,
	  "{\"queues\": [{\"prefix\": \"dw-tmp-\", \"unused_days\": 14}], \"max_deletions\": 200}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator cleanup = {
	"dw-cleanup", "take back what the platform leaves behind, safely (dry-run by default)", actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&cleanup, argc, argv);
}
