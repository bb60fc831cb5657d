/* athena.c - Athena StartQueryExecution and a waiter on its state. */
#include "aws/athena.h"
#include "base/timefmt.h"
#include "base/log.h"

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

/* The state, and Athena's reason when it failed. */
static int poll_state(struct dw_aws *aws, struct dw_athena_result *r, char *reason, size_t len)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(in, "QueryExecutionId", r->id);
	rc = athena_call(aws, "GetQueryExecution", in, &out);
	cJSON_Delete(in);
	if (rc == 0) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(out, "QueryExecution"), "Status");
		const char *state = dw_json_str(st, "State");
		const char *why = dw_json_str(st, "StateChangeReason");
		snprintf(r->state, sizeof(r->state), "%s", state ? state : "UNKNOWN");
		snprintf(reason, len, "%s", why ? why : "no reason given");
	}
	cJSON_Delete(out);
	return rc;
}

int dw_athena_run(struct dw_aws *aws, const struct dw_athena_query *q,
		  struct dw_athena_result *r)
{
	int wait_s = q->wait_s > 0 ? q->wait_s : 300;
	time_t deadline = time(NULL) + wait_s;
	long pause = 200;
	char reason[1024];

	memset(r, 0, sizeof(*r));
	if (start(aws, q, r))
		return dw_error_context("starting the Athena query");
	for (;;) {
		if (poll_state(aws, r, reason, sizeof(reason)))
			return dw_error_context("waiting for Athena query %s", r->id);
		if (strcmp(r->state, "SUCCEEDED") == 0)
			return 0;
		if (strcmp(r->state, "FAILED") == 0 || strcmp(r->state, "CANCELLED") == 0)
			return dw_fail("QueryFailed", "Athena query %s %s: %s", r->id, r->state, reason);
		if (time(NULL) >= deadline)
			return dw_raise(DW_TRANSIENT, "WaitTimeout", NULL,
					"Athena query %s still %s after %d s", r->id, r->state, wait_s);
		dw_info("Athena query %s is %s; checking again in %ld ms", r->id, r->state, pause);
		dw_sleep_ms(pause);
		pause = pause * 2 > 5000 ? 5000 : pause * 2;
	}
}
