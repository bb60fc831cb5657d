/* dw/glue.h - AWS Glue (JSON 1.1 protocol). */
#ifndef DW_GLUE_H
#define DW_GLUE_H

#include "aws.h"

/* Any Glue operation: "GetTable", "CreateTable", ... */
int dw_glue_call(struct dw_aws *aws, const char *operation, const json_t *in,
		 json_t **out);

#endif
