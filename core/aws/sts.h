/* dw/sts.h - AWS STS (query protocol). */
#ifndef DW_STS_H
#define DW_STS_H

#include "aws/aws.h"

struct dw_sts_assume_role {
	const char *role_arn;
	const char *session_name;
	const char *external_id; /* or NULL */
	int duration_s;          /* 0: 3600 */
};

/* AssumeRole: the role's temporary credentials into *out (source
 * "assume-role", secrets registered for redaction). */
int dw_sts_assume_role(struct dw_aws *aws, const struct dw_sts_assume_role *in,
		       struct dw_creds *out);

#endif
