/* dw/cloudwatch.h - Amazon CloudWatch metrics (query protocol, service
 * "monitoring", version 2010-08-01). */
#ifndef DW_CLOUDWATCH_H
#define DW_CLOUDWATCH_H

#include <stddef.h>
#include <time.h>
#include "aws/aws.h"

struct dw_cw_dimension {
	const char *name;
	const char *value;
};

struct dw_cw_query {
	const char *namespace_;  /* "AWS/RDS" */
	const char *metric;      /* "DatabaseConnections" */
	const struct dw_cw_dimension *dims;
	size_t ndims;
	time_t start, end;       /* the window, UTC seconds */
	int period_s;            /* 0: the smallest whole-minute period that
				  * keeps the answer within 1440 datapoints,
				  * at least an hour */
	const char *statistic;   /* "Maximum", "Sum", "Average", ... */
};

struct dw_cw_datapoint {
	time_t when;
	double value;            /* the query's statistic */
};

/* GetMetricStatistics for one statistic.  *out is an array the caller
 * frees (NULL when *n is 0: the metric has no data in the window). */
int dw_cw_metric_statistics(struct dw_aws *aws, const struct dw_cw_query *q,
			    struct dw_cw_datapoint **out, size_t *n);

/* The period dw_cw_metric_statistics picks for a window of span seconds. */
int dw_cw_default_period(time_t span);

#endif
