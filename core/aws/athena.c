/* athena.c - Athena StartQueryExecution and a waiter on its state. */
#include "aws/athena.h"
#include "base/timefmt.h"
#include "base/log.h"
#include "base/wait.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int athena_call(struct dw_aws *aws, const char *op, const cJSON *in, cJSON **out)
{
	char target[96];

	snprintf(target, sizeof(target), "AmazonAthena.%s", op);
	return dw_aws_json(aws, "athena", "1.1", target, in, out);
}

static int request_token(char out[65])
{
	unsigned char raw[32];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return dw_fail("RandomFailed", "no random bytes for a request token");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int start(struct dw_aws *aws, const struct dw_athena_query *q, struct dw_athena_result *r)
{
	char token[65];
	cJSON *in, *out = NULL;
	int rc;

	if (request_token(token))
		return -1;
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "QueryString", q->sql);
	cJSON_AddStringToObject(in, "ClientRequestToken", token);
	cJSON_AddStringToObject(in, "WorkGroup", q->workgroup ? q->workgroup : "primary");
	if (q->database)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "QueryExecutionContext"),
					"Database", q->database);
	if (q->output_location)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "ResultConfiguration"),
					"OutputLocation", q->output_location);
	rc = athena_call(aws, "StartQueryExecution", in, &out);
	cJSON_Delete(in);
	if (rc == 0) {
		const char *id = dw_json_str(out, "QueryExecutionId");
		if (id)
			snprintf(r->id, sizeof(r->id), "%s", id);
		else
			rc = dw_fail("InvalidResponse", "StartQueryExecution gave no QueryExecutionId");
	}
	cJSON_Delete(out);
	return rc;
}

void dw_athena_read_state(const cJSON *answer, struct dw_athena_result *r,
			  char *reason, size_t len)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(answer, "QueryExecution"), "Status");
	const char *state = dw_json_str(st, "State");
	const char *why = dw_json_str(st, "StateChangeReason");

	snprintf(r->state, sizeof(r->state), "%s", state ? state : "UNKNOWN");
	snprintf(reason, len, "%s", why ? why : "no reason given");
}

/* The state, and Athena's reason when it failed. */
static int poll_state(struct dw_aws *aws, struct dw_athena_result *r, char *reason, size_t len)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(in, "QueryExecutionId", r->id);
	rc = athena_call(aws, "GetQueryExecution", in, &out);
	cJSON_Delete(in);
	if (rc == 0)
		dw_athena_read_state(out, r, reason, len);
	cJSON_Delete(out);
	return rc;
}

struct query_poll {
	struct dw_aws *aws;
	struct dw_athena_result *r;
	char reason[1024];
};

static enum dw_wait_state poll_query(void *ud, struct dw_wait_poll *p)
{
	struct query_poll *q = ud;
	struct dw_athena_result *r = q->r;

	if (poll_state(q->aws, r, q->reason, sizeof(q->reason))) {
		dw_error_context("waiting for Athena query %s", r->id);
		return DW_WAIT_FAILED;
	}
	snprintf(p->status, sizeof(p->status), "%s", r->state);
	if (strcmp(r->state, "SUCCEEDED") == 0)
		return DW_WAIT_DONE;
	if (strcmp(r->state, "FAILED") == 0 || strcmp(r->state, "CANCELLED") == 0) {
		dw_fail("QueryFailed", "Athena query %s %s: %s", r->id, r->state, q->reason);
		return DW_WAIT_FAILED;
	}
	return DW_WAIT_PENDING;
}

/* Polled from 200 ms, doubling to 5 s: most DDL ends in well under a
 * second, a long query should not cost a call every 200 ms. */
int dw_athena_run(struct dw_aws *aws, const struct dw_athena_query *q,
		  struct dw_athena_result *r)
{
	struct query_poll qp = { .aws = aws, .r = r };
	char what[sizeof(r->id) + 16];
	struct dw_wait w = {
		.what = what, .interval_ms = 200, .max_interval_ms = 5000,
		.timeout_s = q->wait_s > 0 ? q->wait_s : 300,
	};

	memset(r, 0, sizeof(*r));
	if (start(aws, q, r))
		return dw_error_context("starting the Athena query");
	snprintf(what, sizeof(what), "Athena query %s", r->id);
	return dw_wait_until(&w, poll_query, &qp);
}
