/* dw/creds.h - AWS credentials from the chain users already configure:
 * environment, shared profile (with role_arn + source_profile through STS
 * AssumeRole), container credentials, EC2 instance metadata (IMDSv2). */
#ifndef DW_CREDS_H
#define DW_CREDS_H

#include <time.h>

struct dw_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* or NULL */
	time_t expiration;   /* 0 when they do not expire */
	const char *source;  /* "env", "profile", "assume-role", "container", "imds" */
};

/* What a profile with role_arn + source_profile asks for. */
struct dw_creds_role {
	const char *profile;
	const char *role_arn;
	const char *session_name;
	const char *external_id;  /* or NULL */
	int duration_s;
	const char *region;       /* where to ask STS */
};

/* Assume role with source's credentials into *out (0), or raise (-1): the
 * one step of the chain that needs an AWS call.  The chain is given it by
 * whoever resolves (aws/session.c passes STS AssumeRole), so the chain
 * never calls the AWS client, which sits above it. */
typedef int (*dw_creds_assume_fn)(void *ud, const struct dw_creds_role *role,
				  const struct dw_creds *source, struct dw_creds *out);

struct dw_creds_chain {
	const char *profile;      /* NULL: AWS_PROFILE or "default" */
	const char *region;       /* for STS; NULL: the profile's, else us-east-1 */
	dw_creds_assume_fn assume; /* NULL: role profiles are refused */
	void *ud;
};

/* Resolve credentials along the chain for chain->profile.  The secret
 * parts are registered for redaction.  Raises DW_INVALID "NoCredentials"
 * when no source has any. */
int dw_creds_resolve(struct dw_creds *out, const struct dw_creds_chain *chain);
/* Fill c with copies of the parts (token may be NULL or ""), registering
 * the secret ones for redaction. */
void dw_creds_set(struct dw_creds *c, const char *id, const char *secret,
		  const char *token, const char *source);
void dw_creds_release(struct dw_creds *c);
void dw_creds_copy(struct dw_creds *dst, const struct dw_creds *src);

/* A value from the profile's section of ~/.aws/config (AWS_CONFIG_FILE),
 * e.g. "region"; NULL when absent.  Caller frees. */
char *dw_profile_config_value(const char *profile, const char *key);

#endif
