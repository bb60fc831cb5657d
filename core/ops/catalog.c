/* catalog.c - the model, its comparison with Glue, and the Presto views.
 *
 * What is compared is a canonical projection of a table (type, columns and
 * partition keys with lower-cased names and canonical types, location,
 * storage, parameters, view text): the same function reads what the model
 * wants and what Glue holds, so Glue's own additions (CreateTime,
 * VersionId, StorageDescriptor defaults) never show as differences. */
#include "ops/catalog.h"
#include "base/json.h"
#include "base/log.h"
#include "aws/glue.h"
#include "aws/sigv4.h"

#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

static void lower(char *s)
{
	for (; s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Glue folds names to lower case; these are the names it and Athena take
 * without quoting trouble (1 to 255 characters). */
static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static char *lower_dup(const char *s)
{
	char *d = dw_xstrdup(s);

	lower(d);
	return d;
}

/* Re-raise the last error with its field put under path. */
static int under_path(const char *path)
{
	struct dw_error e;
	char field[sizeof(e.field)];

	dw_error_save(&e);
	snprintf(field, sizeof(field), "%s%s%s", path, *e.field ? "." : "", e.field);
	dw_raise_passthrough_(e.kind, e.code, field, "%s", e.message);
	return -1;
}

static const char *param(const cJSON *table, const char *name)
{
	return dw_json_str(cJSON_GetObjectItemCaseSensitive(table, "Parameters"), name);
}

/* ---- the model ---------------------------------------------------------- */

/* A model's table: a dw-ddl table description. */
struct table_req {
	struct dw_ddl_req ddl;
};
static const struct dw_field table_fields[] = {
	DW_DDL_TABLE_FIELDS(struct table_req, ddl), DW_FIELDS_END
};

/* Each part of the model is bound into a small struct of its own, borrowing
 * from the request (dw_req_bind_at at its path: "model.datasets[0]",
 * "model.consumers[1].groups[0].views[2]"); what the tables cannot say
 * (names Glue takes, duplicates, limits, bindings naming a model table) is
 * checked by the readers below. */
struct model_part {
	long long version;
	const char *description;
	const cJSON *datasets, *consumers, *bindings;
};

struct dataset_part {
	const char *name, *database, *description;
	const cJSON *tables;
};

struct filter_part {
	const char *column, *op;
	const cJSON *value;
};

struct column_part {
	const char *name, *as;
};

struct view_part {
	const char *name, *table, *comment;
	const cJSON *columns, *where;
};

struct group_part {
	const char *name, *database;
	const cJSON *views;
};

struct consumer_part {
	const char *name;
	const cJSON *groups;
};

/* A dataset's tables are dw-ddl table descriptions, checked one by one by
 * read_table against table_fields. */
static const struct dw_field dataset_fields[] = {
	DW_STR("name", struct dataset_part, name, DW_REQUIRED, NULL, "the dataset's name"),
	DW_STR("database", struct dataset_part, database, DW_REQUIRED, NULL,
	       "the Glue database its tables are in"),
	DW_OBJS("tables", struct dataset_part, tables, DW_REQUIRED, NULL,
		"tables, each a dw-ddl table description"),
	DW_STR("description", struct dataset_part, description, 0, NULL, "what it holds"),
	DW_FIELDS_END
};

static const char *const filter_ops[] = { "=", "!=", "<", "<=", ">", ">=", "is_null", "not_null", NULL };

static const struct dw_field filter_fields[] = {
	DW_STR("column", struct filter_part, column, DW_REQUIRED, NULL, "the physical column"),
	DW_CHOICE("op", struct filter_part, op, DW_REQUIRED, NULL, filter_ops, "the comparison"),
	DW_ANY("value", struct filter_part, value, 0,
	       "a string, number or boolean (none for is_null, not_null)"),
	DW_FIELDS_END
};

/* A view column given as an object (a string column is its name). */
static const struct dw_field column_fields[] = {
	DW_STR("name", struct column_part, name, DW_REQUIRED, NULL, "the physical column"),
	DW_STR("as", struct column_part, as, 0, NULL, "the name the view shows (default: name)"),
	DW_FIELDS_END
};

static const struct dw_field view_fields[] = {
	DW_STR("name", struct view_part, name, DW_REQUIRED, NULL, "the view's name"),
	DW_STR("table", struct view_part, table, DW_REQUIRED, NULL, "the logical table it selects from"),
	DW_ANY("columns", struct view_part, columns, 0,
	       "columns: names, or {name, as}; default every column"),
	DW_OBJS("where", struct view_part, where, 0, filter_fields,
		"row filters, all of which must hold"),
	DW_STR("comment", struct view_part, comment, 0, NULL, "description"),
	DW_FIELDS_END
};

static const struct dw_field group_fields[] = {
	DW_STR("name", struct group_part, name, DW_REQUIRED, NULL, "the dataset group"),
	DW_STR("database", struct group_part, database, DW_REQUIRED, NULL,
	       "the Glue database its views are in"),
	DW_OBJS("views", struct group_part, views, DW_REQUIRED, view_fields, "its views"),
	DW_FIELDS_END
};

static const struct dw_field consumer_fields[] = {
	DW_STR("name", struct consumer_part, name, DW_REQUIRED, NULL, "the consumer"),
	DW_OBJS("groups", struct consumer_part, groups, DW_REQUIRED, group_fields,
		"its dataset groups"),
	DW_FIELDS_END
};

/* Any integer a double holds exactly, as before the binding. */
#define MODEL_VERSION_MAX 9007199254740992LL /* 2^53 */

static const struct dw_field model_fields[] = {
	DW_INT("version", struct model_part, version, DW_NODEFAULT, 0, -MODEL_VERSION_MAX,
	       MODEL_VERSION_MAX, "the model's own version number"),
	DW_STR("description", struct model_part, description, 0, NULL, "what the model is for"),
	DW_OBJS("datasets", struct model_part, datasets, DW_REQUIRED, dataset_fields,
		"producer datasets"),
	DW_OBJS("consumers", struct model_part, consumers, 0, consumer_fields,
		"consumers and their views"),
	DW_MAP("bindings", struct model_part, bindings, 0,
	       "logical table -> database.table serving it"),
	DW_FIELDS_END
};

void dw_catalog_model_init(struct dw_catalog_model *m)
{
	memset(m, 0, sizeof(*m));
}

void dw_catalog_model_release(struct dw_catalog_model *m)
{
	for (size_t i = 0; i < m->ntables; i++) {
		free(m->tables[i].dataset);
		dw_ddl_table_release(&m->tables[i].ddl);
		cJSON_Delete(m->tables[i].input);
	}
	free(m->tables);
	for (size_t i = 0; i < m->nviews; i++) {
		struct dw_catalog_view *v = &m->views[i];

		free(v->database);
		free(v->name);
		free(v->logical);
		free(v->consumer);
		free(v->group);
		free(v->comment);
		for (size_t k = 0; k < v->ncolumns; k++) {
			free(v->columns[k].name);
			free(v->columns[k].source);
		}
		free(v->columns);
		for (size_t k = 0; k < v->nfilters; k++) {
			free(v->filters[k].column);
			free(v->filters[k].op);
			cJSON_Delete(v->filters[k].value);
		}
		free(v->filters);
	}
	free(m->views);
	for (size_t i = 0; i < m->nbindings; i++) {
		free(m->bindings[i].logical);
		free(m->bindings[i].database);
		free(m->bindings[i].table);
	}
	free(m->bindings);
	for (size_t i = 0; i < m->ndatabases; i++)
		free(m->databases[i]);
	free(m->databases);
	dw_catalog_model_init(m);
}

static void add_database(struct dw_catalog_model *m, const char *db)
{
	for (size_t i = 0; i < m->ndatabases; i++)
		if (strcmp(m->databases[i], db) == 0)
			return;
	m->databases = dw_xrealloc(m->databases, (m->ndatabases + 1) * sizeof(char *));
	m->databases[m->ndatabases++] = dw_xstrdup(db);
}

static struct dw_catalog_table *find_table(const struct dw_catalog_model *m,
					   const char *db, const char *name)
{
	for (size_t i = 0; i < m->ntables; i++)
		if (strcmp(m->tables[i].ddl.database, db) == 0 &&
		    strcmp(m->tables[i].ddl.name, name) == 0)
			return &m->tables[i];
	return NULL;
}

static const struct dw_catalog_view *find_view(const struct dw_catalog_model *m,
					       const char *db, const char *name)
{
	for (size_t i = 0; i < m->nviews; i++)
		if (strcmp(m->views[i].database, db) == 0 && strcmp(m->views[i].name, name) == 0)
			return &m->views[i];
	return NULL;
}

static const struct dw_catalog_binding *find_binding(const struct dw_catalog_model *m,
						     const char *logical)
{
	for (size_t i = 0; i < m->nbindings; i++)
		if (strcmp(m->bindings[i].logical, logical) == 0)
			return &m->bindings[i];
	return NULL;
}

static void set_param(cJSON *input, const char *name, const char *value)
{
	cJSON *params = cJSON_GetObjectItemCaseSensitive(input, "Parameters");

	if (!params)
		params = cJSON_AddObjectToObject(input, "Parameters");
	cJSON_DeleteItemFromObjectCaseSensitive(params, name);
	cJSON_AddStringToObject(params, name, value);
}

static char *canon_hash(const cJSON *table);

/* Stamp what dwops writes: managed, and the hash of everything else. */
static void stamp(cJSON *input)
{
	char *h;

	set_param(input, DW_CATALOG_MANAGED, "true");
	h = canon_hash(input);
	set_param(input, DW_CATALOG_HASH, h);
	free(h);
}

static int read_table(struct dw_catalog_model *m, const cJSON *spec, const char *dataset,
		      const char *db, const char *path)
{
	cJSON *copy = cJSON_Duplicate(spec, 1);
	struct dw_catalog_table *t;
	struct table_req q;
	const char *dialect = dw_json_str(spec, "dialect");
	const char *tdb = dw_json_str(spec, "database");
	int rc;

	if (dialect && strcmp(dialect, "glue") != 0) {
		cJSON_Delete(copy);
		return dw_invalid(path, "a model's tables are Glue tables: leave out dialect (or say glue)");
	}
	if (tdb && strcasecmp(tdb, db) != 0) {
		cJSON_Delete(copy);
		return dw_invalid(path, "table database \"%s\" is not its dataset's (%s)", tdb, db);
	}
	if (!dialect)
		cJSON_AddStringToObject(copy, "dialect", "glue");
	if (!tdb)
		cJSON_AddStringToObject(copy, "database", db);
	if (m->ntables >= DW_CATALOG_MAX_TABLES) {
		cJSON_Delete(copy);
		return dw_invalid(path, "a model holds at most %d tables", DW_CATALOG_MAX_TABLES);
	}
	m->tables = dw_xrealloc(m->tables, (m->ntables + 1) * sizeof(*m->tables));
	t = &m->tables[m->ntables];
	memset(t, 0, sizeof(*t));
	dw_ddl_table_init(&t->ddl);
	/* q borrows from copy: parsed (into copies) before copy goes. */
	rc = dw_req_bind_at(copy, table_fields, "", &q) || dw_ddl_table_parse(&t->ddl, &q.ddl) ||
	     dw_ddl_check_columns(&t->ddl);
	cJSON_Delete(copy);
	m->ntables++;
	t->dataset = dw_xstrdup(dataset);
	if (rc)
		return under_path(path);
	if (t->ddl.ncolumns == 0)
		return dw_invalid(path, "a model's table lists its columns (nothing is inferred here)");
	lower(t->ddl.name);
	lower(t->ddl.database);
	if (!name_ok(t->ddl.name))
		return dw_invalid(path, "table name \"%s\": letters, digits and _ only", t->ddl.name);
	if (find_table(m, t->ddl.database, t->ddl.name) != t)
		return dw_invalid(path, "table %s.%s is in the model twice", t->ddl.database, t->ddl.name);
	if (dw_ddl_glue_table_input(&t->ddl, &t->input))
		return under_path(path);
	cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(t->input, "Name"), t->ddl.name);
	stamp(t->input);
	return 0;
}

static int read_datasets(struct dw_catalog_model *m, const cJSON *datasets, const char *field)
{
	char at[256], path[256];
	int i = 0;
	const cJSON *ds;

	cJSON_ArrayForEach(ds, datasets) {
		struct dataset_part q;
		char *db;
		const cJSON *t;
		int k = 0, rc = 0;

		snprintf(at, sizeof(at), "%s.datasets[%d]", field, i);
		if (dw_req_bind_at(ds, dataset_fields, at, &q))
			return -1;
		db = lower_dup(q.database);
		snprintf(path, sizeof(path), "%s.database", at);
		if (!name_ok(db))
			rc = dw_invalid(path, "database \"%s\": letters, digits and _ only", db);
		else
			add_database(m, db);
		cJSON_ArrayForEach(t, q.tables) {
			snprintf(path, sizeof(path), "%s.tables[%d]", at, k++);
			if (!rc)
				rc = read_table(m, t, q.name, db, path);
		}
		free(db);
		if (rc)
			return -1;
		i++;
	}
	return 0;
}

static int read_columns(struct dw_catalog_view *v, const cJSON *cols, const char *path)
{
	const cJSON *c;
	int i = 0;

	if (!cols)
		return 0;
	if (!cJSON_IsArray(cols))
		return dw_invalid(path, "columns is an array of names or {name, as} objects");
	v->columns = dw_xcalloc((size_t)cJSON_GetArraySize(cols) + 1, sizeof(*v->columns));
	cJSON_ArrayForEach(c, cols) {
		struct column_part q = { cJSON_IsString(c) ? c->valuestring : NULL, NULL };
		char where[256];

		snprintf(where, sizeof(where), "%s[%d]", path, i++);
		if (cJSON_IsObject(c) && dw_req_bind_at(c, column_fields, where, &q))
			return -1;
		if (!q.name || !name_ok(q.name) || (q.as && !name_ok(q.as)))
			return dw_invalid(where, "a column is a name (letters, digits, _) or {name, as}");
		v->columns[v->ncolumns].source = lower_dup(q.name);
		v->columns[v->ncolumns].name = lower_dup(q.as ? q.as : q.name);
		v->ncolumns++;
	}
	return 0;
}

static int read_filters(struct dw_catalog_view *v, const cJSON *where, const char *path)
{
	const cJSON *f;
	int i = 0;

	v->filters = dw_xcalloc((size_t)cJSON_GetArraySize(where) + 1, sizeof(*v->filters));
	cJSON_ArrayForEach(f, where) {
		struct filter_part q;
		const cJSON *val;
		int null_test;
		char at[256];

		snprintf(at, sizeof(at), "%s[%d]", path, i++);
		/* The op is one of filter_ops: the table's choice check. */
		if (dw_req_bind_at(f, filter_fields, at, &q))
			return -1;
		val = q.value;
		null_test = strcmp(q.op, "is_null") == 0 || strcmp(q.op, "not_null") == 0;
		if (!name_ok(q.column))
			return dw_invalid(at, "column \"%s\": letters, digits and _ only", q.column);
		if (null_test ? val != NULL : !(cJSON_IsString(val) || cJSON_IsNumber(val) || cJSON_IsBool(val)))
			return dw_invalid(at, null_test ? "%s takes no value" : "%s needs a string, number or boolean value", q.op);
		if (val && cJSON_IsNumber(val) && dw_json_int(val, &(long long){ 0 }) != 0 &&
		    (val->valuedouble != val->valuedouble || fabs(val->valuedouble) >= 9007199254740992.0))
			return dw_invalid(at, "a number beyond 2^53 is not exact here: give it as a string");
		if (val && cJSON_IsString(val)) {
			for (const char *p = val->valuestring; *p; p++)
				if ((unsigned char)*p < 0x20)
					return dw_invalid(at, "a filter value may not hold control characters");
		}
		v->filters[v->nfilters].column = lower_dup(q.column);
		v->filters[v->nfilters].op = dw_xstrdup(q.op);
		v->filters[v->nfilters].value = val ? cJSON_Duplicate(val, 1) : NULL;
		v->nfilters++;
	}
	return 0;
}

static int read_view(struct dw_catalog_model *m, const cJSON *spec, const char *consumer,
		     const char *group, const char *db, const char *path)
{
	struct dw_catalog_view *v;
	struct view_part q;
	char at[256];

	if (dw_req_bind_at(spec, view_fields, path, &q))
		return -1;
	if (m->nviews >= DW_CATALOG_MAX_VIEWS)
		return dw_invalid(path, "a model holds at most %d views", DW_CATALOG_MAX_VIEWS);
	m->views = dw_xrealloc(m->views, (m->nviews + 1) * sizeof(*m->views));
	v = &m->views[m->nviews++];
	memset(v, 0, sizeof(*v));
	v->database = dw_xstrdup(db);
	v->name = lower_dup(q.name);
	v->logical = dw_xstrdup(q.table);
	v->consumer = dw_xstrdup(consumer);
	v->group = dw_xstrdup(group);
	if (q.comment)
		v->comment = dw_xstrdup(q.comment);
	snprintf(at, sizeof(at), "%s.name", path);
	if (!name_ok(v->name))
		return dw_invalid(at, "view name \"%s\": letters, digits and _ only", v->name);
	if (find_view(m, v->database, v->name) != v || find_table(m, v->database, v->name))
		return dw_invalid(at, "%s.%s is in the model twice", v->database, v->name);
	snprintf(at, sizeof(at), "%s.columns", path);
	if (read_columns(v, q.columns, at))
		return -1;
	snprintf(at, sizeof(at), "%s.where", path);
	return read_filters(v, q.where, at);
}

static int read_group(struct dw_catalog_model *m, const cJSON *spec, const char *consumer,
		      const char *path)
{
	struct group_part q;
	char *db;
	char at[256];
	const cJSON *v;
	int vi = 0, rc = 0;

	if (dw_req_bind_at(spec, group_fields, path, &q))
		return -1;
	db = lower_dup(q.database);
	snprintf(at, sizeof(at), "%s.database", path);
	if (!name_ok(db))
		rc = dw_invalid(at, "database \"%s\": letters, digits and _ only", db);
	else
		add_database(m, db);
	cJSON_ArrayForEach(v, q.views) {
		snprintf(at, sizeof(at), "%s.views[%d]", path, vi++);
		if (!rc)
			rc = read_view(m, v, consumer, q.name, db, at);
	}
	free(db);
	return rc ? -1 : 0;
}

static int read_consumers(struct dw_catalog_model *m, const cJSON *consumers, const char *field)
{
	const cJSON *c, *g;
	int ci = 0;

	cJSON_ArrayForEach(c, consumers) {
		struct consumer_part q;
		char at[256], path[256];
		int gi = 0;

		snprintf(at, sizeof(at), "%s.consumers[%d]", field, ci);
		if (dw_req_bind_at(c, consumer_fields, at, &q))
			return -1;
		cJSON_ArrayForEach(g, q.groups) {
			snprintf(path, sizeof(path), "%s.groups[%d]", at, gi++);
			if (read_group(m, g, q.name, path))
				return -1;
		}
		ci++;
	}
	return 0;
}

static int read_bindings(struct dw_catalog_model *m, const cJSON *bindings, const char *field)
{
	const cJSON *b;

	cJSON_ArrayForEach(b, bindings) {
		char path[256];
		const char *dot = cJSON_IsString(b) ? strchr(b->valuestring, '.') : NULL;
		struct dw_catalog_binding *x;

		snprintf(path, sizeof(path), "%s.bindings.%s", field, b->string);
		if (!dot)
			return dw_invalid(path, "a binding names database.table");
		m->bindings = dw_xrealloc(m->bindings, (m->nbindings + 1) * sizeof(*m->bindings));
		x = &m->bindings[m->nbindings++];
		x->logical = dw_xstrdup(b->string);
		x->database = dw_xstrndup(b->valuestring, (size_t)(dot - b->valuestring));
		x->table = dw_xstrdup(dot + 1);
		lower(x->database);
		lower(x->table);
		if (!find_table(m, x->database, x->table))
			return dw_invalid(path, "%s.%s is not a table of the model", x->database, x->table);
	}
	return 0;
}

int dw_catalog_model_read(struct dw_catalog_model *m, const cJSON *model, const char *field)
{
	struct model_part q;
	char at[256];

	if (!cJSON_IsObject(model))
		return dw_invalid(field, "the model is a JSON object");
	/* The whole model against its tables first (every part's fields,
	 * types and choices), then each part bound and checked in turn. */
	if (dw_req_bind_at(model, model_fields, field, &q) ||
	    read_datasets(m, q.datasets, field) ||
	    read_bindings(m, q.bindings, field) ||
	    read_consumers(m, q.consumers, field))
		return -1;
	for (size_t i = 0; i < m->nviews; i++) {
		const struct dw_catalog_view *v = &m->views[i];

		snprintf(at, sizeof(at), "%s.bindings", field);
		if (!find_binding(m, v->logical))
			return dw_invalid(at, "view %s.%s selects from \"%s\", which no binding names",
					  v->database, v->name, v->logical);
	}
	return 0;
}

/* ---- types -------------------------------------------------------------- */

/* Lower case, no white space: "DECIMAL(10, 2)" -> "decimal(10,2)". */
static char *canon_type(const char *t)
{
	struct dw_buf b;

	dw_buf_init(&b);
	for (; t && *t; t++)
		if (!isspace((unsigned char)*t))
			dw_buf_putc(&b, (char)tolower((unsigned char)*t));
	return dw_buf_detach(&b);
}

static int decimal_of(const char *t, int *p, int *s)
{
	char tail;

	*s = 0;
	return sscanf(t, "decimal(%d,%d%c", p, s, &tail) == 3 && tail == ')';
}

int dw_catalog_type_widens(const char *from, const char *to)
{
	char *f = canon_type(from), *t = canon_type(to);
	int p1, s1, p2, s2, ok;

	ok = strcmp(f, t) == 0 ||
	     ((strcmp(f, "tinyint") == 0 || strcmp(f, "smallint") == 0) &&
	      (strcmp(t, "int") == 0 || strcmp(t, "bigint") == 0)) ||
	     (strcmp(f, "int") == 0 && strcmp(t, "bigint") == 0) ||
	     (strcmp(f, "float") == 0 && strcmp(t, "double") == 0) ||
	     (decimal_of(f, &p1, &s1) && decimal_of(t, &p2, &s2) && s2 >= s1 &&
	      p2 - s2 >= p1 - s1);
	free(f);
	free(t);
	return ok;
}

static void presto_put(struct dw_buf *b, const char **s);

/* One Hive type at *s: a name, or array<..>, map<..,..>, struct<n:t,..>. */
static void presto_put(struct dw_buf *b, const char **s)
{
	static const struct { const char *hive, *presto; } names[] = {
		{ "string", "varchar" }, { "int", "integer" }, { "float", "real" },
		{ "tinyint", "tinyint" }, { "smallint", "smallint" }, { "bigint", "bigint" },
		{ "double", "double" }, { "boolean", "boolean" }, { "date", "date" },
		{ "timestamp", "timestamp" }, { "binary", "varbinary" },
	};
	const char *p = *s;
	size_t n = strcspn(p, "<>,:()");

	if (strncmp(p, "array<", 6) == 0 || strncmp(p, "map<", 4) == 0) {
		int is_map = p[0] == 'm';

		dw_buf_puts(b, is_map ? "map(" : "array(");
		*s = p + (is_map ? 4 : 6);
		presto_put(b, s);
		if (is_map && **s == ',') {
			dw_buf_putc(b, ',');
			(*s)++;
			presto_put(b, s);
		}
		dw_buf_putc(b, ')');
		if (**s == '>')
			(*s)++;
		return;
	}
	if (strncmp(p, "struct<", 7) == 0) {
		dw_buf_puts(b, "row(");
		*s = p + 7;
		while (**s && **s != '>') {
			size_t k = strcspn(*s, ":>");

			dw_buf_append(b, *s, k);
			dw_buf_putc(b, ' ');
			*s += k;
			if (**s == ':')
				(*s)++;
			presto_put(b, s);
			if (**s == ',') {
				dw_buf_putc(b, ',');
				(*s)++;
			}
		}
		dw_buf_putc(b, ')');
		if (**s == '>')
			(*s)++;
		return;
	}
	if (strncmp(p, "decimal(", 8) == 0) {
		n = strcspn(p, ")") + (p[strcspn(p, ")")] ? 1 : 0);
		dw_buf_append(b, p, n);
		*s = p + n;
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].hive) == n && strncmp(p, names[i].hive, n) == 0) {
			dw_buf_puts(b, names[i].presto);
			*s = p + n;
			return;
		}
	dw_buf_append(b, p, n);
	*s = p + n;
}

