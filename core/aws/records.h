/* aws/records.h - batches of records for the put-many calls of the
 * streaming services (Kinesis PutRecords, Firehose PutRecordBatch): cut a
 * list into calls within the service's limits, and send again only the
 * records an answer says failed, with backoff, until every record is
 * accepted or the attempts run out.  No wire format here: the service
 * module passes its one-call function. */
#ifndef DW_RECORDS_H
#define DW_RECORDS_H

#include <stddef.h>

struct dw_record {
	const char *data;
	size_t len;
	const char *key;           /* Kinesis partition key; NULL for Firehose */
};

struct dw_record_limits {
	size_t max_records;        /* a call: Kinesis 500, Firehose 500 */
	size_t max_bytes;          /* a call, data and keys: 5 MiB, 4 MiB */
	size_t max_record_bytes;   /* a record, data and key: 1 MiB, 1000 KiB */
};

/* One call over recs[0..n) (n >= 1, within the limits).  Sets failed[i] to
 * 1 for each record the answer says was not accepted (the rest 0), and
 * why to the first failed record's error ("ProvisionedThroughputExceeded
 * Exception: ..."); returns 0 when the call itself went through (even with
 * failed records), -1 with the error raised when it did not. */
typedef int (*dw_records_put_fn)(void *ud, const struct dw_record *const *recs, size_t n,
				 unsigned char *failed, char *why, size_t why_len);

struct dw_records_send {
	const struct dw_record_limits *limits;
	int max_attempts;          /* tries per record, >= 1 */
	long (*backoff_ms)(int retry); /* pause before retry n (1-based); NULL none */
	dw_records_put_fn put;
	void *ud;
	/* out */
	unsigned long calls;       /* calls made */
	unsigned long retried;     /* records sent again after a failed entry */
};

/* How many of recs[0..n) go into one call: at least 1 (a record is checked
 * alone by dw_records_check), at most the limits. */
size_t dw_records_fit(const struct dw_record *const *recs, size_t n,
		      const struct dw_record_limits *l);

/* 0 when every record fits max_record_bytes, else -1 with RecordTooLarge
 * (DW_FAILED) naming the index. */
int dw_records_check(const struct dw_record *recs, size_t n, const struct dw_record_limits *l);

/* Send recs[0..n): 0 when the service accepted every record; -1 with the
 * call's error, or SendFailed (DW_TRANSIENT: every per-record failure of
 * these services is a throttle or an internal failure) when some records
 * still failed after max_attempts. */
int dw_records_send(struct dw_records_send *s, const struct dw_record *recs, size_t n);


/* Wire helpers for the service modules: data as a base64 JSON string, a
 * string as a JSON string literal (both appended to b). */
struct dw_buf;
void dw_records_b64(struct dw_buf *b, const char *data, size_t len);
void dw_records_json_string(struct dw_buf *b, const char *s);

/* Read a put-many answer's per-record list (Kinesis "Records", Firehose
 * "RequestResponses"): failed[i] = 1 for entries with an ErrorCode, why the
 * first such one.  -1 with InvalidResponse when the list is missing or its
 * length is not n. */
#include <cjson/cJSON.h>
int dw_records_answer(const cJSON *ans, const char *list, size_t n, unsigned char *failed,
		      char *why, size_t why_len);
#endif
