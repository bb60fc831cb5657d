/* export.c - RDS snapshot exports: derived task ids, start, describe,
 * cancel, wait, and the promotion of an export's folder. */
#include "ops/export.h"
#include "aws/glue.h"
#include "base/log.h"
#include "aws/s3.h"
#include "ops/s3sync.h"
#include "base/timefmt.h"
#include "base/wait.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- task ids ------------------------------------------------------ */

/* Lower-case letters, digits and single hyphens: what RDS accepts. */
static void sanitize_source(const char *source, char *out, size_t len)
{
	size_t n = 0;

	for (const char *p = source; *p && n + 1 < len; p++) {
		char c = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)c))
			c = '-';
		if (c == '-' && (n == 0 || out[n - 1] == '-'))
			continue;
		out[n++] = c;
	}
	while (n && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

int dw_export_task_id(const char *source, time_t snapshot_time,
		      char out[DW_EXPORT_ID_MAX + 1])
{
	char stamp[32], name[256];
	struct tm tm;
	size_t room;

	if (snapshot_time == (time_t)-1)
		return dw_fail("BadSnapshotTime", "the snapshot of %s has no usable creation time", source);
	gmtime_r(&snapshot_time, &tm);
	strftime(stamp, sizeof(stamp), "-%Y-%m-%d-%H%M%S", &tm);
	sanitize_source(source, name, sizeof(name));
	if (!isalpha((unsigned char)name[0]))
		return dw_invalid("source", "\"%s\" cannot name an export task (it must start with a letter)", source);
	room = DW_EXPORT_ID_MAX - strlen(stamp);
	if (strlen(name) > room) {
		/* Keep ids of long names apart with a hash of the whole name. */
		size_t keep = room - 9;
		while (keep && name[keep - 1] == '-')
			keep--;
		snprintf(name + keep, sizeof(name) - keep, "-%08x", fnv1a(source));
	}
	snprintf(out, DW_EXPORT_ID_MAX + 1, "%s%s", name, stamp);
	return 0;
}

/* ---- RDS calls ------------------------------------------------------- */

int dw_export_describe(struct dw_aws *aws, const char *id,
		       struct dw_rds_export_task *out, int *found)
{
	if (dw_rds_describe_export_task(aws, id, out, found))
		return dw_error_context("describing export task %s", id);
	return 0;
}

static int call_start(struct dw_aws *aws, const char *id,
		      const struct dw_export_spec *spec, struct dw_rds_export_task *out)
{
	struct dw_rds_start_export in = {
		.id = id, .source_arn = spec->source_arn, .s3_bucket = spec->s3_bucket,
		.s3_prefix = spec->s3_prefix, .iam_role_arn = spec->iam_role_arn,
		.kms_key_id = spec->kms_key_id, .export_only = spec->export_only,
		.n_export_only = spec->n_export_only,
	};

	return dw_rds_start_export_task(aws, &in, out);
}

static int check_same_source(const struct dw_rds_export_task *t,
			     const struct dw_export_spec *spec)
{
	if (t->source_arn[0] && strcmp(t->source_arn, spec->source_arn) != 0)
		return dw_fail("ExportTaskConflict",
			       "export task %s exists but exports %s, not %s",
			       t->id, t->source_arn, spec->source_arn);
	return 0;
}

int dw_export_start(struct dw_aws *aws, const char *id,
		    const struct dw_export_spec *spec,
		    struct dw_rds_export_task *out, int *started)
{
	int found;

	*started = 0;
	if (dw_export_describe(aws, id, out, &found))
		return -1;
	if (found) {
		dw_info("export task %s already exists (%s): not starting another", id, out->status);
		if (strcmp(out->status, "FAILED") == 0 || strncmp(out->status, "CANCEL", 6) == 0)
			dw_warn("export task %s is %s and RDS never reuses a task id: to export this "
				"snapshot again, start with another export_task_id", id, out->status);
		return check_same_source(out, spec);
	}
	if (call_start(aws, id, spec, out) == 0) {
		*started = 1;
		dw_info("started export task %s of %s to s3://%s/%s", id, spec->source_arn,
			spec->s3_bucket, spec->s3_prefix ? spec->s3_prefix : "");
		return 0;
	}
	if (!dw_error_is("ExportTaskAlreadyExists") && !dw_error_is("ExportTaskAlreadyExistsFault"))
		return dw_error_context("starting export task %s", id);
	/* Started by someone else since we looked. */
	dw_error_clear();
	if (dw_export_describe(aws, id, out, &found))
		return -1;
	if (!found)
		return dw_fail("ExportTaskNotFound", "export task %s exists and then does not", id);
	return check_same_source(out, spec);
}

int dw_export_cancel(struct dw_aws *aws, const char *id,
		     struct dw_rds_export_task *out)
{
	if (dw_rds_cancel_export_task(aws, id, out))
		return dw_error_context("canceling export task %s", id);
	return 0;
}

/* ---- waiting --------------------------------------------------------- */

int dw_export_finished(const struct dw_rds_export_task *t, int *rc)
{
	if (strcmp(t->status, "COMPLETE") == 0) {
		*rc = 0;
		return 1;
	}
	if (strcmp(t->status, "FAILED") == 0) {
		*rc = dw_fail("ExportFailed", "export task %s failed: %s", t->id,
			      t->failure_cause[0] ? t->failure_cause : "RDS gave no cause");
		return 1;
	}
	/* CANCELING ends the wait too: RDS never goes back from it. */
	int canceling = strcmp(t->status, "CANCELING") == 0;
	if (canceling || strcmp(t->status, "CANCELED") == 0) {
		*rc = dw_fail("Canceled", "export task %s %s%s%s", t->id,
			      canceling ? "is being canceled" : "was canceled",
			      t->failure_cause[0] ? ": " : "", t->failure_cause);
		return 1;
	}
	return 0;
}

struct export_poll {
	struct dw_aws *aws;
	const char *id;
	struct dw_rds_export_task *out;
};

static enum dw_wait_state poll_export(void *ud, struct dw_wait_poll *p)
{
	struct export_poll *e = ud;
	int found, rc = 0;

	if (dw_export_describe(e->aws, e->id, e->out, &found))
		return DW_WAIT_FAILED;
	if (!found) {
		dw_fail("ExportTaskNotFound", "there is no export task %s (run start first)", e->id);
		return DW_WAIT_FAILED;
	}
	snprintf(p->status, sizeof(p->status), "%s, %d%%, %lld GB extracted", e->out->status,
		 e->out->percent, e->out->extracted_gb);
	if (!dw_export_finished(e->out, &rc))
		return DW_WAIT_PENDING;
	return rc == 0 ? DW_WAIT_DONE : DW_WAIT_FAILED;
}

int dw_export_wait(struct dw_aws *aws, const char *id, int poll_s,
		   int timeout_s, struct dw_rds_export_task *out)
{
	char what[DW_EXPORT_ID_MAX + 16];
	struct export_poll e;
	struct dw_wait w = {
		.what = what, .interval_ms = poll_s * 1000L, .timeout_s = timeout_s,
		.timeout_hint = "; wait again later",
	};

	memset(out, 0, sizeof(*out));
	e = (struct export_poll){ aws, id, out };
	snprintf(what, sizeof(what), "export %s", id);
	return dw_wait_until(&w, poll_export, &e);
}

/* ---- promotion ------------------------------------------------------- */

void dw_export_folder(const struct dw_rds_export_task *t, char **bucket,
		      char **prefix)
{
	*bucket = dw_xstrdup(t->s3_bucket);
	if (t->s3_prefix[0])
		*prefix = dw_xasprintf("%s/%s/", t->s3_prefix, t->id);
	else
		*prefix = dw_xasprintf("%s/", t->id);
}

/* The next non-empty path segment at or after *p: its start and length
 * (0 at the end); *p moves past it. */
static size_t next_segment(const char **p, const char **seg)
{
	size_t n;

	while (**p == '/')
		(*p)++;
	*seg = *p;
	n = strcspn(*p, "/");
	*p += n;
	return n;
}

int dw_export_prefixes_overlap(const char *s3_prefix, const char *main_prefix)
{
	const char *a = s3_prefix ? s3_prefix : "", *b = main_prefix ? main_prefix : "";

	for (;;) {
		const char *sa, *sb;
		size_t na = next_segment(&a, &sa), nb = next_segment(&b, &sb);

		if (na == 0 || nb == 0)
			return 1; /* one ran out first (or both): an ancestor, or the same */
		if (na != nb || memcmp(sa, sb, na) != 0)
			return 0; /* they part here: side by side */
	}
}

int dw_export_main_prefix(const char *main_prefix, const char *field,
			  char **out)
{
	const char *p = main_prefix ? main_prefix : "";
	size_t n;

	while (*p == '/')
		p++;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (n == 0)
		return dw_invalid(field, "%s must name a folder in the bucket, not its root", field);
	*out = dw_xasprintf("%.*s/", (int)n, p);
	return 0;
}

int dw_export_promote(struct dw_aws *aws, const struct dw_rds_export_task *t,
		      const char *main_prefix, const char *version,
		      const struct dw_export_copying *copying,
		      struct dw_export_promotion *out)
{
	struct dw_s3sync s = {
		.dst_bucket = t->s3_bucket, .dst_prefix = main_prefix,
		.marker_name = DW_EXPORT_MARKER, .version = version,
		.concurrency = copying->concurrency,
		.multipart_threshold = copying->multipart_threshold,
		.part_size = copying->part_size,
	};
	char *bucket, *prefix;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strcmp(t->status, "COMPLETE") != 0)
		return dw_fail("ExportNotComplete", "export task %s is %s, not COMPLETE: wait for it first",
			       t->id, t->status);
	dw_export_folder(t, &bucket, &prefix);
	s.src_bucket = bucket;
	s.src_prefix = prefix;
	rc = dw_s3sync_move(aws, &s);
	out->copied = s.copied;
	out->unchanged = s.unchanged;
	out->stale_deleted = s.stale_deleted;
	out->source_deleted = s.source_deleted;
	out->bytes_copied = s.bytes_copied;
	out->already_done = s.already_done;
	free(bucket);
	free(prefix);
	if (rc)
		return dw_error_context("promoting export %s", t->id);
	return 0;
}

