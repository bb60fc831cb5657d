/* athena.c - Athena StartQueryExecution and a waiter on its state. */
#include "aws/athena.h"
#include "base/timefmt.h"
#include "base/log.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int athena_call(struct dw_aws *aws, const char *op, const json_t *in, json_t **out)
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
	json_t *in, *out = NULL;
	int rc;

	if (request_token(token))
		return -1;
	in = json_pack("{s:s, s:s, s:s}", "QueryString", q->sql, "ClientRequestToken", token,
		       "WorkGroup", q->workgroup ? q->workgroup : "primary");
	if (q->database)
		json_object_set_new(in, "QueryExecutionContext",
				    json_pack("{s:s}", "Database", q->database));
	if (q->output_location)
		json_object_set_new(in, "ResultConfiguration",
				    json_pack("{s:s}", "OutputLocation", q->output_location));
	rc = athena_call(aws, "StartQueryExecution", in, &out);
	json_decref(in);
	if (rc == 0) {
		const char *id = json_string_value(json_object_get(out, "QueryExecutionId"));
		if (id)
			snprintf(r->id, sizeof(r->id), "%s", id);
		else
			rc = dw_fail("InvalidResponse", "StartQueryExecution gave no QueryExecutionId");
	}
	json_decref(out);
	return rc;
}

/* The state, and Athena's reason when it failed. */
static int poll_state(struct dw_aws *aws, struct dw_athena_result *r, char *reason, size_t len)
{
	json_t *in = json_pack("{s:s}", "QueryExecutionId", r->id), *out = NULL;
	int rc = athena_call(aws, "GetQueryExecution", in, &out);

	json_decref(in);
	if (rc == 0) {
		json_t *st = json_object_get(json_object_get(out, "QueryExecution"), "Status");
		snprintf(r->state, sizeof(r->state), "%s",
			 json_string_value(json_object_get(st, "State")) ?
			 json_string_value(json_object_get(st, "State")) : "UNKNOWN");
		snprintf(reason, len, "%s", json_string_value(json_object_get(st, "StateChangeReason")) ?
			 json_string_value(json_object_get(st, "StateChangeReason")) : "no reason given");
	}
	json_decref(out);
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
