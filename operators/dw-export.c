/* dw-export - the nightly RDS snapshot exported to S3 as Parquet, promoted
 * to a stable prefix and catalogued in Glue for Athena.
 *
 * Every action takes the same request, so one request file (or one DAG
 * parameter set) drives start, wait, promote and catalog alike; each
 * action checks the fields it needs before it changes anything. */
#include "ops/export.h"
#include "aws/glue.h"
#include "base/log.h"
#include "proto/op.h"
#include "base/timefmt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* What an action acts on and changes: checked before its first change. */
#define MIB (1024LL * 1024)

enum need {
	NEED_TASK = 1,        /* an export task: export_task_id or a source */
	NEED_START = 2,       /* a source and where to export it */
	NEED_PROMOTE = 4,
	NEED_CATALOG = 8,
	CATALOG_OPTIONAL = 16,
};

/* An optional string field; "" counts as absent, as templated requests
 * (Airflow Variables left empty) give it. */
static const char *opt(const cJSON *req, const char *name)
{
	const char *v = dw_req_str(req, name, NULL);

	return v && *v ? v : NULL;
}

static int need_str(const cJSON *req, const char *name, const char *why)
{
	if (!opt(req, name))
		return dw_invalid(name, "%s is required %s", name, why);
	return 0;
}

static int check_range(const cJSON *req, const char *name, long long lo, long long hi)
{
	long long v = dw_req_int(req, name, lo);

	if (v < lo || v > hi)
		return dw_invalid(name, "%s must be between %lld and %lld, not %lld", name, lo, hi, v);
	return 0;
}

/* RDS: 1-60 letters, digits and hyphens, a letter first, no "--", no '-' last. */
static int check_task_id(const char *id)
{
	size_t n = strlen(id);
	int ok = n >= 1 && n <= DW_EXPORT_ID_MAX && isalpha((unsigned char)id[0]) &&
		 id[n - 1] != '-' && !strstr(id, "--");

	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)id[i]) || id[i] == '-';
	if (!ok)
		return dw_invalid("export_task_id", "\"%s\" is not a valid export task id (1-60 letters, "
				  "digits and single hyphens, starting with a letter)", id);
	return 0;
}

static int check_source(const cJSON *req, int required)
{
	const char *inst = opt(req, "source_instance");
	const char *clus = opt(req, "source_cluster");

	if (inst && clus)
		return dw_invalid("source_cluster", "give source_instance or source_cluster, not both");
	if (required && !inst && !clus)
		return dw_invalid("source_instance", "source_instance (or source_cluster for Aurora) is required%s",
				  required == 2 ? " unless export_task_id is given" : "");
	return 0;
}

/* Refuse the layouts where promote could delete an export (see
 * dw_export_prefixes_overlap). */
static int check_prefixes(const cJSON *req)
{
	char *main_prefix = NULL;
	const char *s3_prefix = dw_req_str(req, "s3_prefix", "");
	int rc = dw_export_main_prefix(dw_req_str(req, "main_prefix", NULL), "main_prefix", &main_prefix);

	if (rc)
		return rc;
	if (dw_export_prefixes_overlap(s3_prefix, main_prefix))
		rc = dw_invalid("main_prefix", "main_prefix \"%s\" and s3_prefix \"%s\" overlap (one is the "
				"other's folder, or s3_prefix is the bucket's root): promote would "
				"delete exports as stale", main_prefix, s3_prefix);
	free(main_prefix);
	return rc;
}

static int check_catalog(const cJSON *req, unsigned needs)
{
	const char *crawler = opt(req, "crawler");
	const char *database = opt(req, "glue_database");

	if (crawler && database)
		return dw_invalid("glue_database", "give crawler (a crawler catalogs) or glue_database "
				  "(dw-export writes the tables), not both");
	if (!crawler && !database && !(needs & CATALOG_OPTIONAL))
		return dw_invalid("crawler", "crawler or glue_database is required to catalog");
	if (database && (need_str(req, "s3_bucket", "to find the promoted tables") ||
			 check_prefixes(req)))
		return -1;
	return 0;
}

