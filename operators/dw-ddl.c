/* dw-ddl - external-table DDL over the lake: generated from a short table
 * description (columns given or inferred from sample files), and applied
 * to Athena or the Glue catalog. */
#include "ops/ddl.h"
#include "ops/infer.h"
#include "base/log.h"
#include "proto/op.h"
#include "aws/s3.h"

#include <stdlib.h>
#include <string.h>

/* The request: the table description (which the core reads) and the
 * action's own fields. */
struct infer_req {
	const char *location;
	int max_files;
	long long max_records;
};
struct ddl_req {
	struct dw_ddl_req ddl;
	struct infer_req infer;
	const char *bundle, *pipe;
	int auto_ingest;
	struct dw_ddl_athena_opts athena;
	int dry_run;
};

static const struct dw_field infer_fields[] = {
	DW_STR("location", struct infer_req, location, 0, NULL, "s3://bucket/prefix/ of sample files (default: location)"),
	DW_INT("max_files", struct infer_req, max_files, 0, 10, 1, 1000, "files to read"),
	DW_INT("max_records", struct infer_req, max_records, 0, 1000, 1, 1LL << 53, "records to read"),
	DW_FIELDS_END
};

#define F(kind, n, ...) DW_##kind(n, struct ddl_req, __VA_ARGS__)
#define DDL_FIELDS \
	DW_DDL_TABLE_FIELDS(struct ddl_req, ddl), \
	F(STRUCT, "infer", infer, 0, infer_fields, "infer the columns from sample files (json lines, avro)"), \
	F(STR, "bundle", bundle, 0, NULL, "also write the statements as .sql files into this zip (a relative path under DW_DDL_BUNDLE_DIR)")
#define APPLY_FIELDS \
	F(STR, "workgroup", athena.workgroup, 0, "primary", "athena: workgroup"), \
	F(STR, "output_location", athena.output_location, 0, NULL, "athena: s3:// query result location (default: the workgroup's)"), \
	F(INT, "wait_s", athena.wait_s, 0, 300, 1, 86400, "athena: seconds to wait for each statement"), \
	F(BOOL, "dry_run", dry_run, 0, 0, "show what would be applied, change nothing")

static const struct dw_field generate_fields[] = { DDL_FIELDS, DW_FIELDS_END };
static const struct dw_field apply_fields[] = { DDL_FIELDS, APPLY_FIELDS, DW_FIELDS_END };
#undef F

static int infer_columns(struct dw_ctx *ctx, const struct infer_req *in, struct dw_ddl_table *t)
{
	const char *url = in->location ? in->location : t->location;
	struct dw_infer_source src = {
		.format = t->format, .max_files = in->max_files, .max_records = in->max_records,
	};
	char *bucket = NULL, *prefix = NULL;
	struct dw_infer inf;
	struct dw_aws *aws;
	int rc;

	if (!url)
		return dw_invalid("infer.location", "infer needs a location to read sample files from");
	if (dw_s3_parse_url(url, "infer.location", &bucket, &prefix))
		return -1;
	if (!(aws = dw_ctx_aws(ctx))) {
		free(bucket);
		free(prefix);
		return -1;
	}
	src.bucket = bucket;
	src.prefix = prefix;
	dw_infer_init(&inf);
	rc = dw_infer_s3(aws, &src, &inf);
	if (rc == 0) {
		dw_infer_add_columns(&inf, t);
		cJSON *o = cJSON_AddObjectToObject(ctx->result, "inferred");
		cJSON_AddStringToObject(o, "from", url);
		dw_json_add_int(o, "files", (long long)inf.files);
		dw_json_add_int(o, "records", (long long)inf.records);
		dw_json_add_int(o, "bad_lines", (long long)inf.bad_lines);
	}
	dw_infer_release(&inf);
	free(bucket);
	free(prefix);
	return rc;
}

static int check_athena_fields(const struct ddl_req *q)
{
	const char *out = q->athena.output_location;

	if (out && strncmp(out, "s3://", 5) != 0)
		return dw_invalid("output_location", "output_location must be an s3:// URL");
	return 0;
}

/* ---- the result: the core's structs as JSON ---- */

/* [{name, type, path, present (when inferred)}] */
static cJSON *columns_json(const struct dw_ddl_table *t)
{
	cJSON *cols = cJSON_CreateArray();
	char type[32];

	for (size_t i = 0; i < t->ncolumns; i++) {
		const struct dw_ddl_column *c = &t->columns[i];
		struct dw_buf path;
		cJSON *col = cJSON_CreateObject();

		dw_buf_init(&path);
		for (size_t k = 0; k < c->npath; k++)
			dw_buf_printf(&path, "%s%s", k ? "." : "", c->path[k]);
		dw_ddl_type_name(&c->type, type);
		cJSON_AddStringToObject(col, "name", c->name);
		cJSON_AddStringToObject(col, "type", type);
		cJSON_AddStringToObject(col, "path", path.data ? path.data : "");
		if (c->present >= 0)
			dw_json_add_int(col, "present", c->present);
		cJSON_AddItemToArray(cols, col);
		dw_buf_release(&path);
	}
	return cols;
}

