/* dw/creds.h - AWS credentials from the chain users already configure:
 * environment, shared profile (with role_arn + source_profile through STS
 * AssumeRole), container credentials, EC2 instance metadata (IMDSv2). */
#ifndef DW_CREDS_H
#define DW_CREDS_H

#include <time.h>

struct dw_aws_config;

struct dw_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* or NULL */
	time_t expiration;   /* 0 when they do not expire */
	const char *source;  /* "env", "profile", "assume-role", "container", "imds" */
};

/* Resolve credentials for cfg->profile (NULL: AWS_PROFILE or "default");
 * cfg also gives the region and endpoints used for STS AssumeRole.  The
 * secret parts are registered for redaction.  Raises DW_INVALID
 * "NoCredentials" when no source has any. */
int dw_creds_resolve(struct dw_creds *out, const struct dw_aws_config *cfg);
void dw_creds_free(struct dw_creds *c);
void dw_creds_copy(struct dw_creds *dst, const struct dw_creds *src);

/* A value from the profile's section of ~/.aws/config (AWS_CONFIG_FILE),
 * e.g. "region"; NULL when absent.  Caller frees. */
char *dw_profile_config_value(const char *profile, const char *key);

#endif