char *dw_catalog_presto_type(const char *hive)
{
	char *c = canon_type(hive);
	const char *s = c;
	struct dw_buf b;

	dw_buf_init(&b);
	presto_put(&b, &s);
	free(c);
	return dw_buf_detach(&b);
}

/* ---- the canonical projection ------------------------------------------- */

static cJSON *canon_columns(const cJSON *cols)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *c;

	cJSON_ArrayForEach(c, cols) {
		cJSON *pair = cJSON_CreateArray();
		char *name = lower_dup(dw_json_str(c, "Name") ? dw_json_str(c, "Name") : "");
		char *type = canon_type(dw_json_str(c, "Type"));

		cJSON_AddItemToArray(pair, cJSON_CreateString(name));
		cJSON_AddItemToArray(pair, cJSON_CreateString(type));
		cJSON_AddItemToArray(out, pair);
		free(name);
		free(type);
	}
	return out;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* A string map with sorted keys, leaving out dwops_hash. */
static cJSON *canon_map(const cJSON *map)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON **items, *it;
	size_t n = 0, cap = (size_t)cJSON_GetArraySize(map);

	items = dw_xcalloc(cap + 1, sizeof(const cJSON *));
	cJSON_ArrayForEach(it, map)
		if (it->string && cJSON_IsString(it) && strcmp(it->string, DW_CATALOG_HASH) != 0)
			items[n++] = it;
	qsort(items, n, sizeof(const cJSON *), cmp_keys);
	for (size_t i = 0; i < n; i++)
		cJSON_AddStringToObject(out, items[i]->string, items[i]->valuestring);
	free(items);
	return out;
}

