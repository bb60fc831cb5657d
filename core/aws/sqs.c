/* sqs.c - Amazon SQS over the JSON 1.0 protocol. */
#include "aws/sqs.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void target(char *out, size_t len, const char *operation)
{
	snprintf(out, len, "AmazonSQS.%s", operation);
}

int dw_sqs_call(struct dw_aws *aws, const char *operation, const cJSON *in,
		cJSON **out)
{
	char t[128];

	target(t, sizeof(t), operation);
	return dw_aws_json(aws, "sqs", "1.0", t, in, out);
}

struct dw_aws_request *dw_sqs_request_text(const char *operation,
					  const char *json, size_t len)
{
	char t[128];

	target(t, sizeof(t), operation);
	return dw_aws_json_request_text("sqs", "1.0", t, json, len);
}

int dw_sqs_queue_attributes(struct dw_aws *aws, const char *queue_url,
			    cJSON **attrs)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	const char *all[] = { "All" };
	int rc;

	cJSON_AddStringToObject(in, "QueueUrl", queue_url);
	cJSON_AddItemToObject(in, "AttributeNames", cJSON_CreateStringArray(all, 1));
	rc = dw_sqs_call(aws, "GetQueueAttributes", in, &out);
	cJSON_Delete(in);
	if (rc == 0) {
		cJSON *a = cJSON_DetachItemFromObjectCaseSensitive(out, "Attributes");
		*attrs = cJSON_IsObject(a) ? a : cJSON_CreateObject();
		if (*attrs != a)
			cJSON_Delete(a);
	}
	cJSON_Delete(out);
	return rc;
}

/* One ListQueues page; *token is replaced by the next page's token. */
static int list_page(struct dw_aws *aws, const char *prefix, char **token,
		     dw_sqs_queue_fn on_queue, void *ud)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL, *url;
	int rc;

	cJSON_AddNumberToObject(in, "MaxResults", 1000);
	if (prefix && *prefix)
		cJSON_AddStringToObject(in, "QueueNamePrefix", prefix);
	if (*token)
		cJSON_AddStringToObject(in, "NextToken", *token);
	rc = dw_sqs_call(aws, "ListQueues", in, &out);
	cJSON_Delete(in);
	free(*token);
	*token = NULL;
	cJSON_ArrayForEach(url, cJSON_GetObjectItemCaseSensitive(out, "QueueUrls")) {
		if (rc == 0 && cJSON_IsString(url))
			rc = on_queue(ud, url->valuestring);
	}
	const char *next = dw_json_str(out, "NextToken");
	if (rc == 0 && next && *next)
		*token = dw_xstrdup(next);
	cJSON_Delete(out);
	return rc;
}

int dw_sqs_list_queues(struct dw_aws *aws, const char *prefix,
		       dw_sqs_queue_fn on_queue, void *ud)
{
	char *token = NULL;

	do {
		if (list_page(aws, prefix, &token, on_queue, ud))
			return dw_error_context("listing queues named %s*", prefix ? prefix : "");
	} while (token);
	return 0;
}

int dw_sqs_delete_queue(struct dw_aws *aws, const char *queue_url)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(in, "QueueUrl", queue_url);
	rc = dw_sqs_call(aws, "DeleteQueue", in, &out);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("deleting queue %s", queue_url);
	return 0;
}

/* ---- typed calls for consumers ------------------------------------------- */

void dw_sqs_json_string(struct dw_buf *b, const char *s)
{
	dw_buf_putc(b, '"');
	for (const char *run = s;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		dw_buf_append(b, run, (size_t)(s - run));
		if (!c)
			break;
		if (c == '"' || c == '\\')
			dw_buf_printf(b, "\\%c", c);
		else
			dw_buf_printf(b, "\\u%04x", c);
		run = s + 1;
	}
	dw_buf_putc(b, '"');
}