/* ---- catalog --------------------------------------------------------- */

struct folder_scan {
	size_t prefix_len;
	cJSON *prefixes;   /* sub-folders, relative, with the '/' */
	cJSON *info_keys;  /* export_tables_info_*.json, full keys; may be NULL */
};

static int scan_object(void *ud, const struct dw_s3_object *o)
{
	struct folder_scan *f = ud;
	const char *rel = o->key + f->prefix_len;
	size_t n = strlen(rel);

	if (f->info_keys && strncmp(rel, "export_tables_info_", 19) == 0 && n > 5 &&
	    strcmp(rel + n - 5, ".json") == 0)
		cJSON_AddItemToArray(f->info_keys, cJSON_CreateString(o->key));
	return 0;
}

static int scan_prefix(void *ud, const char *prefix)
{
	struct folder_scan *f = ud;

	cJSON_AddItemToArray(f->prefixes, cJSON_CreateString(prefix + f->prefix_len));
	return 0;
}

/* The folders right below prefix (and, if info_keys, the table files). */
static int list_folders(struct dw_aws *aws, const char *bucket, const char *prefix,
			cJSON *prefixes, cJSON *info_keys)
{
	struct folder_scan f = { strlen(prefix), prefixes, info_keys };
	struct dw_s3_list l = {
		.bucket = bucket, .prefix = prefix, .delimiter = "/",
		.on_object = scan_object, .on_prefix = scan_prefix, .ud = &f,
	};

	return dw_s3_list_objects(aws, &l);
}