static void add_str(cJSON *o, const char *name, const char *v)
{
	cJSON_AddStringToObject(o, name, v ? v : "");
}

static cJSON *canon(const cJSON *t)
{
	const cJSON *sd = cJSON_GetObjectItemCaseSensitive(t, "StorageDescriptor");
	const cJSON *serde = cJSON_GetObjectItemCaseSensitive(sd, "SerdeInfo");
	cJSON *c = cJSON_CreateObject();

	add_str(c, "type", dw_json_str(t, "TableType"));
	cJSON_AddItemToObject(c, "columns", canon_columns(cJSON_GetObjectItemCaseSensitive(sd, "Columns")));
	cJSON_AddItemToObject(c, "partitions", canon_columns(cJSON_GetObjectItemCaseSensitive(t, "PartitionKeys")));
	add_str(c, "location", dw_json_str(sd, "Location"));
	add_str(c, "input", dw_json_str(sd, "InputFormat"));
	add_str(c, "output", dw_json_str(sd, "OutputFormat"));
	add_str(c, "serde", dw_json_str(serde, "SerializationLibrary"));
	cJSON_AddItemToObject(c, "serde_params", canon_map(cJSON_GetObjectItemCaseSensitive(serde, "Parameters")));
	cJSON_AddItemToObject(c, "params", canon_map(cJSON_GetObjectItemCaseSensitive(t, "Parameters")));
	add_str(c, "view", dw_json_str(t, "ViewOriginalText"));
	add_str(c, "description", dw_json_str(t, "Description"));
	return c;
}

