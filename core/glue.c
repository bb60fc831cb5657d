/* glue.c - AWS Glue over the JSON 1.1 protocol. */
#include "dw/glue.h"

#include <stdio.h>

int dw_glue_call(struct dw_aws *aws, const char *operation, const json_t *in,
		 json_t **out)
{
	char target[128];

	snprintf(target, sizeof(target), "AWSGlue.%s", operation);
	return dw_aws_json(aws, "glue", "1.1", target, in, out);
}
