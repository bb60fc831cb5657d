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

/* The request: every action takes the same fields. */
struct export_req {
	const char *source_instance, *source_cluster, *export_task_id;
	const char *s3_bucket, *s3_prefix, *iam_role_arn, *kms_key_id, *main_prefix;
	const char *crawler, *glue_database, *table_prefix;
	const cJSON *export_only;
	int concurrency, poll_s, wait_timeout_s;
	long long multipart_threshold_mb, part_size_mb;
};

/* An optional string field; "" counts as absent, as templated requests
 * (Airflow Variables left empty) give it. */
static const char *opt(const char *v)
{
	return v && *v ? v : NULL;
}

static int need_str(const char *v, const char *name, const char *why)
{
	if (!opt(v))
		return dw_invalid(name, "%s is required %s", name, why);
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

static int check_source(const struct export_req *q, int required)
{
	const char *inst = opt(q->source_instance);
	const char *clus = opt(q->source_cluster);

	if (inst && clus)
		return dw_invalid("source_cluster", "give source_instance or source_cluster, not both");
	if (required && !inst && !clus)
		return dw_invalid("source_instance", "source_instance (or source_cluster for Aurora) is required%s",
				  required == 2 ? " unless export_task_id is given" : "");
	return 0;
}

/* Refuse the layouts where promote could delete an export (see
 * dw_export_prefixes_overlap). */
static int check_prefixes(const struct export_req *q)
{
	char *main_prefix = NULL;
	const char *s3_prefix = q->s3_prefix ? q->s3_prefix : "";
	int rc = dw_export_main_prefix(q->main_prefix, "main_prefix", &main_prefix);

	if (rc)
		return rc;
	if (dw_export_prefixes_overlap(s3_prefix, main_prefix))
		rc = dw_invalid("main_prefix", "main_prefix \"%s\" and s3_prefix \"%s\" overlap (one is the "
				"other's folder, or s3_prefix is the bucket's root): promote would "
				"delete exports as stale", main_prefix, s3_prefix);
	free(main_prefix);
	return rc;
}

static int check_catalog(const struct export_req *q, unsigned needs)
{
	const char *crawler = opt(q->crawler);
	const char *database = opt(q->glue_database);

	if (crawler && database)
		return dw_invalid("glue_database", "give crawler (a crawler catalogs) or glue_database "
				  "(dw-export writes the tables), not both");
	if (!crawler && !database && !(needs & CATALOG_OPTIONAL))
		return dw_invalid("crawler", "crawler or glue_database is required to catalog");
	if (database && (need_str(q->s3_bucket, "s3_bucket", "to find the promoted tables") ||
			 check_prefixes(q)))
		return -1;
	return 0;
}

/* Everything an action relies on (beyond the table's bounds), checked
 * before its first change. */
static int check_request(const struct dw_ctx *ctx, struct export_req *q, unsigned needs)
{
	const char *id;

	memset(q, 0, sizeof(*q));
	if (dw_req_bind(ctx->req, ctx->action->fields, q))
		return -1;
	id = opt(q->export_task_id);
	if (id && check_task_id(id))
		return -1;
	if (check_source(q, (needs & NEED_START) ? 1 : (needs & NEED_TASK) && !id ? 2 : 0))
		return -1;
	if ((needs & NEED_START) &&
	    (need_str(q->s3_bucket, "s3_bucket", "to start an export") ||
	     need_str(q->iam_role_arn, "iam_role_arn", "to start an export") ||
	     need_str(q->kms_key_id, "kms_key_id", "to start an export")))
		return -1;
	if ((needs & NEED_PROMOTE) && (need_str(q->main_prefix, "main_prefix", "to promote") ||
				       check_prefixes(q)))
		return -1;
	if ((needs & NEED_CATALOG) && check_catalog(q, needs))
		return -1;
	return 0;
}

/* ---- which export -------------------------------------------------- */

struct target {
	char id[DW_EXPORT_ID_MAX + 1];
	struct dw_rds_snapshot snap; /* id[0] = 0 when export_task_id was given */
};

/* The export task to act on: export_task_id, or the id derived from the
 * newest snapshot (which start always needs, to name its ARN). */
static int resolve(struct dw_aws *aws, const struct export_req *q, int need_snapshot, struct target *t)
{
	const char *given = opt(q->export_task_id);
	const char *clus = opt(q->source_cluster);
	const char *source = clus ? clus : opt(q->source_instance);

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

static int step_start(struct dw_aws *aws, const struct export_req *q, struct target *t, cJSON *r)
{
	const cJSON *only = q->export_only, *item;
	size_t n = cJSON_IsArray(only) ? (size_t)cJSON_GetArraySize(only) : 0, i = 0;
	const char **tables = dw_xcalloc(n ? n : 1, sizeof(*tables));
	struct dw_rds_export_task task;
	int started = 0, rc;

	if (n)
		cJSON_ArrayForEach(item, only)
			tables[i++] = cJSON_GetStringValue(item);
	struct dw_export_spec spec = {
		.source_arn = t->snap.arn,
		.s3_bucket = q->s3_bucket,
		.s3_prefix = q->s3_prefix,
		.iam_role_arn = q->iam_role_arn,
		.kms_key_id = q->kms_key_id,
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

static int step_wait(struct dw_aws *aws, const struct export_req *q, const struct target *t,
		     struct dw_rds_export_task *task, cJSON *r)
{
	int rc = dw_export_wait(aws, t->id, q->poll_s, q->wait_timeout_s, task);

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

static int step_promote(struct dw_aws *aws, const struct export_req *q, const struct target *t,
			const struct dw_rds_export_task *task, cJSON *r)
{
	struct dw_export_promotion p;
	char version[32], *main_prefix;
	int rc;

	if (dw_export_main_prefix(q->main_prefix, "main_prefix", &main_prefix))
		return -1;
	struct dw_export_copying copying = {
		.concurrency = q->concurrency,
		.multipart_threshold = q->multipart_threshold_mb * MIB,
		.part_size = q->part_size_mb * MIB,
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

static int step_catalog(struct dw_aws *aws, const struct export_req *q, cJSON *r)
{
	const char *crawler = opt(q->crawler);
	const char *database = opt(q->glue_database);
	char *main_prefix = NULL;
	int rc;

	if (crawler) {
		struct dw_glue_crawl c;
		rc = dw_glue_crawl(aws, crawler, q->poll_s, q->wait_timeout_s, &c);
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
	rc = dw_export_main_prefix(q->main_prefix, "main_prefix", &main_prefix);
	if (rc == 0)
		rc = dw_export_catalog(aws, q->s3_bucket, main_prefix, database, opt(q->table_prefix),
				       &tables);
	put_str(r, "glue_database", database);
	put(r, "tables", tables_json(&tables));
	dw_export_tables_release(&tables);
	free(main_prefix);
	return rc;
}

/* ---- actions ------------------------------------------------------- */

static int act_start(struct dw_ctx *ctx)
{
	struct export_req q;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx, &q, NEED_START) || !(aws = dw_ctx_aws(ctx)) || resolve(aws, &q, 1, &t))
		return -1;
	return step_start(aws, &q, &t, ctx->result);
}

static int act_wait(struct dw_ctx *ctx)
{
	struct dw_rds_export_task task;
	struct export_req q;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx, &q, NEED_TASK) || !(aws = dw_ctx_aws(ctx)) || resolve(aws, &q, 0, &t))
		return -1;
	return step_wait(aws, &q, &t, &task, ctx->result);
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
	struct export_req q;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx, &q, NEED_TASK | NEED_PROMOTE) || !(aws = dw_ctx_aws(ctx)) ||
	    resolve(aws, &q, 0, &t) || described(aws, t.id, &task))
		return -1;
	return step_promote(aws, &q, &t, &task, ctx->result);
}

static int act_catalog(struct dw_ctx *ctx)
{
	struct export_req q;
	struct dw_aws *aws;

	if (check_request(ctx, &q, NEED_CATALOG) || !(aws = dw_ctx_aws(ctx)))
		return -1;
	return step_catalog(aws, &q, ctx->result);
}

static int act_cancel(struct dw_ctx *ctx)
{
	struct dw_rds_export_task task;
	struct export_req q;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx, &q, NEED_TASK) || !(aws = dw_ctx_aws(ctx)) ||
	    resolve(aws, &q, 0, &t) || dw_export_cancel(aws, t.id, &task))
		return -1;
	put_target(ctx->result, &t);
	put_task(ctx->result, &task);
	return 0;
}

