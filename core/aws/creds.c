/* creds.c - the credential chain: environment, shared profile (with
 * role_arn + source_profile through STS AssumeRole), container
 * credentials, EC2 instance metadata with IMDSv2 tokens. */
#include "aws/creds.h"
#include "aws/http.h"
#include "base/json.h"
#include "base/log.h"
#include "base/redact.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void dw_creds_release(struct dw_creds *c)
{
	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->session_token);
	memset(c, 0, sizeof(*c));
}

void dw_creds_set(struct dw_creds *c, const char *id, const char *secret,
		  const char *token, const char *source)
{
	c->access_key_id = dw_xstrdup(id);
	c->secret_access_key = dw_xstrdup(secret);
	c->session_token = token && *token ? dw_xstrdup(token) : NULL;
	c->source = source;
	dw_redact_secret(c->secret_access_key);
	dw_redact_secret(c->session_token);
}

void dw_creds_copy(struct dw_creds *dst, const struct dw_creds *src)
{
	dw_creds_set(dst, src->access_key_id, src->secret_access_key,
		  src->session_token, src->source);
	dst->expiration = src->expiration;
}

/* ---- shared files -------------------------------------------------------- */

static char *home_file(const char *env, const char *name)
{
	const char *v = getenv(env), *home = getenv("HOME");

	if (v && *v)
		return dw_xstrdup(v);
	return dw_xasprintf("%s/.aws/%s", home ? home : ".", name);
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* The value of key in section [want] of an INI file, or NULL. */
static char *ini_value(const char *file, const char *want, const char *key)
{
	FILE *f = fopen(file, "r");
	char line[4096];
	int in_section = 0;
	char *found = NULL;

	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		char *s = trim(line);
		if (*s == '#' || *s == ';' || !*s)
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (end)
				*end = '\0';
			in_section = strcmp(trim(s + 1), want) == 0;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!in_section || !eq)
			continue;
		*eq = '\0';
		if (strcmp(trim(s), key) == 0)
			found = dw_xstrdup(trim(eq + 1));
	}
	fclose(f);
	return found;
}

static const char *profile_name(const char *profile)
{
	const char *p = profile && *profile ? profile : getenv("AWS_PROFILE");

	return p && *p ? p : "default";
}

char *dw_profile_config_value(const char *profile, const char *key)
{
	char *file = home_file("AWS_CONFIG_FILE", "config");
	const char *name = profile_name(profile);
	char *section = strcmp(name, "default") == 0 ? dw_xstrdup("default")
						     : dw_xasprintf("profile %s", name);
	char *v = ini_value(file, section, key);

	if (!v)
		v = ini_value(file, name, key);
	free(section);
	free(file);
	return v;
}

static char *credentials_value(const char *profile, const char *key)
{
	char *file = home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	char *v = ini_value(file, profile, key);

	free(file);
	return v ? v : dw_profile_config_value(profile, key);
}

/* ---- role profiles -------------------------------------------------------- */

/* role_arn + source_profile: the role is assumed with the source profile's
 * credentials by the chain's assume function (STS AssumeRole, passed in by
 * aws/session.c: the chain itself never calls an AWS client). */
static int from_assume_role(struct dw_creds *out, const struct dw_creds_chain *chain,
			    const char *profile, const struct dw_creds *source)
{
	char *role = dw_profile_config_value(profile, "role_arn");
	char *session = dw_profile_config_value(profile, "role_session_name");
	char *external = dw_profile_config_value(profile, "external_id");
	char *duration = dw_profile_config_value(profile, "duration_seconds");
	char *region = NULL;
	char default_session[48];
	int rc;

	snprintf(default_session, sizeof(default_session), "dwops-%ld", (long)time(NULL));
	struct dw_creds_role r = {
		.profile = profile, .role_arn = role,
		.session_name = session ? session : default_session,
		.external_id = external,
		.duration_s = duration ? atoi(duration) : 3600,
		.region = chain->region,
	};
	if (!r.region) {
		region = dw_profile_config_value(profile, "region");
		r.region = region ? region : "us-east-1";
	}
	if (!chain->assume)
		rc = dw_invalid("profile", "profile %s: role profiles need STS, which this "
				"client was not given", profile);
	else if ((rc = chain->assume(chain->ud, &r, source, out)) == 0)
		dw_info("credentials: assumed role %s for profile %s", role, profile);
	else
		dw_error_context("assuming role %s for profile %s", role, profile);
	free(role);
	free(session);
	free(external);
	free(duration);
	free(region);
	return rc;
}

/* 1 found, 0 not configured, -1 error. */
static int from_profile(struct dw_creds *out, const struct dw_creds_chain *chain,
			const char *profile, int depth)
{
	char *id = credentials_value(profile, "aws_access_key_id");
	char *secret = credentials_value(profile, "aws_secret_access_key");
	char *token = credentials_value(profile, "aws_session_token");
	char *role = dw_profile_config_value(profile, "role_arn");
	char *source = dw_profile_config_value(profile, "source_profile");
	int rc = 0;

	if (role && source) {
		struct dw_creds src = { 0 };
		if (depth > 4)
			rc = dw_invalid("profile", "profile %s: source_profile chain is too long",
					profile);
		else if ((rc = from_profile(&src, chain, source, depth + 1)) == 0)
			rc = dw_invalid("profile", "profile %s: source_profile %s has no credentials",
					profile, source);
		if (rc > 0)
			rc = from_assume_role(out, chain, profile, &src) ? -1 : 1;
		dw_creds_release(&src);
	} else if (role) {
		rc = dw_invalid("profile", "profile %s: role_arn needs a source_profile", profile);
	} else if (id && secret) {
		dw_creds_set(out, id, secret, token, "profile");
		rc = 1;
	}
	free(id);
	free(secret);
	free(token);
	free(role);
	free(source);
	return rc;
}

