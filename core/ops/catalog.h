/* ops/catalog.h - the Glue Data Catalog as code.
 *
 * A model names producer tables (in dw-ddl's table description), consumer
 * views over logical tables, and bindings from each logical table to the
 * physical Glue table serving it now.  plan compares the model with what
 * Glue holds (one GetTables listing per page per database), apply carries a
 * plan out (creates, then updates, then deletes, with calls in flight at
 * once), remap points a logical table's views at a new physical table in one
 * step, putting the switched views back when one fails.
 *
 * Only objects carrying the dwops_managed parameter are ever updated or
 * deleted.  Each one also carries dwops_hash, the hash of what dwops wrote,
 * so a change made by someone else since is seen as drift. */
#ifndef DW_OPS_CATALOG_H
#define DW_OPS_CATALOG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include "aws/aws.h"
#include "ops/ddl.h"

/* Parameters dwops stamps on what it manages. */
#define DW_CATALOG_MANAGED "dwops_managed"
#define DW_CATALOG_HASH "dwops_hash"
#define DW_CATALOG_LOGICAL "dwops_logical"
#define DW_CATALOG_TARGET "dwops_target"
#define DW_CATALOG_GENERATION "dwops_generation"

/* Limits that keep a model's plan within one run's memory and time. */
#define DW_CATALOG_MAX_TABLES 20000
#define DW_CATALOG_MAX_VIEWS 20000

struct dw_catalog_column {
	char *name;      /* as the view shows it */
	char *source;    /* the physical column it selects */
};

struct dw_catalog_filter {
	char *column;
	char *op;        /* = != < <= > >= is_null not_null */
	cJSON *value;    /* string, number or boolean; NULL for the null tests */
};

struct dw_catalog_view {
	char *database, *name;
	char *logical;   /* the logical table it selects from */
	char *consumer, *group;
	char *comment;
	struct dw_catalog_column *columns; /* none: every column */
	size_t ncolumns;
	struct dw_catalog_filter *filters; /* ANDed */
	size_t nfilters;
};

struct dw_catalog_table {
	char *dataset;
	struct dw_ddl_table ddl;  /* dialect glue; database set */
	cJSON *input;             /* Glue TableInput made from it */
};

struct dw_catalog_binding {
	char *logical;
	char *database, *table;  /* the physical table */
};

struct dw_catalog_model {
	struct dw_catalog_table *tables;
	size_t ntables;
	struct dw_catalog_view *views;
	size_t nviews;
	struct dw_catalog_binding *bindings;
	size_t nbindings;
	char **databases;         /* every database in scope, once */
	size_t ndatabases;
};

void dw_catalog_model_init(struct dw_catalog_model *m);
void dw_catalog_model_release(struct dw_catalog_model *m);
/* Read and check a model (inline object or parsed file): raises DW_INVALID
 * naming the field by its path ("model.datasets[0].tables[2].columns[1]").
 * Every view's logical table must be bound, every binding must name a
 * table of the model or (for remaps in progress) a database in scope. */
int dw_catalog_model_read(struct dw_catalog_model *m, const cJSON *model,
			  const char *field);

enum dw_catalog_kind { DW_CATALOG_TABLE, DW_CATALOG_VIEW };
enum dw_catalog_action {
	DW_CATALOG_CREATE,
	DW_CATALOG_UPDATE,
	DW_CATALOG_DELETE,
	DW_CATALOG_UNMANAGED, /* a model's name held by an object dwops does not manage: left alone */
};
enum dw_catalog_status {
	DW_CATALOG_PLANNED,
	DW_CATALOG_DONE,
	DW_CATALOG_FAILED,
	DW_CATALOG_SKIPPED, /* breaking, left for a reviewed apply (skip_breaking) */
};

struct dw_catalog_change {
	char *change;    /* add_column, remove_column, change_type, partitions, location,
			    storage, parameters, view_sql, target, description */
	char *column;    /* or NULL */
	char *from, *to; /* or NULL */
	int breaking;
};

