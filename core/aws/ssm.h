/* aws/ssm.h - AWS Systems Manager Parameter Store over the JSON 1.1
 * protocol (target AmazonSSM): the two calls a watermark needs, typed.
 *
 * Parameter Store has no conditional write: PutParameter with Overwrite
 * always wins and answers the new version.  A caller that must not lose a
 * concurrent update reads the version first and checks that the write's
 * version is that one plus one (dw-extract's WatermarkConflict). */
#ifndef DW_SSM_H
#define DW_SSM_H

struct dw_aws;

/* Any SSM operation ("GetParameter", ...): in is borrowed; *out the parsed
 * answer, the caller deletes it. */
#include <cjson/cJSON.h>
int dw_ssm_call(struct dw_aws *aws, const char *operation, const cJSON *in, cJSON **out);

/* GetParameter (WithDecryption): 0 with *value (caller frees) and
 * *version; 1 when there is no such parameter (nothing raised); -1 failed. */
int dw_ssm_get_parameter(struct dw_aws *aws, const char *name, char **value,
			 long long *version);

/* PutParameter of a String.  overwrite 0: 1 when the parameter exists
 * already (nothing raised, nothing written).  0 with *version (may be NULL)
 * the parameter's new version; -1 failed. */
int dw_ssm_put_parameter(struct dw_aws *aws, const char *name, const char *value,
			 int overwrite, long long *version);

/* DeleteParameter: 0 deleted, 1 there was none, -1 failed. */
int dw_ssm_delete_parameter(struct dw_aws *aws, const char *name);

#endif