/* [{kind, sql}] */
static cJSON *statements_json(const struct dw_kvlist *st)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < st->n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", st->items[i].key);
		cJSON_AddStringToObject(o, "sql", st->items[i].value);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* [{kind, query_execution_id, state}] (Athena), [{kind, table}] or
 * [{kind: delete_table, existed}] (Glue) */
static cJSON *applied_json(const struct dw_ddl_applied_list *l)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < l->n; i++) {
		const struct dw_ddl_applied *a = &l->v[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", a->kind);
		if (a->query_execution_id[0]) {
			cJSON_AddStringToObject(o, "query_execution_id", a->query_execution_id);
			cJSON_AddStringToObject(o, "state", a->state);
		}
		if (a->table)
			cJSON_AddStringToObject(o, "table", a->table);
		if (a->existed >= 0)
			cJSON_AddBoolToObject(o, "existed", a->existed);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* Read the request into t and the statements (or TableInput) for what,
 * refusing to apply what cannot be before any sample file is read. */
static int prepare(struct dw_ctx *ctx, const struct ddl_req *q, struct dw_ddl_table *t, int apply,
		   int drop, struct dw_kvlist *st, cJSON **table_input)
{
	*table_input = NULL;
	if (dw_ddl_table_parse(t, &q->ddl))
		return -1;
	if (apply && (t->dialect == DW_DDL_SNOWFLAKE || t->dialect == DW_DDL_REDSHIFT))
		return dw_invalid("dialect", "%s is generate-only: run the generated statements yourself",
				  dw_ddl_dialect_name(t->dialect));
	if (check_athena_fields(q))
		return -1;
	/* Checked before anything is read or applied; written by describe. */
	if (q->bundle && dw_ddl_bundle_path(q->bundle, NULL))
		return -1;
	if (drop)
		return dw_ddl_drop_statements(t, st);
	if (dw_req_has(ctx->req, "infer") && infer_columns(ctx, &q->infer, t))
		return -1;
	if (dw_ddl_create_statements(t, st) ||
	    (t->dialect == DW_DDL_GLUE && dw_ddl_glue_table_input(t, table_input)))
		return -1;
	cJSON_AddItemToObject(ctx->result, "columns", columns_json(t));
	return 0;
}

/* The result's description of the table, and the bundle when asked. */
static int describe(struct dw_ctx *ctx, const char *bundle, const struct dw_ddl_table *t,
		    const struct dw_kvlist *st, const cJSON *table_input)
{
	size_t files;

	cJSON_AddStringToObject(ctx->result, "dialect", dw_ddl_dialect_name(t->dialect));
	cJSON_AddStringToObject(ctx->result, "table", t->name);
	cJSON_AddItemToObject(ctx->result, "statements", statements_json(st));
	if (table_input) /* a copy: applying still needs the original */
		cJSON_AddItemToObject(ctx->result, "table_input", cJSON_Duplicate(table_input, 1));
	if (!bundle)
		return 0;
	if (dw_ddl_write_bundle(bundle, st, table_input, &files))
		return -1;
	if (files == 0) {
		dw_warn("nothing to bundle: %s not written", bundle);
		return 0;
	}
	dw_info("wrote %zu files to %s", files, bundle);
	cJSON_AddStringToObject(ctx->result, "bundle", bundle);
	return 0;
}

static int run(struct dw_ctx *ctx, const struct ddl_req *q, const struct dw_ddl_table *t, int drop,
	       const struct dw_kvlist *st, const cJSON *table_input,
	       struct dw_ddl_applied_list *applied)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);

	if (!aws)
		return -1;
	if (t->dialect == DW_DDL_ATHENA)
		return dw_ddl_apply_athena(aws, t, st, &q->athena, applied);
	return drop ? dw_ddl_drop_glue(aws, t, applied) :
	       dw_ddl_apply_glue(aws, t, table_input, applied);
}

/* Drop applies for Athena and Glue and only prints for the others. */
static int act(struct dw_ctx *ctx, int apply, int drop)
{
	struct ddl_req q = { 0 };
	struct dw_ddl_table t;
	struct dw_kvlist st;
	cJSON *table_input = NULL;
	struct dw_ddl_applied_list applied = { 0 };
	int rc;

	dw_ddl_table_init(&t);
	dw_kv_init(&st);
	rc = dw_req_bind(ctx->req, ctx->action->fields, &q);
	if (drop)
		apply = rc == 0 && (q.ddl.dialect == DW_DDL_ATHENA || q.ddl.dialect == DW_DDL_GLUE);
	if (rc == 0)
		rc = prepare(ctx, &q, &t, apply && !drop, drop, &st, &table_input);
	if (rc == 0)
		rc = describe(ctx, q.bundle, &t, &st, table_input);
	if (rc == 0 && apply && q.dry_run) {
		dw_info("dry run: nothing applied");
		cJSON_AddTrueToObject(ctx->result, "dry_run");
	} else if (rc == 0 && apply) {
		rc = run(ctx, &q, &t, drop, &st, table_input, &applied);
	}
	if (apply)
		cJSON_AddItemToObject(ctx->result, "applied", applied_json(&applied));
	dw_ddl_applied_release(&applied);
	cJSON_Delete(table_input);
	dw_kv_release(&st);
	dw_ddl_table_release(&t);
	return rc;
}

