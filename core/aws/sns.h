/* aws/sns.h - Amazon SNS (query protocol, version 2010-03-31): Publish with
 * string message attributes, for standard and FIFO topics. */
#ifndef DW_SNS_H
#define DW_SNS_H

#include <stddef.h>

struct dw_aws;

/* A String message attribute (what subscription filter policies match). */
struct dw_sns_attr {
	const char *name;
	const char *value;        /* NULL or "": left out (SNS refuses empty values) */
};

struct dw_sns_publish {
	const char *topic_arn;
	const char *subject;      /* NULL: none; SNS takes at most 100 printable
				   * ASCII characters, no line breaks */
	const char *message;      /* at most 256 KiB */
	const struct dw_sns_attr *attrs;
	size_t nattrs;            /* at most 10 (SNS's limit) */
	const char *group_id;     /* FIFO topics: MessageGroupId (required there) */
	const char *dedup_id;     /* FIFO topics: MessageDeduplicationId */
};

/* 1 when the topic's ARN names a FIFO topic (its name ends in ".fifo"). */
int dw_sns_topic_is_fifo(const char *topic_arn);

/* Publish: 0 with *message_id (caller frees; may be NULL) the id SNS gave,
 * -1 with the error raised. */
int dw_sns_publish(struct dw_aws *aws, const struct dw_sns_publish *p, char **message_id);

#endif
