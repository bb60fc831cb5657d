/* dw/session.h - a client as the operators open it: the region checked,
 * then credentials from the chain (aws/creds.h), with role profiles
 * assumed through STS.  It sits above the client, the chain and STS, so
 * that none of those calls another in a circle. */
#ifndef DW_SESSION_H
#define DW_SESSION_H

#include "aws/aws.h"

/* Resolves region and credentials now, so a bad set-up fails early. */
int dw_session_open(struct dw_aws **out, const struct dw_aws_config *cfg);

#endif