/* Send a JSON body built as text; *out is the parsed answer (cJSON). */
static int call_text(struct dw_aws *aws, const char *operation, const struct dw_buf *body,
		     cJSON **out)
{
	struct dw_aws_request *req = dw_sqs_request_text(operation, body->data, body->len);
	struct dw_http_response resp;
	int rc;

	*out = NULL;
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, req, &resp);
	if (rc == 0) {
		*out = resp.body.len ? cJSON_ParseWithLength(resp.body.data, resp.body.len)
				     : cJSON_CreateObject();
		if (!cJSON_IsObject(*out)) {
			cJSON_Delete(*out);
			*out = NULL;
			rc = dw_fail("InvalidResponse", "SQS %s answered with something that is not "
				     "a JSON object", operation);
		}
	}
	dw_http_response_release(&resp);
	dw_aws_request_free(req);
	return rc;
}

static char *str_dup_or_null(const cJSON *v)
{
	return cJSON_IsString(v) ? dw_xstrdup(v->valuestring) : NULL;
}

int dw_sqs_receive(struct dw_aws *aws, const char *queue_url, int max, int wait_s,
		   int visibility_s, struct dw_sqs_message **out, size_t *n)
{
	struct dw_buf body;
	cJSON *ans = NULL;
	const cJSON *m;
	int rc;

	*out = NULL;
	*n = 0;
	dw_buf_init(&body);
	dw_buf_puts(&body, "{\"QueueUrl\":");
	dw_sqs_json_string(&body, queue_url);
	dw_buf_printf(&body, ",\"MaxNumberOfMessages\":%d,\"WaitTimeSeconds\":%d", max, wait_s);
	if (visibility_s > 0)
		dw_buf_printf(&body, ",\"VisibilityTimeout\":%d", visibility_s);
	dw_buf_puts(&body, ",\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\"],"
		    "\"AttributeNames\":[\"ApproximateReceiveCount\"],\"MessageAttributeNames\":[\"All\"]}");
	rc = call_text(aws, "ReceiveMessage", &body, &ans);
	dw_buf_release(&body);
	if (rc)
		return dw_error_context("receiving from %s", queue_url);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(ans, "Messages");
	size_t cap = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
	*out = dw_xcalloc(cap ? cap : 1, sizeof(**out));
	cJSON_ArrayForEach(m, list) {
		struct dw_sqs_message *x = &(*out)[*n];
		const cJSON *count = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(m, "Attributes"), "ApproximateReceiveCount");
		const cJSON *from = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(m, "MessageAttributes"), "from"),
			"StringValue");
		x->id = str_dup_or_null(cJSON_GetObjectItemCaseSensitive(m, "MessageId"));
		x->receipt = str_dup_or_null(cJSON_GetObjectItemCaseSensitive(m, "ReceiptHandle"));
		x->body = str_dup_or_null(cJSON_GetObjectItemCaseSensitive(m, "Body"));
		x->from = str_dup_or_null(from);
		x->receive_count = cJSON_IsString(count) ? atol(count->valuestring) : 0;
		if (!x->id || !x->receipt || !x->body) {
			dw_sqs_messages_free(*out, *n + 1);
			*out = NULL;
			*n = 0;
			cJSON_Delete(ans);
			return dw_fail("InvalidResponse", "ReceiveMessage answered a message without "
				       "MessageId, ReceiptHandle or Body");
		}
		(*n)++;
	}
	cJSON_Delete(ans);
	return 0;
}

void dw_sqs_messages_free(struct dw_sqs_message *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		free(m[i].id);
		free(m[i].receipt);
		free(m[i].body);
		free(m[i].from);
	}
	free(m);
}

/* The entries of a batch answer's "Successful" list, by their ids "0".."9". */
static void batch_ok(const cJSON *ans, size_t n, int *ok)
{
	const cJSON *e;

	if (!ok)
		return;
	memset(ok, 0, n * sizeof(*ok));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ans, "Successful")) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "Id");
		if (cJSON_IsString(id) && id->valuestring[0] >= '0' && id->valuestring[0] <= '9' &&
		    !id->valuestring[1] && (size_t)(id->valuestring[0] - '0') < n)
			ok[id->valuestring[0] - '0'] = 1;
	}
}

