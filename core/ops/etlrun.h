/* dw/etlrun.h - dw-etl at work: event files read from S3 in ranges and
 * transformed (ops/etl.h), their Avro outputs written to S3; as a batch
 * over named files or hours, as an SQS worker, as a Lambda custom runtime,
 * and the dead-letter queue's redrive.
 *
 * Files and messages are worked on by `concurrency` threads, each with its
 * own AWS client.  A message is deleted (or, in Lambda, reported done) only
 * after every output of every file it names was written; a failed message
 * is left on the queue, so SQS delivers it again and, after the queue's
 * maxReceiveCount, moves it to the dead-letter queue. */
#ifndef DW_ETLRUN_H
#define DW_ETLRUN_H

#include <cjson/cJSON.h>
#include <time.h>
#include "aws/aws.h"
#include "ops/etl.h"
#include "ops/fanout.h"

#define DW_ETL_MAX_CONCURRENCY 64
#define DW_ETL_CHUNK_BYTES (4u << 20) /* one ranged GET */
/* An output whose container grows past this is streamed with a multipart
 * upload, a part each time it does (so a worker holds at most about this
 * much of each output); a smaller one is written with one PUT.  8 MiB, as
 * the AWS CLI's multipart_chunksize; S3's least is 5 MiB (DW_S3_MIN_PART). */
#define DW_ETL_PART_BYTES (8u << 20)
/* Lambda: stop taking on work 2 s before the invocation's deadline (time
 * for the messages in flight to end and the answer to go out); at most
 * half the time left when an invocation starts. */
#define DW_ETL_DEADLINE_MARGIN_MS 2000

struct dw_etl_run_config {
	const struct dw_aws_config *aws_cfg; /* for the workers' clients */
	struct dw_etl_config etl;
	const char *dest_bucket;
	const char *source_bucket;   /* bare-key messages; process: the bucket */
	int concurrency;             /* files or messages in flight */
	size_t chunk_bytes;          /* 0: DW_ETL_CHUNK_BYTES */
	size_t part_bytes;           /* 0: DW_ETL_PART_BYTES */
	/* consume */
	const char *queue_url;
	int wait_s;                  /* long poll, 1-20 (default 20) */
	int visibility_s;            /* 0: the queue's VisibilityTimeout */
	long max_messages;           /* 0: no limit */
	int idle_exit_s;             /* stop after this long without messages; 0: never */
	int time_budget_s;           /* stop receiving after this; 0: no limit */
	/* lambda: work stops this long before the invocation's deadline
	 * (Lambda-Runtime-Deadline-Ms); -1: DW_ETL_DEADLINE_MARGIN_MS */
	int deadline_margin_ms;
};

/* process: the files keys[0..n) of cfg->source_bucket. */
int dw_etl_process_keys(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
			const char *const *keys, size_t n, cJSON *result);

/* process: every file of the hours [start, end) named like dw-fanout names
 * them (folder + keyfmt; see ops/fanout.h), listed hour by hour. */
int dw_etl_process_hours(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
			 const char *folder, const struct dw_fanout_keyfmt *keyfmt,
			 time_t start, time_t end, cJSON *result);

/* consume: the SQS worker.  Returns 0, DW_NOTHING (no message at all), or
 * -1 with an error raised (some failed: DW_FAILED, or DW_TRANSIENT when
 * every failure was temporary). */
int dw_etl_consume(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
		   cJSON *result);

/* lambda: the Lambda Runtime API loop at runtime_api ("host:port"); stops
 * after max_invocations (0: never, as in Lambda).  Each invocation honours
 * its deadline: no message is started after the deadline less
 * cfg->deadline_margin_ms, and the answer then names every message not
 * done among the batch's failures. */
int dw_etl_lambda(const struct dw_etl_run_config *cfg, const char *runtime_api,
		  long max_invocations, cJSON *result);

/* The batch response for an SQS event: {"batchItemFailures": [...]}, one
 * {"itemIdentifier": messageId} per failed message (exposed for tests). */
cJSON *dw_etl_batch_response(const char *const *failed_ids, size_t n);

/* redrive: up to max_messages messages from dlq_url back to queue_url
 * (dlq_url NULL: the queue's RedrivePolicy names it).  FIFO queues (both
 * must be) keep each message's MessageGroupId and MessageDeduplicationId,
 * and each group's order. */
int dw_etl_redrive(struct dw_aws *aws, const char *queue_url, const char *dlq_url,
		   long max_messages, cJSON *result);

#endif
