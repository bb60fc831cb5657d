/* dw/rds.h - Amazon RDS (query protocol, version 2014-10-31). */
#ifndef DW_RDS_H
#define DW_RDS_H

#include "aws/aws.h"

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

/* ---- instances ---------------------------------------------------------- */

/* RDS tags: keys up to 128 characters, values up to 256 (UTF-8: 4 bytes
 * each at most). */
#define DW_RDS_TAG_KEY_MAX (128 * 4)
#define DW_RDS_TAG_VALUE_MAX (256 * 4)

struct dw_rds_tag {
	char key[DW_RDS_TAG_KEY_MAX + 1];
	char value[DW_RDS_TAG_VALUE_MAX + 1];
};

struct dw_rds_instance {
	char id[64];
	char arn[512];
	char status[48];
	char address[256];       /* Endpoint/Address, "" while there is none */
	int port;
	char created[40];        /* InstanceCreateTime, ISO 8601 */
	char instance_class[64];
	int backup_retention;    /* days */
	char cluster[64];        /* DBClusterIdentifier: "" unless an Aurora member */
	const struct dw_rds_tag *tags;
	size_t n_tags;
};

/* Called for each instance (borrowed for the call); returns 0 to go on or
 * -1 to stop with its error raised. */
typedef int (*dw_rds_instance_fn)(void *ud, const struct dw_rds_instance *in);

/* DescribeDBInstances across every page (id NULL: every instance), each
 * with its tags (read with ListTagsForResource where the answer leaves
 * TagList out, as older API versions do).  The AWS error
 * DBInstanceNotFound when id names none. */
int dw_rds_describe_instances(struct dw_aws *aws, const char *id,
			      dw_rds_instance_fn on_instance, void *ud);

struct dw_rds_restore {
	const char *instance;
	const char *snapshot;
	const char *instance_class;  /* NULL: the snapshot's */
	const char *subnet_group;    /* NULL: the default */
	const char *parameter_group; /* NULL: the default */
	const char *const *security_group_ids;
	size_t n_security_group_ids;
	int publicly_accessible, multi_az, deletion_protection;
	const struct dw_rds_tag *tags;
	size_t n_tags;
};
/* RestoreDBInstanceFromDBSnapshot. */
int dw_rds_restore_instance(struct dw_aws *aws, const struct dw_rds_restore *in);

struct dw_rds_modify {
	const char *instance;
	int backup_retention;  /* days; -1 leaves it */
	int apply_immediately;
};
/* ModifyDBInstance. */
int dw_rds_modify_instance(struct dw_aws *aws, const struct dw_rds_modify *in);
/* StartDBInstance. */
int dw_rds_start_instance(struct dw_aws *aws, const char *instance);

struct dw_rds_delete {
	const char *instance;
	int skip_final_snapshot;
	int delete_automated_backups; /* sent only when set (Aurora members
					 have their cluster's backups) */
};
/* DeleteDBInstance. */
int dw_rds_delete_instance(struct dw_aws *aws, const struct dw_rds_delete *in);
/* AddTagsToResource (arn: an instance's, a snapshot's, ...). */
int dw_rds_add_tags(struct dw_aws *aws, const char *arn,
		    const struct dw_rds_tag *tags, size_t n);

/* ---- Aurora clusters ---------------------------------------------------- */

/* Aurora: a writer and up to 15 readers. */
#define DW_RDS_CLUSTER_MEMBERS_MAX 16

struct dw_rds_cluster_member {
	char id[64];
	int writer;
};

/* ServerlessV2ScalingConfiguration (ACUs in steps of 0.5). */
struct dw_rds_serverless {
	double min_acu, max_acu;
	long seconds_until_auto_pause; /* 0: not sent (Aurora's default) */
};

struct dw_rds_cluster {
	char id[64];
	char arn[512];
	char status[48];
	char engine[64];
	char endpoint[256];        /* the writer endpoint */
	char reader_endpoint[256];
	int port;
	char created[40];          /* ClusterCreateTime, ISO 8601 */
	int backup_retention;      /* days */
	struct dw_rds_serverless serverless; /* max_acu 0: none */
	struct dw_rds_cluster_member members[DW_RDS_CLUSTER_MEMBERS_MAX];
	size_t n_members;          /* beyond the maximum: not kept */
	const struct dw_rds_tag *tags;
	size_t n_tags;
};

typedef int (*dw_rds_cluster_fn)(void *ud, const struct dw_rds_cluster *c);

/* DescribeDBClusters across every page (id NULL: every cluster), each with
 * its tags, as dw_rds_describe_instances.  The AWS error
 * DBClusterNotFoundFault when id names none. */
int dw_rds_describe_clusters(struct dw_aws *aws, const char *id,
			     dw_rds_cluster_fn on_cluster, void *ud);