static char *canon_hash(const cJSON *table)
{
	cJSON *c = canon(table);
	char *text = dw_json_print(c);
	char *hex = dw_xmalloc(65);

	dw_sha256_hex(text, strlen(text), hex);
	cJSON_free(text);
	cJSON_Delete(c);
	return hex;
}

/* ---- the views ---------------------------------------------------------- */

/* Presto reads no backslash escapes: a quote is doubled, nothing else. */
static void presto_literal(struct dw_buf *b, const char *s)
{
	dw_buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			dw_buf_putc(b, '\'');
		dw_buf_putc(b, *s);
	}
	dw_buf_putc(b, '\'');
}

/* Identifiers: Presto (Athena's views) and Snowflake both read ANSI double
 * quotes; dw-ddl's Redshift quoting is exactly that, Snowflake's leaves
 * plain names unquoted so they stay case-insensitive. */
static void ident(struct dw_buf *b, enum dw_ddl_dialect d, const char *name)
{
	dw_ddl_quote_ident(b, d == DW_DDL_SNOWFLAKE ? DW_DDL_SNOWFLAKE : DW_DDL_REDSHIFT, name);
}

static void put_value(struct dw_buf *b, enum dw_ddl_dialect d, const cJSON *v)
{
	long long i;

	if (cJSON_IsBool(v))
		dw_buf_puts(b, cJSON_IsTrue(v) ? "TRUE" : "FALSE");
	else if (cJSON_IsNumber(v) && dw_json_int(v, &i) == 0)
		dw_buf_printf(b, "%lld", i);
	else if (cJSON_IsNumber(v))
		dw_buf_printf(b, "%.17g", v->valuedouble);
	else if (d == DW_DDL_SNOWFLAKE)
		dw_ddl_quote_literal(b, d, v->valuestring);
	else
		presto_literal(b, v->valuestring);
}

/* The column list a view shows: its own, or every column of the source. */
struct view_col {
	const char *name, *source, *type;
};

static int view_columns(const struct dw_catalog_view *v, const cJSON *src_cols,
			const cJSON *src_keys, struct view_col **out, size_t *n)
{
	size_t cap = (size_t)cJSON_GetArraySize(src_cols) + (size_t)cJSON_GetArraySize(src_keys) + v->ncolumns + 1;
	struct view_col *cols = dw_xcalloc(cap, sizeof(*cols));
	const cJSON *lists[2] = { src_cols, src_keys }, *c;

	*n = 0;
	if (v->ncolumns == 0) {
		for (int l = 0; l < 2; l++)
			cJSON_ArrayForEach(c, lists[l]) {
				cols[*n].name = cols[*n].source = dw_json_str(c, "Name");
				cols[*n].type = dw_json_str(c, "Type");
				(*n)++;
			}
		*out = cols;
		return 0;
	}
	for (size_t i = 0; i < v->ncolumns; i++) {
		const char *type = NULL;

		for (int l = 0; l < 2 && !type; l++)
			cJSON_ArrayForEach(c, lists[l])
				if (dw_json_str(c, "Name") && strcasecmp(dw_json_str(c, "Name"), v->columns[i].source) == 0)
					type = dw_json_str(c, "Type");
		if (!type) {
			free(cols);
			return dw_raise(DW_INVALID, "MissingColumn", "",
					"view %s.%s selects %s, which its table does not have",
					v->database, v->name, v->columns[i].source);
		}
		cols[*n].name = v->columns[i].name;
		cols[*n].source = v->columns[i].source;
		cols[*n].type = type;
		(*n)++;
	}
	*out = cols;
	return 0;
}