static int receipt_batch(struct dw_aws *aws, const char *operation, const char *queue_url,
			 const char *const *receipts, size_t n, int timeout_s, int *ok)
{
	struct dw_buf body;
	cJSON *ans = NULL;
	int rc;

	if (n == 0)
		return 0;
	if (n > 10)
		return dw_fail("TooManyEntries", "%s takes at most 10 entries", operation);
	dw_buf_init(&body);
	dw_buf_puts(&body, "{\"QueueUrl\":");
	dw_sqs_json_string(&body, queue_url);
	dw_buf_puts(&body, ",\"Entries\":[");
	for (size_t i = 0; i < n; i++) {
		dw_buf_printf(&body, "%s{\"Id\":\"%zu\",\"ReceiptHandle\":", i ? "," : "", i);
		dw_sqs_json_string(&body, receipts[i]);
		if (timeout_s >= 0)
			dw_buf_printf(&body, ",\"VisibilityTimeout\":%d", timeout_s);
		dw_buf_putc(&body, '}');
	}
	dw_buf_puts(&body, "]}");
	rc = call_text(aws, operation, &body, &ans);
	dw_buf_release(&body);
	if (rc == 0)
		batch_ok(ans, n, ok);
	cJSON_Delete(ans);
	return rc;
}

int dw_sqs_delete_batch(struct dw_aws *aws, const char *queue_url,
			const char *const *receipts, size_t n, int *ok)
{
	return receipt_batch(aws, "DeleteMessageBatch", queue_url, receipts, n, -1, ok);
}

int dw_sqs_visibility_batch(struct dw_aws *aws, const char *queue_url,
			    const char *const *receipts, size_t n, int timeout_s,
			    int *ok)
{
	return receipt_batch(aws, "ChangeMessageVisibilityBatch", queue_url, receipts, n,
			     timeout_s, ok);
}

int dw_sqs_send_batch(struct dw_aws *aws, const char *queue_url,
		      const struct dw_sqs_message *m, size_t n, int *ok)
{
	struct dw_buf body;
	cJSON *ans = NULL;
	int rc;

	if (n == 0)
		return 0;
	if (n > 10)
		return dw_fail("TooManyEntries", "SendMessageBatch takes at most 10 entries");
	dw_buf_init(&body);
	dw_buf_puts(&body, "{\"QueueUrl\":");
	dw_sqs_json_string(&body, queue_url);
	dw_buf_puts(&body, ",\"Entries\":[");
	for (size_t i = 0; i < n; i++) {
		dw_buf_printf(&body, "%s{\"Id\":\"%zu\",\"MessageBody\":", i ? "," : "", i);
		dw_sqs_json_string(&body, m[i].body);
		if (m[i].from) {
			dw_buf_puts(&body, ",\"MessageAttributes\":{\"from\":{\"DataType\":\"String\","
				    "\"StringValue\":");
			dw_sqs_json_string(&body, m[i].from);
			dw_buf_puts(&body, "}}");
		}
		dw_buf_putc(&body, '}');
	}
	dw_buf_puts(&body, "]}");
	rc = call_text(aws, "SendMessageBatch", &body, &ans);
	dw_buf_release(&body);
	if (rc == 0)
		batch_ok(ans, n, ok);
	cJSON_Delete(ans);
	return rc;
}

int dw_sqs_queue_url(struct dw_aws *aws, const char *name, char **url)
{
	struct dw_buf body;
	cJSON *ans = NULL;
	int rc;

	*url = NULL;
	dw_buf_init(&body);
	dw_buf_puts(&body, "{\"QueueName\":");
	dw_sqs_json_string(&body, name);
	dw_buf_putc(&body, '}');
	rc = call_text(aws, "GetQueueUrl", &body, &ans);
	dw_buf_release(&body);
	if (rc == 0) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(ans, "QueueUrl");
		if (cJSON_IsString(u))
			*url = dw_xstrdup(u->valuestring);
		else
			rc = dw_fail("InvalidResponse", "GetQueueUrl answered without a QueueUrl");
	}
	cJSON_Delete(ans);
	return rc;
}
