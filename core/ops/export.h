/* dw/export.h - RDS snapshot exports to S3 (StartExportTask and friends)
 * and their promotion to a stable prefix.
 *
 * An export task's id is derived from the source and the snapshot's time
 * in UTC, once, here: "<source>-YYYY-MM-DD-HHMMSS".  RDS writes the export
 * under s3://<bucket>/<prefix>/<task id>/<database>/<schema.table>/, so the
 * id is also the dated folder, and starting twice for one snapshot finds
 * the task already there. */
#ifndef DW_EXPORT_H
#define DW_EXPORT_H

#include "base/json.h"
#include <time.h>
#include "aws/aws.h"
#include "aws/rds.h"

#define DW_EXPORT_ID_MAX DW_RDS_EXPORT_ID_MAX

/* The id for source's snapshot taken at t, into out. */
int dw_export_task_id(const char *source, time_t snapshot_time,
		      char out[DW_EXPORT_ID_MAX + 1]);

/* DescribeExportTasks for one id; *found = 0 (and 0 returned) when RDS
 * knows no such task. */
int dw_export_describe(struct dw_aws *aws, const char *id,
		       struct dw_rds_export_task *out, int *found);

struct dw_export_spec {
	const char *source_arn;  /* the snapshot's ARN */
	const char *s3_bucket;
	const char *s3_prefix;   /* may be NULL or "" */
	const char *iam_role_arn;
	const char *kms_key_id;
	const char *const *export_only; /* may be NULL */
	size_t n_export_only;
};

/* Start the export task id unless it exists; *started says which. */
int dw_export_start(struct dw_aws *aws, const char *id,
		    const struct dw_export_spec *spec,
		    struct dw_rds_export_task *out, int *started);
int dw_export_cancel(struct dw_aws *aws, const char *id,
		     struct dw_rds_export_task *out);

/* Whether a task has finished: 1 with *rc 0 when COMPLETE, 1 with *rc -1
 * and ExportFailed / Canceled raised (with RDS's cause), 0 while it
 * is still starting or in progress. */
int dw_export_finished(const struct dw_rds_export_task *t, int *rc);

/* Poll every poll_s seconds, logging progress, until COMPLETE (0);
 * FAILED or CANCELED raise DW_FAILED with the cause; no end within
 * timeout_s raises DW_TRANSIENT "WaitTimeout". */
int dw_export_wait(struct dw_aws *aws, const char *id, int poll_s,
		   int timeout_s, struct dw_rds_export_task *out);

/* s3://<bucket>/<prefix>/<id>/ as bucket and key prefix (new strings). */
void dw_export_folder(const struct dw_rds_export_task *t, char **bucket,
		      char **prefix);

/* The name of the marker promote leaves under main_prefix. */
#define DW_EXPORT_MARKER "_dwops_export.json"

struct dw_export_promotion {
	unsigned long copied, unchanged, stale_deleted, source_deleted;
	long long bytes_copied;
	int already_done;
};

/* How promote copies (see struct dw_s3sync); 0 for the defaults. */
struct dw_export_copying {
	int concurrency;
	long long multipart_threshold, part_size; /* bytes */
};

/* Move the COMPLETE export's folder onto s3://<its bucket>/<main_prefix>/
 * (see dw/s3sync.h); version orders promotions (the snapshot's time). */
int dw_export_promote(struct dw_aws *aws, const struct dw_rds_export_task *t,
		      const char *main_prefix, const char *version,
		      const struct dw_export_copying *copying,
		      struct dw_export_promotion *out);

/* 1 when promote could delete an export in this layout, else 0.  Exports
 * live under s3_prefix/<task id>/, the promoted copy under main_prefix/;
 * compared by path segments (empty segments ignored, so "a//b/" is "a/b"):
 * - main_prefix at or below s3_prefix ("rds" / "rds/current"; and an empty
 *   s3_prefix, the bucket's root, is every folder's ancestor:
 *   "" / "rds-snapshot-export"): main_prefix is then the folder of the
 *   export whose task id is its next segment, or inside it, and promote
 *   deletes what it finds there as stale;
 * - s3_prefix at or below main_prefix ("rds" / "" , "a" / "a/exports"):
 *   every export lies inside main_prefix and is deleted as stale.
 * Prefixes that merely share characters ("rds" / "rds-snapshot-export")
 * do not overlap. */
int dw_export_prefixes_overlap(const char *s3_prefix, const char *main_prefix);

/* main_prefix normalised: no leading '/', one trailing '/'.  DW_INVALID
 * (for field) when empty. */
int dw_export_main_prefix(const char *main_prefix, const char *field,
			  char **out);

/* Catalog the promoted export without a crawler: one Glue table per
 * <database>/<schema.table>/ folder under s3://bucket/main_prefix (listed
 * with a delimiter), Parquet, created or updated in database (created if
 * missing).  Tables are named <table_prefix><schema>_<table>, or
 * <table_prefix><database>_<schema>_<table> when the export holds several
 * databases, in lower case with other characters as '_'.  Columns come
 * from the export_tables_info_*.json files RDS writes beside the data
 * (promoted with it), when present.  Each table written is appended to
 * tables. */
/* One Glue table dw_export_catalog wrote. */
struct dw_export_table {
	char *name;
	char *location;   /* s3://bucket/main_prefix/<database>/<schema.table>/ */
	int created;      /* 1 created, 0 updated */
	long long columns; /* from the export's table files; 0 when none */
};

/* The tables written, in order; kept when it fails midway.  Zero-initialise;
 * release with dw_export_tables_release. */
struct dw_export_tables {
	struct dw_export_table *v;
	size_t n;
};
void dw_export_tables_release(struct dw_export_tables *t);

int dw_export_catalog(struct dw_aws *aws, const char *bucket,
		      const char *main_prefix, const char *database,
		      const char *table_prefix, struct dw_export_tables *tables);

#endif
