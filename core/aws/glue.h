/* dw/glue.h - AWS Glue (JSON 1.1 protocol). */
#ifndef DW_GLUE_H
#define DW_GLUE_H

#include "aws/aws.h"

/* Any Glue operation: "GetTable", "CreateTable", ... */
int dw_glue_call(struct dw_aws *aws, const char *operation, const cJSON *in,
		 cJSON **out);

/* A Glue request for a pool (dw_aws_pool_submit); in is borrowed. */
struct dw_aws_request *dw_glue_request(const char *operation, const cJSON *in);

/* GetTable: *table is Glue's Table object (caller deletes), or NULL when
 * the table (or its database) does not exist. */
int dw_glue_get_table(struct dw_aws *aws, const char *database, const char *name,
		      cJSON **table);
/* UpdateTable with table_input (borrowed); version_id, when not NULL, is
 * the VersionId the update must replace: Glue refuses with
 * ConcurrentModificationException when the table moved on since. */
int dw_glue_update_table(struct dw_aws *aws, const char *database,
			 const cJSON *table_input, const char *version_id);

/* GetTables of a database across every page: on_table gets each table
 * object as Glue describes it (borrowed); it returns 0 to go on or -1 to
 * stop with its error raised. */
typedef int (*dw_glue_table_fn)(void *ud, const cJSON *table);
int dw_glue_get_tables(struct dw_aws *aws, const char *database,
		       dw_glue_table_fn on_table, void *ud);
int dw_glue_delete_table(struct dw_aws *aws, const char *database,
			 const char *table);

/* The readers of the two answers above, as the calls use them (and the
 * fuzz harness reads hostile ones): a GetTable answer's Table, detached
 * (the caller deletes it; NULL when there is none); a GetTables page's
 * TableList items through on_table, then *token the page's NextToken (a
 * copy the caller frees; NULL when it is the last page, empty, or
 * on_table stopped). */
cJSON *dw_glue_read_table(cJSON *answer);
int dw_glue_read_tables(const cJSON *answer, dw_glue_table_fn on_table, void *ud,
			char **token);

/* CreateDatabase unless it exists. */
int dw_glue_ensure_database(struct dw_aws *aws, const char *database);
/* CreateTable, or UpdateTable when the table exists; *created says which.
 * table_input is Glue's TableInput (borrowed). */
int dw_glue_put_table(struct dw_aws *aws, const char *database,
		      const cJSON *table_input, int *created);

/* One crawler run, started and waited for: a crawl already running is
 * waited out first (its data may predate ours).  Progress is logged every
 * poll_s seconds; a failed or cancelled crawl raises DW_FAILED with Glue's
 * message, no end within timeout_s raises DW_TRANSIENT "WaitTimeout". */
struct dw_glue_crawl {
	char status[32];  /* the crawl's: SUCCEEDED (COMPLETED on moto), ... */
	long elapsed_s;
};
int dw_glue_crawl(struct dw_aws *aws, const char *crawler, int poll_s,
		  int timeout_s, struct dw_glue_crawl *out);

/* The waiter's reading of one GetCrawler Crawler object (before: the last
 * crawl's StartTime when ours was started, or NULL): 1 when our crawl
 * ended, with out->status its LastCrawl.Status (cut to its buffer) and
 * *rc 0 (SUCCEEDED / COMPLETED) or -1 with CrawlFailed / Canceled raised;
 * 0 while it runs (State not READY, or LastCrawl still the one before). */
int dw_glue_crawl_ended(const char *name, const cJSON *crawler, const cJSON *before,
			int *rc, struct dw_glue_crawl *out);

#endif
