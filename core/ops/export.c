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
	if (strcmp(t->status, "CANCELED") == 0 || strcmp(t->status, "CANCELING") == 0) {
		*rc = dw_fail("Canceled", "export task %s was canceled%s%s", t->id,
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
	json_t *prefixes;   /* sub-folders, relative, with the '/' */
	json_t *info_keys;  /* export_tables_info_*.json, full keys; may be NULL */
};

static int scan_object(void *ud, const struct dw_s3_object *o)
{
	struct folder_scan *f = ud;
	const char *rel = o->key + f->prefix_len;
	size_t n = strlen(rel);

	if (f->info_keys && strncmp(rel, "export_tables_info_", 19) == 0 && n > 5 &&
	    strcmp(rel + n - 5, ".json") == 0)
		json_array_append_new(f->info_keys, json_string(o->key));
	return 0;
}

static int scan_prefix(void *ud, const char *prefix)
{
	struct folder_scan *f = ud;

	json_array_append_new(f->prefixes, json_string(prefix + f->prefix_len));
	return 0;
}

/* The folders right below prefix (and, if info_keys, the table files). */
static int list_folders(struct dw_aws *aws, const char *bucket, const char *prefix,
			json_t *prefixes, json_t *info_keys)
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
static json_t *columns_of(const json_t *status)
{
	json_t *mappings = json_object_get(json_object_get(status, "schemaMetadata"),
					   "originalTypeMappings");
	json_t *columns = json_array(), *m;
	size_t i;

	json_array_foreach(mappings, i, m) {
		const char *name = json_string_value(json_object_get(m, "columnName"));
		const char *type = json_string_value(json_object_get(m, "expectedExportedType"));
		if (!name)
			continue;
		char *hive = hive_type(type ? type : "");
		json_array_append_new(columns, json_pack("{s:s, s:s}", "Name", name, "Type", hive));
		free(hive);
	}
	return columns;
}

/* Read the export's table files into {"<db>/<schema.table>": columns}. */
static int read_columns(struct dw_aws *aws, const char *bucket, const json_t *info_keys,
			json_t *by_folder)
{
	json_t *key;
	size_t i;

	json_array_foreach(info_keys, i, key) {
		struct dw_buf body;
		json_error_t jerr;
		json_t *doc, *st;
		size_t j;
		dw_buf_init(&body);
		if (dw_s3_get_object(aws, bucket, json_string_value(key), 0, &body)) {
			dw_buf_free(&body);
			return -1;
		}
		doc = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
		dw_buf_free(&body);
		if (!doc)
			return dw_fail("BadTablesInfo", "s3://%s/%s is not JSON: %s", bucket,
				       json_string_value(key), jerr.text);
		json_array_foreach(json_object_get(doc, "perTableStatus"), j, st) {
			const char *target = json_string_value(json_object_get(st, "target"));
			const char *dot = target ? strchr(target, '.') : NULL;
			if (!dot)
				continue;
			char *folder = dw_xasprintf("%.*s/%s", (int)(dot - target), target, dot + 1);
			json_object_set_new(by_folder, folder, columns_of(st));
			free(folder);
		}
		json_decref(doc);
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

static json_t *parquet_table(const char *name, const char *location, json_t *columns)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:{s:s}, s:O}}",
			 "Name", name, "TableType", "EXTERNAL_TABLE",
			 "Parameters", "classification", "parquet", "EXTERNAL", "TRUE",
			 "StorageDescriptor", "Location", location,
			 "InputFormat", "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
			 "OutputFormat", "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
			 "SerdeInfo", "SerializationLibrary",
			 "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
			 "Columns", columns);
}

/* Every table the promoted export holds, as {"name", "location", "folder"},
 * checked for clashing names before anything is written. */
static int plan_tables(struct dw_aws *aws, const char *bucket, const char *main_prefix,
		       const char *table_prefix, json_t *info_keys, json_t *plan)
{
	json_t *dbs = json_array(), *db, *seen = json_object();
	size_t i;
	int rc = list_folders(aws, bucket, main_prefix, dbs, info_keys);

	json_array_foreach(dbs, i, db) {
		json_t *dirs = json_array(), *dir;
		size_t j;
		char *db_prefix = dw_xasprintf("%s%s", main_prefix, json_string_value(db));
		if (rc == 0)
			rc = list_folders(aws, bucket, db_prefix, dirs, NULL);
		json_array_foreach(dirs, j, dir) {
			char name[256], *folder, *location;
			const char *d = json_string_value(db), *t = json_string_value(dir);
			table_name(table_prefix, d, t, json_array_size(dbs) > 1, name, sizeof(name));
			folder = dw_xasprintf("%.*s/%.*s", (int)strcspn(d, "/"), d, (int)strcspn(t, "/"), t);
			location = dw_xasprintf("s3://%s/%s%s", bucket, db_prefix, t);
			const char *clash = json_string_value(json_object_get(seen, name));
			if (rc == 0 && clash)
				rc = dw_fail("TableNameClash", "folders %s and %s would both be table %s",
					     clash, folder, name);
			json_object_set_new(seen, name, json_string(folder));
			json_array_append_new(plan, json_pack("{s:s, s:s, s:s}", "name", name,
							      "location", location, "folder", folder));
			free(folder);
			free(location);
		}
		json_decref(dirs);
		free(db_prefix);
	}
	json_decref(dbs);
	json_decref(seen);
	if (rc == 0 && json_array_size(plan) == 0)
		rc = dw_fail("NoTables", "no <database>/<schema.table>/ folders under s3://%s/%s: promote first",
			     bucket, main_prefix);
	return rc;
}

int dw_export_catalog(struct dw_aws *aws, const char *bucket,
		      const char *main_prefix, const char *database,
		      const char *table_prefix, json_t *tables)
{
	json_t *plan = json_array(), *info_keys = json_array(), *by_folder = json_object(), *t;
	size_t i;
	int rc = plan_tables(aws, bucket, main_prefix, table_prefix, info_keys, plan);

	if (rc == 0)
		rc = read_columns(aws, bucket, info_keys, by_folder);
	if (rc == 0)
		rc = dw_glue_ensure_database(aws, database);
	json_array_foreach(plan, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		const char *location = json_string_value(json_object_get(t, "location"));
		json_t *columns = json_object_get(by_folder, json_string_value(json_object_get(t, "folder")));
		int created = 0;
		if (rc)
			break;
		if (!columns)
			dw_warn("no column list for %s in the export's table files: table %s gets none "
				"(a crawler can fill them in)", location, name);
		json_t *cols = columns ? json_incref(columns) : json_array();
		json_t *input = parquet_table(name, location, cols);
		rc = dw_glue_put_table(aws, database, input, &created);
		json_decref(input);
		json_decref(cols);
		if (rc == 0) {
			dw_info("%s Glue table %s.%s at %s", created ? "created" : "updated",
				database, name, location);
			json_array_append_new(tables, json_pack("{s:s, s:s, s:b, s:I}", "name", name,
								"location", location, "created", created,
								"columns", (json_int_t)json_array_size(columns)));
		}
	}
	json_decref(plan);
	json_decref(info_keys);
	json_decref(by_folder);
	return rc;
}
