/* rds.c - Amazon RDS over the query protocol. */
#include "aws/rds.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "base/xml.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int call(struct dw_aws *aws, const char *action,
		const struct dw_kvlist *params, xmlDocPtr *out)
{
	return dw_aws_query(aws, "rds", "2014-10-31", action, params, out);
}

/* Names differ between instance and cluster snapshots. */
struct snapshot_names {
	const char *action, *list, *item, *id, *arn, *source;
};

static const struct snapshot_names instance_names = {
	"DescribeDBSnapshots", "DescribeDBSnapshotsResult/DBSnapshots",
	"DBSnapshot", "DBSnapshotIdentifier", "DBSnapshotArn",
	"DBInstanceIdentifier",
};

static const struct snapshot_names cluster_names = {
	"DescribeDBClusterSnapshots",
	"DescribeDBClusterSnapshotsResult/DBClusterSnapshots",
	"DBClusterSnapshot", "DBClusterSnapshotIdentifier",
	"DBClusterSnapshotArn", "DBClusterIdentifier",
};

static void read_snapshot(xmlNodePtr n, const struct snapshot_names *names,
			  struct dw_rds_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	dw_xml_textbuf(n, names->id, s->id, sizeof(s->id));
	dw_xml_textbuf(n, names->arn, s->arn, sizeof(s->arn));
	dw_xml_textbuf(n, names->source, s->source, sizeof(s->source));
	dw_xml_textbuf(n, "SnapshotCreateTime", s->created, sizeof(s->created));
	dw_xml_textbuf(n, "Engine", s->engine, sizeof(s->engine));
	dw_xml_textbuf(n, "SnapshotType", s->type, sizeof(s->type));
	dw_xml_textbuf(n, "Status", s->status, sizeof(s->status));
}

/* Newer wins; a tie goes to the larger id, so the pick does not depend on
 * the order of the answer. */
static int better(const struct dw_rds_snapshot *candidate,
		  const struct dw_rds_snapshot *best)
{
	time_t a = dw_time_parse_iso(candidate->created);
	time_t b = dw_time_parse_iso(best->created);

	if (!best->id[0])
		return 1;
	if (a != b)
		return a > b;
	return strcmp(candidate->id, best->id) > 0;
}

/* Look at one page; returns the next marker (or NULL) through *marker. */
static int scan_page(struct dw_aws *aws, const char *source,
		     const struct snapshot_names *names, char **marker,
		     struct dw_rds_snapshot *best, unsigned *seen)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc;

	dw_kv_init(&params);
	dw_kv_add(&params, names->source, source);
	dw_kv_add(&params, "SnapshotType", "automated");
	dw_kv_add(&params, "MaxRecords", "100");
	if (*marker)
		dw_kv_add(&params, "Marker", *marker);
	rc = call(aws, names->action, &params, &doc);
	dw_kv_release(&params);
	free(*marker);
	*marker = NULL;
	if (rc)
		return -1;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr list = dw_xml_find(root, names->list);
	for (xmlNodePtr n = dw_xml_first(list, names->item); n; n = dw_xml_next(n, names->item)) {
		struct dw_rds_snapshot s = { 0 };
		read_snapshot(n, names, &s);
		(*seen)++;
		/* Filters are checked here too: not every endpoint honours them. */
		if (strcmp(s.source, source) != 0 || strcmp(s.type, "automated") != 0 ||
		    strcmp(s.status, "available") != 0)
			continue;
		if (better(&s, best))
			*best = s;
	}
	char *next = dw_xml_text(dw_xml_first(root, NULL), "Marker");
	if (next && *next)
		*marker = next;
	else
		free(next);
	xmlFreeDoc(doc);
	return 0;
}

int dw_rds_latest_automated_snapshot(struct dw_aws *aws, const char *source,
				     int cluster, struct dw_rds_snapshot *out)
{
	const struct snapshot_names *names = cluster ? &cluster_names : &instance_names;
	char *marker = NULL;
	unsigned seen = 0;

	memset(out, 0, sizeof(*out));
	do {
		if (scan_page(aws, source, names, &marker, out, &seen))
			return dw_error_context("looking for snapshots of %s", source);
	} while (marker);
	if (!out->id[0])
		return dw_fail("SnapshotNotFound",
			       "no available automated snapshot of %s %s (%u snapshots looked at)",
			       cluster ? "cluster" : "instance", source, seen);
	dw_info("newest automated snapshot of %s: %s (%s)", source, out->id, out->created);
	return 0;
}

