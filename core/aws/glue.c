/* glue.c - AWS Glue over the JSON 1.1 protocol. */
#include "aws/glue.h"
#include "base/timefmt.h"
#include "base/log.h"
#include "base/wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int dw_glue_call(struct dw_aws *aws, const char *operation, const cJSON *in,
		 cJSON **out)
{
	char target[128];

	snprintf(target, sizeof(target), "AWSGlue.%s", operation);
	return dw_aws_json(aws, "glue", "1.1", target, in, out);
}

struct dw_aws_request *dw_glue_request(const char *operation, const cJSON *in)
{
	char target[128];

	snprintf(target, sizeof(target), "AWSGlue.%s", operation);
	return dw_aws_json_request("glue", "1.1", target, in);
}

int dw_glue_get_table(struct dw_aws *aws, const char *database, const char *name,
		      cJSON **table)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	*table = NULL;
	cJSON_AddStringToObject(in, "DatabaseName", database);
	cJSON_AddStringToObject(in, "Name", name);
	rc = dw_glue_call(aws, "GetTable", in, &out);
	cJSON_Delete(in);
	if (rc && dw_error_is("EntityNotFoundException")) {
		dw_error_clear();
		cJSON_Delete(out);
		return 0;
	}
	if (rc == 0) {
		*table = dw_glue_read_table(out);
		if (!*table)
			rc = dw_fail("InvalidResponse", "GetTable of %s.%s answered without a Table", database, name);
	}
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("reading Glue table %s.%s", database, name);
	return 0;
}

cJSON *dw_glue_read_table(cJSON *answer)
{
	return cJSON_DetachItemFromObjectCaseSensitive(answer, "Table");
}

int dw_glue_update_table(struct dw_aws *aws, const char *database,
			 const cJSON *table_input, const char *version_id)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	const char *name = dw_json_str(table_input, "Name");
	int rc;

	cJSON_AddStringToObject(in, "DatabaseName", database);
	cJSON_AddItemToObject(in, "TableInput", cJSON_Duplicate(table_input, 1));
	if (version_id)
		cJSON_AddStringToObject(in, "VersionId", version_id);
	rc = dw_glue_call(aws, "UpdateTable", in, &out);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("updating Glue table %s.%s", database, name ? name : "?");
	return 0;
}

/* One GetTables page; *token is replaced by the next page's token. */
static int tables_page(struct dw_aws *aws, const char *database, char **token,
		       dw_glue_table_fn on_table, void *ud)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(in, "DatabaseName", database);
	cJSON_AddNumberToObject(in, "MaxResults", 100);
	if (*token)
		cJSON_AddStringToObject(in, "NextToken", *token);
	rc = dw_glue_call(aws, "GetTables", in, &out);
	cJSON_Delete(in);
	free(*token);
	*token = NULL;
	if (rc == 0)
		rc = dw_glue_read_tables(out, on_table, ud, token);
	cJSON_Delete(out);
	return rc;
}

int dw_glue_read_tables(const cJSON *answer, dw_glue_table_fn on_table, void *ud,
			char **token)
{
	const cJSON *table;
	int rc = 0;

	*token = NULL;
	cJSON_ArrayForEach(table, cJSON_GetObjectItemCaseSensitive(answer, "TableList")) {
		if (rc == 0)
			rc = on_table(ud, table);
	}
	const char *next = dw_json_str(answer, "NextToken");
	if (rc == 0 && next && *next)
		*token = dw_xstrdup(next);
	return rc;
}

int dw_glue_get_tables(struct dw_aws *aws, const char *database,
		       dw_glue_table_fn on_table, void *ud)
{
	char *token = NULL;

	do {
		if (tables_page(aws, database, &token, on_table, ud))
			return dw_error_context("listing the tables of %s", database);
	} while (token);
	return 0;
}

int dw_glue_delete_table(struct dw_aws *aws, const char *database,
			 const char *table)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(in, "DatabaseName", database);
	cJSON_AddStringToObject(in, "Name", table);
	rc = dw_glue_call(aws, "DeleteTable", in, &out);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("dropping table %s.%s", database, table);
	return 0;
}

int dw_glue_ensure_database(struct dw_aws *aws, const char *database)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "DatabaseInput"), "Name", database);
	rc = dw_glue_call(aws, "CreateDatabase", in, &out);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc && dw_error_is("AlreadyExistsException")) {
		dw_error_clear();
		return 0;
	}
	if (rc)
		return dw_error_context("creating Glue database %s", database);
	dw_info("created Glue database %s", database);
	return 0;
}

int dw_glue_put_table(struct dw_aws *aws, const char *database,
		      const cJSON *table_input, int *created)
{
	const char *name = dw_json_str(table_input, "Name");
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(in, "DatabaseName", database);
	/* Borrowed, not copied: deleting in leaves table_input alone. */
	cJSON_AddItemReferenceToObject(in, "TableInput", (cJSON *)table_input);
	rc = dw_glue_call(aws, "CreateTable", in, &out);
	*created = rc == 0;
	if (rc && dw_error_is("AlreadyExistsException")) {
		dw_error_clear();
		cJSON_Delete(out);
		out = NULL;
		rc = dw_glue_call(aws, "UpdateTable", in, &out);
	}
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("writing Glue table %s.%s", database, name ? name : "?");
	return 0;
}

/* ---- crawlers ---------------------------------------------------------- */

