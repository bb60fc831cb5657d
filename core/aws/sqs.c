/* sqs.c - Amazon SQS over the JSON 1.0 protocol. */
#include "aws/sqs.h"
#include "base/redact.h"

#include <cjson/cJSON.h>

#include <stdint.h>
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

/* Send a JSON body built as text; *resp is the answer (released by the
 * caller either way). */
static int send_text(struct dw_aws *aws, const char *operation, const struct dw_buf *body,
		     struct dw_http_response *resp)
{
	struct dw_aws_request *req = dw_sqs_request_text(operation, body->data, body->len);
	int rc = dw_aws_send(aws, req, resp);

	dw_aws_request_free(req);
	return rc;
}

/* The same, *out the parsed answer (cJSON). */
static int call_text(struct dw_aws *aws, const char *operation, const struct dw_buf *body,
		     cJSON **out)
{
	struct dw_http_response resp;
	int rc;

	*out = NULL;
	dw_http_response_init(&resp);
	rc = send_text(aws, operation, body, &resp);
	if (rc == 0 && dw_aws_json_parse(&resp, out))
		rc = dw_error_context("SQS %s", operation);
	dw_http_response_release(&resp);
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
	int rc;

	*out = NULL;
	*n = 0;
	dw_buf_init(&body);
	dw_buf_puts(&body, "{\"QueueUrl\":");
	dw_sqs_json_string(&body, queue_url);
	dw_buf_printf(&body, ",\"MaxNumberOfMessages\":%d,\"WaitTimeSeconds\":%d", max, wait_s);
	if (visibility_s > 0)
		dw_buf_printf(&body, ",\"VisibilityTimeout\":%d", visibility_s);
	dw_buf_puts(&body, ",\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\","
		    "\"MessageGroupId\",\"MessageDeduplicationId\"],"
		    "\"AttributeNames\":[\"ApproximateReceiveCount\",\"MessageGroupId\","
		    "\"MessageDeduplicationId\"],\"MessageAttributeNames\":[\"All\"]}");
	rc = call_text(aws, "ReceiveMessage", &body, &ans);
	dw_buf_release(&body);
	if (rc)
		return dw_error_context("receiving from %s", queue_url);
	rc = dw_sqs_receive_parse(ans, out, n);
	cJSON_Delete(ans);
	return rc;
}

int dw_sqs_receive_parse(const cJSON *ans, struct dw_sqs_message **out, size_t *n)
{
	const cJSON *m;

	*out = NULL;
	*n = 0;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(ans, "Messages");
	/* Only a list: its members were walked as messages too, into an array
	 * sized for none (a heap overflow from the second member on). */
	if (!cJSON_IsArray(list))
		list = NULL;
	size_t cap = list ? (size_t)cJSON_GetArraySize(list) : 0;
	*out = dw_xcalloc(cap ? cap : 1, sizeof(**out));
	cJSON_ArrayForEach(m, list) {
		struct dw_sqs_message *x = &(*out)[*n];
		const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(m, "Attributes");
		const cJSON *count = cJSON_GetObjectItemCaseSensitive(attrs, "ApproximateReceiveCount");
		const cJSON *from = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(m, "MessageAttributes"), "from"),
			"StringValue");
		x->id = str_dup_or_null(cJSON_GetObjectItemCaseSensitive(m, "MessageId"));
		x->receipt = str_dup_or_null(cJSON_GetObjectItemCaseSensitive(m, "ReceiptHandle"));
		x->body = str_dup_or_null(cJSON_GetObjectItemCaseSensitive(m, "Body"));
		x->from = str_dup_or_null(from);
		x->group_id = str_dup_or_null(cJSON_GetObjectItemCaseSensitive(attrs, "MessageGroupId"));
		x->dedup_id = str_dup_or_null(cJSON_GetObjectItemCaseSensitive(attrs,
									       "MessageDeduplicationId"));
		x->receive_count = cJSON_IsString(count) ? atol(count->valuestring) : 0;
		if (!x->id || !x->receipt || !x->body) {
			dw_sqs_messages_free(*out, *n + 1);
			*out = NULL;
			*n = 0;
			return dw_fail("InvalidResponse", "ReceiveMessage answered a message without "
				       "MessageId, ReceiptHandle or Body");
		}
		(*n)++;
	}
	return 0;
}

