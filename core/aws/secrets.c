/* secrets.c - AWS Secrets Manager over the JSON 1.1 protocol. */
#include "aws/secrets.h"
#include "base/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dw_secrets_get_string(struct dw_aws *aws, const char *secret_id, char **out)
{
	cJSON *in = cJSON_CreateObject(), *resp = NULL;

	*out = NULL;
	cJSON_AddStringToObject(in, "SecretId", secret_id);
	int rc = dw_aws_json(aws, "secretsmanager", "1.1", "secretsmanager.GetSecretValue",
			     in, &resp);
	cJSON_Delete(in);
	if (rc)
		return dw_error_context("reading secret %s", secret_id);
	const char *value = dw_json_str(resp, "SecretString");
	if (value) {
		dw_redact_secret(value);
		*out = dw_xstrdup(value);
	}
	cJSON_Delete(resp);
	if (!*out)
		return dw_fail("SecretNotString", "secret %s has no SecretString", secret_id);
	return 0;
}

int dw_secrets_get_login(struct dw_aws *aws, const char *secret_id,
			 char **username, char **password)
{
	char *text;
	int rc;

	*username = *password = NULL;
	if (dw_secrets_get_string(aws, secret_id, &text))
		return -1;
	rc = dw_secrets_parse_login(text, secret_id, username, password);
	free(text);
	return rc;
}

int dw_secrets_parse_login(const char *text, const char *secret_id,
			   char **username, char **password)
{
	/* Strict, as a request is: a login naming "password" twice is
	 * ambiguous (which one would MySQL get?) and refused.  The parser
	 * never quotes the text (it is the secret), and its own error is
	 * replaced by SecretNotLogin naming only the secret and the key. */
	cJSON *doc = NULL;

	*username = *password = NULL;
	if (dw_json_parse(text, strlen(text), "secret", &doc)) {
		char key[160];
		int dup = dw_error_is("DuplicateKey");

		snprintf(key, sizeof(key), "%s", dw_error_last()->field);
		dw_error_clear();
		if (dup)
			return dw_fail("SecretNotLogin", "secret %s names \"%s\" twice", secret_id, key);
		return dw_fail("SecretNotLogin",
			       "secret %s is not JSON with string \"username\" and \"password\"",
			       secret_id);
	}
	const char *user = dw_json_str(doc, "username");
	const char *pass = dw_json_str(doc, "password");
	if (pass)
		dw_redact_secret(pass);
	if (!user || !pass) {
		cJSON_Delete(doc);
		return dw_fail("SecretNotLogin",
			       "secret %s is not JSON with string \"username\" and \"password\"",
			       secret_id);
	}
	*username = dw_xstrdup(user);
	*password = dw_xstrdup(pass);
	cJSON_Delete(doc);
	return 0;
}