/* Everything an action relies on, checked before its first change. */
static int check_request(const cJSON *req, unsigned needs)
{
	const char *id = opt(req, "export_task_id");

	if (id && check_task_id(id))
		return -1;
	if (check_source(req, (needs & NEED_START) ? 1 : (needs & NEED_TASK) && !id ? 2 : 0))
		return -1;
	if ((needs & NEED_START) &&
	    (need_str(req, "s3_bucket", "to start an export") ||
	     need_str(req, "iam_role_arn", "to start an export") ||
	     need_str(req, "kms_key_id", "to start an export")))
		return -1;
	if ((needs & NEED_PROMOTE) && (need_str(req, "main_prefix", "to promote") || check_prefixes(req)))
		return -1;
	if ((needs & NEED_CATALOG) && check_catalog(req, needs))
		return -1;
	return check_range(req, "concurrency", 1, 512) ||
	       check_range(req, "multipart_threshold_mb", 5, 5120) ||
	       check_range(req, "part_size_mb", 5, 5120) ||
	       check_range(req, "poll_s", 1, 3600) ||
	       check_range(req, "wait_timeout_s", 1, 7 * 24 * 3600) ? -1 : 0;
}

/* ---- which export -------------------------------------------------- */

struct target {
	char id[DW_EXPORT_ID_MAX + 1];
	struct dw_rds_snapshot snap; /* id[0] = 0 when export_task_id was given */
};

/* The export task to act on: export_task_id, or the id derived from the
 * newest snapshot (which start always needs, to name its ARN). */
static int resolve(struct dw_aws *aws, const cJSON *req, int need_snapshot, struct target *t)
{
	const char *given = opt(req, "export_task_id");
	const char *clus = opt(req, "source_cluster");
	const char *source = clus ? clus : opt(req, "source_instance");

	memset(t, 0, sizeof(*t));
	if (given)
		snprintf(t->id, sizeof(t->id), "%s", given);
	if (given && !need_snapshot)
		return 0;
	if (dw_rds_latest_automated_snapshot(aws, source, clus != NULL, &t->snap))
		return -1;
	if (given)
		return 0;
	return dw_export_task_id(source, dw_time_parse_iso(t->snap.created), t->id);
}

/* o[k] = v: the run action's steps report the task more than once, and
 * a later step's value replaces an earlier one. */
static void put(cJSON *o, const char *k, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, k))
		cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
	else
		cJSON_AddItemToObject(o, k, v);
}

static void put_str(cJSON *o, const char *k, const char *v)
{
	if (v && *v)
		put(o, k, cJSON_CreateString(v));
}

/* [{name, location, created, columns}] */
static cJSON *tables_json(const struct dw_export_tables *t)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < t->n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", t->v[i].name);
		cJSON_AddStringToObject(o, "location", t->v[i].location);
		cJSON_AddBoolToObject(o, "created", t->v[i].created);
		dw_json_add_int(o, "columns", t->v[i].columns);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static void put_int(cJSON *o, const char *k, long long v)
{
	put(o, k, dw_json_int_new(v));
}

static void put_url(cJSON *o, const char *k, const char *bucket, const char *prefix)
{
	char *url = dw_xasprintf("s3://%s/%s", bucket, prefix);

	put(o, k, cJSON_CreateString(url));
	free(url);
}

static void put_task(cJSON *r, const struct dw_rds_export_task *task)
{
	char *bucket, *prefix;

	dw_export_folder(task, &bucket, &prefix);
	put_str(r, "export_task_id", task->id);
	put_str(r, "status", task->status);
	put_str(r, "snapshot_arn", task->source_arn);
	put_int(r, "percent", task->percent);
	put_url(r, "export_folder", bucket, prefix);
	free(bucket);
	free(prefix);
}