static int generate(struct dw_ctx *ctx)
{
	return act(ctx, 0, 0);
}

static int apply(struct dw_ctx *ctx)
{
	return act(ctx, 1, 0);
}

static int drop(struct dw_ctx *ctx)
{
	return act(ctx, 1, 1);
}

/* ---- the Snowpipe landing of dw-extract's records ---- */

#define F(kind, n, ...) DW_##kind(n, struct ddl_req, __VA_ARGS__)
/* The table description's fields the landing takes (the others stay as
 * not given: see landing()). */
static const struct dw_field landing_fields[] = {
	F(CHOICE, "dialect", ddl.dialect, DW_REQUIRED, NULL, DW_DDL_DIALECTS, "snowflake"),
	F(STR, "table", ddl.table, DW_REQUIRED, NULL, "the landing table"),
	F(STR, "database", ddl.database, 0, NULL, "Snowflake database"),
	F(STR, "schema", ddl.schema, 0, NULL, "Snowflake schema"),
	F(STR, "location", ddl.location, 0, NULL, "s3://bucket/prefix/ of the extract's S3 sink (create_stage's url)"),
	F(STR, "stage", ddl.stage, DW_REQUIRED, NULL, "the stage over the sink's objects, optionally with /sub/path"),
	F(STRUCT, "create_stage", ddl.create_stage, 0, dw_ddl_stage_fields, "also CREATE STAGE"),
	F(STR, "pipe", pipe, 0, NULL, "the pipe's name (default <table>_pipe)"),
	F(BOOL, "auto_ingest", auto_ingest, 0, 1, "AUTO_INGEST: loaded on S3 event notifications"),
	F(STRUCT, "options", ddl.options, 0, dw_ddl_option_fields, "replace, comment, pattern, aws_sns_topic"),
	F(STR, "bundle", bundle, 0, NULL, "also write the statements as .sql files into this zip"),
	DW_FIELDS_END
};
#undef F

static int landing(struct dw_ctx *ctx)
{
	/* What landing_fields leaves out is not given: format json (0), no
	 * header (-1), no delimiter, file_format, columns or partitions. */
	struct ddl_req q = { .ddl = { .format = DW_FMT_JSON, .header = -1 } };
	struct dw_ddl_table t;
	struct dw_kvlist st;
	int rc;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q))
		return -1;
	if (q.ddl.dialect != DW_DDL_SNOWFLAKE)
		return dw_invalid("dialect", "the landing table and its pipe are Snowflake's: dialect snowflake");
	dw_ddl_table_init(&t);
	dw_kv_init(&st);
	rc = dw_ddl_table_parse(&t, &q.ddl);
	if (rc == 0 && q.bundle)
		rc = dw_ddl_bundle_path(q.bundle, NULL);
	if (rc == 0)
		rc = dw_ddl_landing_statements(&t, q.pipe, q.auto_ingest, &st);
	if (rc == 0)
		rc = describe(ctx, q.bundle, &t, &st, NULL);
	dw_kv_release(&st);
	dw_ddl_table_release(&t);
	return rc;
}

static const struct dw_action actions[] = {
	{ "generate", "print the DDL (or Glue TableInput) for the table", generate_fields, generate,
	  "{\"dialect\":\"athena\",\"database\":\"lake\",\"table\":\"events\",\"location\":\"s3://lake/events/\",\"columns\":[{\"name\":\"id\",\"type\":\"bigint\"}]}" },
	{ "apply", "generate, then run it on Athena or create/update the Glue table", apply_fields, apply,
	  "{\"dialect\":\"glue\",\"database\":\"lake\",\"table\":\"events\",\"location\":\"s3://lake/events/\",\"infer\":{}}" },
	{ "drop", "drop the table (Athena, Glue); print the DROP for the others", apply_fields, drop,
	  "{\"dialect\":\"glue\",\"database\":\"lake\",\"table\":\"events\",\"location\":\"s3://lake/events/\"}" },
	{ "landing", "print the Snowflake landing table for dw-extract's records and its Snowpipe (AUTO_INGEST)",
	  landing_fields, landing,
	  "{\"dialect\":\"snowflake\",\"database\":\"raw\",\"schema\":\"shop\",\"table\":\"orders_landing\",\"stage\":\"raw.shop.extract/orders/\"}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator ddl = {
	"dw-ddl", "external-table DDL over the lake: generated, inferred and applied", actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&ddl, argc, argv);
}