/* Hive type for an exported Parquet type as RDS names it, e.g. "int64",
 * "binary (UTF8)", "fixed_len_byte_array(9) (DECIMAL(20,2))". */
static char *hive_type(const char *exported)
{
	const char *dec = strstr(exported, "DECIMAL(");
	int precision, scale;

	if (dec && sscanf(dec, "DECIMAL(%d,%d)", &precision, &scale) == 2)
		return dw_xasprintf("decimal(%d,%d)", precision, scale);
	if (strstr(exported, "UTF8") || strstr(exported, "STRING") || strstr(exported, "ENUM") ||
	    strstr(exported, "JSON"))
		return dw_xstrdup("string");
	if (strstr(exported, "DATE"))
		return dw_xstrdup("date");
	if (strstr(exported, "TIMESTAMP") || strncmp(exported, "int96", 5) == 0)
		return dw_xstrdup("timestamp");
	static const char *const plain[][2] = {
		{ "int64", "bigint" }, { "int32", "int" }, { "double", "double" },
		{ "float", "float" }, { "boolean", "boolean" }, { "binary", "binary" },
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (strncmp(exported, plain[i][0], strlen(plain[i][0])) == 0)
			return dw_xstrdup(plain[i][1]);
	return dw_xstrdup("string");
}

/* Glue columns for one perTableStatus entry. */
static cJSON *columns_of(const cJSON *status)
{
	const cJSON *mappings = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(status, "schemaMetadata"), "originalTypeMappings");
	cJSON *columns = cJSON_CreateArray();
	const cJSON *m;

	if (!cJSON_IsArray(mappings))
		return columns;
	cJSON_ArrayForEach(m, mappings) {
		const char *name = dw_json_str(m, "columnName");
		const char *type = dw_json_str(m, "expectedExportedType");
		if (!name)
			continue;
		char *hive = hive_type(type ? type : "");
		cJSON *col = cJSON_CreateObject();
		cJSON_AddStringToObject(col, "Name", name);
		cJSON_AddStringToObject(col, "Type", hive);
		cJSON_AddItemToArray(columns, col);
		free(hive);
	}
	return columns;
}