static void put_select(struct dw_buf *b, enum dw_ddl_dialect d, const struct dw_catalog_view *v,
		       const struct view_col *cols, size_t n, const char *db, const char *table)
{
	static const struct { const char *op, *sql; } ops[] = {
		{ "=", "=" }, { "!=", "<>" }, { "<", "<" }, { "<=", "<=" }, { ">", ">" },
		{ ">=", ">=" }, { "is_null", "IS NULL" }, { "not_null", "IS NOT NULL" },
	};

	dw_buf_puts(b, "SELECT ");
	for (size_t i = 0; i < n; i++) {
		if (i)
			dw_buf_puts(b, ", ");
		ident(b, d, cols[i].source);
		if (strcasecmp(cols[i].name, cols[i].source) != 0) {
			dw_buf_puts(b, " AS ");
			ident(b, d, cols[i].name);
		}
	}
	dw_buf_puts(b, " FROM ");
	ident(b, d, db);
	dw_buf_putc(b, '.');
	ident(b, d, table);
	for (size_t i = 0; i < v->nfilters; i++) {
		const struct dw_catalog_filter *f = &v->filters[i];

		dw_buf_puts(b, i ? " AND " : " WHERE ");
		ident(b, d, f->column);
		for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
			if (strcmp(ops[k].op, f->op) == 0)
				dw_buf_printf(b, " %s", ops[k].sql);
		if (f->value) {
			dw_buf_putc(b, ' ');
			put_value(b, d, f->value);
		}
	}
}

static char *base64(const char *s)
{
	size_t n = strlen(s);
	char *out = dw_xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* The Glue TableInput of a view over db.table, as Athena writes one:
 * TableType VIRTUAL_VIEW, presto_view, the base64 Presto view text. */
static int view_input(const struct dw_catalog_view *v, const char *db, const char *table,
		      const cJSON *src_cols, const cJSON *src_keys, long generation, cJSON **out)
{
	struct view_col *cols;
	size_t n;
	struct dw_buf sql, text, target;
	cJSON *pv, *pcols, *in, *sd, *gcols;
	char *json, *b64, gen[32];

	if (view_columns(v, src_cols, src_keys, &cols, &n))
		return -1;
	dw_buf_init(&sql);
	put_select(&sql, DW_DDL_ATHENA, v, cols, n, db, table);
	pv = cJSON_CreateObject();
	cJSON_AddStringToObject(pv, "originalSql", sql.data);
	cJSON_AddStringToObject(pv, "catalog", "awsdatacatalog");
	cJSON_AddStringToObject(pv, "schema", v->database);
	pcols = cJSON_AddArrayToObject(pv, "columns");
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "Name", v->name);
	cJSON_AddStringToObject(in, "TableType", "VIRTUAL_VIEW");
	if (v->comment)
		cJSON_AddStringToObject(in, "Description", v->comment);
	sd = cJSON_AddObjectToObject(in, "StorageDescriptor");
	gcols = cJSON_AddArrayToObject(sd, "Columns");
	cJSON_AddObjectToObject(sd, "SerdeInfo");
	cJSON_AddArrayToObject(in, "PartitionKeys");
	for (size_t i = 0; i < n; i++) {
		cJSON *pc = cJSON_CreateObject(), *gc = cJSON_CreateObject();
		char *pt = dw_catalog_presto_type(cols[i].type), *ct = canon_type(cols[i].type);
		char *name = lower_dup(cols[i].name);

		cJSON_AddStringToObject(pc, "name", name);
		cJSON_AddStringToObject(pc, "type", pt);
		cJSON_AddItemToArray(pcols, pc);
		cJSON_AddStringToObject(gc, "Name", name);
		cJSON_AddStringToObject(gc, "Type", ct);
		cJSON_AddItemToArray(gcols, gc);
		free(pt);
		free(ct);
		free(name);
	}
	cJSON_AddStringToObject(pv, "owner", "dwops");
	cJSON_AddBoolToObject(pv, "runAsInvoker", 0);
	cJSON_AddObjectToObject(pv, "properties");
	json = dw_json_print(pv);
	b64 = base64(json);
	dw_buf_init(&text);
	dw_buf_printf(&text, "/* Presto View: %s */", b64);
	cJSON_AddStringToObject(in, "ViewOriginalText", text.data);
	cJSON_AddStringToObject(in, "ViewExpandedText", "/* Presto View */");
	dw_buf_init(&target);
	dw_buf_printf(&target, "%s.%s", db, table);
	snprintf(gen, sizeof(gen), "%ld", generation);
	set_param(in, "presto_view", "true");
	set_param(in, "comment", "Presto View");
	set_param(in, DW_CATALOG_LOGICAL, v->logical);
	set_param(in, DW_CATALOG_TARGET, target.data);
	set_param(in, DW_CATALOG_GENERATION, gen);
	stamp(in);
	cJSON_free(json);
	free(b64);
	free(cols);
	dw_buf_release(&sql);
	dw_buf_release(&text);
	dw_buf_release(&target);
	cJSON_Delete(pv);
	*out = in;
	return 0;
}

char *dw_catalog_view_sql(const struct dw_catalog_model *m, const struct dw_catalog_view *v,
			  enum dw_ddl_dialect d)
{
	const struct dw_catalog_binding *bind = find_binding(m, v->logical);
	const struct dw_catalog_table *t = bind ? find_table(m, bind->database, bind->table) : NULL;
	const cJSON *sd = t ? cJSON_GetObjectItemCaseSensitive(t->input, "StorageDescriptor") : NULL;
	struct view_col *cols;
	size_t n;
	struct dw_buf b;

	if (!t || view_columns(v, cJSON_GetObjectItemCaseSensitive(sd, "Columns"),
			       cJSON_GetObjectItemCaseSensitive(t->input, "PartitionKeys"), &cols, &n))
		return NULL;
	dw_buf_init(&b);
	dw_buf_puts(&b, "CREATE OR REPLACE VIEW ");
	ident(&b, d, v->database);
	dw_buf_putc(&b, '.');
	ident(&b, d, v->name);
	if (d == DW_DDL_SNOWFLAKE)
		dw_buf_puts(&b, " COPY GRANTS");
	dw_buf_puts(&b, " AS ");
	put_select(&b, d, v, cols, n, bind->database, bind->table);
	free(cols);
	return dw_buf_detach(&b);
}

/* ---- plans -------------------------------------------------------------- */

const char *dw_catalog_action_name(enum dw_catalog_action a)
{
	static const char *const names[] = { "create", "update", "delete", "unmanaged" };

	return names[a];
}

const char *dw_catalog_kind_name(enum dw_catalog_kind k)
{
	return k == DW_CATALOG_VIEW ? "view" : "table";
}

const char *dw_catalog_status_name(enum dw_catalog_status s)
{
	static const char *const names[] = { "planned", "done", "failed", "skipped" };

	return names[s];
}

void dw_catalog_plan_init(struct dw_catalog_plan *p)
{
	memset(p, 0, sizeof(*p));
}

static void item_release(struct dw_catalog_item *it)
{
	for (size_t i = 0; i < it->nchanges; i++) {
		free(it->changes[i].change);
		free(it->changes[i].column);
		free(it->changes[i].from);
		free(it->changes[i].to);
	}
	free(it->changes);
	free(it->database);
	free(it->name);
	cJSON_Delete(it->input);
	free(it->version_id);
	free(it->error);
}

void dw_catalog_plan_release(struct dw_catalog_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		item_release(&p->items[i]);
	free(p->items);
	dw_catalog_plan_init(p);
}

static struct dw_catalog_item *add_item(struct dw_catalog_plan *p, enum dw_catalog_kind kind,
					enum dw_catalog_action action, const char *db,
					const char *name)
{
	struct dw_catalog_item *it;

	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->items = dw_xrealloc(p->items, p->cap * sizeof(*p->items));
	}
	it = &p->items[p->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->action = action;
	it->database = dw_xstrdup(db);
	it->name = dw_xstrdup(name);
	return it;
}

static void add_change(struct dw_catalog_item *it, const char *change, const char *column,
		       const char *from, const char *to, int breaking)
{
	struct dw_catalog_change *c;

	it->changes = dw_xrealloc(it->changes, (it->nchanges + 1) * sizeof(*it->changes));
	c = &it->changes[it->nchanges++];
	c->change = dw_xstrdup(change);
	c->column = column ? dw_xstrdup(column) : NULL;
	c->from = from ? dw_xstrdup(from) : NULL;
	c->to = to ? dw_xstrdup(to) : NULL;
	c->breaking = breaking;
	it->breaking |= breaking;
}