static int act_run(struct dw_ctx *ctx)
{
	struct dw_rds_export_task task;
	struct export_req q;
	struct dw_aws *aws;
	struct target t;

	if (check_request(ctx, &q, NEED_START | NEED_PROMOTE | NEED_CATALOG | CATALOG_OPTIONAL) ||
	    !(aws = dw_ctx_aws(ctx)) || resolve(aws, &q, 1, &t))
		return -1;
	if (step_start(aws, &q, &t, ctx->result) || step_wait(aws, &q, &t, &task, ctx->result) ||
	    step_promote(aws, &q, &t, &task, ctx->result))
		return -1;
	return step_catalog(aws, &q, ctx->result);
}

#define F(kind, n, ...) DW_##kind(n, struct export_req, __VA_ARGS__)
static const struct dw_field fields[] = {
	F(STR, "source_instance", source_instance, 0, NULL, "RDS instance whose newest automated snapshot is exported"),
	F(STR, "source_cluster", source_cluster, 0, NULL, "Aurora cluster, instead of source_instance"),
	F(STR, "export_task_id", export_task_id, 0, NULL, "use this export task id instead of the derived one"),
	F(STR, "s3_bucket", s3_bucket, 0, NULL, "bucket the export goes to (start; catalog's table path)"),
	F(STR, "s3_prefix", s3_prefix, 0, NULL, "folder of the dated exports in s3_bucket (default: the root)"),
	F(STR, "iam_role_arn", iam_role_arn, 0, NULL, "role RDS assumes to write to the bucket (start)"),
	F(STR, "kms_key_id", kms_key_id, 0, NULL, "KMS key RDS encrypts the export with (start)"),
	F(STRINGS, "export_only", export_only, 0, "databases, schemas or tables to export (default: all)"),
	F(STR, "main_prefix", main_prefix, 0, NULL, "stable folder the export is promoted to (promote, catalog)"),
	F(INT, "concurrency", concurrency, 0, 32, 1, 512, "copies in flight while promoting"),
	F(INT, "multipart_threshold_mb", multipart_threshold_mb, 0, 5120, 5, 5120,
	  "objects larger than this are copied in parts (CopyObject's limit)"),
	F(INT, "part_size_mb", part_size_mb, 0, 512, 5, 5120, "part size of those copies"),
	F(INT, "poll_s", poll_s, 0, 30, 1, 3600, "seconds between polls of the export or crawler"),
	F(INT, "wait_timeout_s", wait_timeout_s, 0, 6 * 3600, 1, 7 * 24 * 3600,
	  "give up waiting after this long, exit 75"),
	F(STR, "crawler", crawler, 0, NULL, "Glue crawler to run (catalog)"),
	F(STR, "glue_database", glue_database, 0, NULL, "Glue database dw-export writes the tables to, without a crawler"),
	F(STR, "table_prefix", table_prefix, 0, NULL, "prefix of the table names on the table path"),
	DW_FIELDS_END
};
#undef F

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