/* GetCrawler's Crawler object (the caller deletes it). */
static int get_crawler(struct dw_aws *aws, const char *name, cJSON **crawler)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(in, "Name", name);
	rc = dw_glue_call(aws, "GetCrawler", in, &out);
	cJSON_Delete(in);
	*crawler = rc == 0 ? cJSON_DetachItemFromObjectCaseSensitive(out, "Crawler") : NULL;
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("looking at crawler %s", name);
	if (!*crawler)
		return dw_fail("InvalidResponse", "GetCrawler %s answered without a crawler", name);
	return 0;
}

static const char *crawler_state(const cJSON *crawler)
{
	return dw_json_str(crawler, "State") ?: "";
}

static cJSON *last_crawl(const cJSON *crawler, const char *member)
{
	return cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(crawler, "LastCrawl"), member);
}

static const char *last_crawl_str(const cJSON *crawler, const char *member)
{
	const cJSON *v = last_crawl(crawler, member);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Start a crawl once the crawler is READY; *before is the last crawl's
 * start time (a copy the caller deletes, or NULL) to tell ours apart. */
struct start_poll {
	struct dw_aws *aws;
	const char *name;
	cJSON **before;
};

static enum dw_wait_state poll_start(void *ud, struct dw_wait_poll *p)
{
	struct start_poll *sp = ud;
	cJSON *crawler, *in, *out = NULL;

	if (get_crawler(sp->aws, sp->name, &crawler))
		return DW_WAIT_FAILED;
	int ready = strcmp(crawler_state(crawler), "READY") == 0;
	if (ready) {
		const cJSON *last = last_crawl(crawler, "StartTime");
		*sp->before = last ? cJSON_Duplicate(last, 1) : NULL;
		in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "Name", sp->name);
		int rc = dw_glue_call(sp->aws, "StartCrawler", in, &out);
		cJSON_Delete(in);
		cJSON_Delete(out);
		if (rc == 0) {
			dw_info("started crawler %s", sp->name);
			cJSON_Delete(crawler);
			return DW_WAIT_DONE;
		}
		cJSON_Delete(*sp->before);
		*sp->before = NULL;
		if (!dw_error_is("CrawlerRunningException")) {
			cJSON_Delete(crawler);
			dw_error_context("starting crawler %s", sp->name);
			return DW_WAIT_FAILED;
		}
		dw_error_clear();
	}
	snprintf(p->status, sizeof(p->status), "%s with another crawl, waiting for it to end",
		 ready ? "busy" : crawler_state(crawler));
	cJSON_Delete(crawler);
	return DW_WAIT_PENDING;
}

int dw_glue_crawl_ended(const char *name, const cJSON *crawler, const cJSON *before,
			int *rc, struct dw_glue_crawl *out)
{
	const cJSON *started = last_crawl(crawler, "StartTime");
	const char *status = last_crawl_str(crawler, "Status");
	const char *message = last_crawl_str(crawler, "ErrorMessage");

	if (strcmp(crawler_state(crawler), "READY") != 0 || !started ||
	    (before && cJSON_Compare(started, before, 1)))
		return 0;
	snprintf(out->status, sizeof(out->status), "%s", status);
	if (strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "COMPLETED") == 0)
		*rc = 0;
	else if (strcmp(status, "FAILED") == 0)
		*rc = dw_fail("CrawlFailed", "crawler %s failed: %s", name, *message ? message : "no message");
	else
		*rc = dw_fail("Canceled", "the crawl of %s ended %s%s%s", name, status,
			      *message ? ": " : "", message);
	return 1;
}

struct crawl_poll {
	struct dw_aws *aws;
	const char *name;
	const cJSON *before;
	time_t begin;
	int rc;
	struct dw_glue_crawl *out;
};

static enum dw_wait_state poll_crawl(void *ud, struct dw_wait_poll *p)
{
	struct crawl_poll *cp = ud;
	cJSON *c;

	if (get_crawler(cp->aws, cp->name, &c))
		return DW_WAIT_FAILED;
	cp->out->elapsed_s = (long)(time(NULL) - cp->begin);
	int ended = dw_glue_crawl_ended(cp->name, c, cp->before, &cp->rc, cp->out);
	if (!ended)
		snprintf(p->status, sizeof(p->status), "%s", crawler_state(c));
	cJSON_Delete(c);
	if (!ended)
		return DW_WAIT_PENDING;
	return cp->rc == 0 ? DW_WAIT_DONE : DW_WAIT_FAILED;
}

/* One time limit for both waits: a busy crawler's, then our crawl's. */
int dw_glue_crawl(struct dw_aws *aws, const char *crawler, int poll_s,
		  int timeout_s, struct dw_glue_crawl *out)
{
	char what[300];
	cJSON *before = NULL;
	struct start_poll sp = { aws, crawler, &before };
	struct crawl_poll cp = { .aws = aws, .name = crawler, .begin = time(NULL), .out = out };
	struct dw_wait w = {
		.what = what, .interval_ms = poll_s * 1000L, .timeout_s = timeout_s,
		.start = cp.begin, .timeout_hint = "; wait again later",
	};
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(what, sizeof(what), "crawler %s", crawler);
	if (dw_wait_until(&w, poll_start, &sp))
		return -1;
	cp.before = before;
	rc = dw_wait_until(&w, poll_crawl, &cp);
	cJSON_Delete(before);
	if (rc == 0)
		dw_info("crawler %s finished (%s) in %lds", crawler, out->status, out->elapsed_s);
	return rc;
}
