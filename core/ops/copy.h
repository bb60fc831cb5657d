/* dw/copy.h - private warehouse copies: RDS instances restored from the
 * warehouse's newest automated snapshot for one engineer, or Aurora
 * clusters (copy-on-write clones, or restores of the newest automated
 * cluster snapshot) with one writer, tagged as dwops's, with an expiry.  Used by dw-snapshot (launch, destroy, list,
 * extend, status) and dw-cleanup (expired and idle copies). */
#ifndef DW_COPY_H
#define DW_COPY_H

#include <time.h>
#include "aws/aws.h"
#include "aws/rds.h"
#include "db/mysql.h"
#include "db/ssh.h"

/* Tags on every copy.  An instance without managed-by = dwops is never
 * touched, whatever its name or other tags. */
#define DW_TAG_MANAGED_BY "managed-by"
#define DW_MANAGED_BY "dwops"
#define DW_TAG_OWNER "owner"
#define DW_TAG_SOURCE "source"
#define DW_TAG_SNAPSHOT "snapshot"
#define DW_TAG_EXPIRES_AT "expires-at"
#define DW_TAG_METHOD "method"      /* on cluster copies: clone or snapshot */

/* Aurora copies keep 1 day of backups: the least Aurora allows (0 is
 * refused for clusters). */
#define DW_COPY_CLUSTER_BACKUP_DAYS 1
/* Never pay RDS Extended Support for a throwaway clone: it is created with
 * extended support off. */
#define DW_COPY_ENGINE_LIFECYCLE "open-source-rds-extended-support-disabled"

/* Limits validated at launch; the buffers that read them back are sized from
 * them (+1 for the NUL), so what launch accepts, destroy and extend match
 * (the tags' own limits are in aws/rds.h). */
#define DW_OWNER_MAX 128

struct dw_copy {
	char instance[64];    /* the copy's name (a cluster copy's cluster and
				 writer are both named so) */
	char owner[DW_OWNER_MAX + 1]; /* "" when the tag is longer than DW_OWNER_MAX */
	char source[64];
	char snapshot[256];
	char status[48];
	char address[256];
	int port;
	char created_at[40]; /* InstanceCreateTime */
	char expires_at[40]; /* the expires-at tag, ISO 8601 UTC */
	time_t expires;      /* parsed expires-at; 0 when missing */
	int managed;         /* carries managed-by = dwops */
	char instance_class[64];
	int backup_retention; /* BackupRetentionPeriod in days */
	char arn[512];        /* the instance's, or the cluster's */
	char method[16];      /* "snapshot" or "clone" */
	/* Aurora copies */
	int is_cluster;
	char cluster[64];            /* "" for an instance copy */
	char engine[64];
	char reader_address[256];    /* the reader endpoint */
	char writer[64];             /* the writer instance, "" while none */
	char writer_status[48];
	char members[DW_RDS_CLUSTER_MEMBERS_MAX][64];
	size_t n_members;
	/* An instance in a cluster not named like it: not a copy by itself. */
	char member_of[64];
};

/* The dwops-managed copies, newest first; owner NULL for everyone's.
 * *out is an array the caller frees. */
int dw_copy_list(struct dw_aws *aws, const char *owner, struct dw_copy **out,
		 size_t *n);

/* One instance's details and tags (managed or not). */
int dw_copy_describe(struct dw_aws *aws, const char *instance,
		     struct dw_copy *out);

struct dw_copy_destroy_opts {
	const char *owner;      /* the copy must be theirs ... */
	int as_admin;           /* ... unless an admin asks */
	long wait_timeout_s;    /* > 0: wait until it is gone; 0: do not wait */
	long poll_interval_s;   /* while waiting; 0: 30 */
};

/* Delete a copy (no final snapshot, automated backups deleted; a cluster
 * copy's instances first, then the cluster) and, when
 * o->wait_timeout_s > 0, wait until it is gone, logging progress.  Refuses
 * with DW_INVALID, changing nothing, an instance without the managed-by
 * tag, or owned by someone other than o->owner unless o->as_admin. */
int dw_copy_destroy(struct dw_aws *aws, const char *instance,
		    const struct dw_copy_destroy_opts *o);
/* The check dw_copy_destroy and dw_copy_extend make: DW_INVALID unless c
 * is managed and owner's (or as_admin). */
int dw_copy_check_owner(const struct dw_copy *c, const char *owner, int as_admin);

/* "dw-snapshot-<owner>" with the owner made to fit RDS identifier rules
 * (letters, digits and single hyphens, starting with a letter, at most 63
 * characters).  Raises DW_INVALID when nothing usable is left. */
int dw_copy_default_name(const char *owner, char *out, size_t len);

