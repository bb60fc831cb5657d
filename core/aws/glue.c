/* glue.c - AWS Glue over the JSON 1.1 protocol. */
#include "aws/glue.h"
#include "base/timefmt.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int dw_glue_call(struct dw_aws *aws, const char *operation, const json_t *in,
		 json_t **out)
{
	char target[128];

	snprintf(target, sizeof(target), "AWSGlue.%s", operation);
	return dw_aws_json(aws, "glue", "1.1", target, in, out);
}

/* One GetTables page; *token is replaced by the next page's token. */
static int tables_page(struct dw_aws *aws, const char *database, char **token,
		       dw_glue_table_fn on_table, void *ud)
{
	json_t *in = json_pack("{s:s, s:i}", "DatabaseName", database, "MaxResults", 100);
	json_t *out = NULL, *table;
	size_t i;
	int rc;

	if (*token)
		json_object_set_new(in, "NextToken", json_string(*token));
	rc = dw_glue_call(aws, "GetTables", in, &out);
	json_decref(in);
	free(*token);
	*token = NULL;
	json_array_foreach(json_object_get(out, "TableList"), i, table) {
		if (rc == 0)
			rc = on_table(ud, table);
	}
	const char *next = json_string_value(json_object_get(out, "NextToken"));
	if (rc == 0 && next && *next)
		*token = dw_xstrdup(next);
	json_decref(out);
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
	json_t *in = json_pack("{s:s, s:s}", "DatabaseName", database, "Name", table);
	json_t *out = NULL;
	int rc = dw_glue_call(aws, "DeleteTable", in, &out);

	json_decref(in);
	json_decref(out);
	if (rc)
		return dw_error_context("dropping table %s.%s", database, table);
	return 0;
}

int dw_glue_ensure_database(struct dw_aws *aws, const char *database)
{
	json_t *in = json_pack("{s:{s:s}}", "DatabaseInput", "Name", database);
	json_t *out = NULL;
	int rc = dw_glue_call(aws, "CreateDatabase", in, &out);

	json_decref(in);
	json_decref(out);
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
		      const json_t *table_input, int *created)
{
	const char *name = json_string_value(json_object_get(table_input, "Name"));
	json_t *in = json_pack("{s:s, s:O}", "DatabaseName", database, "TableInput", table_input);
	json_t *out = NULL;
	int rc = dw_glue_call(aws, "CreateTable", in, &out);

	*created = rc == 0;
	if (rc && dw_error_is("AlreadyExistsException")) {
		dw_error_clear();
		json_decref(out);
		out = NULL;
		rc = dw_glue_call(aws, "UpdateTable", in, &out);
	}
	json_decref(in);
	json_decref(out);
	if (rc)
		return dw_error_context("writing Glue table %s.%s", database, name ? name : "?");
	return 0;
}

/* ---- crawlers ---------------------------------------------------------- */

/* GetCrawler's Crawler object (a new reference). */
static int get_crawler(struct dw_aws *aws, const char *name, json_t **crawler)
{
	json_t *in = json_pack("{s:s}", "Name", name);
	json_t *out = NULL;
	int rc = dw_glue_call(aws, "GetCrawler", in, &out);

	json_decref(in);
	*crawler = rc == 0 ? json_incref(json_object_get(out, "Crawler")) : NULL;
	json_decref(out);
	if (rc)
		return dw_error_context("looking at crawler %s", name);
	if (!*crawler)
		return dw_fail("InvalidResponse", "GetCrawler %s answered without a crawler", name);
	return 0;
}

static const char *crawler_state(const json_t *crawler)
{
	return json_string_value(json_object_get(crawler, "State")) ?: "";
}

static json_t *last_crawl(const json_t *crawler, const char *member)
{
	return json_object_get(json_object_get(crawler, "LastCrawl"), member);
}

/* Start a crawl once the crawler is READY; *before is the last crawl's
 * start time (a new reference, or NULL) to tell ours apart from it. */
static int start_crawl(struct dw_aws *aws, const char *name, time_t deadline,
		       int poll_s, json_t **before)
{
	for (;;) {
		json_t *crawler, *in, *out = NULL;
		if (get_crawler(aws, name, &crawler))
			return -1;
		int ready = strcmp(crawler_state(crawler), "READY") == 0;
		if (ready) {
			*before = json_incref(last_crawl(crawler, "StartTime"));
			in = json_pack("{s:s}", "Name", name);
			int rc = dw_glue_call(aws, "StartCrawler", in, &out);
			json_decref(in);
			json_decref(out);
			if (rc == 0) {
				dw_info("started crawler %s", name);
				json_decref(crawler);
				return 0;
			}
			json_decref(*before);
			*before = NULL;
			if (!dw_error_is("CrawlerRunningException")) {
				json_decref(crawler);
				return dw_error_context("starting crawler %s", name);
			}
			dw_error_clear();
		}
		dw_info("crawler %s is %s with another crawl; waiting for it to end", name,
			ready ? "busy" : crawler_state(crawler));
		json_decref(crawler);
		if (time(NULL) >= deadline)
			return dw_raise(DW_TRANSIENT, "WaitTimeout", NULL,
					"crawler %s stayed busy with another crawl", name);
		dw_sleep_ms(poll_s * 1000L);
	}
}

/* 1 when the crawl ended (0 or -1 in *rc), 0 while it runs. */
static int crawl_ended(const char *name, const json_t *crawler, const json_t *before,
		       int *rc, struct dw_glue_crawl *out)
{
	const json_t *started = last_crawl(crawler, "StartTime");
	const char *status = json_string_value(last_crawl(crawler, "Status")) ?: "";
	const char *message = json_string_value(last_crawl(crawler, "ErrorMessage")) ?: "";

	if (strcmp(crawler_state(crawler), "READY") != 0 || !started ||
	    (before && json_equal(started, before)))
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

int dw_glue_crawl(struct dw_aws *aws, const char *crawler, int poll_s,
		  int timeout_s, struct dw_glue_crawl *out)
{
	time_t begin = time(NULL), deadline = begin + timeout_s;
	json_t *before = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (start_crawl(aws, crawler, deadline, poll_s, &before))
		return -1;
	for (;;) {
		json_t *c;
		if (get_crawler(aws, crawler, &c)) {
			rc = -1;
			break;
		}
		out->elapsed_s = (long)(time(NULL) - begin);
		int ended = crawl_ended(crawler, c, before, &rc, out);
		if (!ended)
			dw_info("crawler %s: %s, %ldm%02lds elapsed", crawler, crawler_state(c),
				out->elapsed_s / 60, out->elapsed_s % 60);
		json_decref(c);
		if (ended)
			break;
		if (time(NULL) >= deadline) {
			rc = dw_raise(DW_TRANSIENT, "WaitTimeout", NULL,
				      "crawler %s is still running after %d s; wait again later",
				      crawler, timeout_s);
			break;
		}
		dw_sleep_ms(poll_s * 1000L);
	}
	json_decref(before);
	if (rc == 0)
		dw_info("crawler %s finished (%s) in %lds", crawler, out->status, out->elapsed_s);
	return rc;
}
