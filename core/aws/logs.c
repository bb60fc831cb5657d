/* logs.c - CloudWatch Logs FilterLogEvents over the JSON 1.1 protocol. */
#include "aws/logs.h"
#include "aws/aws.h"
#include "base/error.h"
#include "base/buf.h"
#include "base/json.h"

#include <stdlib.h>
#include <string.h>

/* One page; *token is replaced by the next page's token (NULL: last). */
static int filter_page(struct dw_aws *aws, const struct dw_logs_filter *f, char **token,
		       dw_logs_event_fn on_event, void *ud)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	const cJSON *e;
	int rc;

	cJSON_AddStringToObject(in, "logGroupName", f->group);
	if (f->start_ms > 0)
		dw_json_add_int(in, "startTime", f->start_ms);
	if (f->end_ms > 0)
		dw_json_add_int(in, "endTime", f->end_ms);
	if (f->pattern && f->pattern[0])
		cJSON_AddStringToObject(in, "filterPattern", f->pattern);
	if (f->page_size > 0)
		cJSON_AddNumberToObject(in, "limit", f->page_size);
	if (*token)
		cJSON_AddStringToObject(in, "nextToken", *token);
	rc = dw_aws_json(aws, "logs", "1.1", "Logs_20140328.FilterLogEvents", in, &out);
	cJSON_Delete(in);
	free(*token);
	*token = NULL;
	if (rc)
		return -1;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(out, "events")) {
		struct dw_logs_event ev = {
			.id = dw_json_str(e, "eventId"),
			.stream = dw_json_str(e, "logStreamName"),
			.message = dw_json_str(e, "message"),
		};
		if (!ev.id || !ev.stream || !ev.message ||
		    dw_json_int(cJSON_GetObjectItemCaseSensitive(e, "timestamp"), &ev.timestamp_ms)) {
			rc = dw_fail("InvalidResponse", "FilterLogEvents answered an event without eventId, "
				     "logStreamName, message or timestamp");
			break;
		}
		if ((rc = on_event(ud, &ev)) != 0)
			break;
	}
	const char *next = dw_json_str(out, "nextToken");
	if (rc == 0 && next && *next)
		*token = dw_xstrdup(next);
	cJSON_Delete(out);
	return rc;
}

int dw_logs_filter_events(struct dw_aws *aws, const struct dw_logs_filter *f,
			  dw_logs_event_fn on_event, void *ud, long *pages)
{
	char *token = NULL;

	if (pages)
		*pages = 0;
	do {
		if (filter_page(aws, f, &token, on_event, ud))
			return dw_error_context("reading log group %s", f->group);
		if (pages)
			(*pages)++;
	} while (token);
	return 0;
}
