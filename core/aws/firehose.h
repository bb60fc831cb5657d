/* aws/firehose.h - Amazon Data Firehose over the JSON 1.1 protocol
 * (target Firehose_20150804): PutRecordBatch, typed, within its limits. */
#ifndef DW_FIREHOSE_H
#define DW_FIREHOSE_H

#include "aws/records.h"

struct dw_aws;

/* PutRecordBatch: at most 500 records and 4 MiB a call, a record at most
 * 1000 KiB (the API's limits). */
extern const struct dw_record_limits dw_firehose_limits;

/* One PutRecordBatch call (a dw_records_put_fn with ud a
 * struct dw_firehose_target).  Keys are not used. */
struct dw_firehose_target {
	struct dw_aws *aws;
	const char *stream;
};
int dw_firehose_put_call(void *target, const struct dw_record *const *recs, size_t n,
			unsigned char *failed, char *why, size_t why_len);

/* Send every record, in calls within the limits; records an answer says
 * failed are sent again, alone, after a backoff (the client's max_attempts
 * tries each).  calls and retried (may be NULL) add up what was done. */
int dw_firehose_put_batch(struct dw_aws *aws, const char *stream,
			  const struct dw_record *recs, size_t n,
			  unsigned long *calls, unsigned long *retried);

#endif
