/* session.c - the client with credentials from the chain. */
#include "aws/session.h"
#include "aws/sts.h"
#include "base/log.h"

#include <stddef.h>

/* The chain's one AWS call: an STS client in the role's region, signed
 * with the source profile's credentials, and the rest of cfg (endpoints,
 * attempts) as the request gave it. */
static int assume_role(void *ud, const struct dw_creds_role *role,
		       const struct dw_creds *source, struct dw_creds *out)
{
	struct dw_aws_config sts_cfg = *(const struct dw_aws_config *)ud;
	struct dw_sts_assume_role in = {
		.role_arn = role->role_arn, .session_name = role->session_name,
		.external_id = role->external_id, .duration_s = role->duration_s,
	};
	struct dw_aws *sts = NULL;
	int rc;

	sts_cfg.region = role->region;
	rc = dw_aws_new_with_creds(&sts, &sts_cfg, source);
	if (rc == 0)
		rc = dw_sts_assume_role(sts, &in, out);
	dw_aws_free(sts);
	return rc;
}

int dw_session_open(struct dw_aws **out, const struct dw_aws_config *cfg)
{
	struct dw_creds_chain chain = {
		.profile = cfg->profile, .region = cfg->region,
		.assume = assume_role, .ud = (void *)cfg,
	};
	struct dw_creds creds;

	/* The region first: without one nothing can be asked (not even STS). */
	if (dw_aws_new_with_creds(out, cfg, NULL))
		return -1;
	if (dw_creds_resolve(&creds, &chain)) {
		dw_aws_free(*out);
		*out = NULL;
		return -1;
	}
	dw_aws_set_creds(*out, &creds);
	dw_creds_release(&creds);
	dw_debug("aws: region %s, credentials from %s", dw_aws_region(*out),
		 dw_aws_credentials_source(*out));
	return 0;
}
