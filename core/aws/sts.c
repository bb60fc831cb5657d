/* sts.c - AWS STS over the query protocol. */
#include "aws/sts.h"
#include "base/xml.h"

int dw_sts_caller_identity(struct dw_aws *aws, struct dw_sts_identity *out)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr r;

	if (dw_aws_query(aws, "sts", "2011-06-15", "GetCallerIdentity", NULL, &doc))
		return -1;
	r = dw_xml_find(xmlDocGetRootElement(doc), "GetCallerIdentityResult");
	dw_xml_textbuf(r, "Account", out->account, sizeof(out->account));
	dw_xml_textbuf(r, "Arn", out->arn, sizeof(out->arn));
	dw_xml_textbuf(r, "UserId", out->user_id, sizeof(out->user_id));
	xmlFreeDoc(doc);
	return 0;
}