/* ---- container and instance metadata ----------------------------------- */

static int json_creds(struct dw_creds *out, const char *body, const char *token_key,
		      const char *source)
{
	cJSON *doc = cJSON_Parse(body);
	const char *id = dw_json_str(doc, "AccessKeyId");
	const char *secret = dw_json_str(doc, "SecretAccessKey");
	const char *token = dw_json_str(doc, token_key);
	int rc = 0;

	if (id && secret) {
		dw_creds_set(out, id, secret, token, source);
		rc = 1;
	}
	cJSON_Delete(doc);
	return rc;
}

static int http_get(struct dw_http *h, const char *method, const char *url,
		    struct dw_kvlist *headers, long timeout_ms,
		    struct dw_http_response *resp)
{
	struct dw_http_request req = {
		.method = method, .url = url, .headers = headers,
		.timeout_ms = timeout_ms,
	};

	dw_http_response_clear(resp);
	if (dw_http_perform(h, &req, resp) || resp->status != 200)
		return -1;
	return 0;
}

static char *read_token_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	char *token = NULL;

	if (!f)
		return NULL;
	if (fgets(line, sizeof(line), f))
		token = dw_xstrdup(trim(line));
	fclose(f);
	return token;
}

static int from_container(struct dw_creds *out)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *token = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *token_file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	struct dw_http *h;
	struct dw_http_response resp;
	struct dw_kvlist headers;
	char *url, *file_token = NULL;
	int rc = 0;

	if ((!rel || !*rel) && (!full || !*full))
		return 0;
	url = rel && *rel ? dw_xasprintf("http://169.254.170.2%s", rel) : dw_xstrdup(full);
	dw_kv_init(&headers);
	if (token_file && *token_file)
		token = file_token = read_token_file(token_file);
	if (token && *token) {
		dw_redact_secret(token);
		dw_kv_add(&headers, "Authorization", token);
	}
	h = dw_http_new();
	dw_http_response_init(&resp);
	if (http_get(h, "GET", url, &headers, 2000, &resp) == 0)
		rc = json_creds(out, resp.body.data, "Token", "container");
	if (rc <= 0)
		rc = dw_invalid(NULL, "container credentials: nothing usable from %s (HTTP %ld)",
				url, resp.status);
	dw_http_response_release(&resp);
	dw_http_free(h);
	dw_kv_release(&headers);
	free(url);
	free(file_token);
	return rc;
}

static int from_imds(struct dw_creds *out)
{
	const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
	const char *base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	struct dw_http *h;
	struct dw_http_response resp;
	struct dw_kvlist headers;
	char *url, *token = NULL, *role = NULL;
	int rc = 0;

	if (disabled && strcmp(disabled, "true") == 0)
		return 0;
	if (!base || !*base)
		base = "http://169.254.169.254";
	h = dw_http_new();
	dw_http_response_init(&resp);
	dw_kv_init(&headers);
	/* IMDSv2: a session token first, then every read carries it. */
	dw_kv_add(&headers, "X-aws-ec2-metadata-token-ttl-seconds", "21600");
	url = dw_xasprintf("%s/latest/api/token", base);
	if (http_get(h, "PUT", url, &headers, 1000, &resp) == 0) {
		token = dw_xstrdup(trim(resp.body.data ? resp.body.data : ""));
		dw_redact_secret(token);
		dw_kv_release(&headers);
		dw_kv_add(&headers, "X-aws-ec2-metadata-token", token);
		free(url);
		url = dw_xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
		if (http_get(h, "GET", url, &headers, 1000, &resp) == 0 && resp.body.len)
			role = dw_xstrndup(resp.body.data, strcspn(resp.body.data, "\r\n"));
	}
	if (role) {
		free(url);
		url = dw_xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
		if (http_get(h, "GET", url, &headers, 1000, &resp) == 0)
			rc = json_creds(out, resp.body.data, "Token", "imds");
	}
	free(url);
	free(token);
	free(role);
	dw_kv_release(&headers);
	dw_http_response_release(&resp);
	dw_http_free(h);
	return rc;
}

int dw_creds_resolve(struct dw_creds *out, const struct dw_creds_chain *chain)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *explicit_profile = chain->profile;
	int rc;

	memset(out, 0, sizeof(*out));
	/* A profile named in the request wins over the environment's keys. */
	if (!(explicit_profile && *explicit_profile) && id && *id && secret && *secret) {
		dw_creds_set(out, id, secret, getenv("AWS_SESSION_TOKEN"), "env");
		return 0;
	}
	rc = from_profile(out, chain, profile_name(explicit_profile), 0);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (explicit_profile && *explicit_profile)
		return dw_raise(DW_INVALID, "NoCredentials", "profile",
				"profile %s has no credentials", explicit_profile);
	rc = from_container(out);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (from_imds(out) > 0)
		return 0;
	return dw_raise(DW_INVALID, "NoCredentials", NULL,
			"no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
			"AWS_PROFILE, container credentials, or run on EC2 with an instance role");
}
