/* dw/rds.h - Amazon RDS (query protocol, version 2014-10-31). */
#ifndef DW_RDS_H
#define DW_RDS_H

#include "aws/aws.h"

int dw_rds_call(struct dw_aws *aws, const char *action,
		const struct dw_kvlist *params, xmlDocPtr *out);

struct dw_rds_snapshot {
	char id[256];
	char arn[512];
	char source[256];   /* instance or cluster id */
	char created[64];   /* SnapshotCreateTime, ISO 8601 */
	char engine[64];
	char type[32];      /* automated, manual, ... */
	char status[32];
};

/* The newest snapshot of source (an instance, or a cluster when cluster is
 * set) that is automated and available, across every page.  Raises
 * DW_FAILED "SnapshotNotFound" when there is none. */
int dw_rds_latest_automated_snapshot(struct dw_aws *aws, const char *source,
				     int cluster, struct dw_rds_snapshot *out);

/* One instance snapshot by id (any type or status); the AWS error
 * (DBSnapshotNotFound) when there is none. */
int dw_rds_describe_snapshot(struct dw_aws *aws, const char *id,
			     struct dw_rds_snapshot *out);

#endif
