/* secrets.c - AWS Secrets Manager over the JSON 1.1 protocol. */
#include "aws/secrets.h"
#include "base/redact.h"

#include <stdlib.h>
#include <string.h>

int dw_secrets_get_string(struct dw_aws *aws, const char *secret_id, char **out)
{
	json_t *in = json_pack("{s:s}", "SecretId", secret_id), *resp = NULL;

	*out = NULL;
	int rc = dw_aws_json(aws, "secretsmanager", "1.1", "secretsmanager.GetSecretValue",
			     in, &resp);
	json_decref(in);
	if (rc)
		return dw_error_context("reading secret %s", secret_id);
	const char *value = json_string_value(json_object_get(resp, "SecretString"));
	if (value) {
		dw_redact_secret(value);
		*out = dw_xstrdup(value);
	}
	json_decref(resp);
	if (!*out)
		return dw_fail("SecretNotString", "secret %s has no SecretString", secret_id);
	return 0;
}

int dw_secrets_get_login(struct dw_aws *aws, const char *secret_id,
			 char **username, char **password)
{
	char *text;
	json_t *doc;

	*username = *password = NULL;
	if (dw_secrets_get_string(aws, secret_id, &text))
		return -1;
	doc = json_loads(text, 0, NULL);
	free(text);
	const char *user = json_string_value(json_object_get(doc, "username"));
	const char *pass = json_string_value(json_object_get(doc, "password"));
	if (pass)
		dw_redact_secret(pass);
	if (!user || !pass) {
		json_decref(doc);
		return dw_fail("SecretNotLogin",
			       "secret %s is not JSON with string \"username\" and \"password\"",
			       secret_id);
	}
	*username = dw_xstrdup(user);
	*password = dw_xstrdup(pass);
	json_decref(doc);
	return 0;
}