int dw_rds_describe_snapshot(struct dw_aws *aws, const char *id,
			     struct dw_rds_snapshot *out)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;

	memset(out, 0, sizeof(*out));
	dw_kv_init(&params);
	dw_kv_add(&params, "DBSnapshotIdentifier", id);
	int rc = call(aws, instance_names.action, &params, &doc);
	dw_kv_release(&params);
	if (rc)
		return dw_error_context("looking for snapshot %s", id);
	xmlNodePtr list = dw_xml_find(xmlDocGetRootElement(doc), instance_names.list);
	xmlNodePtr n = dw_xml_first(list, instance_names.item);
	if (n)
		read_snapshot(n, &instance_names, out);
	xmlFreeDoc(doc);
	if (!n)
		return dw_fail("DBSnapshotNotFound", "snapshot %s not found", id);
	return 0;
}

/* ---- instances ---------------------------------------------------------- */

/* A call whose answer only says it worked. */
static int call_only(struct dw_aws *aws, const char *action, const struct dw_kvlist *params)
{
	xmlDocPtr doc = NULL;
	int rc = call(aws, action, params, &doc);

	xmlFreeDoc(doc);
	return rc;
}

static void read_tags(xmlNodePtr list, struct dw_rds_tags *tags)
{
	tags->n = 0;
	for (xmlNodePtr t = dw_xml_first(list, "Tag"); t; t = dw_xml_next(t, "Tag")) {
		if (tags->n == tags->cap) {
			tags->cap = tags->cap ? 2 * tags->cap : 8;
			tags->items = dw_xrealloc(tags->items, tags->cap * sizeof(*tags->items));
		}
		struct dw_rds_tag *tag = &tags->items[tags->n++];
		dw_xml_textbuf(t, "Key", tag->key, sizeof(tag->key));
		dw_xml_textbuf(t, "Value", tag->value, sizeof(tag->value));
	}
}

static int list_tags(struct dw_aws *aws, const char *arn, struct dw_rds_tags *tags)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;

	dw_kv_init(&params);
	dw_kv_add(&params, "ResourceName", arn);
	int rc = call(aws, "ListTagsForResource", &params, &doc);
	dw_kv_release(&params);
	if (rc)
		return -1;
	read_tags(dw_xml_find(xmlDocGetRootElement(doc), "ListTagsForResourceResult/TagList"), tags);
	xmlFreeDoc(doc);
	return 0;
}

/* The answer's fields; 1 with tags read when it has a TagList, 0 when the
 * caller must ask ListTagsForResource. */
static int parse_instance(xmlNodePtr n, struct dw_rds_instance *in, struct dw_rds_tags *tags)
{
	char port[16], retention[16];

	memset(in, 0, sizeof(*in));
	dw_xml_textbuf(n, "DBInstanceIdentifier", in->id, sizeof(in->id));
	dw_xml_textbuf(n, "DBInstanceArn", in->arn, sizeof(in->arn));
	dw_xml_textbuf(n, "DBInstanceStatus", in->status, sizeof(in->status));
	dw_xml_textbuf(n, "Endpoint/Address", in->address, sizeof(in->address));
	in->port = atoi(dw_xml_textbuf(n, "Endpoint/Port", port, sizeof(port)));
	dw_xml_textbuf(n, "InstanceCreateTime", in->created, sizeof(in->created));
	dw_xml_textbuf(n, "DBInstanceClass", in->instance_class, sizeof(in->instance_class));
	in->backup_retention = atoi(dw_xml_textbuf(n, "BackupRetentionPeriod", retention,
						   sizeof(retention)));
	dw_xml_textbuf(n, "DBClusterIdentifier", in->cluster, sizeof(in->cluster));
	xmlNodePtr list = dw_xml_find(n, "TagList");
	if (!list)
		return 0;
	read_tags(list, tags);
	in->tags = tags->items;
	in->n_tags = tags->n;
	return 1;
}