void dw_sqs_messages_free(struct dw_sqs_message *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		free(m[i].id);
		free(m[i].receipt);
		free(m[i].body);
		free(m[i].from);
		free(m[i].group_id);
		free(m[i].dedup_id);
	}
	free(m);
}

/* Send a batch request; ok[i] (may be NULL) is 1 for each entry SENT. */
static int batch_call(struct dw_aws *aws, const char *operation, const struct dw_buf *body,
		      size_t n, int *ok)
{
	struct dw_sqs_verdict v[DW_SQS_BATCH_MAX];
	struct dw_http_response resp;
	int rc;

	dw_http_response_init(&resp);
	rc = send_text(aws, operation, body, &resp);
	if (rc == 0)
		rc = dw_sqs_batch_answer(&resp, n, v, NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok[i] = rc == 0 && v[i].fate == DW_SQS_SENT;
	dw_http_response_release(&resp);
	return rc;
}

static int receipt_batch(struct dw_aws *aws, const char *operation, const char *queue_url,
			 const char *const *receipts, size_t n, int timeout_s, int *ok)
{
	struct dw_buf body;
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
	rc = batch_call(aws, operation, &body, n, ok);
	dw_buf_release(&body);
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
	struct dw_sqs_entry e[DW_SQS_BATCH_MAX];
	struct dw_sqs_attr from[DW_SQS_BATCH_MAX];
	struct dw_buf body;
	int rc;

	if (n == 0)
		return 0;
	if (n > DW_SQS_BATCH_MAX)
		return dw_fail("TooManyEntries", "SendMessageBatch takes at most 10 entries");
	for (size_t i = 0; i < n; i++) {
		from[i] = (struct dw_sqs_attr){ "from", m[i].from };
		e[i] = (struct dw_sqs_entry){ .body = m[i].body, .attrs = &from[i],
					      .n_attrs = m[i].from != NULL,
					      .dedup_id = m[i].dedup_id, .group_id = m[i].group_id };
	}
	dw_buf_init(&body);
	dw_sqs_send_batch_body(&body, queue_url, e, n);
	rc = batch_call(aws, "SendMessageBatch", &body, n, ok);
	dw_buf_release(&body);
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

/* ---- SendMessageBatch ---------------------------------------------------- */

void dw_sqs_send_batch_body(struct dw_buf *b, const char *queue_url,
			    const struct dw_sqs_entry *e, size_t n)
{
	dw_buf_puts(b, "{\"QueueUrl\":");
	dw_sqs_json_string(b, queue_url);
	dw_buf_puts(b, ",\"Entries\":[");
	for (size_t i = 0; i < n; i++) {
		dw_buf_puts(b, i ? ",{\"Id\":\"" : "{\"Id\":\"");
		/* Ids beyond "9" are never read back as any entry's: SQS refuses
		 * more than 10 entries, and nothing would be taken as sent. */
		if (i < DW_SQS_BATCH_MAX)
			dw_buf_putc(b, (char)('0' + i));
		else
			dw_buf_printf(b, "%zu", i);
		dw_buf_puts(b, "\",\"MessageBody\":");
		dw_sqs_json_string(b, e[i].body);
		if (e[i].n_attrs) {
			dw_buf_puts(b, ",\"MessageAttributes\":{");
			for (size_t a = 0; a < e[i].n_attrs; a++) {
				if (a)
					dw_buf_putc(b, ',');
				dw_sqs_json_string(b, e[i].attrs[a].name);
				dw_buf_puts(b, ":{\"DataType\":\"String\",\"StringValue\":");
				dw_sqs_json_string(b, e[i].attrs[a].value);
				dw_buf_putc(b, '}');
			}
			dw_buf_putc(b, '}');
		}
		if (e[i].dedup_id) {
			dw_buf_puts(b, ",\"MessageDeduplicationId\":");
			dw_sqs_json_string(b, e[i].dedup_id);
		}
		if (e[i].group_id) {
			dw_buf_puts(b, ",\"MessageGroupId\":");
			dw_sqs_json_string(b, e[i].group_id);
		}
		dw_buf_putc(b, '}');
	}
	dw_buf_puts(b, "]}");
}

struct dw_aws_request *dw_sqs_send_batch_request(const char *queue_url,
						 const struct dw_sqs_entry *e, size_t n)
{
	struct dw_aws_request *req;
	struct dw_buf body;

	dw_buf_init(&body);
	dw_sqs_send_batch_body(&body, queue_url, e, n);
	req = dw_sqs_request_text("SendMessageBatch", body.data, body.len);
	dw_buf_release(&body);
	return req;
}

/* The entry an answer item names: its Id is one of "0".."n-1", else -1. */
static int entry_index(const cJSON *item, size_t n)
{
	const char *id = dw_json_str(item, "Id");

	if (!id || id[0] < '0' || id[0] > '9' || id[1] || (size_t)(id[0] - '0') >= n)
		return -1;
	return id[0] - '0';
}

/* Successful or Failed: an array, or absent (null counts as absent). */
static int answer_list(const cJSON *ans, const char *name, const cJSON **out)
{
	*out = cJSON_GetObjectItemCaseSensitive(ans, name);
	if (cJSON_IsNull(*out))
		*out = NULL;
	return !*out || cJSON_IsArray(*out) ? 0 : -1;
}

int dw_sqs_batch_verdicts(const struct dw_http_response *resp, size_t n,
			  struct dw_sqs_verdict *out, unsigned *odd)
{
	unsigned seen[DW_SQS_BATCH_MAX] = { 0 }, bad = 0;
	const cJSON *ok, *failed, *v;
	cJSON *ans = NULL;

	if (n > DW_SQS_BATCH_MAX)
		n = DW_SQS_BATCH_MAX;
	memset(out, 0, n * sizeof(*out));
	if (odd)
		*odd = 0;
	if (dw_aws_json_parse(resp, &ans))
		return -1;
	if (answer_list(ans, "Successful", &ok) || answer_list(ans, "Failed", &failed)) {
		cJSON_Delete(ans);
		return dw_fail("InvalidResponse", "a batch answer whose Successful or Failed "
			       "is not a list");
	}
	cJSON_ArrayForEach(v, ok) {
		int k = entry_index(v, n);
		if (k < 0)
			bad++;
		else if (seen[k]++ == 0)
			out[k].fate = DW_SQS_SENT;
	}
	cJSON_ArrayForEach(v, failed) {
		int k = entry_index(v, n);
		if (k < 0) {
			bad++;
			continue;
		}
		if (seen[k]++ || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "SenderFault")))
			continue;
		const char *code = dw_json_str(v, "Code"), *msg = dw_json_str(v, "Message");
		out[k].fate = DW_SQS_REJECTED;
		dw_redact_copy(out[k].code, sizeof(out[k].code), code ? code : "SenderFault");
		dw_redact_copy(out[k].message, sizeof(out[k].message), msg ? msg : "");
	}
	for (size_t k = 0; k < n; k++)
		if (seen[k] > 1) { /* listed twice: the answer contradicts itself */
			memset(&out[k], 0, sizeof(out[k]));
			bad++;
		}
	if (odd)
		*odd = bad;
	cJSON_Delete(ans);
	return 0;
}

