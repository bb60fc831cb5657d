/* dw/sqs.h - Amazon SQS (JSON 1.0 protocol). */
#ifndef DW_SQS_H
#define DW_SQS_H

#include "aws.h"

/* Any SQS operation: "SendMessage", "GetQueueAttributes", ... */
int dw_sqs_call(struct dw_aws *aws, const char *operation, const json_t *in,
		json_t **out);
/* The same as a request for a pool. */
struct dw_aws_request *dw_sqs_request(const char *operation, const json_t *in);

int dw_sqs_queue_url(struct dw_aws *aws, const char *name, char **url);
/* GetQueueAttributes All: a new object of attribute names to strings. */
int dw_sqs_queue_attributes(struct dw_aws *aws, const char *queue_url,
			    json_t **attrs);

#endif