static int read_instance(struct dw_aws *aws, xmlNodePtr n, struct dw_rds_instance *in,
			 struct dw_rds_tags *tags)
{
	if (parse_instance(n, in, tags))
		return 0;
	if (list_tags(aws, in->arn, tags))
		return dw_error_context("reading the tags of %s", in->id);
	in->tags = tags->items;
	in->n_tags = tags->n;
	return 0;
}

/* One DescribeDBInstances page; *marker is replaced by the next one. */
static int describe_page(struct dw_aws *aws, const char *id, char **marker,
			 struct dw_rds_tags *tags, dw_rds_instance_fn on_instance, void *ud)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc;

	dw_kv_init(&params);
	if (id)
		dw_kv_add(&params, "DBInstanceIdentifier", id);
	else
		dw_kv_add(&params, "MaxRecords", "100");
	if (*marker)
		dw_kv_add(&params, "Marker", *marker);
	rc = call(aws, "DescribeDBInstances", &params, &doc);
	dw_kv_release(&params);
	free(*marker);
	*marker = NULL;
	if (rc)
		return -1;
	xmlNodePtr result = dw_xml_find(xmlDocGetRootElement(doc), "DescribeDBInstancesResult");
	xmlNodePtr list = dw_xml_find(result, "DBInstances");
	for (xmlNodePtr n = dw_xml_first(list, "DBInstance"); n && rc == 0;
	     n = dw_xml_next(n, "DBInstance")) {
		struct dw_rds_instance in;
		rc = read_instance(aws, n, &in, tags);
		if (rc == 0)
			rc = on_instance(ud, &in);
	}
	char *next = dw_xml_text(result, "Marker");
	if (next && *next && rc == 0)
		*marker = next;
	else
		free(next);
	xmlFreeDoc(doc);
	return rc;
}

int dw_rds_describe_instances(struct dw_aws *aws, const char *id,
			      dw_rds_instance_fn on_instance, void *ud)
{
	struct dw_rds_tags tags = { 0 };
	char *marker = NULL;
	int rc;

	do {
		rc = describe_page(aws, id, &marker, &tags, on_instance, ud);
	} while (rc == 0 && marker);
	free(marker);
	dw_rds_tags_release(&tags);
	return rc;
}

static void add_tags(struct dw_kvlist *p, const struct dw_rds_tag *tags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[48];
		snprintf(name, sizeof(name), "Tags.Tag.%zu.Key", i + 1);
		dw_kv_add(p, name, tags[i].key);
		snprintf(name, sizeof(name), "Tags.Tag.%zu.Value", i + 1);
		dw_kv_add(p, name, tags[i].value);
	}
}

static const char *boolean(int v)
{
	return v ? "true" : "false";
}

static void add_security_groups(struct dw_kvlist *p, const char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char key[64];
		snprintf(key, sizeof(key), "VpcSecurityGroupIds.VpcSecurityGroupId.%zu", i + 1);
		dw_kv_add(p, key, ids[i]);
	}
}

int dw_rds_restore_instance(struct dw_aws *aws, const struct dw_rds_restore *in)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBInstanceIdentifier", in->instance);
	dw_kv_add(&p, "DBSnapshotIdentifier", in->snapshot);
	dw_kv_add(&p, "PubliclyAccessible", boolean(in->publicly_accessible));
	dw_kv_add(&p, "MultiAZ", boolean(in->multi_az));
	dw_kv_add(&p, "DeletionProtection", boolean(in->deletion_protection));
	if (in->instance_class)
		dw_kv_add(&p, "DBInstanceClass", in->instance_class);
	if (in->subnet_group)
		dw_kv_add(&p, "DBSubnetGroupName", in->subnet_group);
	if (in->parameter_group)
		dw_kv_add(&p, "DBParameterGroupName", in->parameter_group);
	add_security_groups(&p, in->security_group_ids, in->n_security_group_ids);
	add_tags(&p, in->tags, in->n_tags);
	int rc = call_only(aws, "RestoreDBInstanceFromDBSnapshot", &p);
	dw_kv_release(&p);
	return rc;
}

