/* test_sqs.c - SendMessageBatch on the wire, without a network: the body
 * written as text, and what an answer says of each entry (the fast path
 * and the full reading, which must agree on every answer: issue 12 #10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/buf.h"
#include "base/json.h"

static void answer_of(struct dw_http_response *r, const char *text)
{
	dw_http_response_init(r);
	r->status = 200;
	dw_buf_append(&r->body, text, strlen(text));
}

/* The full reading of text for n entries, into v; its return value. */
static int verdicts(const char *text, size_t n, struct dw_sqs_verdict *v, unsigned *odd)
{
	struct dw_http_response r;
	int rc;

	answer_of(&r, text);
	dw_error_clear();
	rc = dw_sqs_batch_verdicts(&r, n, v, odd);
	dw_http_response_release(&r);
	return rc;
}

static int fast(const char *text, size_t n)
{
	struct dw_http_response r;
	int rc;

	answer_of(&r, text);
	rc = dw_sqs_batch_all_sent(&r, n);
	dw_http_response_release(&r);
	return rc;
}

static int all_sent(const struct dw_sqs_verdict *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (v[k].fate != DW_SQS_SENT)
			return 0;
	return 1;
}

/* The body: valid JSON, ids by position, bodies and attributes escaped,
 * FIFO ids only where given. */
static void test_send_batch_body(void **state)
{
	static const struct dw_sqs_attr a[] = { { "from", "k\"1\\\n" }, { "x", "y" } };
	const struct dw_sqs_entry e[] = {
		{ .body = "plain" },
		{ .body = "{\"Records\":[]}\t\x01", .attrs = a, .n_attrs = 2 },
		{ .body = "fifo", .attrs = a, .n_attrs = 1, .dedup_id = "d0", .group_id = "g0" },
	};
	struct dw_buf b;
	cJSON *j = NULL;

	(void)state;
	dw_buf_init(&b);
	dw_sqs_send_batch_body(&b, "http://q/000/x\"y", e, 3);
	assert_int_equal(dw_json_parse(b.data, b.len, "body", &j), 0);
	assert_string_equal(dw_json_str(j, "QueueUrl"), "http://q/000/x\"y");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "Entries");
	assert_int_equal(cJSON_GetArraySize(list), 3);
	const cJSON *e0 = cJSON_GetArrayItem(list, 0), *e1 = cJSON_GetArrayItem(list, 1),
		    *e2 = cJSON_GetArrayItem(list, 2);
	assert_string_equal(dw_json_str(e0, "Id"), "0");
	assert_string_equal(dw_json_str(e0, "MessageBody"), "plain");
	assert_null(cJSON_GetObjectItemCaseSensitive(e0, "MessageAttributes"));
	assert_null(cJSON_GetObjectItemCaseSensitive(e0, "MessageDeduplicationId"));
	assert_string_equal(dw_json_str(e1, "Id"), "1");
	assert_string_equal(dw_json_str(e1, "MessageBody"), "{\"Records\":[]}\t\x01");
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(e1, "MessageAttributes");
	assert_string_equal(dw_json_str(cJSON_GetObjectItemCaseSensitive(attrs, "from"), "DataType"),
			    "String");
	assert_string_equal(dw_json_str(cJSON_GetObjectItemCaseSensitive(attrs, "from"), "StringValue"),
			    "k\"1\\\n");
	assert_string_equal(dw_json_str(cJSON_GetObjectItemCaseSensitive(attrs, "x"), "StringValue"),
			    "y");
	assert_string_equal(dw_json_str(e2, "Id"), "2");
	assert_string_equal(dw_json_str(e2, "MessageDeduplicationId"), "d0");
	assert_string_equal(dw_json_str(e2, "MessageGroupId"), "g0");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e2, "MessageAttributes")), 1);
	cJSON_Delete(j);
	dw_buf_release(&b);
}

/* An answer, entry by entry: moto only ever answers with every entry
 * successful, so the Failed list is checked here. */