static void put_target(cJSON *r, const struct target *t)
{
	put_str(r, "export_task_id", t->id);
	put_str(r, "snapshot", t->snap.id);
	put_str(r, "snapshot_time", t->snap.created);
	put_str(r, "source", t->snap.source);
}

/* ---- the steps --------------------------------------------------- */

static int step_start(struct dw_aws *aws, const cJSON *req, struct target *t, cJSON *r)
{
	const cJSON *only = cJSON_GetObjectItemCaseSensitive(req, "export_only"), *item;
	size_t n = cJSON_IsArray(only) ? (size_t)cJSON_GetArraySize(only) : 0, i = 0;
	const char **tables = dw_xcalloc(n ? n : 1, sizeof(*tables));
	struct dw_rds_export_task task;
	int started = 0, rc;

	if (n)
		cJSON_ArrayForEach(item, only)
			tables[i++] = cJSON_GetStringValue(item);
	struct dw_export_spec spec = {
		.source_arn = t->snap.arn,
		.s3_bucket = dw_req_str(req, "s3_bucket", NULL),
		.s3_prefix = dw_req_str(req, "s3_prefix", NULL),
		.iam_role_arn = dw_req_str(req, "iam_role_arn", NULL),
		.kms_key_id = dw_req_str(req, "kms_key_id", NULL),
		.export_only = tables, .n_export_only = n,
	};
	rc = dw_export_start(aws, t->id, &spec, &task, &started);
	free(tables);
	if (rc)
		return -1;
	put_target(r, t);
	put_task(r, &task);
	put(r, "started", cJSON_CreateBool(started));
	return 0;
}

static int step_wait(struct dw_aws *aws, const cJSON *req, const struct target *t,
		     struct dw_rds_export_task *task, cJSON *r)
{
	int rc = dw_export_wait(aws, t->id, (int)dw_req_int(req, "poll_s", 30),
				(int)dw_req_int(req, "wait_timeout_s", 6 * 3600), task);

	put_target(r, t);
	if (task->id[0])
		put_task(r, task);
	return rc;
}

/* Promotions of one main_prefix are ordered by the snapshot's time. */
static void promotion_version(const struct target *t, const struct dw_rds_export_task *task,
			      char out[32])
{
	time_t when = dw_time_parse_iso(task->snapshot_time[0] ? task->snapshot_time : t->snap.created);

	out[0] = '\0';
	if (when != (time_t)-1)
		dw_time_format_iso(when, out);
}

static int step_promote(struct dw_aws *aws, const cJSON *req, const struct target *t,
			const struct dw_rds_export_task *task, cJSON *r)
{
	struct dw_export_promotion p;
	char version[32], *main_prefix;
	int rc;

	if (dw_export_main_prefix(dw_req_str(req, "main_prefix", NULL), "main_prefix", &main_prefix))
		return -1;
	struct dw_export_copying copying = {
		.concurrency = (int)dw_req_int(req, "concurrency", 32),
		.multipart_threshold = dw_req_int(req, "multipart_threshold_mb", 5120) * MIB,
		.part_size = dw_req_int(req, "part_size_mb", 512) * MIB,
	};
	promotion_version(t, task, version);
	rc = dw_export_promote(aws, task, main_prefix, version[0] ? version : NULL, &copying, &p);
	put_target(r, t);
	put_task(r, task);
	put_url(r, "main", task->s3_bucket, main_prefix);
	put_int(r, "copied", (long long)p.copied);
	put_int(r, "unchanged", (long long)p.unchanged);
	put_int(r, "stale_deleted", (long long)p.stale_deleted);
	put_int(r, "export_deleted", (long long)p.source_deleted);
	/* exact: a 6 GiB object is 6442450944, not INT_MAX */
	put_int(r, "bytes_copied", (long long)p.bytes_copied);
	put(r, "already_promoted", cJSON_CreateBool(p.already_done));
	free(main_prefix);
	return rc;
}

