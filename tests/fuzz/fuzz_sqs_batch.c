/* SendMessageBatch answers (issue 12 #10): the fast path and the full
 * reading must agree on every answer.  The first byte picks the batch's
 * size (1-10); the rest is the answer's body.  Whenever the fast path says
 * all sent, the full reading must read every entry as sent. */
#include "fuzz.h"
#include "aws/sqs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_QUIET();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dw_sqs_verdict v[DW_SQS_BATCH_MAX];
	struct dw_http_response r;
	unsigned odd = 0;

	if (size < 1)
		return 0;
	size_t n = 1 + data[0] % DW_SQS_BATCH_MAX;
	dw_http_response_init(&r);
	r.status = 200;
	dw_buf_append(&r.body, data + 1, size - 1);
	int fast = dw_sqs_batch_all_sent(&r, n);
	int rc = dw_sqs_batch_verdicts(&r, n, v, &odd);
	size_t sent = 0;
	for (size_t k = 0; k < n; k++) {
		if (v[k].fate != DW_SQS_SENT && v[k].fate != DW_SQS_RESEND &&
		    v[k].fate != DW_SQS_REJECTED)
			abort();
		if (strlen(v[k].code) >= sizeof(v[k].code) ||
		    strlen(v[k].message) >= sizeof(v[k].message))
			abort();
		if (rc && v[k].fate != DW_SQS_RESEND)
			abort(); /* an unreadable answer settles nothing */
		sent += v[k].fate == DW_SQS_SENT;
	}
	if (fast && (rc || sent != n || odd))
		abort(); /* the fast path took as all sent what the full reading does not */
	/* what the caller uses: the same verdicts either way */
	struct dw_sqs_verdict w[DW_SQS_BATCH_MAX];
	if (dw_sqs_batch_answer(&r, n, w, NULL) != rc)
		abort();
	for (size_t k = 0; k < n; k++)
		if (w[k].fate != v[k].fate)
			abort();
	dw_http_response_release(&r);
	dw_error_clear();
	return 0;
}