int dw_rds_modify_instance(struct dw_aws *aws, const struct dw_rds_modify *in)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBInstanceIdentifier", in->instance);
	if (in->backup_retention >= 0)
		dw_kv_addf(&p, "BackupRetentionPeriod", "%d", in->backup_retention);
	dw_kv_add(&p, "ApplyImmediately", boolean(in->apply_immediately));
	int rc = call_only(aws, "ModifyDBInstance", &p);
	dw_kv_release(&p);
	return rc;
}

int dw_rds_start_instance(struct dw_aws *aws, const char *instance)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBInstanceIdentifier", instance);
	int rc = call_only(aws, "StartDBInstance", &p);
	dw_kv_release(&p);
	return rc;
}

int dw_rds_delete_instance(struct dw_aws *aws, const struct dw_rds_delete *in)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBInstanceIdentifier", in->instance);
	dw_kv_add(&p, "SkipFinalSnapshot", boolean(in->skip_final_snapshot));
	if (in->delete_automated_backups)
		dw_kv_add(&p, "DeleteAutomatedBackups", "true");
	int rc = call_only(aws, "DeleteDBInstance", &p);
	dw_kv_release(&p);
	return rc;
}

int dw_rds_add_tags(struct dw_aws *aws, const char *arn,
		    const struct dw_rds_tag *tags, size_t n)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "ResourceName", arn);
	add_tags(&p, tags, n);
	int rc = call_only(aws, "AddTagsToResource", &p);
	dw_kv_release(&p);
	return rc;
}

/* ---- Aurora clusters ---------------------------------------------------- */

static void read_members(xmlNodePtr list, struct dw_rds_cluster *c)
{
	static const char item[] = "DBClusterMember";

	for (xmlNodePtr m = dw_xml_first(list, item); m; m = dw_xml_next(m, item)) {
		char writer[8];
		if (c->n_members == DW_RDS_CLUSTER_MEMBERS_MAX) {
			dw_warn("cluster %s has more than %d members; the rest are not read",
				c->id, DW_RDS_CLUSTER_MEMBERS_MAX);
			return;
		}
		struct dw_rds_cluster_member *mem = &c->members[c->n_members++];
		dw_xml_textbuf(m, "DBInstanceIdentifier", mem->id, sizeof(mem->id));
		mem->writer = strcmp(dw_xml_textbuf(m, "IsClusterWriter", writer, sizeof(writer)),
				     "true") == 0;
	}
}

/* As parse_instance. */
static int parse_cluster(xmlNodePtr n, struct dw_rds_cluster *c, struct dw_rds_tags *tags)
{
	char num[32];

	memset(c, 0, sizeof(*c));
	dw_xml_textbuf(n, "DBClusterIdentifier", c->id, sizeof(c->id));
	dw_xml_textbuf(n, "DBClusterArn", c->arn, sizeof(c->arn));
	dw_xml_textbuf(n, "Status", c->status, sizeof(c->status));
	dw_xml_textbuf(n, "Engine", c->engine, sizeof(c->engine));
	dw_xml_textbuf(n, "Endpoint", c->endpoint, sizeof(c->endpoint));
	dw_xml_textbuf(n, "ReaderEndpoint", c->reader_endpoint, sizeof(c->reader_endpoint));
	c->port = atoi(dw_xml_textbuf(n, "Port", num, sizeof(num)));
	dw_xml_textbuf(n, "ClusterCreateTime", c->created, sizeof(c->created));
	c->backup_retention = atoi(dw_xml_textbuf(n, "BackupRetentionPeriod", num, sizeof(num)));
	xmlNodePtr sv2 = dw_xml_find(n, "ServerlessV2ScalingConfiguration");
	if (sv2) {
		c->serverless.min_acu = atof(dw_xml_textbuf(sv2, "MinCapacity", num, sizeof(num)));
		c->serverless.max_acu = atof(dw_xml_textbuf(sv2, "MaxCapacity", num, sizeof(num)));
		c->serverless.seconds_until_auto_pause =
			atol(dw_xml_textbuf(sv2, "SecondsUntilAutoPause", num, sizeof(num)));
	}
	read_members(dw_xml_find(n, "DBClusterMembers"), c);
	xmlNodePtr list = dw_xml_find(n, "TagList");
	if (!list)
		return 0;
	read_tags(list, tags);
	c->tags = tags->items;
	c->n_tags = tags->n;
	return 1;
}

