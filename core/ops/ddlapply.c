/* ddlapply.c - a table's DDL as zip bundles, and applied to Athena or the
 * Glue catalog (what was applied comes back as structs; dw-ddl prints). */
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

void dw_ddl_applied_release(struct dw_ddl_applied_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static struct dw_ddl_applied *applied_add(struct dw_ddl_applied_list *l, const char *kind)
{
	struct dw_ddl_applied *a;

	l->v = dw_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->existed = -1;
	return a;
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
	dw_kv_release(&entries);
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
			dw_buf_release(&path);
			return dw_invalid("bundle", "bundle \"%s\" has an empty, \".\" or \"..\" "
					  "segment: refused", bundle);
		}
		dw_buf_putc(&path, '/');
		dw_buf_append(&path, seg, len);
		if (check_segment(bundle, path.data, last, &exists)) {
			dw_buf_release(&path);
			return -1;
		}
		seg += len + !last;
	}
	/* Never replace what dwops did not write (the worker's DAGs, say). */
	if (exists && !dw_zip_has_comment(path.data, BUNDLE_MARK)) {
		dw_buf_release(&path);
		return dw_invalid("bundle", "bundle \"%s\": a file that is not a dwops bundle is "
				  "there already: refused (remove it, or choose another name)", bundle);
	}
	if (out)
		*out = dw_buf_detach(&path);
	else
		dw_buf_release(&path);
	return 0;
}

static const char *database_of(const struct dw_ddl_table *t)
{
	return t->database ? t->database : t->schema;
}

int dw_ddl_apply_athena(struct dw_aws *aws, const struct dw_ddl_table *t,
			const struct dw_kvlist *st, const struct dw_ddl_athena_opts *o,
			struct dw_ddl_applied_list *applied)
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
		struct dw_ddl_applied *a = applied_add(applied, st->items[i].key);
		snprintf(a->query_execution_id, sizeof(a->query_execution_id), "%s", r.id);
		snprintf(a->state, sizeof(a->state), "%s", r.state);
	}
	return 0;
}

int dw_ddl_apply_glue(struct dw_aws *aws, const struct dw_ddl_table *t,
		      const cJSON *table_input, struct dw_ddl_applied_list *applied)
{
	const char *db = database_of(t);
	int created;

	if (t->create_database && dw_glue_ensure_database(aws, db))
		return -1;
	if (dw_glue_put_table(aws, db, table_input, &created))
		return -1;
	dw_info("glue: table %s.%s %s", db, t->name, created ? "created" : "updated");
	applied_add(applied, created ? "create_table" : "update_table")->table = t->name;
	return 0;
}

int dw_ddl_drop_glue(struct dw_aws *aws, const struct dw_ddl_table *t,
		     struct dw_ddl_applied_list *applied)
{
	const char *db = database_of(t);
	int existed = dw_glue_delete_table(aws, db, t->name) == 0;

	if (!existed) {
		if (!dw_error_is("EntityNotFoundException"))
			return -1;
		dw_error_clear(); /* not there: nothing to drop, no error */
	}
	dw_info("glue: table %s.%s %s", db, t->name, existed ? "deleted" : "was not there");
	applied_add(applied, "delete_table")->existed = existed;
	return 0;
}
