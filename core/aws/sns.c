/* sns.c - SNS Publish over the query protocol. */
#include "aws/sns.h"
#include "aws/aws.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SNS refuses more than 10 message attributes per message. */
#define MAX_ATTRS 10

int dw_sns_topic_is_fifo(const char *topic_arn)
{
	size_t n = topic_arn ? strlen(topic_arn) : 0;

	return n > 5 && strcmp(topic_arn + n - 5, ".fifo") == 0;
}

static void add_attrs(struct dw_kvlist *p, const struct dw_sns_publish *m)
{
	char key[96];
	size_t k = 0;

	for (size_t i = 0; i < m->nattrs && k < MAX_ATTRS; i++) {
		if (!m->attrs[i].value || !m->attrs[i].value[0])
			continue;
		k++;
		snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Name", k);
		dw_kv_add(p, key, m->attrs[i].name);
		snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Value.DataType", k);
		dw_kv_add(p, key, "String");
		snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Value.StringValue", k);
		dw_kv_add(p, key, m->attrs[i].value);
	}
}

int dw_sns_publish(struct dw_aws *aws, const struct dw_sns_publish *m, char **message_id)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc;

	if (message_id)
		*message_id = NULL;
	dw_kv_init(&params);
	dw_kv_add(&params, "TopicArn", m->topic_arn);
	dw_kv_add(&params, "Message", m->message);
	if (m->subject && m->subject[0])
		dw_kv_add(&params, "Subject", m->subject);
	add_attrs(&params, m);
	if (m->group_id)
		dw_kv_add(&params, "MessageGroupId", m->group_id);
	if (m->dedup_id)
		dw_kv_add(&params, "MessageDeduplicationId", m->dedup_id);
	rc = dw_aws_query(aws, "sns", "2010-03-31", "Publish", &params, &doc);
	dw_kv_release(&params);
	if (rc)
		return dw_error_context("publishing to %s", m->topic_arn);
	if (message_id)
		*message_id = dw_xml_text(xmlDocGetRootElement(doc), "PublishResult/MessageId");
	xmlFreeDoc(doc);
	return 0;
}