static int read_cluster(struct dw_aws *aws, xmlNodePtr n, struct dw_rds_cluster *c,
			struct dw_rds_tags *tags)
{
	if (parse_cluster(n, c, tags))
		return 0;
	if (list_tags(aws, c->arn, tags))
		return dw_error_context("reading the tags of %s", c->id);
	c->tags = tags->items;
	c->n_tags = tags->n;
	return 0;
}

/* One DescribeDBClusters page; *marker is replaced by the next one. */
static int describe_cluster_page(struct dw_aws *aws, const char *id, char **marker,
				 struct dw_rds_tags *tags, dw_rds_cluster_fn on_cluster, void *ud)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc;

	dw_kv_init(&params);
	if (id)
		dw_kv_add(&params, "DBClusterIdentifier", id);
	else
		dw_kv_add(&params, "MaxRecords", "100");
	if (*marker)
		dw_kv_add(&params, "Marker", *marker);
	rc = call(aws, "DescribeDBClusters", &params, &doc);
	dw_kv_release(&params);
	free(*marker);
	*marker = NULL;
	if (rc)
		return -1;
	xmlNodePtr result = dw_xml_find(xmlDocGetRootElement(doc), "DescribeDBClustersResult");
	xmlNodePtr list = dw_xml_find(result, "DBClusters");
	for (xmlNodePtr n = dw_xml_first(list, "DBCluster"); n && rc == 0;
	     n = dw_xml_next(n, "DBCluster")) {
		struct dw_rds_cluster c;
		rc = read_cluster(aws, n, &c, tags);
		/* Filters are checked here too: not every endpoint honours them. */
		if (rc == 0 && (!id || strcmp(c.id, id) == 0))
			rc = on_cluster(ud, &c);
	}
	char *next = dw_xml_text(result, "Marker");
	if (next && *next && rc == 0)
		*marker = next;
	else
		free(next);
	xmlFreeDoc(doc);
	return rc;
}

int dw_rds_describe_clusters(struct dw_aws *aws, const char *id,
			     dw_rds_cluster_fn on_cluster, void *ud)
{
	struct dw_rds_tags tags = { 0 };
	char *marker = NULL;
	int rc;

	do {
		rc = describe_cluster_page(aws, id, &marker, &tags, on_cluster, ud);
	} while (rc == 0 && marker);
	free(marker);
	dw_rds_tags_release(&tags);
	return rc;
}

static void add_serverless(struct dw_kvlist *p, const struct dw_rds_serverless *s)
{
	if (!s)
		return;
	dw_kv_addf(p, "ServerlessV2ScalingConfiguration.MinCapacity", "%g", s->min_acu);
	dw_kv_addf(p, "ServerlessV2ScalingConfiguration.MaxCapacity", "%g", s->max_acu);
	if (s->seconds_until_auto_pause > 0)
		dw_kv_addf(p, "ServerlessV2ScalingConfiguration.SecondsUntilAutoPause", "%ld",
			   s->seconds_until_auto_pause);
}

