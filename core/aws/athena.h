/* dw/athena.h - Amazon Athena queries (JSON 1.1), run and waited for. */
#ifndef DW_ATHENA_H
#define DW_ATHENA_H

#include "aws/aws.h"

struct dw_athena_query {
	const char *sql;
	const char *database;        /* may be NULL */
	const char *workgroup;       /* NULL: "primary" */
	const char *output_location; /* s3://...; NULL: the workgroup's */
	int wait_s;                  /* 0: 300 */
};

struct dw_athena_result {
	char id[128];   /* QueryExecutionId */
	char state[32]; /* SUCCEEDED, or the last state seen */
};

/* StartQueryExecution (with a fresh ClientRequestToken, so retries of the
 * call cannot start it twice), then GetQueryExecution until it finishes,
 * logging progress.  A FAILED or CANCELLED query raises DW_FAILED with
 * Athena's reason; running past wait_s raises DW_TRANSIENT. */
int dw_athena_run(struct dw_aws *aws, const struct dw_athena_query *q,
		  struct dw_athena_result *out);

/* A GetQueryExecution answer, as the waiter above reads it (and the fuzz
 * harness reads hostile ones): r->state its QueryExecution.Status.State
 * ("UNKNOWN" when absent), reason its StateChangeReason ("no reason
 * given"), each cut to its buffer. */
void dw_athena_read_state(const cJSON *answer, struct dw_athena_result *r,
			  char *reason, size_t len);

#endif