/* ---- the fast path: a scanner of exactly the common answer's shape -------- */

struct scan {
	const char *p, *end;
};

static void scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int scan_is(struct scan *s, char c)
{
	scan_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 1;
	}
	return 0;
}

/* Any byte of w below 0x20, from 0x80, a quote or a backslash?  (Bit
 * tricks of "Bit Twiddling Hacks", exact for "any": eight bytes a step, as
 * memmem did before; a byte a step made the fast path twice as slow.) */
static int stops(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return (((w - ones * 0x20) & ~w) | w | ((q - ones) & ~q) | ((b - ones) & ~b)) & high ?
		1 : 0;
}

/* A string of ASCII from 0x20, no escapes (anything else: the full parse). */
static int scan_string(struct scan *s, const char **str, size_t *len)
{
	uint64_t w;

	if (!scan_is(s, '"'))
		return 0;
	*str = s->p;
	while (s->end - s->p >= 8 && (memcpy(&w, s->p, 8), !stops(w)))
		s->p += 8;
	for (; s->p < s->end && *s->p != '"'; s->p++) {
		unsigned char c = (unsigned char)*s->p;
		if (c < 0x20 || c > 0x7f || c == '\\')
			return 0;
	}
	if (s->p == s->end)
		return 0;
	*len = (size_t)(s->p++ - *str);
	return 1;
}

