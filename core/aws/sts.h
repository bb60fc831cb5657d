/* dw/sts.h - AWS STS (query protocol). */
#ifndef DW_STS_H
#define DW_STS_H

#include "aws/aws.h"

struct dw_sts_identity {
	char account[32];
	char arn[512];
	char user_id[256];
};

int dw_sts_caller_identity(struct dw_aws *aws, struct dw_sts_identity *out);

#endif