int dw_rds_restore_cluster(struct dw_aws *aws, const struct dw_rds_cluster_restore *in)
{
	struct dw_kvlist p;
	const char *action;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBClusterIdentifier", in->cluster);
	if (in->source_cluster) {
		action = "RestoreDBClusterToPointInTime";
		dw_kv_add(&p, "SourceDBClusterIdentifier", in->source_cluster);
		dw_kv_add(&p, "RestoreType", "copy-on-write");
		dw_kv_add(&p, "UseLatestRestorableTime", "true");
	} else {
		action = "RestoreDBClusterFromSnapshot";
		dw_kv_add(&p, "SnapshotIdentifier", in->snapshot);
		dw_kv_add(&p, "Engine", in->engine);
	}
	dw_kv_add(&p, "DeletionProtection", boolean(in->deletion_protection));
	dw_kv_addf(&p, "BackupRetentionPeriod", "%d", in->backup_retention);
	if (in->engine_lifecycle_support)
		dw_kv_add(&p, "EngineLifecycleSupport", in->engine_lifecycle_support);
	if (in->subnet_group)
		dw_kv_add(&p, "DBSubnetGroupName", in->subnet_group);
	add_security_groups(&p, in->security_group_ids, in->n_security_group_ids);
	add_serverless(&p, in->serverless);
	add_tags(&p, in->tags, in->n_tags);
	int rc = call_only(aws, action, &p);
	dw_kv_release(&p);
	return rc;
}

int dw_rds_create_cluster_instance(struct dw_aws *aws, const struct dw_rds_create_instance *in)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBInstanceIdentifier", in->instance);
	dw_kv_add(&p, "DBClusterIdentifier", in->cluster);
	dw_kv_add(&p, "Engine", in->engine);
	dw_kv_add(&p, "DBInstanceClass", in->instance_class);
	dw_kv_add(&p, "PubliclyAccessible", "false");
	if (in->parameter_group)
		dw_kv_add(&p, "DBParameterGroupName", in->parameter_group);
	add_tags(&p, in->tags, in->n_tags);
	int rc = call_only(aws, "CreateDBInstance", &p);
	dw_kv_release(&p);
	return rc;
}

int dw_rds_delete_cluster(struct dw_aws *aws, const char *cluster)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBClusterIdentifier", cluster);
	dw_kv_add(&p, "SkipFinalSnapshot", "true");
	int rc = call_only(aws, "DeleteDBCluster", &p);
	dw_kv_release(&p);
	return rc;
}

int dw_rds_start_cluster(struct dw_aws *aws, const char *cluster)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBClusterIdentifier", cluster);
	int rc = call_only(aws, "StartDBCluster", &p);
	dw_kv_release(&p);
	return rc;
}

int dw_rds_modify_cluster_backups(struct dw_aws *aws, const char *cluster, int days)
{
	struct dw_kvlist p;

	dw_kv_init(&p);
	dw_kv_add(&p, "DBClusterIdentifier", cluster);
	dw_kv_addf(&p, "BackupRetentionPeriod", "%d", days);
	dw_kv_add(&p, "ApplyImmediately", "true");
	int rc = call_only(aws, "ModifyDBCluster", &p);
	dw_kv_release(&p);
	return rc;
}

/* ---- snapshot exports ---------------------------------------------------- */

/* A whole decimal integer from 0 up, else 0 (atoi's overflow is undefined,
 * and glibc's read "99999999999999999999" as a progress of -1). */
static long long count_of(const char *text)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	return errno || end == text || *end || v < 0 ? 0 : v;
}