static int is_key(const char *k, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(k, name, len) == 0;
}

/* One Successful item: an object of up to 8 distinct string members, one
 * an Id naming an entry not seen before. */
static int scan_item(struct scan *s, size_t n, unsigned *seen)
{
	const char *key[8];
	size_t klen[8], nk = 0;
	int id = -1;

	if (!scan_is(s, '{'))
		return 0;
	do {
		const char *k, *v;
		size_t kl, vl;
		if (nk == 8 || !scan_string(s, &k, &kl) || !scan_is(s, ':') ||
		    !scan_string(s, &v, &vl))
			return 0;
		for (size_t i = 0; i < nk; i++)
			if (klen[i] == kl && memcmp(key[i], k, kl) == 0)
				return 0;
		key[nk] = k;
		klen[nk++] = kl;
		if (is_key(k, kl, "Id")) {
			if (vl != 1 || v[0] < '0' || (size_t)(v[0] - '0') >= n)
				return 0;
			id = v[0] - '0';
		}
	} while (scan_is(s, ','));
	if (!scan_is(s, '}') || id < 0 || (*seen & (1u << id)))
		return 0;
	*seen |= 1u << id;
	return 1;
}

int dw_sqs_batch_all_sent(const struct dw_http_response *resp, size_t n)
{
	struct scan s = { resp->body.data, resp->body.data + resp->body.len };
	unsigned seen = 0, lists = 0;

	if (!resp->body.data || n == 0 || n > DW_SQS_BATCH_MAX || !scan_is(&s, '{'))
		return 0;
	do {
		const char *k;
		size_t kl;
		if (!scan_string(&s, &k, &kl) || !scan_is(&s, ':') || !scan_is(&s, '['))
			return 0;
		if (is_key(k, kl, "Successful") && !(lists & 1)) {
			lists |= 1;
			if (scan_is(&s, ']'))
				continue;
			do {
				if (!scan_item(&s, n, &seen))
					return 0;
			} while (scan_is(&s, ','));
			if (!scan_is(&s, ']'))
				return 0;
		} else if (is_key(k, kl, "Failed") && !(lists & 2)) {
			lists |= 2;
			if (!scan_is(&s, ']'))
				return 0;
		} else {
			return 0;
		}
	} while (scan_is(&s, ','));
	if (!scan_is(&s, '}'))
		return 0;
	scan_ws(&s);
	return s.p == s.end && seen == (1u << n) - 1;
}

int dw_sqs_batch_answer(const struct dw_http_response *resp, size_t n,
			struct dw_sqs_verdict *out, unsigned *odd)
{
	if (dw_sqs_batch_all_sent(resp, n)) {
		memset(out, 0, n * sizeof(*out));
		for (size_t k = 0; k < n; k++)
			out[k].fate = DW_SQS_SENT;
		if (odd)
			*odd = 0;
		return 0;
	}
	return dw_sqs_batch_verdicts(resp, n, out, odd);
}
