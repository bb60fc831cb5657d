/* dw-catalog - the Glue Data Catalog as code: producer tables and consumer
 * views from one model, planned, applied and remapped. */
#include "ops/catalog.h"
#include "proto/op.h"

#include <stdlib.h>
#include <string.h>

/* Every action's request (each action's table binds the fields it has). */
struct catalog_req {
	const cJSON *model;
	const char *model_file, *logical, *to;
	int dry_run;
	struct dw_catalog_apply_opts apply;
};

/* The model: inline, or a file (the DAGs folder, a Jenkins workspace). */
static int load_model(const struct catalog_req *q, struct dw_catalog_model *m)
{
	const cJSON *inline_model = q->model;
	const char *file = q->model_file;
	cJSON *parsed = NULL;
	int rc;

	if (!inline_model == !file)
		return dw_invalid(file ? "model_file" : "model", "give the model inline (model) or as a file (model_file)");
	if (file && dw_json_read_file(file, DW_JSON_MAX_REQUEST, "model_file", &parsed))
		return -1;
	rc = dw_catalog_model_read(m, file ? parsed : inline_model, file ? "model_file" : "model");
	cJSON_Delete(parsed);
	return rc;
}

static cJSON *changes_json(const struct dw_catalog_item *it)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < it->nchanges; i++) {
		const struct dw_catalog_change *c = &it->changes[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "change", c->change);
		if (c->column)
			cJSON_AddStringToObject(o, "column", c->column);
		if (c->from)
			cJSON_AddStringToObject(o, "from", c->from);
		if (c->to)
			cJSON_AddStringToObject(o, "to", c->to);
		cJSON_AddBoolToObject(o, "breaking", c->breaking);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static void put_plan(cJSON *result, const struct dw_catalog_plan *p, int with_status)
{
	cJSON *summary = cJSON_AddObjectToObject(result, "summary");
	cJSON *items = cJSON_CreateArray();
	size_t breaking = 0, drift = 0;

	cJSON_AddStringToObject(result, "plan_hash", p->hash);
	dw_json_add_int(result, "tables_read", (long long)p->tables_read);
	for (size_t i = 0; i < p->n; i++) {
		const struct dw_catalog_item *it = &p->items[i];
		cJSON *o = cJSON_CreateObject();
		char *target = dw_xasprintf("%s.%s", it->database, it->name);

		cJSON_AddStringToObject(o, "kind", dw_catalog_kind_name(it->kind));
		cJSON_AddStringToObject(o, "target", target);
		cJSON_AddStringToObject(o, "action", dw_catalog_action_name(it->action));
		cJSON_AddItemToObject(o, "changes", changes_json(it));
		cJSON_AddBoolToObject(o, "breaking", it->breaking);
		cJSON_AddBoolToObject(o, "drift", it->drift);
		if (with_status && it->action != DW_CATALOG_UNMANAGED)
			cJSON_AddStringToObject(o, "status", dw_catalog_status_name(it->status));
		if (it->error)
			cJSON_AddStringToObject(o, "error", it->error);
		cJSON_AddItemToArray(items, o);
		breaking += it->breaking != 0;
		drift += it->drift != 0;
		free(target);
	}
	for (int a = DW_CATALOG_CREATE; a <= DW_CATALOG_UNMANAGED; a++)
		dw_json_add_int(summary, dw_catalog_action_name((enum dw_catalog_action)a),
				(long long)dw_catalog_count(p, (enum dw_catalog_action)a));
	dw_json_add_int(summary, "breaking", (long long)breaking);
	dw_json_add_int(summary, "drift", (long long)drift);
	cJSON_AddItemToObject(result, "items", items);
}

/* Requests sent, so a run's cost shows in its result (one per Glue page
 * when planning, one per change when applying). */
static void put_requests(struct dw_ctx *ctx, struct dw_aws *aws)
{
	if (aws)
		dw_json_add_int(ctx->result, "aws_requests", (long long)dw_aws_stats(aws)->requests);
}

static int plan(struct dw_ctx *ctx)
{
	struct catalog_req q = { 0 };
	struct dw_catalog_model m;
	struct dw_catalog_plan p;
	struct dw_aws *aws = NULL;
	int rc;

	dw_catalog_model_init(&m);
	dw_catalog_plan_init(&p);
	rc = dw_req_bind(ctx->req, ctx->action->fields, &q) || load_model(&q, &m) ? -1 : 0;
	if (rc == 0 && !(aws = dw_ctx_aws(ctx)))
		rc = -1;
	if (rc == 0)
		rc = dw_catalog_plan_make(aws, &m, &p);
	if (rc == 0)
		put_plan(ctx->result, &p, 0);
	put_requests(ctx, aws);
	if (rc == 0 && dw_catalog_changes(&p) == 0)
		rc = dw_nothing_to_do(ctx, "the catalog matches the model");
	dw_catalog_plan_release(&p);
	dw_catalog_model_release(&m);
	return rc;
}

static int check_expect_plan(const char *expect)
{
	if (expect && (strlen(expect) != 64 || strspn(expect, "0123456789abcdef") != 64))
		return dw_invalid("expect_plan", "expect_plan is a plan_hash: 64 hexadecimal digits");
	return 0;
}

static int apply(struct dw_ctx *ctx)
{
	struct catalog_req q = { 0 };
	struct dw_catalog_model m;
	struct dw_catalog_plan p;
	struct dw_aws *aws = NULL;
	int rc;

	dw_catalog_model_init(&m);
	dw_catalog_plan_init(&p);
	rc = dw_req_bind(ctx->req, ctx->action->fields, &q) || check_expect_plan(q.apply.expect_plan) ||
	     load_model(&q, &m) ? -1 : 0;
	const struct dw_catalog_apply_opts o = q.apply;
	int dry = q.dry_run;
	if (rc == 0 && !(aws = dw_ctx_aws(ctx)))
		rc = -1;
	if (rc == 0)
		rc = dw_catalog_plan_make(aws, &m, &p);
	if (rc == 0 && dw_catalog_changes(&p) == 0) {
		put_plan(ctx->result, &p, 1);
		rc = dw_nothing_to_do(ctx, "the catalog matches the model");
	} else if (rc == 0) {
		rc = dw_catalog_guard(&p, &o);
		if (rc == 0 && !dry)
			rc = dw_catalog_apply(aws, &p, &o);
		cJSON_AddBoolToObject(ctx->result, "dry_run", dry);
		put_plan(ctx->result, &p, 1);
	}
	put_requests(ctx, aws);
	dw_catalog_plan_release(&p);
	dw_catalog_model_release(&m);
	return rc;
}

static int split_target(const char *to, char **db, char **table)
{
	const char *dot = strchr(to, '.');

	if (!dot || dot == to || !dot[1] || strchr(dot + 1, '.'))
		return dw_invalid("to", "to names the new physical table as database.table");
	*db = strndup(to, (size_t)(dot - to));
	*table = strdup(dot + 1);
	for (char *p = *db; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	for (char *p = *table; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	return 0;
}

static void put_remap(cJSON *result, const struct dw_catalog_remap *r)
{
	cJSON *views = cJSON_AddArrayToObject(result, "views");

	dw_json_add_int(result, "generation", r->generation);
	for (size_t i = 0; i < r->n; i++) {
		const struct dw_catalog_remapped *v = &r->views[i];
		cJSON *o = cJSON_CreateObject();
		char *name = dw_xasprintf("%s.%s", v->database, v->name);

		cJSON_AddStringToObject(o, "view", name);
		cJSON_AddStringToObject(o, "from", v->from);
		cJSON_AddStringToObject(o, "to", v->to);
		cJSON_AddStringToObject(o, "version_from", v->version_from);
		if (v->version_to)
			cJSON_AddStringToObject(o, "version_to", v->version_to);
		if (v->rolled_back)
			cJSON_AddBoolToObject(o, "rolled_back", 1);
		cJSON_AddItemToArray(views, o);
		free(name);
	}
}

static int remap(struct dw_ctx *ctx)
{
	struct catalog_req q = { 0 };
	struct dw_catalog_model m;
	struct dw_catalog_remap r = { 0 };
	char *db = NULL, *table = NULL;
	struct dw_aws *aws = NULL;
	int rc;

	dw_catalog_model_init(&m);
	rc = dw_req_bind(ctx->req, ctx->action->fields, &q) || split_target(q.to, &db, &table) ||
	     load_model(&q, &m) ? -1 : 0;
	const char *logical = q.logical ? q.logical : "";
	int dry = q.dry_run;
	if (rc == 0 && !(aws = dw_ctx_aws(ctx)))
		rc = -1;
	if (rc == 0)
		rc = dw_catalog_remap_run(aws, &m, logical, db, table, dry, &r);
	cJSON_AddStringToObject(ctx->result, "logical", logical);
	cJSON_AddBoolToObject(ctx->result, "dry_run", dry);
	put_remap(ctx->result, &r);
	dw_catalog_remap_release(&r);
	dw_catalog_model_release(&m);
	free(db);
	free(table);
	return rc;
}

static int views(struct dw_ctx *ctx)
{
	struct catalog_req q = { 0 };
	struct dw_catalog_model m;
	cJSON *out;
	int rc;

	dw_catalog_model_init(&m);
	rc = dw_req_bind(ctx->req, ctx->action->fields, &q) || load_model(&q, &m) ? -1 : 0;
	out = cJSON_AddArrayToObject(ctx->result, "views");
	for (size_t i = 0; i < m.nviews && rc == 0; i++) {
		const struct dw_catalog_view *v = &m.views[i];
		cJSON *o = cJSON_CreateObject();
		char *athena = dw_catalog_view_sql(&m, v, DW_DDL_ATHENA);
		char *snowflake = dw_catalog_view_sql(&m, v, DW_DDL_SNOWFLAKE);
		char *name = dw_xasprintf("%s.%s", v->database, v->name);

		cJSON_AddStringToObject(o, "view", name);
		cJSON_AddStringToObject(o, "logical", v->logical);
		if (athena && snowflake) {
			cJSON_AddStringToObject(o, "athena", athena);
			cJSON_AddStringToObject(o, "snowflake", snowflake);
		} else {
			rc = -1;
		}
		cJSON_AddItemToArray(out, o);
		free(athena);
		free(snowflake);
		free(name);
	}
	dw_catalog_model_release(&m);
	return rc;
}

#define F(kind, n, ...) DW_##kind(n, struct catalog_req, __VA_ARGS__)
#define MODEL_FIELDS \
	F(OBJ, "model", model, 0, NULL, "the model inline: datasets, consumers, bindings"), \
	F(STR, "model_file", model_file, 0, NULL, "the model as a JSON file (instead of model)")

static const struct dw_field plan_fields[] = {
	MODEL_FIELDS,
	DW_FIELDS_END
};

static const struct dw_field apply_fields[] = {
	MODEL_FIELDS,
	F(BOOL, "allow_breaking", apply.allow_breaking, 0, 0,
	  "apply breaking changes too (removed columns, narrowed types, deletions)"),
	F(BOOL, "skip_breaking", apply.skip_breaking, 0, 0,
	  "apply the non-breaking changes, leave the breaking ones and exit 1"),
	F(BOOL, "overwrite_drift", apply.overwrite_drift, 0, 0, "replace changes made in Glue by someone else"),
	F(INT, "max_deletions", apply.max_deletions, 0, 10, 0, DW_CATALOG_MAX_TABLES + DW_CATALOG_MAX_VIEWS,
	  "refuse a plan deleting more objects than this"),
	F(STR, "expect_plan", apply.expect_plan, 0, NULL, "the plan_hash that was reviewed: refuse if the plan changed"),
	F(INT, "concurrency", apply.concurrency, 0, 16, 1, 64, "Glue calls in flight at once"),
	F(BOOL, "dry_run", dry_run, 0, 0, "plan and check the guards, change nothing"),
	DW_FIELDS_END
};

static const struct dw_field remap_fields[] = {
	MODEL_FIELDS,
	F(STR, "logical", logical, DW_REQUIRED, NULL, "the logical table whose views move"),
	F(STR, "to", to, DW_REQUIRED, NULL, "the new physical table, database.table"),
	F(BOOL, "dry_run", dry_run, 0, 0, "check everything, switch nothing"),
	DW_FIELDS_END
};
#undef F

static const struct dw_action actions[] = {
	{ "plan", "compare the model with the Glue catalog: what to create, update, delete",
	  plan_fields, plan, "{\"model_file\": \"catalog.json\"}" },
	{ "apply", "carry out the plan: creates, then updates, then deletes",
	  apply_fields, apply, "{\"model_file\": \"catalog.json\", \"expect_plan\": \"<plan_hash>\"}" },
	{ "remap", "point a logical table's views at a new physical table, all or none",
	  remap_fields, remap, "{\"model_file\": \"catalog.json\", \"logical\": \"orders\", \"to\": \"sales.orders_v4\"}" },
	{ "views", "the views' SQL for Athena and Snowflake", plan_fields, views,
	  "{\"model_file\": \"catalog.json\"}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator catalog_op = {
	"dw-catalog", "the Glue catalog as code: tables and views from one model", actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&catalog_op, argc, argv);
}