static int step_catalog(struct dw_aws *aws, const cJSON *req, cJSON *r)
{
	const char *crawler = opt(req, "crawler");
	const char *database = opt(req, "glue_database");
	char *main_prefix = NULL;
	int rc;

	if (crawler) {
		struct dw_glue_crawl c;
		rc = dw_glue_crawl(aws, crawler, (int)dw_req_int(req, "poll_s", 30),
				   (int)dw_req_int(req, "wait_timeout_s", 6 * 3600), &c);
		put_str(r, "crawler", crawler);
		put_str(r, "crawl_status", c.status);
		put_int(r, "crawl_seconds", c.elapsed_s);
		return rc;
	}
	if (!database) {
		dw_info("neither crawler nor glue_database given: not cataloguing");
		return 0;
	}
	struct dw_export_tables tables = { 0 };
	rc = dw_export_main_prefix(dw_req_str(req, "main_prefix", NULL), "main_prefix", &main_prefix);
	if (rc == 0)
		rc = dw_export_catalog(aws, dw_req_str(req, "s3_bucket", NULL), main_prefix, database,
				       opt(req, "table_prefix"), &tables);
	put_str(r, "glue_database", database);
	put(r, "tables", tables_json(&tables));
	dw_export_tables_release(&tables);
	free(main_prefix);
	return rc;
}

/* ---- actions ------------------------------------------------------- */

static int act_start(struct dw_ctx *ctx)
{
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx->req, NEED_START) || !(aws = dw_ctx_aws(ctx)) ||
	    resolve(aws, ctx->req, 1, &t))
		return -1;
	return step_start(aws, ctx->req, &t, ctx->result);
}

static int act_wait(struct dw_ctx *ctx)
{
	struct dw_rds_export_task task;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx->req, NEED_TASK) || !(aws = dw_ctx_aws(ctx)) ||
	    resolve(aws, ctx->req, 0, &t))
		return -1;
	return step_wait(aws, ctx->req, &t, &task, ctx->result);
}

/* The task, which must exist. */
static int described(struct dw_aws *aws, const char *id, struct dw_rds_export_task *task)
{
	int found;

	if (dw_export_describe(aws, id, task, &found))
		return -1;
	if (!found)
		return dw_fail("ExportTaskNotFound", "there is no export task %s (run start first)", id);
	return 0;
}

static int act_promote(struct dw_ctx *ctx)
{
	struct dw_rds_export_task task;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx->req, NEED_TASK | NEED_PROMOTE) || !(aws = dw_ctx_aws(ctx)) ||
	    resolve(aws, ctx->req, 0, &t) || described(aws, t.id, &task))
		return -1;
	return step_promote(aws, ctx->req, &t, &task, ctx->result);
}

static int act_catalog(struct dw_ctx *ctx)
{
	struct dw_aws *aws;

	if (check_request(ctx->req, NEED_CATALOG) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	return step_catalog(aws, ctx->req, ctx->result);
}

static int act_cancel(struct dw_ctx *ctx)
{
	struct dw_rds_export_task task;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx->req, NEED_TASK) || !(aws = dw_ctx_aws(ctx)) ||
	    resolve(aws, ctx->req, 0, &t) || dw_export_cancel(aws, t.id, &task))
		return -1;
	put_target(ctx->result, &t);
	put_task(ctx->result, &task);
	return 0;
}

static int act_run(struct dw_ctx *ctx)
{
	struct dw_rds_export_task task;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx->req, NEED_START | NEED_PROMOTE | NEED_CATALOG | CATALOG_OPTIONAL) ||
	    !(aws = dw_ctx_aws(ctx)) || resolve(aws, ctx->req, 1, &t))
		return -1;
	if (step_start(aws, ctx->req, &t, ctx->result) ||
	    step_wait(aws, ctx->req, &t, &task, ctx->result) ||
	    step_promote(aws, ctx->req, &t, &task, ctx->result))
		return -1;
	return step_catalog(aws, ctx->req, ctx->result);
}