static void test_batch_verdicts(void **state)
{
	struct dw_sqs_verdict v[10];
	unsigned odd = 0;

	(void)state;
	assert_int_equal(verdicts(
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"2\"},{\"Id\":\"9\"},{\"Id\":\"x\"}],"
		" \"Failed\":[{\"Id\":\"1\",\"SenderFault\":false,\"Code\":\"InternalError\"},"
		"{\"Id\":\"3\",\"SenderFault\":true,\"Code\":\"InvalidMessageContents\",\"Message\":\"bad\"},"
		"{\"Id\":\"4\",\"SenderFault\":true},"
		"{\"Id\":\"0\",\"SenderFault\":true,\"Code\":\"Contradiction\"}]}", 6, v, &odd), 0);
	assert_int_equal(v[0].fate, DW_SQS_RESEND); /* in both lists: sent again */
	assert_int_equal(v[1].fate, DW_SQS_RESEND); /* SQS's fault: send again */
	assert_int_equal(v[2].fate, DW_SQS_SENT);
	assert_int_equal(v[3].fate, DW_SQS_REJECTED);
	assert_string_equal(v[3].code, "InvalidMessageContents");
	assert_string_equal(v[3].message, "bad");
	assert_int_equal(v[4].fate, DW_SQS_REJECTED);
	assert_string_equal(v[4].code, "SenderFault");
	assert_int_equal(v[5].fate, DW_SQS_RESEND); /* not mentioned at all */
	assert_int_equal(odd, 3);                   /* "9" (n is 6), "x", and 0 twice */

	/* an answer without either list, an empty one, null lists */
	assert_int_equal(verdicts("{}", 3, v, NULL), 0);
	assert_false(all_sent(v, 1));
	assert_int_equal(verdicts("", 3, v, NULL), 0);
	assert_false(all_sent(v, 1));
	assert_int_equal(verdicts("{\"Successful\":[{\"Id\":\"0\"}],\"Failed\":null}", 1, v, NULL), 0);
	assert_true(all_sent(v, 1));

	/* unreadable: InvalidResponse, every entry sent again */
	static const char *const unreadable[] = {
		"[]", "{\"Successful\":{\"Id\":\"0\"}}", "{\"Successful\":[{\"Id\":\"0\"}]",
		"{\"Successful\":[{\"Id\":\"0\"}]} x", "{\"Successful\":[{\"Id\":\"0\"}],\"Failed\":7}",
		"{\"Successful\":[{\"Id\":\"0\"}],\"Successful\":[]}",
	};
	for (size_t i = 0; i < sizeof(unreadable) / sizeof(unreadable[0]); i++) {
		assert_int_equal(verdicts(unreadable[i], 1, v, NULL), -1);
		assert_string_equal(dw_error_last()->code, "InvalidResponse");
		assert_int_equal(v[0].fate, DW_SQS_RESEND);
	}
}

#define OK3 "{\"Id\":\"0\",\"MessageId\":\"m0\",\"MD5OfMessageBody\":\"a\"}," \
	    "{\"Id\":\"1\",\"MessageId\":\"m1\",\"MD5OfMessageBody\":\"b\"}," \
	    "{\"Id\":\"2\",\"MessageId\":\"m2\",\"MD5OfMessageBody\":\"c\"}"

/* The fast path takes the answers SQS, moto and ElasticMQ give when all
 * went well. */
static void test_fast_path_takes_the_common_answers(void **state)
{
	static const char *const ok[] = {
		"{\"Successful\":[" OK3 "],\"Failed\":[]}",
		"{\"Successful\":[" OK3 "]}",
		"{\"Failed\":[],\"Successful\":[" OK3 "]}",
		" {\n \"Successful\" : [ " OK3 " ] , \"Failed\" : [ ] }\r\n",
		"{\"Successful\":[{\"MessageId\":\"m2\",\"Id\":\"2\",\"SequenceNumber\":\"1\"},"
		"{\"Id\":\"0\"},{\"Id\":\"1\",\"MD5OfMessageAttributes\":\"~\x7f\"}]}",
	};
	struct dw_sqs_verdict v[10];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(fast(ok[i], 3), 1);
		assert_int_equal(verdicts(ok[i], 3, v, NULL), 0);
		assert_true(all_sent(v, 3));
	}
}

/* Issue 12 #10: the fast path (memmem for "Successful", an empty "Failed"
 * and as many "Id" as entries) took each of these as all sent.  None is:
 * the full reading sends an entry again, or cannot read the answer, and the
 * fast path now leaves each to it. */
static void test_fast_path_agrees_with_the_full_reading(void **state)
{
	static const char *const hostile[] = {
		/* malformed: cut, trailing text, not JSON at all */
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"},{\"Id\":\"2\"}",
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"},{\"Id\":\"2\"}]}garbage",
		"\"Successful\" \"Id\" \"Id\" \"Id\"",
		/* a duplicate id, so one entry is missing */
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"0\"},{\"Id\":\"1\"}]}",
		/* unknown ids */
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"},{\"Id\":\"7\"}]}",
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"},{\"Id\":\"x\"}]}",
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"},{\"Id\":\"02\"}]}",
		/* "Id" counted where it is not an id */
		"{\"Successful\":[{\"Id\":\"0\",\"MessageId\":\"\\\"Id\\\"\"},{\"Id\":\"1\",\"Id\":\"1\"}]}",
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"}],\"Note\":{\"Id\":\"2\"}}",
		/* Successful and Failed for one id, and a second "Failed" */
		"{\"Failed\":[],\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"}],"
		"\"Failed\":[{\"Id\":\"2\",\"SenderFault\":true}]}",
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"},{\"Id\":\"2\"}],"
		"\"Failed\" :[{\"Id\":\"2\",\"SenderFault\":false}]}",
		/* "Successful" only as a string, or not a list */
		"{\"Note\":\"Successful\",\"Failed\":[],\"x\":[{\"Id\":\"0\"},{\"Id\":\"1\"},{\"Id\":\"2\"}]}",
		"{\"Successful\":{\"a\":{\"Id\":\"0\"},\"b\":{\"Id\":\"1\"},\"c\":{\"Id\":\"2\"}}}",
		/* an id escaped, a NUL, a byte that is not UTF-8 */
		"{\"Successful\":[{\"Id\":\"\\u0030\"},{\"Id\":\"1\"},{\"Id\":\"2\"}]}",
		"{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"},{\"Id\":\"2\",\"M\":\"\xff\"}]}",
	};
	struct dw_sqs_verdict v[10];

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		int rc = verdicts(hostile[i], 3, v, NULL);
		int full = rc == 0 && all_sent(v, 3);
		/* the escaped "0" is one the full reading does read as sent */
		if (strstr(hostile[i], "\\u0030") || strstr(hostile[i], "\xff"))
			assert_true(full || rc == -1);
		else
			assert_false(full);
		assert_int_equal(fast(hostile[i], 3), 0);
	}
	/* a NUL inside an answer, and one after it */
	struct dw_http_response r;
	answer_of(&r, "{\"Successful\":[{\"Id\":\"0\"}]}");
	dw_buf_putc(&r.body, '\0');
	assert_int_equal(dw_sqs_batch_all_sent(&r, 1), 0);
	assert_int_equal(dw_sqs_batch_answer(&r, 1, v, NULL), -1);
	assert_int_equal(v[0].fate, DW_SQS_RESEND);
	dw_http_response_release(&r);
	/* no entries, or more than a batch holds */
	assert_int_equal(fast("{\"Successful\":[]}", 0), 0);
	assert_int_equal(fast("{\"Successful\":[{\"Id\":\"0\"}]}", 11), 0);
}

