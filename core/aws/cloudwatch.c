/* cloudwatch.c - CloudWatch GetMetricStatistics over the query protocol. */
#include "aws/cloudwatch.h"
#include "base/timefmt.h"
#include "base/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CloudWatch answers at most 1440 datapoints per call. */
#define MAX_DATAPOINTS 1440

int dw_cw_default_period(time_t span)
{
	long minutes = (long)((span + MAX_DATAPOINTS * 60 - 1) / (MAX_DATAPOINTS * 60));
	long period = minutes * 60;

	return period < 3600 ? 3600 : (int)period;
}

static void add_params(struct dw_kvlist *p, const struct dw_cw_query *q)
{
	char iso[32], key[64];

	dw_kv_add(p, "Namespace", q->namespace_);
	dw_kv_add(p, "MetricName", q->metric);
	for (size_t i = 0; i < q->ndims; i++) {
		snprintf(key, sizeof(key), "Dimensions.member.%zu.Name", i + 1);
		dw_kv_add(p, key, q->dims[i].name);
		snprintf(key, sizeof(key), "Dimensions.member.%zu.Value", i + 1);
		dw_kv_add(p, key, q->dims[i].value);
	}
	dw_time_format_iso(q->start, iso);
	dw_kv_add(p, "StartTime", iso);
	dw_time_format_iso(q->end, iso);
	dw_kv_add(p, "EndTime", iso);
	dw_kv_addf(p, "Period", "%d",
		   q->period_s > 0 ? q->period_s : dw_cw_default_period(q->end - q->start));
	dw_kv_add(p, "Statistics.member.1", q->statistic);
}

static void read_datapoints(xmlNodePtr list, const char *statistic,
			    struct dw_cw_datapoint **out, size_t *n)
{
	size_t cap = 0;
	char when[64], value[64];

	*out = NULL;
	*n = 0;
	for (xmlNodePtr m = dw_xml_first(list, "member"); m; m = dw_xml_next(m, "member")) {
		if (!dw_xml_find(m, statistic))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = dw_xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[*n].when = dw_time_parse_iso(dw_xml_textbuf(m, "Timestamp", when, sizeof(when)));
		(*out)[*n].value = strtod(dw_xml_textbuf(m, statistic, value, sizeof(value)), NULL);
		(*n)++;
	}
}

int dw_cw_metric_statistics(struct dw_aws *aws, const struct dw_cw_query *q,
			    struct dw_cw_datapoint **out, size_t *n)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc;

	dw_kv_init(&params);
	add_params(&params, q);
	rc = dw_aws_query(aws, "monitoring", "2010-08-01", "GetMetricStatistics", &params, &doc);
	dw_kv_release(&params);
	if (rc)
		return dw_error_context("reading %s %s", q->namespace_, q->metric);
	read_datapoints(dw_xml_find(xmlDocGetRootElement(doc), "GetMetricStatisticsResult/Datapoints"),
			q->statistic, out, n);
	xmlFreeDoc(doc);
	return 0;
}
