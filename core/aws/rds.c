/* rds.c - Amazon RDS over the query protocol. */
#include "aws/rds.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "base/xml.h"

#include <stdlib.h>
#include <string.h>

int dw_rds_call(struct dw_aws *aws, const char *action,
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
	rc = dw_rds_call(aws, names->action, &params, &doc);
	dw_kv_free(&params);
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
	int rc = dw_rds_call(aws, instance_names.action, &params, &doc);
	dw_kv_free(&params);
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
