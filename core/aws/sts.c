/* sts.c - AWS STS over the query protocol. */
#include "aws/sts.h"
#include "base/xml.h"

#include <stdlib.h>

#define STS_VERSION "2011-06-15"

int dw_sts_assume_role(struct dw_aws *aws, const struct dw_sts_assume_role *in,
		       struct dw_creds *out)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc;

	dw_kv_init(&params);
	dw_kv_add(&params, "RoleArn", in->role_arn);
	dw_kv_add(&params, "RoleSessionName", in->session_name);
	if (in->external_id)
		dw_kv_add(&params, "ExternalId", in->external_id);
	dw_kv_addf(&params, "DurationSeconds", "%d", in->duration_s > 0 ? in->duration_s : 3600);
	rc = dw_aws_query(aws, "sts", STS_VERSION, "AssumeRole", &params, &doc);
	dw_kv_release(&params);
	if (rc)
		return -1;
	xmlNodePtr c = dw_xml_find(xmlDocGetRootElement(doc), "AssumeRoleResult/Credentials");
	char *id = dw_xml_text(c, "AccessKeyId");
	char *secret = dw_xml_text(c, "SecretAccessKey");
	char *token = dw_xml_text(c, "SessionToken");
	if (id && secret && token)
		dw_creds_set(out, id, secret, token, "assume-role");
	else
		rc = dw_fail("InvalidResponse", "STS AssumeRole answered without credentials");
	free(id);
	free(secret);
	free(token);
	xmlFreeDoc(doc);
	return rc;
}
