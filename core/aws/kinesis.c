/* kinesis.c - Kinesis Data Streams PutRecords over the JSON 1.1 protocol. */
#include "aws/kinesis.h"
#include "aws/aws.h"
#include "base/buf.h"
#include "base/error.h"

#include <string.h>

const struct dw_record_limits dw_kinesis_limits = {
	.max_records = 500,
	.max_bytes = 5u << 20,
	.max_record_bytes = 1u << 20,
};

#define MAX_KEY 256

static int send_body(struct dw_aws *aws, const struct dw_buf *body, cJSON **out)
{
	struct dw_aws_request *req = dw_aws_json_request_text(
		"kinesis", "1.1", "Kinesis_20131202.PutRecords", body->data, body->len);
	struct dw_http_response resp;
	int rc;

	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, req, &resp);
	if (rc == 0)
		rc = dw_aws_json_parse(&resp, out);
	dw_http_response_release(&resp);
	dw_aws_request_free(req);
	return rc;
}

int dw_kinesis_put_call(void *target, const struct dw_record *const *recs, size_t n,
			unsigned char *failed, char *why, size_t why_len)
{
	const struct dw_kinesis_target *t = target;
	struct dw_buf body;
	cJSON *ans = NULL;
	int rc;

	dw_buf_init(&body);
	dw_buf_puts(&body, "{\"StreamName\":");
	dw_records_json_string(&body, t->stream);
	dw_buf_puts(&body, ",\"Records\":[");
	for (size_t i = 0; i < n; i++) {
		size_t klen = recs[i]->key ? strlen(recs[i]->key) : 0;
		if (klen == 0 || klen > MAX_KEY) {
			dw_buf_release(&body);
			return dw_fail("InternalError", "a Kinesis record needs a partition key of "
				       "1 to %d characters", MAX_KEY);
		}
		dw_buf_puts(&body, i ? ",{\"Data\":" : "{\"Data\":");
		dw_records_b64(&body, recs[i]->data, recs[i]->len);
		dw_buf_puts(&body, ",\"PartitionKey\":");
		dw_records_json_string(&body, recs[i]->key);
		dw_buf_putc(&body, '}');
	}
	dw_buf_puts(&body, "]}");
	rc = send_body(t->aws, &body, &ans);
	dw_buf_release(&body);
	if (rc == 0)
		rc = dw_records_answer(ans, "Records", n, failed, why, why_len);
	cJSON_Delete(ans);
	if (rc)
		return dw_error_context("putting %zu records to stream %s", n, t->stream);
	return 0;
}

int dw_kinesis_put_records(struct dw_aws *aws, const char *stream,
			   const struct dw_record *recs, size_t n,
			   unsigned long *calls, unsigned long *retried)
{
	struct dw_kinesis_target t = { aws, stream };
	struct dw_records_send s = {
		.limits = &dw_kinesis_limits, .max_attempts = dw_aws_max_attempts(aws),
		.backoff_ms = dw_aws_backoff_ms, .put = dw_kinesis_put_call, .ud = &t,
	};
	int rc = dw_records_send(&s, recs, n);

	if (calls)
		*calls += s.calls;
	if (retried)
		*retried += s.retried;
	return rc;
}
