/* ses.c - SES v1 SendEmail and GetSendQuota over the query protocol. */
#include "aws/ses.h"
#include "aws/aws.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SES takes at most 50 recipients per message. */
#define MAX_TO 50

#define VERSION "2010-12-01"

int dw_ses_send_email(struct dw_aws *aws, const struct dw_ses_mail *m, char **message_id)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	char key[64];
	int rc;

	if (message_id)
		*message_id = NULL;
	if (m->nto == 0 || m->nto > MAX_TO)
		return dw_fail("InternalError", "SendEmail needs 1 to %d recipients, not %zu", MAX_TO, m->nto);
	dw_kv_init(&params);
	dw_kv_add(&params, "Source", m->from);
	for (size_t i = 0; i < m->nto; i++) {
		snprintf(key, sizeof(key), "Destination.ToAddresses.member.%zu", i + 1);
		dw_kv_add(&params, key, m->to[i]);
	}
	dw_kv_add(&params, "Message.Subject.Data", m->subject);
	dw_kv_add(&params, "Message.Subject.Charset", "UTF-8");
	if (m->text) {
		dw_kv_add(&params, "Message.Body.Text.Data", m->text);
		dw_kv_add(&params, "Message.Body.Text.Charset", "UTF-8");
	}
	if (m->html) {
		dw_kv_add(&params, "Message.Body.Html.Data", m->html);
		dw_kv_add(&params, "Message.Body.Html.Charset", "UTF-8");
	}
	rc = dw_aws_query(aws, "ses", VERSION, "SendEmail", &params, &doc);
	dw_kv_release(&params);
	if (rc)
		return dw_error_context("sending mail to %s%s", m->to[0], m->nto > 1 ? ", ..." : "");
	if (message_id)
		*message_id = dw_xml_text(xmlDocGetRootElement(doc), "SendEmailResult/MessageId");
	xmlFreeDoc(doc);
	return 0;
}

static double number(xmlNodePtr result, const char *name, double def)
{
	char text[64];
	char *end;
	const char *v = dw_xml_textbuf(result, name, text, sizeof(text));
	double d = strtod(v, &end);

	return *v && !*end ? d : def;
}

int dw_ses_send_quota(struct dw_aws *aws, struct dw_ses_quota *q)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr r;

	if (dw_aws_query(aws, "ses", VERSION, "GetSendQuota", NULL, &doc))
		return dw_error_context("reading the SES send quota");
	r = dw_xml_find(xmlDocGetRootElement(doc), "GetSendQuotaResult");
	q->max_24h = number(r, "Max24HourSend", -1);
	q->max_send_rate = number(r, "MaxSendRate", 1);
	q->sent_24h = number(r, "SentLast24Hours", 0);
	xmlFreeDoc(doc);
	if (!r)
		return dw_fail("InvalidResponse", "GetSendQuota answered without a GetSendQuotaResult");
	return 0;
}
