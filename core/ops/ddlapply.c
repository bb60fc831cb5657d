/* ddlapply.c - a table's DDL as results, zip bundles, and applied to
 * Athena or the Glue catalog. */
#include "aws/athena.h"
#include "ops/ddl.h"
#include "aws/glue.h"
#include "base/log.h"
#include "base/zip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The archive comment that marks a zip as a dw-ddl bundle. */
#define BUNDLE_MARK "dwops dw-ddl bundle"

cJSON *dw_ddl_columns_json(const struct dw_ddl_table *t)
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
		dw_buf_free(&path);
	}
	return cols;
}

cJSON *dw_ddl_statements_json(const struct dw_kvlist *st)
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

int dw_ddl_write_bundle(const char *path, const struct dw_kvlist *st,
			const cJSON *table_input, size_t *files)
{
	struct dw_kvlist entries;
	int rc = 0;

	dw_kv_init(&entries);
	for (size_t i = 0; i < st->n; i++) {
		char name[96];
		snprintf(name, sizeof(name), "%02zu-%s.sql", i + 1, st->items[i].key);
		dw_kv_addf(&entries, name, "%s;\n", st->items[i].value);
	}
	if (table_input) {
		char *text = cJSON_Print(table_input);
		dw_kv_addf(&entries, "table_input.json", "%s\n", text ? text : "null");
		cJSON_free(text);
	}
	*files = entries.n;
	/* libzip would write no file for an empty archive: say so instead */
	if (entries.n) {
		char *where = NULL;
		rc = dw_ddl_bundle_path(path, &where);
		if (rc == 0)
			rc = dw_zip_write_marked(where, &entries, BUNDLE_MARK);
		free(where);
	}
	dw_kv_free(&entries);
	return rc;
}

/* One segment of a bundle path under dir: refused when it is a symlink,
 * or (not last) not a directory. */
static int check_segment(const char *bundle, const char *path, int last, int *exists)
{
	struct stat st;

	*exists = lstat(path, &st) == 0;
	if (!*exists) {
		if (errno == ENOENT && last)
			return 0;
		return dw_invalid("bundle", "bundle \"%s\": %s: %s", bundle, path, strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return dw_invalid("bundle", "bundle \"%s\": %s is a symlink: refused", bundle, path);
	if (!last && !S_ISDIR(st.st_mode))
		return dw_invalid("bundle", "bundle \"%s\": %s is not a folder", bundle, path);
	if (last && !S_ISREG(st.st_mode))
		return dw_invalid("bundle", "bundle \"%s\": %s is not a file", bundle, path);
	return 0;
}

int dw_ddl_bundle_path(const char *bundle, char **out)
{
	const char *dir = getenv(DW_DDL_BUNDLE_DIR_ENV);
	size_t n = bundle ? strlen(bundle) : 0;
	struct dw_buf path;
	int exists = 0;

	if (out)
		*out = NULL;
	if (!dir || !*dir)
		dir = ".";
	if (n < 5 || n > 1024 || strcmp(bundle + n - 4, ".zip") != 0)
		return dw_invalid("bundle", "bundle must be a relative path ending in .zip (at most "
				  "1024 characters)");
	if (bundle[0] == '/')
		return dw_invalid("bundle", "bundle \"%s\" is absolute: bundles go under %s "
				  "(%s, a setting of the worker)", bundle, dir, DW_DDL_BUNDLE_DIR_ENV);
	for (const char *c = bundle; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == '\\')
			return dw_invalid("bundle", "bundle holds a control character or a backslash");
	dw_buf_init(&path);
	dw_buf_puts(&path, dir);
	for (const char *seg = bundle; *seg;) {
		size_t len = strcspn(seg, "/");
		int last = seg[len] == '\0';
		if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
			dw_buf_free(&path);
			return dw_invalid("bundle", "bundle \"%s\" has an empty, \".\" or \"..\" "
					  "segment: refused", bundle);
		}
		dw_buf_putc(&path, '/');
		dw_buf_append(&path, seg, len);
		if (check_segment(bundle, path.data, last, &exists)) {
			dw_buf_free(&path);
			return -1;
		}
		seg += len + !last;
	}
	/* Never replace what dwops did not write (the worker's DAGs, say). */
	if (exists && !dw_zip_has_comment(path.data, BUNDLE_MARK)) {
		dw_buf_free(&path);
		return dw_invalid("bundle", "bundle \"%s\": a file that is not a dwops bundle is "
				  "there already: refused (remove it, or choose another name)", bundle);
	}
	if (out)
		*out = dw_buf_detach(&path);
	else
		dw_buf_free(&path);
	return 0;
}

static const char *database_of(const struct dw_ddl_table *t)
{
	return t->database ? t->database : t->schema;
}

int dw_ddl_apply_athena(struct dw_aws *aws, const struct dw_ddl_table *t,
			const struct dw_kvlist *st, const struct dw_ddl_athena_opts *o,
			cJSON *applied)
{
	struct dw_athena_query q = {
		.database = database_of(t), .workgroup = o->workgroup,
		.output_location = o->output_location, .wait_s = o->wait_s,
	};
	struct dw_athena_result r;

	for (size_t i = 0; i < st->n; i++) {
		q.sql = st->items[i].value;
		dw_info("athena: running %s (%zu of %zu)", st->items[i].key, i + 1, st->n);
		if (dw_athena_run(aws, &q, &r))
			return dw_error_context("%s", st->items[i].key);
		cJSON *done = cJSON_CreateObject();
		cJSON_AddStringToObject(done, "kind", st->items[i].key);
		cJSON_AddStringToObject(done, "query_execution_id", r.id);
		cJSON_AddStringToObject(done, "state", r.state);
		cJSON_AddItemToArray(applied, done);
	}
	return 0;
}

int dw_ddl_apply_glue(struct dw_aws *aws, const struct dw_ddl_table *t,
		      const cJSON *table_input, cJSON *applied)
{
	const char *db = database_of(t);
	int created;
	cJSON *o;

	if (t->create_database && dw_glue_ensure_database(aws, db))
		return -1;
	if (dw_glue_put_table(aws, db, table_input, &created))
		return -1;
	dw_info("glue: table %s.%s %s", db, t->name, created ? "created" : "updated");
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", created ? "create_table" : "update_table");
	cJSON_AddStringToObject(o, "table", t->name);
	cJSON_AddItemToArray(applied, o);
	return 0;
}

int dw_ddl_drop_glue(struct dw_aws *aws, const struct dw_ddl_table *t, cJSON *applied)
{
	const char *db = database_of(t);
	int existed = dw_glue_delete_table(aws, db, t->name) == 0;

	if (!existed) {
		if (!dw_error_is("EntityNotFoundException"))
			return -1;
		dw_error_clear(); /* not there: nothing to drop, no error */
	}
	dw_info("glue: table %s.%s %s", db, t->name, existed ? "deleted" : "was not there");
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", "delete_table");
	cJSON_AddBoolToObject(o, "existed", existed);
	cJSON_AddItemToArray(applied, o);
	return 0;
}