struct dw_rds_cluster_restore {
	const char *cluster;
	const char *source_cluster;    /* a copy-on-write clone of it, at the
					  latest restorable time; or */
	const char *snapshot;          /* a restore of this cluster snapshot */
	const char *engine;            /* with snapshot: required by the API */
	const char *subnet_group;      /* NULL: the default */
	const char *const *security_group_ids;
	size_t n_security_group_ids;
	int backup_retention;          /* days (Aurora: at least 1) */
	int deletion_protection;
	const char *engine_lifecycle_support; /* NULL: not sent */
	const struct dw_rds_serverless *serverless; /* NULL: none */
	const struct dw_rds_tag *tags;
	size_t n_tags;
};
/* RestoreDBClusterToPointInTime (RestoreType copy-on-write,
 * UseLatestRestorableTime) or RestoreDBClusterFromSnapshot. */
int dw_rds_restore_cluster(struct dw_aws *aws, const struct dw_rds_cluster_restore *in);

struct dw_rds_create_instance {
	const char *instance;
	const char *cluster;          /* the cluster it joins */
	const char *engine;
	const char *instance_class;   /* "db.serverless" for Serverless v2 */
	const char *parameter_group;  /* NULL: the default */
	const struct dw_rds_tag *tags;
	size_t n_tags;
};
/* CreateDBInstance of a member of an Aurora cluster (not public). */
int dw_rds_create_cluster_instance(struct dw_aws *aws, const struct dw_rds_create_instance *in);
/* DeleteDBCluster with SkipFinalSnapshot (its members must be deleting). */
int dw_rds_delete_cluster(struct dw_aws *aws, const char *cluster);
/* StartDBCluster. */
int dw_rds_start_cluster(struct dw_aws *aws, const char *cluster);
/* ModifyDBCluster: BackupRetentionPeriod, applied immediately. */
int dw_rds_modify_cluster_backups(struct dw_aws *aws, const char *cluster, int days);

/* ---- snapshot exports ---------------------------------------------------- */

#define DW_RDS_EXPORT_ID_MAX 60 /* RDS's limit on export task ids */

struct dw_rds_export_task {
	char id[DW_RDS_EXPORT_ID_MAX + 1];
	char source_arn[512];
	char status[32];         /* upper case: STARTING, IN_PROGRESS, COMPLETE,
				    CANCELING, CANCELED, FAILED */
	char s3_bucket[256];
	char s3_prefix[1024];    /* without a trailing '/' */
	char failure_cause[1024];
	char started[64];        /* TaskStartTime, ISO 8601, may be "" */
	char snapshot_time[64];  /* SnapshotTime, ISO 8601, may be "" */
	int percent;
	long long extracted_gb;
};

/* DescribeExportTasks for one id: *found = 0 (and 0 returned, nothing
 * raised) when RDS knows no such task. */
int dw_rds_describe_export_task(struct dw_aws *aws, const char *id,
				struct dw_rds_export_task *out, int *found);

struct dw_rds_start_export {
	const char *id;
	const char *source_arn;
	const char *s3_bucket;
	const char *s3_prefix;    /* may be NULL or "" */
	const char *iam_role_arn;
	const char *kms_key_id;
	const char *const *export_only; /* may be NULL */
	size_t n_export_only;
};
/* StartExportTask; *out as RDS answers.  The AWS error
 * ExportTaskAlreadyExists(Fault) when the id is taken. */
int dw_rds_start_export_task(struct dw_aws *aws, const struct dw_rds_start_export *in,
			     struct dw_rds_export_task *out);
/* CancelExportTask; *out as RDS answers. */
int dw_rds_cancel_export_task(struct dw_aws *aws, const char *id,
			      struct dw_rds_export_task *out);

/* ---- answers ------------------------------------------------------------ */

/* One DBSnapshot (DBClusterSnapshot when cluster is set) or ExportTask item
 * of an answer, read as the calls above read them (and the fuzz harness
 * reads hostile answers): each field cut to its buffer, absent ones "". */
void dw_rds_read_snapshot(xmlNodePtr item, int cluster, struct dw_rds_snapshot *out);
void dw_rds_read_export_task(xmlNodePtr item, struct dw_rds_export_task *out);

/* The tags of the items read below, reused from one item to the next
 * (zero-initialised; dw_rds_tags_release frees them). */
struct dw_rds_tags {
	struct dw_rds_tag *items;
	size_t n, cap;
};
void dw_rds_tags_release(struct dw_rds_tags *tags);

/* One DBInstance (DBCluster) item, as dw_rds_describe_instances
 * (dw_rds_describe_clusters) reads it but without its network fallback:
 * 1 when the item has a TagList (out->tags then points into *tags), 0 when
 * it has none (out->n_tags 0; the calls then ask ListTagsForResource).
 * Cluster members beyond DW_RDS_CLUSTER_MEMBERS_MAX are not kept. */
int dw_rds_read_instance(xmlNodePtr item, struct dw_rds_instance *out, struct dw_rds_tags *tags);
int dw_rds_read_cluster(xmlNodePtr item, struct dw_rds_cluster *out, struct dw_rds_tags *tags);

#endif