struct dw_catalog_item {
	enum dw_catalog_kind kind;
	enum dw_catalog_action action;
	char *database, *name;
	struct dw_catalog_change *changes;
	size_t nchanges;
	int breaking;
	int drift;           /* changed in Glue since dwops wrote it */
	cJSON *input;        /* the TableInput to write (create, update) */
	char *version_id;    /* what the update expects to replace */
	enum dw_catalog_status status;
	char *error;
};

struct dw_catalog_plan {
	struct dw_catalog_item *items;
	size_t n, cap;
	char hash[65];       /* over the items' canonical text */
	unsigned long tables_read;
};

void dw_catalog_plan_init(struct dw_catalog_plan *p);
void dw_catalog_plan_release(struct dw_catalog_plan *p);

/* Compare the model with Glue (reads only). */
int dw_catalog_plan_make(struct dw_aws *aws, const struct dw_catalog_model *m,
			 struct dw_catalog_plan *plan);
size_t dw_catalog_count(const struct dw_catalog_plan *p, enum dw_catalog_action a);
/* Items that apply would change (not the unmanaged ones). */
size_t dw_catalog_changes(const struct dw_catalog_plan *p);

struct dw_catalog_apply_opts {
	int allow_breaking;
	int skip_breaking;        /* apply the rest, leave breaking items planned */
	int overwrite_drift;
	long max_deletions;
	const char *expect_plan;  /* hash the plan must still have, or NULL */
	int concurrency;
};
/* The guards (expect_plan, breaking, drift, max_deletions): DW_INVALID,
 * nothing changed, when one refuses. */
int dw_catalog_guard(const struct dw_catalog_plan *p, const struct dw_catalog_apply_opts *o);
/* Creates, then updates, then deletes; each phase's calls in flight at once.
 * Every outcome is recorded in its item; a ConcurrentModificationException
 * raises DW_TRANSIENT (a re-run re-plans).  With skip_breaking the breaking
 * items are left as they are (status skipped) and DW_FAILED
 * "BreakingChangesPending" is raised after the others were applied. */
int dw_catalog_apply(struct dw_aws *aws, struct dw_catalog_plan *p,
		     const struct dw_catalog_apply_opts *o);

struct dw_catalog_remapped {
	char *database, *name;
	char *from, *to;            /* physical tables, "db.table" */
	char *version_from, *version_to;
	long generation;
	int rolled_back;
};
struct dw_catalog_remap {
	struct dw_catalog_remapped *views;
	size_t n;
	long generation;
};
void dw_catalog_remap_release(struct dw_catalog_remap *r);
/* Point every view of logical at database.table: checks first (the table
 * exists and has each selected column with a compatible type; every view
 * exists and is managed), then updates the views one by one; when one
 * fails the switched ones are put back and DW_FAILED "RemapRolledBack" is
 * raised. */
int dw_catalog_remap_run(struct dw_aws *aws, const struct dw_catalog_model *m,
			 const char *logical, const char *database, const char *table,
			 int dry_run, struct dw_catalog_remap *out);

/* The view's SQL for Athena (CREATE OR REPLACE VIEW) and Snowflake
 * (CREATE OR REPLACE VIEW ... COPY GRANTS), as new strings. */
char *dw_catalog_view_sql(const struct dw_catalog_model *m, const struct dw_catalog_view *v,
			  enum dw_ddl_dialect d);

/* Names for the result. */
const char *dw_catalog_action_name(enum dw_catalog_action a);
const char *dw_catalog_kind_name(enum dw_catalog_kind k);
const char *dw_catalog_status_name(enum dw_catalog_status s);

/* Hive type widening: 1 when every value of from fits in to (int ->
 * bigint, float -> double, decimal(p,s) -> decimal(p',s') with room). */
int dw_catalog_type_widens(const char *from, const char *to);
/* Hive type text (struct<a:string>) as Presto's (row(a varchar)). */
char *dw_catalog_presto_type(const char *hive);

#endif