/* 1 when name is a valid RDS instance identifier. */
int dw_copy_valid_name(const char *name);

/* Instance states a copy never leaves by itself: waiting stops there. */
int dw_copy_status_failed(const char *status);

/* The restore waiter's decision on one poll of instance: 1 when status is
 * "available" (done); -1 with DW_FAILED "CopyFailed" naming the state when
 * dw_copy_status_failed(status) (stop early); -1 with DW_TRANSIENT
 * "WaitTimeout" when another poll_s would take the wait past timeout_s
 * (elapsed + poll_s > timeout_s); else 0 (keep waiting). */
int dw_copy_wait_verdict(const char *instance, const char *status, long elapsed,
			 long timeout_s, long poll_s);

/* Cluster states a clone never leaves by itself (cloning-failed, ...). */
int dw_copy_cluster_status_failed(const char *status);
/* The cluster waiter's decision on one poll, as dw_copy_wait_verdict:
 * 1 available, -1 DW_FAILED "CopyFailed" on a failed state, -1
 * DW_TRANSIENT "WaitTimeout" when another poll would end past timeout_s,
 * else 0. */
int dw_copy_cluster_wait_verdict(const char *cluster, const char *status, long elapsed,
				 long timeout_s, long poll_s);

/* The engineer's MySQL login on a copy, made with the master login. */
struct dw_copy_login {
	const char *database;          /* gets ALL ... WITH GRANT OPTION */
	const char *user;              /* [A-Za-z0-9_], at most 32 */
	const char *password;
	const char *master_user;
	const char *master_password;
	const char *endpoint_override; /* "host:port" instead of the instance's */
	/* Through a bastion when set; target_host/port are filled in. */
	const struct dw_ssh_tunnel_config *tunnel;
	enum dw_mysql_tls tls;
	const char *ca_file;
};

struct dw_copy_launch {
	const char *source_instance;   /* its newest automated snapshot, or */
	const char *snapshot;          /* this one, or */
	const char *source_cluster;    /* an Aurora cluster: cloned, or its
					  newest automated cluster snapshot */
	const char *method;            /* "clone" (default for source_cluster)
					  or "snapshot"; NULL: the default */
	const struct dw_rds_serverless *serverless; /* cluster copies: a
					  db.serverless writer; NULL: none */
	const char *owner;
	const char *instance;          /* NULL: dw_copy_default_name(owner) */
	const char *instance_class;    /* NULL: the snapshot's (clusters: the
					  source writer's) */
	const char *subnet_group;
	const char *const *security_group_ids;
	size_t n_security_group_ids;
	const char *parameter_group;
	int ttl_days;
	int max_ttl_days;              /* ttl_days may not exceed it */
	long wait_timeout_s;
	long poll_interval_s;          /* 0: 30 */
	int keep_on_failure;           /* else a failed launch deletes the copy */
	int dry_run;                   /* check, pick the snapshot, change nothing */
	struct dw_copy_login login;
};

/* Restore the owner's copy, make it a throwaway (no backups), wait until it
 * is available, and create the login.  With source_cluster: restore the
 * clone cluster, wait for it, create its writer, wait for that; a failure
 * after the restore deletes the writer, then the cluster, made by this
 * call (never one that was there before).  When the owner's copy exists
 * already, it is reused (*created = 0) and the login is made to work with
 * the password given.  A copy made by this call is deleted again when a
 * later step fails, unless keep_on_failure.  A dry run fills out with what
 * would be restored (status "dry-run") and changes nothing. */
int dw_copy_launch(struct dw_aws *aws, const struct dw_copy_launch *l,
		   struct dw_copy *out, int *created);

/* Check the request of a launch without AWS: everything dw_copy_launch
 * checks, the master login excepted when master_pending (it is still to be
 * read from Secrets Manager, which is done only after this passed). */
int dw_copy_launch_check(const struct dw_copy_launch *l, int master_pending);

/* Create the login (or reset its password), grant it everything on the
 * database, and check that it can log in. */
int dw_copy_make_login(const struct dw_copy *c, const struct dw_copy_login *login);

struct dw_copy_extend_opts {
	const char *owner;      /* same ownership rules as dw_copy_destroy */
	int as_admin;
	int ttl_days;           /* move the expiry this far forward ... */
	int max_ttl_days;       /* ... but to at most this far from now */
};

/* Move the copy's expiry o->ttl_days forward (from now when it has
 * passed), at most o->max_ttl_days from now.  *changed is 0 when it is
 * there already. */
int dw_copy_extend(struct dw_aws *aws, const char *instance,
		   const struct dw_copy_extend_opts *o, struct dw_copy *out, int *changed);

#endif
