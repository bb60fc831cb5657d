/* dw/sqs.h - Amazon SQS (JSON 1.0 protocol). */
#ifndef DW_SQS_H
#define DW_SQS_H

#include "aws/aws.h"

/* Any SQS operation: "SendMessage", "GetQueueAttributes", ... */
int dw_sqs_call(struct dw_aws *aws, const char *operation, const cJSON *in,
		cJSON **out);
/* The same as a request for a pool, from JSON text (for callers that build
 * large bodies directly). */
struct dw_aws_request *dw_sqs_request_text(const char *operation,
					  const char *json, size_t len);

/* GetQueueAttributes All: a new object of attribute names to strings. */
int dw_sqs_queue_attributes(struct dw_aws *aws, const char *queue_url,
			    cJSON **attrs);

/* ListQueues with QueueNamePrefix across every page: on_queue gets each
 * queue URL; it returns 0 to go on or -1 to stop with its error raised. */
typedef int (*dw_sqs_queue_fn)(void *ud, const char *queue_url);
int dw_sqs_list_queues(struct dw_aws *aws, const char *prefix,
		       dw_sqs_queue_fn on_queue, void *ud);
int dw_sqs_delete_queue(struct dw_aws *aws, const char *queue_url);

#endif
