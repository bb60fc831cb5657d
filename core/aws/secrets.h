/* dw/secrets.h - AWS Secrets Manager (JSON 1.1). */
#ifndef DW_SECRETS_H
#define DW_SECRETS_H

#include "aws/aws.h"

/* GetSecretValue's SecretString, registered for redaction before it is
 * returned.  *out is a new string. */
int dw_secrets_get_string(struct dw_aws *aws, const char *secret_id, char **out);

/* A login secret as RDS keeps it: JSON with "username" and "password".
 * Both values are new strings; the password is registered for redaction. */
int dw_secrets_get_login(struct dw_aws *aws, const char *secret_id,
			 char **username, char **password);
/* The same from the secret's text (SecretNotLogin when it is not such JSON;
 * the message never quotes the text). */
int dw_secrets_parse_login(const char *text, const char *secret_id,
			   char **username, char **password);

#endif