static const char *pair_type(const cJSON *cols, const char *name)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cols)
		if (strcmp(cJSON_GetArrayItem(c, 0)->valuestring, name) == 0)
			return cJSON_GetArrayItem(c, 1)->valuestring;
	return NULL;
}

static void diff_columns(struct dw_catalog_item *it, const cJSON *want, const cJSON *have)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, want) {
		const char *name = cJSON_GetArrayItem(c, 0)->valuestring;
		const char *type = cJSON_GetArrayItem(c, 1)->valuestring;
		const char *old = pair_type(have, name);

		if (!old)
			add_change(it, "add_column", name, NULL, type, 0);
		else if (strcmp(old, type) != 0)
			add_change(it, "change_type", name, old, type, !dw_catalog_type_widens(old, type));
	}
	cJSON_ArrayForEach(c, have) {
		const char *name = cJSON_GetArrayItem(c, 0)->valuestring;

		if (!pair_type(want, name))
			add_change(it, "remove_column", name, cJSON_GetArrayItem(c, 1)->valuestring, NULL, 1);
	}
}

/* cJSON_Compare calls two absent members different: here they are alike. */
static int same(const cJSON *a, const cJSON *b, const char *member)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, member);
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, member);

	return (!x && !y) || cJSON_Compare(x, y, 1);
}

static void diff_string(struct dw_catalog_item *it, const cJSON *w, const cJSON *h,
			const char *member, const char *change, int breaking)
{
	if (!same(w, h, member))
		add_change(it, change, NULL, dw_json_str(h, member), dw_json_str(w, member), breaking);
}

/* What differs between the canonical projections w (wanted) and h (held). */
static void diff(struct dw_catalog_item *it, const cJSON *w, const cJSON *h)
{
	const cJSON *wp = cJSON_GetObjectItemCaseSensitive(w, "params");
	const cJSON *hp = cJSON_GetObjectItemCaseSensitive(h, "params");
	cJSON *wrest, *hrest;

	diff_string(it, w, h, "type", "table_type", 1);
	diff_columns(it, cJSON_GetObjectItemCaseSensitive(w, "columns"),
		     cJSON_GetObjectItemCaseSensitive(h, "columns"));
	if (!same(w, h, "partitions"))
		add_change(it, "partitions", NULL, NULL, NULL, 1);
	diff_string(it, w, h, "location", "location", 1);
	if (!same(w, h, "input") || !same(w, h, "output") || !same(w, h, "serde") ||
	    !same(w, h, "serde_params"))
		add_change(it, "storage", NULL, NULL, NULL, 1);
	/* A view pointed at another physical table serves other data: that is
	 * a remap, and breaking when it comes from a plan. */
	diff_string(it, wp, hp, DW_CATALOG_TARGET, "target", 1);
	diff_string(it, w, h, "view", "view_sql", 0);
	diff_string(it, w, h, "description", "description", 0);
	wrest = cJSON_Duplicate(wp, 1);
	hrest = cJSON_Duplicate(hp, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(wrest, DW_CATALOG_TARGET);
	cJSON_DeleteItemFromObjectCaseSensitive(hrest, DW_CATALOG_TARGET);
	cJSON_DeleteItemFromObjectCaseSensitive(wrest, DW_CATALOG_GENERATION);
	cJSON_DeleteItemFromObjectCaseSensitive(hrest, DW_CATALOG_GENERATION);
	if (!cJSON_Compare(wrest, hrest, 1))
		add_change(it, "parameters", NULL, NULL, NULL, 0);
	cJSON_Delete(wrest);
	cJSON_Delete(hrest);
}

/* What Glue holds in one database, by name. */
struct held {
	cJSON *tables;  /* array of Glue Table objects (owned) */
	unsigned long n;
};

static int on_table(void *ud, const cJSON *table)
{
	struct held *h = ud;

	cJSON_AddItemToArray(h->tables, cJSON_Duplicate(table, 1));
	h->n++;
	return 0;
}

static const cJSON *held_find(const struct held *h, const char *db, const char *name)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, h->tables) {
		const char *n = dw_json_str(t, "Name"), *d = dw_json_str(t, "DatabaseName");

		if (n && strcasecmp(n, name) == 0 && (!d || strcasecmp(d, db) == 0))
			return t;
	}
	return NULL;
}

static int managed(const cJSON *t)
{
	const char *m = param(t, DW_CATALOG_MANAGED);

	return m && strcmp(m, "true") == 0;
}

/* Compare one wanted input with what is held (or not) under its name. */
static void plan_one(struct dw_catalog_plan *p, enum dw_catalog_kind kind, const char *db,
		     const char *name, const cJSON *want, const cJSON *have)
{
	struct dw_catalog_item *it;
	cJSON *w, *h;
	char *now;
	const char *stored;

	if (!have) {
		it = add_item(p, kind, DW_CATALOG_CREATE, db, name);
		it->input = cJSON_Duplicate(want, 1);
		return;
	}
	if (!managed(have)) {
		add_item(p, kind, DW_CATALOG_UNMANAGED, db, name);
		return;
	}
	w = canon(want);
	h = canon(have);
	if (!cJSON_Compare(w, h, 1)) {
		it = add_item(p, kind, DW_CATALOG_UPDATE, db, name);
		it->input = cJSON_Duplicate(want, 1);
		if (dw_json_str(have, "VersionId"))
			it->version_id = dw_xstrdup(dw_json_str(have, "VersionId"));
		diff(it, w, h);
		stored = param(have, DW_CATALOG_HASH);
		now = canon_hash(have);
		it->drift = !stored || strcmp(stored, now) != 0;
		free(now);
	}
	cJSON_Delete(w);
	cJSON_Delete(h);
}

static long held_generation(const cJSON *have)
{
	const char *g = have ? param(have, DW_CATALOG_GENERATION) : NULL;

	return g ? strtol(g, NULL, 10) : 0;
}

static int plan_view(struct dw_catalog_plan *p, const struct dw_catalog_model *m,
		     const struct dw_catalog_view *v, const cJSON *have)
{
	const struct dw_catalog_binding *b = find_binding(m, v->logical);
	const struct dw_catalog_table *t = find_table(m, b->database, b->table);
	const cJSON *sd = cJSON_GetObjectItemCaseSensitive(t->input, "StorageDescriptor");
	char target[512];
	const char *held_target = have ? param(have, DW_CATALOG_TARGET) : NULL;
	long gen = held_generation(have);
	cJSON *want;

	/* The generation moves when the target does, so a group left
	 * half-switched shows two generations. */
	snprintf(target, sizeof(target), "%s.%s", b->database, b->table);
	if (!held_target || strcmp(held_target, target) != 0)
		gen++;
	if (view_input(v, b->database, b->table, cJSON_GetObjectItemCaseSensitive(sd, "Columns"),
		       cJSON_GetObjectItemCaseSensitive(t->input, "PartitionKeys"), gen, &want))
		return dw_error_context("view %s.%s", v->database, v->name);
	plan_one(p, DW_CATALOG_VIEW, v->database, v->name, want, have);
	cJSON_Delete(want);
	return 0;
}

static int in_model(const struct dw_catalog_model *m, const char *db, const char *name)
{
	char *n = lower_dup(name);
	int found = find_table(m, db, n) || find_view(m, db, n);

	free(n);
	return found;
}

static void plan_hash(struct dw_catalog_plan *p)
{
	struct dw_buf b;

	dw_buf_init(&b);
	for (size_t i = 0; i < p->n; i++) {
		const struct dw_catalog_item *it = &p->items[i];
		const char *h = it->input ? param(it->input, DW_CATALOG_HASH) : NULL;

		dw_buf_printf(&b, "%s %s %s.%s %s %s %d\n", dw_catalog_kind_name(it->kind),
			      dw_catalog_action_name(it->action), it->database, it->name,
			      h ? h : "-", it->version_id ? it->version_id : "-", it->drift);
	}
	dw_sha256_hex(b.data ? b.data : "", b.len, p->hash);
	dw_buf_release(&b);
}

int dw_catalog_plan_make(struct dw_aws *aws, const struct dw_catalog_model *m,
			 struct dw_catalog_plan *plan)
{
	struct held h = { cJSON_CreateArray(), 0 };
	int rc = 0;

