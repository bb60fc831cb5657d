/* ssm.c - SSM Parameter Store over the JSON 1.1 protocol. */
#include "aws/ssm.h"
#include "aws/aws.h"
#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>

#define NOT_FOUND "ParameterNotFound"
#define EXISTS "ParameterAlreadyExists"

int dw_ssm_call(struct dw_aws *aws, const char *operation, const cJSON *in, cJSON **out)
{
	char target[96];

	snprintf(target, sizeof(target), "AmazonSSM.%s", operation);
	return dw_aws_json(aws, "ssm", "1.1", target, in, out);
}

int dw_ssm_get_parameter(struct dw_aws *aws, const char *name, char **value,
			 long long *version)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	*value = NULL;
	*version = 0;
	cJSON_AddStringToObject(in, "Name", name);
	cJSON_AddBoolToObject(in, "WithDecryption", 1);
	rc = dw_ssm_call(aws, "GetParameter", in, &out);
	cJSON_Delete(in);
	if (rc && dw_error_is(NOT_FOUND)) {
		dw_error_clear();
		return 1;
	}
	if (rc == 0) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(out, "Parameter");
		const char *v = dw_json_str(p, "Value");
		if (!v || dw_json_int(cJSON_GetObjectItemCaseSensitive(p, "Version"), version))
			rc = dw_fail("InvalidResponse", "GetParameter answered without a Value "
				     "and a Version");
		else
			*value = dw_xstrdup(v);
	}
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("reading parameter %s", name);
	return 0;
}

int dw_ssm_put_parameter(struct dw_aws *aws, const char *name, const char *value,
			 int overwrite, long long *version)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	long long v = 0;
	int rc;

	if (version)
		*version = 0;
	cJSON_AddStringToObject(in, "Name", name);
	cJSON_AddStringToObject(in, "Value", value);
	cJSON_AddStringToObject(in, "Type", "String");
	cJSON_AddBoolToObject(in, "Overwrite", overwrite != 0);
	rc = dw_ssm_call(aws, "PutParameter", in, &out);
	cJSON_Delete(in);
	if (rc && !overwrite && dw_error_is(EXISTS)) {
		dw_error_clear();
		return 1;
	}
	if (rc == 0 && dw_json_int(cJSON_GetObjectItemCaseSensitive(out, "Version"), &v))
		rc = dw_fail("InvalidResponse", "PutParameter answered without a Version");
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("writing parameter %s", name);
	if (version)
		*version = v;
	return 0;
}

int dw_ssm_delete_parameter(struct dw_aws *aws, const char *name)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	cJSON_AddStringToObject(in, "Name", name);
	rc = dw_ssm_call(aws, "DeleteParameter", in, &out);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc && dw_error_is(NOT_FOUND)) {
		dw_error_clear();
		return 1;
	}
	if (rc)
		return dw_error_context("deleting parameter %s", name);
	return 0;
}
