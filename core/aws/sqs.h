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

/* ---- typed calls for consumers (answers read with cJSON) ----------------- */

struct dw_sqs_message {
	char *id;             /* MessageId */
	char *receipt;        /* ReceiptHandle */
	char *body;
	char *from;           /* the String message attribute "from", or NULL */
	long receive_count;   /* ApproximateReceiveCount */
};

/* ReceiveMessage: up to max (1-10) messages, long-polling wait_s seconds
 * (0-20); visibility_s > 0 sets the messages' visibility timeout.  *out is
 * a new array of *n messages (free with dw_sqs_messages_free). */
int dw_sqs_receive(struct dw_aws *aws, const char *queue_url, int max, int wait_s,
		   int visibility_s, struct dw_sqs_message **out, size_t *n);
void dw_sqs_messages_free(struct dw_sqs_message *m, size_t n);

/* DeleteMessageBatch / ChangeMessageVisibilityBatch for up to 10 receipt
 * handles.  ok[i] (may be NULL) is set to 1 for the entries SQS accepted;
 * the call fails only when the request itself does. */
int dw_sqs_delete_batch(struct dw_aws *aws, const char *queue_url,
			const char *const *receipts, size_t n, int *ok);
int dw_sqs_visibility_batch(struct dw_aws *aws, const char *queue_url,
			    const char *const *receipts, size_t n, int timeout_s,
			    int *ok);
/* SendMessageBatch of up to 10 messages: each message's body and "from"
 * attribute (when not NULL) again.  ok[i] as above. */
int dw_sqs_send_batch(struct dw_aws *aws, const char *queue_url,
		      const struct dw_sqs_message *m, size_t n, int *ok);
/* GetQueueUrl: *url is a new string. */
int dw_sqs_queue_url(struct dw_aws *aws, const char *name, char **url);
/* A JSON string literal of s appended to b (for request bodies). */
void dw_sqs_json_string(struct dw_buf *b, const char *s);

#endif
