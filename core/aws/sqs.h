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
	char *group_id;       /* FIFO queues: MessageGroupId, else NULL */
	char *dedup_id;       /* FIFO queues: MessageDeduplicationId, else NULL */
};

/* ReceiveMessage: up to max (1-10) messages, long-polling wait_s seconds
 * (0-20); visibility_s > 0 sets the messages' visibility timeout.  *out is
 * a new array of *n messages (free with dw_sqs_messages_free). */
int dw_sqs_receive(struct dw_aws *aws, const char *queue_url, int max, int wait_s,
		   int visibility_s, struct dw_sqs_message **out, size_t *n);
void dw_sqs_messages_free(struct dw_sqs_message *m, size_t n);
/* The messages of a ReceiveMessage answer, as dw_sqs_receive reads them:
 * InvalidResponse when one lacks MessageId, ReceiptHandle or Body. */
int dw_sqs_receive_parse(const cJSON *answer, struct dw_sqs_message **out, size_t *n);

/* DeleteMessageBatch / ChangeMessageVisibilityBatch for up to 10 receipt
 * handles.  ok[i] (may be NULL) is set to 1 for the entries SQS accepted;
 * the call fails only when the request itself does. */
int dw_sqs_delete_batch(struct dw_aws *aws, const char *queue_url,
			const char *const *receipts, size_t n, int *ok);
int dw_sqs_visibility_batch(struct dw_aws *aws, const char *queue_url,
			    const char *const *receipts, size_t n, int timeout_s,
			    int *ok);
/* SendMessageBatch of up to 10 messages: each message's body and "from"
 * attribute (when not NULL) again, and on a FIFO queue its group and
 * deduplication ids (when not NULL; entries keep their order, and so does
 * each group).  ok[i] as above (DW_SQS_SENT). */
int dw_sqs_send_batch(struct dw_aws *aws, const char *queue_url,
		      const struct dw_sqs_message *m, size_t n, int *ok);
/* GetQueueUrl: *url is a new string. */
int dw_sqs_queue_url(struct dw_aws *aws, const char *name, char **url);
/* A JSON string literal of s appended to b (for request bodies). */
void dw_sqs_json_string(struct dw_buf *b, const char *s);

/* ---- SendMessageBatch, for callers with their own pool -------------------- */

#define DW_SQS_BATCH_MAX 10

/* A String message attribute. */
struct dw_sqs_attr {
	const char *name, *value;
};

/* One message of a batch.  Its Id is its position in the batch, "0".."9":
 * the answer is read back by those ids. */
struct dw_sqs_entry {
	const char *body;
	const struct dw_sqs_attr *attrs;
	size_t n_attrs;
	const char *dedup_id;  /* FIFO: MessageDeduplicationId, or NULL */
	const char *group_id;  /* FIFO: MessageGroupId, or NULL */
};

/* The SendMessageBatch body of n (1-10) entries, appended to out as JSON
 * text.  Written as text, not a cJSON tree: building and printing a tree
 * per message was a quarter of dw-fanout's client CPU. */
void dw_sqs_send_batch_body(struct dw_buf *out, const char *queue_url,
			    const struct dw_sqs_entry *e, size_t n);
/* The same as a request for a pool (dw_aws_pool_submit). */
struct dw_aws_request *dw_sqs_send_batch_request(const char *queue_url,
						 const struct dw_sqs_entry *e, size_t n);

/* What a batch answer (SendMessageBatch, DeleteMessageBatch,
 * ChangeMessageVisibilityBatch) says of each entry sent with the ids
 * "0".."n-1":
 *   SENT      listed once, in Successful;
 *   REJECTED  listed once, in Failed, with SenderFault true: sending again
 *             cannot help (code: SQS's Code, or "SenderFault");
 *   RESEND    anything else: failed on SQS's side, not listed at all, or
 *             listed more than once (a duplicate, or in both lists: the
 *             answer contradicts itself, and sending again loses nothing).
 * Items with an unknown or missing Id (not one of "0".."n-1") settle
 * nothing; they are counted in *odd. */
enum dw_sqs_fate { DW_SQS_RESEND = 0, DW_SQS_SENT, DW_SQS_REJECTED };

struct dw_sqs_verdict {
	enum dw_sqs_fate fate;
	char code[64];     /* REJECTED only, masked (dw_redact) and cut to fit */
	char message[256];
};

/* The full reading of an answer (dw_json_parse: strict).  Returns 0, or -1
 * with InvalidResponse raised (every entry RESEND) when the body is not a
 * JSON object or Successful or Failed is neither an array nor null.  An
 * empty body is an empty object.  n is at most DW_SQS_BATCH_MAX; odd may be
 * NULL. */
int dw_sqs_batch_verdicts(const struct dw_http_response *resp, size_t n,
			  struct dw_sqs_verdict *out, unsigned *odd);
/* The fast path: 1 when the body is for certain an answer whose full
 * reading is every one of the n entries SENT ({"Successful":[...]} of
 * objects with string members only, ASCII without escapes, and an
 * absent or empty "Failed"), found without a parse; 0 when it must be read
 * in full.  Nearly every answer is such, and the full parse of each was a
 * fifth of dw-fanout's client CPU. */
int dw_sqs_batch_all_sent(const struct dw_http_response *resp, size_t n);
/* The fast path, else the full reading: returns what dw_sqs_batch_verdicts
 * does. */
int dw_sqs_batch_answer(const struct dw_http_response *resp, size_t n,
			struct dw_sqs_verdict *out, unsigned *odd);

#endif