static void read_export_task(xmlNodePtr n, struct dw_rds_export_task *t)
{
	char num[32];
	size_t len;

	memset(t, 0, sizeof(*t));
	dw_xml_textbuf(n, "ExportTaskIdentifier", t->id, sizeof(t->id));
	dw_xml_textbuf(n, "SourceArn", t->source_arn, sizeof(t->source_arn));
	dw_xml_textbuf(n, "Status", t->status, sizeof(t->status));
	for (char *c = t->status; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	dw_xml_textbuf(n, "S3Bucket", t->s3_bucket, sizeof(t->s3_bucket));
	dw_xml_textbuf(n, "S3Prefix", t->s3_prefix, sizeof(t->s3_prefix));
	len = strlen(t->s3_prefix);
	while (len && t->s3_prefix[len - 1] == '/')
		t->s3_prefix[--len] = '\0';
	dw_xml_textbuf(n, "FailureCause", t->failure_cause, sizeof(t->failure_cause));
	dw_xml_textbuf(n, "TaskStartTime", t->started, sizeof(t->started));
	dw_xml_textbuf(n, "SnapshotTime", t->snapshot_time, sizeof(t->snapshot_time));
	long long pct = count_of(dw_xml_textbuf(n, "PercentProgress", num, sizeof(num)));
	t->percent = pct > 100 ? 100 : (int)pct;
	t->extracted_gb = count_of(dw_xml_textbuf(n, "TotalExtractedDataInGB", num, sizeof(num)));
}

int dw_rds_describe_export_task(struct dw_aws *aws, const char *id,
				struct dw_rds_export_task *out, int *found)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	xmlNodePtr n;
	int rc;

	*found = 0;
	memset(out, 0, sizeof(*out));
	dw_kv_init(&params);
	dw_kv_add(&params, "ExportTaskIdentifier", id);
	rc = call(aws, "DescribeExportTasks", &params, &doc);
	dw_kv_release(&params);
	if (rc && (dw_error_is("ExportTaskNotFound") || dw_error_is("ExportTaskNotFoundFault"))) {
		dw_error_clear();
		return 0;
	}
	if (rc)
		return -1;
	n = dw_xml_find(xmlDocGetRootElement(doc), "DescribeExportTasksResult/ExportTasks");
	for (n = dw_xml_first(n, "ExportTask"); n; n = dw_xml_next(n, "ExportTask")) {
		read_export_task(n, out);
		if (strcmp(out->id, id) == 0) {
			*found = 1;
			break;
		}
	}
	if (!*found)
		memset(out, 0, sizeof(*out));
	xmlFreeDoc(doc);
	return 0;
}

int dw_rds_start_export_task(struct dw_aws *aws, const struct dw_rds_start_export *in,
			     struct dw_rds_export_task *out)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc;

	dw_kv_init(&params);
	dw_kv_add(&params, "ExportTaskIdentifier", in->id);
	dw_kv_add(&params, "SourceArn", in->source_arn);
	dw_kv_add(&params, "S3BucketName", in->s3_bucket);
	dw_kv_add(&params, "IamRoleArn", in->iam_role_arn);
	dw_kv_add(&params, "KmsKeyId", in->kms_key_id);
	if (in->s3_prefix && *in->s3_prefix)
		dw_kv_add(&params, "S3Prefix", in->s3_prefix);
	for (size_t i = 0; i < in->n_export_only; i++) {
		char key[48];
		snprintf(key, sizeof(key), "ExportOnly.member.%zu", i + 1);
		dw_kv_add(&params, key, in->export_only[i]);
	}
	rc = call(aws, "StartExportTask", &params, &doc);
	dw_kv_release(&params);
	if (rc == 0)
		read_export_task(dw_xml_find(xmlDocGetRootElement(doc), "StartExportTaskResult"), out);
	xmlFreeDoc(doc);
	return rc;
}

int dw_rds_cancel_export_task(struct dw_aws *aws, const char *id,
			      struct dw_rds_export_task *out)
{
	struct dw_kvlist params;
	xmlDocPtr doc = NULL;
	int rc;

	dw_kv_init(&params);
	dw_kv_add(&params, "ExportTaskIdentifier", id);
	rc = call(aws, "CancelExportTask", &params, &doc);
	dw_kv_release(&params);
	if (rc == 0)
		read_export_task(dw_xml_find(xmlDocGetRootElement(doc), "CancelExportTaskResult"), out);
	xmlFreeDoc(doc);
	return rc;
}

void dw_rds_read_snapshot(xmlNodePtr item, int cluster, struct dw_rds_snapshot *out)
{
	read_snapshot(item, cluster ? &cluster_names : &instance_names, out);
}

void dw_rds_read_export_task(xmlNodePtr item, struct dw_rds_export_task *out)
{
	read_export_task(item, out);
}

int dw_rds_read_instance(xmlNodePtr item, struct dw_rds_instance *out, struct dw_rds_tags *tags)
{
	return parse_instance(item, out, tags);
}

int dw_rds_read_cluster(xmlNodePtr item, struct dw_rds_cluster *out, struct dw_rds_tags *tags)
{
	return parse_cluster(item, out, tags);
}

void dw_rds_tags_release(struct dw_rds_tags *tags)
{
	free(tags->items);
	memset(tags, 0, sizeof(*tags));
}
