/* aws/kinesis.h - Amazon Kinesis Data Streams over the JSON 1.1 protocol
 * (target Kinesis_20131202): PutRecords, typed, within its limits. */
#ifndef DW_KINESIS_H
#define DW_KINESIS_H

#include "aws/records.h"

struct dw_aws;

/* PutRecords: at most 500 records and 5 MiB a call, a record's data and
 * partition key at most 1 MiB (the API's limits). */
extern const struct dw_record_limits dw_kinesis_limits;

/* One PutRecords call (a dw_records_put_fn with ud the stream name,
 * through a struct dw_kinesis_target).  Records need a key (1-256
 * characters). */
struct dw_kinesis_target {
	struct dw_aws *aws;
	const char *stream;
};
int dw_kinesis_put_call(void *target, const struct dw_record *const *recs, size_t n,
			unsigned char *failed, char *why, size_t why_len);

/* Send every record, in calls within the limits; records an answer says
 * failed are sent again, alone, after a backoff (the client's max_attempts
 * tries each).  calls and retried (may be NULL) add up what was done. */
int dw_kinesis_put_records(struct dw_aws *aws, const char *stream,
			   const struct dw_record *recs, size_t n,
			   unsigned long *calls, unsigned long *retried);

#endif
