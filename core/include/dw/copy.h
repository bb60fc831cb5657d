/* dw/copy.h - private warehouse copies: RDS instances restored from the
 * warehouse's newest automated snapshot for one engineer, tagged as
 * dwops's, with an expiry.  Used by dw-snapshot (launch, destroy, list,
 * extend, status) and dw-cleanup (expired and idle copies). */
#ifndef DW_COPY_H
#define DW_COPY_H

#include <time.h>
#include "aws.h"

/* Tags on every copy.  An instance without managed-by = dwops is never
 * touched, whatever its name or other tags. */
#define DW_TAG_MANAGED_BY "managed-by"
#define DW_MANAGED_BY "dwops"
#define DW_TAG_OWNER "owner"
#define DW_TAG_SOURCE "source"
#define DW_TAG_SNAPSHOT "snapshot"
#define DW_TAG_EXPIRES_AT "expires-at"

struct dw_copy {
	char instance[64];
	char owner[128];
	char source[64];
	char snapshot[256];
	char status[48];
	char address[256];
	int port;
	char created[40];    /* InstanceCreateTime */
	char expires_at[40]; /* the expires-at tag, ISO 8601 UTC */
	time_t expires;      /* parsed expires-at; 0 when missing */
	int managed;         /* carries managed-by = dwops */
	char instance_class[64];
	int backup_retention; /* BackupRetentionPeriod in days */
};

/* The dwops-managed copies, newest first; owner NULL for everyone's.
 * *out is an array the caller frees. */
int dw_copy_list(struct dw_aws *aws, const char *owner, struct dw_copy **out,
		 size_t *n);

/* One instance's details and tags (managed or not). */
int dw_copy_describe(struct dw_aws *aws, const char *instance,
		     struct dw_copy *out);

/* Delete a copy (no final snapshot, automated backups deleted) and, when
 * wait_timeout_s > 0, wait until it is gone, logging progress.  Refuses
 * with DW_INVALID, changing nothing, an instance without the managed-by
 * tag, or owned by someone other than owner unless as_admin. */
int dw_copy_destroy(struct dw_aws *aws, const char *instance,
		    const char *owner, int as_admin, long wait_timeout_s);
/* The same, polling every poll_interval_s seconds (dw_copy_destroy: 30). */
int dw_copy_destroy_ex(struct dw_aws *aws, const char *instance,
		       const char *owner, int as_admin, long wait_timeout_s,
		       long poll_interval_s);

/* "dw-snapshot-<owner>" with the owner made to fit RDS identifier rules
 * (letters, digits and single hyphens, starting with a letter, at most 63
 * characters).  Raises DW_INVALID when nothing usable is left. */
int dw_copy_default_name(const char *owner, char *out, size_t len);

/* 1 when name is a valid RDS instance identifier. */
int dw_copy_valid_name(const char *name);

#endif
