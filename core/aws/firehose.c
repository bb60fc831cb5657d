/* firehose.c - Data Firehose PutRecordBatch over the JSON 1.1 protocol. */
#include "aws/firehose.h"
#include "aws/aws.h"
#include "base/buf.h"
#include "base/error.h"

const struct dw_record_limits dw_firehose_limits = {
	.max_records = 500,
	.max_bytes = 4u << 20,
	.max_record_bytes = 1000u << 10,
};

int dw_firehose_put_call(void *target, const struct dw_record *const *recs, size_t n,
			 unsigned char *failed, char *why, size_t why_len)
{
	const struct dw_firehose_target *t = target;
	struct dw_aws_request *req;
	struct dw_http_response resp;
	struct dw_buf body;
	cJSON *ans = NULL;
	int rc;

	dw_buf_init(&body);
	dw_buf_puts(&body, "{\"DeliveryStreamName\":");
	dw_records_json_string(&body, t->stream);
	dw_buf_puts(&body, ",\"Records\":[");
	for (size_t i = 0; i < n; i++) {
		dw_buf_puts(&body, i ? ",{\"Data\":" : "{\"Data\":");
		dw_records_b64(&body, recs[i]->data, recs[i]->len);
		dw_buf_putc(&body, '}');
	}
	dw_buf_puts(&body, "]}");
	req = dw_aws_json_request_text("firehose", "1.1", "Firehose_20150804.PutRecordBatch",
				       body.data, body.len);
	dw_buf_release(&body);
	dw_http_response_init(&resp);
	rc = dw_aws_send(t->aws, req, &resp);
	if (rc == 0)
		rc = dw_aws_json_parse(&resp, &ans);
	dw_http_response_release(&resp);
	dw_aws_request_free(req);
	if (rc == 0)
		rc = dw_records_answer(ans, "RequestResponses", n, failed, why, why_len);
	cJSON_Delete(ans);
	if (rc)
		return dw_error_context("putting %zu records to delivery stream %s", n, t->stream);
	return 0;
}

int dw_firehose_put_batch(struct dw_aws *aws, const char *stream,
			  const struct dw_record *recs, size_t n,
			  unsigned long *calls, unsigned long *retried)
{
	struct dw_firehose_target t = { aws, stream };
	struct dw_records_send s = {
		.limits = &dw_firehose_limits, .max_attempts = dw_aws_max_attempts(aws),
		.backoff_ms = dw_aws_backoff_ms, .put = dw_firehose_put_call, .ud = &t,
	};
	int rc = dw_records_send(&s, recs, n);

	if (calls)
		*calls += s.calls;
	if (retried)
		*retried += s.retried;
	return rc;
}