	for (size_t i = 0; i < m->ndatabases && rc == 0; i++) {
		rc = dw_glue_get_tables(aws, m->databases[i], on_table, &h);
		if (rc && dw_error_is("EntityNotFoundException")) {
			dw_error_clear();
			rc = 0;  /* a database apply will create */
		}
	}
	plan->tables_read = h.n;
	for (size_t i = 0; i < m->ntables && rc == 0; i++) {
		const struct dw_catalog_table *t = &m->tables[i];

		plan_one(plan, DW_CATALOG_TABLE, t->ddl.database, t->ddl.name, t->input,
			 held_find(&h, t->ddl.database, t->ddl.name));
	}
	for (size_t i = 0; i < m->nviews && rc == 0; i++)
		rc = plan_view(plan, m, &m->views[i],
			       held_find(&h, m->views[i].database, m->views[i].name));
	if (rc == 0) {
		const cJSON *t;

		cJSON_ArrayForEach(t, h.tables) {
			const char *db = dw_json_str(t, "DatabaseName"), *name = dw_json_str(t, "Name");
			int view = dw_json_str(t, "TableType") &&
				   strcmp(dw_json_str(t, "TableType"), "VIRTUAL_VIEW") == 0;
			struct dw_catalog_item *it;

			if (!db || !name || !managed(t) || in_model(m, db, name))
				continue;
			it = add_item(plan, view ? DW_CATALOG_VIEW : DW_CATALOG_TABLE,
				      DW_CATALOG_DELETE, db, name);
			add_change(it, "delete", NULL, NULL, NULL, 1);
			if (dw_json_str(t, "VersionId"))
				it->version_id = dw_xstrdup(dw_json_str(t, "VersionId"));
		}
	}
	cJSON_Delete(h.tables);
	plan_hash(plan);
	return rc;
}

size_t dw_catalog_count(const struct dw_catalog_plan *p, enum dw_catalog_action a)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += p->items[i].action == a;
	return n;
}

size_t dw_catalog_changes(const struct dw_catalog_plan *p)
{
	return p->n - dw_catalog_count(p, DW_CATALOG_UNMANAGED);
}

/* ---- apply -------------------------------------------------------------- */

int dw_catalog_guard(const struct dw_catalog_plan *p, const struct dw_catalog_apply_opts *o)
{
	size_t dels = dw_catalog_count(p, DW_CATALOG_DELETE);

	if (o->expect_plan && strcmp(o->expect_plan, p->hash) != 0)
		return dw_raise(DW_INVALID, "PlanChanged", "expect_plan",
				"the plan is now %s, not the %s that was shown: plan again and review it",
				p->hash, o->expect_plan);
	for (size_t i = 0; i < p->n; i++) {
		const struct dw_catalog_item *it = &p->items[i];

		if (it->breaking && !o->allow_breaking && !o->skip_breaking)
			return dw_raise(DW_INVALID, "BreakingChange", "allow_breaking",
					"%s %s.%s is a breaking change (%s): give allow_breaking to apply it",
					dw_catalog_action_name(it->action), it->database, it->name,
					it->nchanges ? it->changes[0].change : "delete");
		if (it->drift && !o->overwrite_drift && !(it->breaking && o->skip_breaking && !o->allow_breaking))
			return dw_raise(DW_INVALID, "Drift", "overwrite_drift",
					"%s.%s was changed in Glue since dwops wrote it: "
					"give overwrite_drift to replace that change", it->database, it->name);
	}
	if (o->skip_breaking && !o->allow_breaking)
		dels = 0;  /* every deletion is breaking: none is carried out */
	if (o->max_deletions >= 0 && dels > (size_t)o->max_deletions)
		return dw_raise(DW_INVALID, "TooManyDeletions", "max_deletions",
				"the plan deletes %zu objects, more than max_deletions (%ld)",
				dels, o->max_deletions);
	return 0;
}

struct apply_call {
	struct dw_catalog_item *item;
	int *concurrent;
};

static void apply_done(void *ud, const struct dw_http_response *resp, const struct dw_error *err)
{
	struct apply_call *c = ud;

	(void)resp;
	/* A table already gone when it is deleted is what was asked. */
	if (!err || (c->item->action == DW_CATALOG_DELETE &&
		     strcmp(err->code, "EntityNotFoundException") == 0)) {
		c->item->status = DW_CATALOG_DONE;
	} else {
		c->item->status = DW_CATALOG_FAILED;
		c->item->error = dw_xasprintf("%s: %s", err->code, err->message);
		if (strcmp(err->code, "ConcurrentModificationException") == 0)
			(*c->concurrent)++;
	}
	free(c);
}

static struct dw_aws_request *item_request(const struct dw_catalog_item *it)
{
	cJSON *in = cJSON_CreateObject();
	struct dw_aws_request *req;
	const char *op = it->action == DW_CATALOG_CREATE ? "CreateTable"
		       : it->action == DW_CATALOG_UPDATE ? "UpdateTable" : "DeleteTable";

	cJSON_AddStringToObject(in, "DatabaseName", it->database);
	if (it->action == DW_CATALOG_DELETE)
		cJSON_AddStringToObject(in, "Name", it->name);
	else
		cJSON_AddItemToObject(in, "TableInput", cJSON_Duplicate(it->input, 1));
	/* UpdateTable replaces only the version read, so a change made in
	 * between is refused (ConcurrentModificationException), not lost. */
	if (it->action == DW_CATALOG_UPDATE && it->version_id)
		cJSON_AddStringToObject(in, "VersionId", it->version_id);
	req = dw_glue_request(op, in);
	cJSON_Delete(in);
	return req;
}

static int ensure_databases(struct dw_aws *aws, const struct dw_catalog_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		int seen = 0;

		if (p->items[i].action != DW_CATALOG_CREATE)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = p->items[k].action == DW_CATALOG_CREATE &&
			       strcmp(p->items[k].database, p->items[i].database) == 0;
		if (!seen && dw_glue_ensure_database(aws, p->items[i].database))
			return -1;
	}
	return 0;
}

int dw_catalog_apply(struct dw_aws *aws, struct dw_catalog_plan *p,
		     const struct dw_catalog_apply_opts *o)
{
	static const enum dw_catalog_action phases[] = {
		DW_CATALOG_CREATE, DW_CATALOG_UPDATE, DW_CATALOG_DELETE,
	};
	struct dw_aws_pool *pool;
	int concurrent = 0;
	size_t failed = 0, skipped = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->items[i].breaking && o->skip_breaking && !o->allow_breaking) {
			p->items[i].status = DW_CATALOG_SKIPPED;
			skipped++;
		}
	if (ensure_databases(aws, p))
		return -1;
	pool = dw_aws_pool_new(aws, o->concurrency > 0 ? o->concurrency : 16);
	for (size_t ph = 0; ph < 3 && failed == 0; ph++) {
		for (size_t i = 0; i < p->n; i++) {
			struct dw_catalog_item *it = &p->items[i];
			struct apply_call *c;

			if (it->action != phases[ph] || it->status == DW_CATALOG_SKIPPED)
				continue;
			c = dw_xmalloc(sizeof(*c));
			c->item = it;
			c->concurrent = &concurrent;
			dw_aws_pool_submit(pool, item_request(it), apply_done, c);
		}
		/* A phase ends before the next starts: views are made only over
		 * tables that exist, and nothing is deleted after a failed
		 * create or update. */
		dw_aws_pool_wait(pool, 0);
		for (size_t i = 0; i < p->n; i++)
			if (p->items[i].action == phases[ph] && p->items[i].status == DW_CATALOG_FAILED)
				failed++;
		if (failed == 0 && dw_catalog_count(p, phases[ph]))
			dw_info("catalog: %zu %s done", dw_catalog_count(p, phases[ph]),
				dw_catalog_action_name(phases[ph]));
	}
	dw_aws_pool_free(pool);
	if (concurrent)
		return dw_raise(DW_TRANSIENT, "ConcurrentModification", "",
				"%d objects were changed by someone else while applying; plan again", concurrent);
	if (failed)
		return dw_raise(DW_FAILED, "ApplyIncomplete", "",
				"%zu of the plan's changes failed; later phases were not started", failed);
	if (skipped)
		return dw_raise(DW_FAILED, "BreakingChangesPending", "",
				"%zu breaking changes were left for a reviewed apply (allow_breaking); "
				"the other changes were applied", skipped);
	return 0;
}