/* Read the export's table files into {"<db>/<schema.table>": columns}. */
/* obj[name] = v, replacing an earlier value of that name. */
static void set_item(cJSON *obj, const char *name, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, name))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, name, v);
	else
		cJSON_AddItemToObject(obj, name, v);
}

static int read_columns(struct dw_aws *aws, const char *bucket, const cJSON *info_keys,
			cJSON *by_folder)
{
	const cJSON *key;

	cJSON_ArrayForEach(key, info_keys) {
		struct dw_buf body;
		cJSON *doc = NULL;
		const cJSON *st, *tables;
		int rc;
		dw_buf_init(&body);
		if (dw_s3_get_object(aws, bucket, key->valuestring, 0, &body)) {
			dw_buf_release(&body);
			return -1;
		}
		rc = dw_json_parse(body.data ? body.data : "", body.len, key->valuestring, &doc);
		dw_buf_release(&body);
		if (rc)
			return dw_fail("BadTablesInfo", "s3://%s/%s is not JSON: %s", bucket,
				       key->valuestring, dw_error_last()->message);
		tables = cJSON_GetObjectItemCaseSensitive(doc, "perTableStatus");
		for (st = cJSON_IsArray(tables) ? tables->child : NULL; st; st = st->next) {
			const char *target = dw_json_str(st, "target");
			const char *dot = target ? strchr(target, '.') : NULL;
			if (!dot)
				continue;
			char *folder = dw_xasprintf("%.*s/%s", (int)(dot - target), target, dot + 1);
			set_item(by_folder, folder, columns_of(st));
			free(folder);
		}
		cJSON_Delete(doc);
	}
	return 0;
}

static void table_name(const char *table_prefix, const char *db, const char *dir,
		       int qualify, char *out, size_t len)
{
	char raw[1024];
	size_t n = 0;

	snprintf(raw, sizeof(raw), "%s%s%s%.*s", table_prefix ? table_prefix : "",
		 qualify ? db : "", qualify ? "_" : "", (int)strcspn(dir, "/"), dir);
	for (const char *p = raw; *p && n + 1 < len; p++)
		out[n++] = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '_';
	out[n] = '\0';
}

/* The table input; columns is copied in. */
static cJSON *parquet_table(const char *name, const char *location, const cJSON *columns)
{
	cJSON *in = cJSON_CreateObject(), *params, *sd, *serde;

	cJSON_AddStringToObject(in, "Name", name);
	cJSON_AddStringToObject(in, "TableType", "EXTERNAL_TABLE");
	params = cJSON_AddObjectToObject(in, "Parameters");
	cJSON_AddStringToObject(params, "classification", "parquet");
	cJSON_AddStringToObject(params, "EXTERNAL", "TRUE");
	sd = cJSON_AddObjectToObject(in, "StorageDescriptor");
	cJSON_AddStringToObject(sd, "Location", location);
	cJSON_AddStringToObject(sd, "InputFormat",
				"org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat");
	cJSON_AddStringToObject(sd, "OutputFormat",
				"org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat");
	serde = cJSON_AddObjectToObject(sd, "SerdeInfo");
	cJSON_AddStringToObject(serde, "SerializationLibrary",
				"org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe");
	cJSON_AddItemToObject(sd, "Columns",
			      columns ? cJSON_Duplicate(columns, 1) : cJSON_CreateArray());
	return in;
}

