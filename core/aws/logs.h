/* aws/logs.h - Amazon CloudWatch Logs (JSON 1.1 protocol, target
 * Logs_20140328): FilterLogEvents across every page. */
#ifndef DW_LOGS_H
#define DW_LOGS_H

#include <stddef.h>

struct dw_aws;

struct dw_logs_event {
	const char *id;            /* eventId */
	const char *stream;        /* logStreamName */
	long long timestamp_ms;
	const char *message;
};

struct dw_logs_filter {
	const char *group;         /* logGroupName */
	long long start_ms;        /* startTime (inclusive); 0: none */
	long long end_ms;          /* endTime; 0: none */
	const char *pattern;       /* filterPattern; NULL: every event */
	int page_size;             /* limit per page (1-10000); 0: the service's */
};

/* Called per event, in the order the pages come; returns 0 to go on or -1
 * to stop with its error raised.  The event is borrowed for the call. */
typedef int (*dw_logs_event_fn)(void *ud, const struct dw_logs_event *e);

/* FilterLogEvents, following nextToken through every page.  *pages (may be
 * NULL) counts the pages read. */
int dw_logs_filter_events(struct dw_aws *aws, const struct dw_logs_filter *f,
			  dw_logs_event_fn on_event, void *ud, long *pages);

#endif