/* ---- remap -------------------------------------------------------------- */

void dw_catalog_remap_release(struct dw_catalog_remap *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->views[i].database);
		free(r->views[i].name);
		free(r->views[i].from);
		free(r->views[i].to);
		free(r->views[i].version_from);
		free(r->views[i].version_to);
	}
	free(r->views);
	memset(r, 0, sizeof(*r));
}

/* The TableInput part of a Glue Table, to write it back as it was. */
static cJSON *as_input(const cJSON *table)
{
	static const char *const keep[] = {
		"Name", "Description", "Owner", "Retention", "StorageDescriptor", "PartitionKeys",
		"ViewOriginalText", "ViewExpandedText", "TableType", "Parameters", "TargetTable", NULL,
	};
	cJSON *in = cJSON_CreateObject();

	for (const char *const *k = keep; *k; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(table, *k);

		if (v)
			cJSON_AddItemToObject(in, *k, cJSON_Duplicate(v, 1));
	}
	return in;
}

/* Every column a view selects is in the new table with a type that holds
 * what the view shows today. */
static int remap_check(const struct dw_catalog_view *v, const cJSON *held_view,
		       const cJSON *cols, const cJSON *keys)
{
	const cJSON *sd = cJSON_GetObjectItemCaseSensitive(held_view, "StorageDescriptor");
	struct view_col *vc;
	size_t n;
	const cJSON *c;

	if (view_columns(v, cols, keys, &vc, &n))
		return -1;
	for (size_t i = 0; i < n; i++)
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(sd, "Columns")) {
			const char *name = dw_json_str(c, "Name"), *type = dw_json_str(c, "Type");

			if (name && type && strcasecmp(name, vc[i].name) == 0 &&
			    !dw_catalog_type_widens(type, vc[i].type)) {
				int rc = dw_raise(DW_INVALID, "IncompatibleColumn", "to",
						  "view %s.%s shows %s as %s; the new table has %s",
						  v->database, v->name, name, type, vc[i].type);
				free(vc);
				return rc;
			}
		}
	free(vc);
	return 0;
}

struct remap_view {
	const struct dw_catalog_view *v;
	cJSON *held;    /* GetTable's Table */
	cJSON *want;    /* the new input */
};

static int remap_prepare(struct dw_aws *aws, const struct dw_catalog_model *m, const char *logical,
			 const cJSON *target, struct remap_view **out, size_t *n, long *gen)
{
	const cJSON *sd = cJSON_GetObjectItemCaseSensitive(target, "StorageDescriptor");
	const cJSON *cols = cJSON_GetObjectItemCaseSensitive(sd, "Columns");
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(target, "PartitionKeys");
	struct remap_view *rv = dw_xcalloc(m->nviews + 1, sizeof(*rv));
	int rc = 0;

	*n = 0;
	*gen = 0;
	for (size_t i = 0; i < m->nviews && rc == 0; i++) {
		const struct dw_catalog_view *v = &m->views[i];
		cJSON *held = NULL;

		if (strcmp(v->logical, logical) != 0)
			continue;
		rc = dw_glue_get_table(aws, v->database, v->name, &held);
		if (rc == 0 && !held)
			rc = dw_raise(DW_INVALID, "ViewNotFound", "logical",
				      "view %s.%s is not in Glue yet: apply the model first", v->database, v->name);
		else if (rc == 0 && !managed(held))
			rc = dw_raise(DW_INVALID, "NotManaged", "logical",
				      "%s.%s is not managed by dwops: it is left alone", v->database, v->name);
		if (rc == 0)
			rc = remap_check(v, held, cols, keys);
		rv[*n].v = v;
		rv[*n].held = held;
		(*n)++;
		if (rc == 0 && held_generation(held) > *gen)
			*gen = held_generation(held);
	}
	(*gen)++;
	for (size_t i = 0; i < *n && rc == 0; i++)
		rc = view_input(rv[i].v, dw_json_str(target, "DatabaseName"), dw_json_str(target, "Name"),
				cols, keys, *gen, &rv[i].want);
	if (rc == 0 && *n == 0)
		rc = dw_raise(DW_INVALID, "NoViews", "logical", "no view of the model selects from \"%s\"", logical);
	*out = rv;
	return rc;
}

static void remap_views_free(struct remap_view *rv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cJSON_Delete(rv[i].held);
		cJSON_Delete(rv[i].want);
	}
	free(rv);
}

static void record(struct dw_catalog_remap *r, const struct remap_view *rv, const char *to)
{
	struct dw_catalog_remapped *x;
	const char *from = param(rv->held, DW_CATALOG_TARGET);
	const char *ver = dw_json_str(rv->held, "VersionId");

	r->views = dw_xrealloc(r->views, (r->n + 1) * sizeof(*r->views));
	x = &r->views[r->n++];
	memset(x, 0, sizeof(*x));
	x->database = dw_xstrdup(rv->v->database);
	x->name = dw_xstrdup(rv->v->name);
	x->from = dw_xstrdup(from ? from : "");
	x->to = dw_xstrdup(to);
	x->version_from = dw_xstrdup(ver ? ver : "");
	x->generation = r->generation;
}

static void put_back(struct dw_aws *aws, struct dw_catalog_remap *r, struct remap_view *rv, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		cJSON *old = as_input(rv[i].held);

		if (dw_glue_update_table(aws, rv[i].v->database, old, NULL))
			dw_err("remap: putting %s.%s back failed: %s (its dwops_target says where it points)",
				 rv[i].v->database, rv[i].v->name, dw_error_last()->message);
		else
			r->views[i].rolled_back = 1;
		cJSON_Delete(old);
	}
}

/* UpdateTable answers nothing: the new VersionId is read back. */
static int read_version(struct dw_aws *aws, const struct dw_catalog_view *v, char **out)
{
	cJSON *t = NULL;
	const char *ver;

	if (dw_glue_get_table(aws, v->database, v->name, &t))
		return -1;
	ver = dw_json_str(t, "VersionId");
	*out = ver ? dw_xstrdup(ver) : NULL;
	cJSON_Delete(t);
	return 0;
}

int dw_catalog_remap_run(struct dw_aws *aws, const struct dw_catalog_model *m,
			 const char *logical, const char *database, const char *table,
			 int dry_run, struct dw_catalog_remap *out)
{
	cJSON *target = NULL;
	struct remap_view *rv = NULL;
	size_t n = 0;
	char to[512];
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(to, sizeof(to), "%s.%s", database, table);
	rc = dw_glue_get_table(aws, database, table, &target);
	if (rc == 0 && !target)
		rc = dw_raise(DW_INVALID, "TableNotFound", "to", "table %s is not in Glue", to);
	if (rc == 0)
		rc = remap_prepare(aws, m, logical, target, &rv, &n, &out->generation);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct dw_error e;

		record(out, &rv[i], to);
		if (dry_run)
			continue;
		rc = dw_glue_update_table(aws, rv[i].v->database, rv[i].want,
					  dw_json_str(rv[i].held, "VersionId"));
		if (rc == 0)
			rc = read_version(aws, rv[i].v, &out->views[i].version_to);
		if (rc) {
			dw_error_save(&e);
			dw_err("remap: view %s.%s failed (%s): putting the %zu switched back",
				 rv[i].v->database, rv[i].v->name, e.code, i);
			put_back(aws, out, rv, i);
			dw_raise_(DW_FAILED, "RemapRolledBack", "",
				  "view %s.%s could not be switched to %s (%s: %s); the views switched before it were put back",
				  rv[i].v->database, rv[i].v->name, to, e.code, e.message);
		}
	}
	remap_views_free(rv, n);
	cJSON_Delete(target);
	return rc;
}