static const struct dw_field fields[] = {
	DW_FIELD("source_instance", DW_T_STRING, 0, NULL, "RDS instance whose newest automated snapshot is exported"),
	DW_FIELD("source_cluster", DW_T_STRING, 0, NULL, "Aurora cluster, instead of source_instance"),
	DW_FIELD("export_task_id", DW_T_STRING, 0, NULL, "use this export task id instead of the derived one"),
	DW_FIELD("s3_bucket", DW_T_STRING, 0, NULL, "bucket the export goes to (start; catalog's table path)"),
	DW_FIELD("s3_prefix", DW_T_STRING, 0, NULL, "folder of the dated exports in s3_bucket (default: the root)"),
	DW_FIELD("iam_role_arn", DW_T_STRING, 0, NULL, "role RDS assumes to write to the bucket (start)"),
	DW_FIELD("kms_key_id", DW_T_STRING, 0, NULL, "KMS key RDS encrypts the export with (start)"),
	DW_FIELD("export_only", DW_T_STRINGS, 0, NULL, "databases, schemas or tables to export (default: all)"),
	DW_FIELD("main_prefix", DW_T_STRING, 0, NULL, "stable folder the export is promoted to (promote, catalog)"),
	DW_FIELD("concurrency", DW_T_INT, 0, NULL, "copies in flight while promoting (default 32)"),
	DW_FIELD("multipart_threshold_mb", DW_T_INT, 0, NULL, "objects larger than this are copied in parts (default 5120, CopyObject's limit)"),
	DW_FIELD("part_size_mb", DW_T_INT, 0, NULL, "part size of those copies (5-5120, default 512)"),
	DW_FIELD("poll_s", DW_T_INT, 0, NULL, "seconds between polls of the export or crawler (default 30)"),
	DW_FIELD("wait_timeout_s", DW_T_INT, 0, NULL, "give up waiting after this long, exit 75 (default 21600)"),
	DW_FIELD("crawler", DW_T_STRING, 0, NULL, "Glue crawler to run (catalog)"),
	DW_FIELD("glue_database", DW_T_STRING, 0, NULL, "Glue database dw-export writes the tables to, without a crawler"),
	DW_FIELD("table_prefix", DW_T_STRING, 0, NULL, "prefix of the table names on the table path"),
	DW_FIELDS_END
};

#define EXAMPLE "{\"source_instance\": \"warehouse\", \"s3_bucket\": \"analytics-exports\", " \
	"\"s3_prefix\": \"rds\", \"iam_role_arn\": \"arn:aws:iam::123456789012:role/rds-s3-export\", " \
	"\"kms_key_id\": \"arn:aws:kms:us-east-1:123456789012:key/...\", \"main_prefix\": \"warehouse/main\", " \
	"\"glue_database\": \"warehouse\"}"

static const struct dw_action actions[] = {
	{ "start", "start exporting the newest automated snapshot (or find the export already started)",
	  fields, act_start, EXAMPLE },
	{ "wait", "wait for the export task to complete, with progress", fields, act_wait, EXAMPLE },
	{ "promote", "copy the export to main_prefix, delete stale objects, then the dated folder",
	  fields, act_promote, EXAMPLE },
	{ "catalog", "run the Glue crawler, or write the Glue tables of the promoted export",
	  fields, act_catalog, EXAMPLE },
	{ "cancel", "cancel the export task", fields, act_cancel, EXAMPLE },
	{ "run", "start, wait, promote and catalog in one call", fields, act_run, EXAMPLE },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator export_op = {
	"dw-export", "RDS snapshot exported to S3 as Parquet and catalogued for Athena", actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&export_op, argc, argv);
}