/* A message of a rejected entry is masked and cut to fit, never overrun. */
static void test_rejected_message_is_bounded(void **state)
{
	struct dw_sqs_verdict v[1];
	struct dw_buf a;

	(void)state;
	dw_buf_init(&a);
	dw_buf_puts(&a, "{\"Failed\":[{\"Id\":\"0\",\"SenderFault\":true,\"Code\":\"");
	for (int i = 0; i < 200; i++)
		dw_buf_putc(&a, 'C');
	dw_buf_puts(&a, "\",\"Message\":\"");
	for (int i = 0; i < 1000; i++)
		dw_buf_putc(&a, 'm');
	dw_buf_puts(&a, "\"}]}");
	assert_int_equal(verdicts(a.data, 1, v, NULL), 0);
	assert_int_equal(v[0].fate, DW_SQS_REJECTED);
	assert_true(strlen(v[0].code) == sizeof(v[0].code) - 1);
	assert_true(strlen(v[0].message) < sizeof(v[0].message));
	dw_buf_release(&a);
}

/* ReceiveMessage answers: "Messages" that is not a list read no message
 * (it was walked as one, into an array sized for none: a heap overflow from
 * the second member on); a message without its ids is InvalidResponse. */
static void test_receive_parse(void **state)
{
	static const char *const texts[] = {
		"{\"Messages\":{\"a\":{\"MessageId\":\"1\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
		"\"b\":{\"MessageId\":\"2\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
		"\"c\":{\"MessageId\":\"3\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"}}}",
		"{\"Messages\":\"x\"}", "{}",
	};
	struct dw_sqs_message *m = NULL;
	size_t n = 9;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		cJSON *a = cJSON_Parse(texts[i]);
		assert_int_equal(dw_sqs_receive_parse(a, &m, &n), 0);
		assert_int_equal(n, 0);
		dw_sqs_messages_free(m, n);
		cJSON_Delete(a);
	}
	cJSON *a = cJSON_Parse("{\"Messages\":[{\"MessageId\":\"1\",\"ReceiptHandle\":\"r\","
			       "\"Body\":\"b\",\"Attributes\":{\"ApproximateReceiveCount\":\"3\"},"
			       "\"MessageAttributes\":{\"from\":{\"StringValue\":\"k\"}}},"
			       "{\"MessageId\":\"2\",\"Body\":\"b\"}]}");
	dw_error_clear();
	assert_int_equal(dw_sqs_receive_parse(a, &m, &n), -1);
	assert_string_equal(dw_error_last()->code, "InvalidResponse");
	assert_null(m);
	cJSON_Delete(a);
	a = cJSON_Parse("{\"Messages\":[{\"MessageId\":\"1\",\"ReceiptHandle\":\"r\","
			"\"Body\":\"b\",\"Attributes\":{\"ApproximateReceiveCount\":\"3\"},"
			"\"MessageAttributes\":{\"from\":{\"StringValue\":\"k\"}}}]}");
	assert_int_equal(dw_sqs_receive_parse(a, &m, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(m[0].from, "k");
	assert_int_equal(m[0].receive_count, 3);
	dw_sqs_messages_free(m, n);
	cJSON_Delete(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_batch_body),
		cmocka_unit_test(test_batch_verdicts),
		cmocka_unit_test(test_fast_path_takes_the_common_answers),
		cmocka_unit_test(test_fast_path_agrees_with_the_full_reading),
		cmocka_unit_test(test_rejected_message_is_bounded),
		cmocka_unit_test(test_receive_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
