/* sqs.c - Amazon SQS over the JSON 1.0 protocol. */
#include "aws/sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void target(char *out, size_t len, const char *operation)
{
	snprintf(out, len, "AmazonSQS.%s", operation);
}

int dw_sqs_call(struct dw_aws *aws, const char *operation, const json_t *in,
		json_t **out)
{
	char t[128];

	target(t, sizeof(t), operation);
	return dw_aws_json(aws, "sqs", "1.0", t, in, out);
}

struct dw_aws_request *dw_sqs_request(const char *operation, const json_t *in)
{
	char t[128];

	target(t, sizeof(t), operation);
	return dw_aws_json_request("sqs", "1.0", t, in);
}

struct dw_aws_request *dw_sqs_request_text(const char *operation,
					  const char *json, size_t len)
{
	char t[128];

	target(t, sizeof(t), operation);
	return dw_aws_json_request_text("sqs", "1.0", t, json, len);
}

int dw_sqs_queue_url(struct dw_aws *aws, const char *name, char **url)
{
	json_t *in = json_pack("{s:s}", "QueueName", name), *out = NULL;
	int rc = dw_sqs_call(aws, "GetQueueUrl", in, &out);

	json_decref(in);
	if (rc == 0) {
		const char *u = json_string_value(json_object_get(out, "QueueUrl"));
		*url = u ? dw_xstrdup(u) : NULL;
		if (!u)
			rc = dw_fail("InvalidResponse", "GetQueueUrl answered without a QueueUrl");
	}
	json_decref(out);
	return rc;
}

int dw_sqs_queue_attributes(struct dw_aws *aws, const char *queue_url,
			    json_t **attrs)
{
	json_t *in = json_pack("{s:s, s:[s]}", "QueueUrl", queue_url,
			       "AttributeNames", "All");
	json_t *out = NULL;
	int rc = dw_sqs_call(aws, "GetQueueAttributes", in, &out);

	json_decref(in);
	if (rc == 0) {
		json_t *a = json_object_get(out, "Attributes");
		*attrs = a ? json_incref(a) : json_object();
	}
	json_decref(out);
	return rc;
}

/* One ListQueues page; *token is replaced by the next page's token. */
static int list_page(struct dw_aws *aws, const char *prefix, char **token,
		     dw_sqs_queue_fn on_queue, void *ud)
{
	json_t *in = json_pack("{s:i}", "MaxResults", 1000), *out = NULL, *url;
	size_t i;
	int rc;

	if (prefix && *prefix)
		json_object_set_new(in, "QueueNamePrefix", json_string(prefix));
	if (*token)
		json_object_set_new(in, "NextToken", json_string(*token));
	rc = dw_sqs_call(aws, "ListQueues", in, &out);
	json_decref(in);
	free(*token);
	*token = NULL;
	json_array_foreach(json_object_get(out, "QueueUrls"), i, url) {
		if (rc == 0 && json_is_string(url))
			rc = on_queue(ud, json_string_value(url));
	}
	const char *next = json_string_value(json_object_get(out, "NextToken"));
	if (rc == 0 && next && *next)
		*token = dw_xstrdup(next);
	json_decref(out);
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
	json_t *in = json_pack("{s:s}", "QueueUrl", queue_url), *out = NULL;
	int rc = dw_sqs_call(aws, "DeleteQueue", in, &out);

	json_decref(in);
	json_decref(out);
	if (rc)
		return dw_error_context("deleting queue %s", queue_url);
	return 0;
}