/* Every table the promoted export holds, as {"name", "location", "folder"},
 * checked for clashing names before anything is written. */
static int plan_tables(struct dw_aws *aws, const char *bucket, const char *main_prefix,
		       const char *table_prefix, cJSON *info_keys, cJSON *plan)
{
	cJSON *dbs = cJSON_CreateArray(), *seen = cJSON_CreateObject();
	const cJSON *db, *dir;
	int rc = list_folders(aws, bucket, main_prefix, dbs, info_keys);
	int qualify = cJSON_GetArraySize(dbs) > 1;

	cJSON_ArrayForEach(db, dbs) {
		cJSON *dirs = cJSON_CreateArray();
		char *db_prefix = dw_xasprintf("%s%s", main_prefix, db->valuestring);
		if (rc == 0)
			rc = list_folders(aws, bucket, db_prefix, dirs, NULL);
		cJSON_ArrayForEach(dir, dirs) {
			char name[256], *folder, *location;
			const char *d = db->valuestring, *t = dir->valuestring;
			table_name(table_prefix, d, t, qualify, name, sizeof(name));
			folder = dw_xasprintf("%.*s/%.*s", (int)strcspn(d, "/"), d, (int)strcspn(t, "/"), t);
			location = dw_xasprintf("s3://%s/%s%s", bucket, db_prefix, t);
			const char *clash = dw_json_str(seen, name);
			if (rc == 0 && clash)
				rc = dw_fail("TableNameClash", "folders %s and %s would both be table %s",
					     clash, folder, name);
			set_item(seen, name, cJSON_CreateString(folder));
			cJSON *entry = cJSON_CreateObject();
			cJSON_AddStringToObject(entry, "name", name);
			cJSON_AddStringToObject(entry, "location", location);
			cJSON_AddStringToObject(entry, "folder", folder);
			cJSON_AddItemToArray(plan, entry);
			free(folder);
			free(location);
		}
		cJSON_Delete(dirs);
		free(db_prefix);
	}
	cJSON_Delete(dbs);
	cJSON_Delete(seen);
	if (rc == 0 && cJSON_GetArraySize(plan) == 0)
		rc = dw_fail("NoTables", "no <database>/<schema.table>/ folders under s3://%s/%s: promote first",
			     bucket, main_prefix);
	return rc;
}

void dw_export_tables_release(struct dw_export_tables *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].location);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static void table_add(struct dw_export_tables *t, const char *name, const char *location,
		      int created, long long columns)
{
	t->v = dw_xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
	t->v[t->n++] = (struct dw_export_table){
		.name = dw_xstrdup(name), .location = dw_xstrdup(location),
		.created = created, .columns = columns,
	};
}

int dw_export_catalog(struct dw_aws *aws, const char *bucket,
		      const char *main_prefix, const char *database,
		      const char *table_prefix, struct dw_export_tables *tables)
{
	cJSON *plan = cJSON_CreateArray(), *info_keys = cJSON_CreateArray();
	cJSON *by_folder = cJSON_CreateObject();
	const cJSON *t;
	int rc = plan_tables(aws, bucket, main_prefix, table_prefix, info_keys, plan);

	if (rc == 0)
		rc = read_columns(aws, bucket, info_keys, by_folder);
	if (rc == 0)
		rc = dw_glue_ensure_database(aws, database);
	cJSON_ArrayForEach(t, plan) {
		const char *name = dw_json_str(t, "name");
		const char *location = dw_json_str(t, "location");
		const cJSON *columns = cJSON_GetObjectItemCaseSensitive(by_folder, dw_json_str(t, "folder"));
		int created = 0;
		if (rc)
			break;
		if (!columns)
			dw_warn("no column list for %s in the export's table files: table %s gets none "
				"(a crawler can fill them in)", location, name);
		cJSON *input = parquet_table(name, location, columns);
		rc = dw_glue_put_table(aws, database, input, &created);
		cJSON_Delete(input);
		if (rc == 0) {
			dw_info("%s Glue table %s.%s at %s", created ? "created" : "updated",
				database, name, location);
			table_add(tables, name, location, created,
				  columns ? cJSON_GetArraySize(columns) : 0);
		}
	}
	cJSON_Delete(plan);
	cJSON_Delete(info_keys);
	cJSON_Delete(by_folder);
	return rc;
}
