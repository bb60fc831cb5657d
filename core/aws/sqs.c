/* sqs.c - Amazon SQS over the JSON 1.0 protocol. */
#include "aws/sqs.h"

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
