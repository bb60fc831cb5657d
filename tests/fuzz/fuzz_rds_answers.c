/* RDS query-protocol (XML) answers as a hostile server may send them: the
 * first byte picks the answer, the rest is the body.
 *   0  DescribeDBSnapshots, 1 DescribeDBClusterSnapshots: every item and
 *      the page's Marker;
 *   2  DescribeExportTasks, 3 StartExportTask / CancelExportTask (their
 *      result element may be missing);
 *   4  DescribeDBInstances, 5 DescribeDBClusters (members, serverless v2
 *      scaling, tags), with or without a TagList.
 * Each field stays inside its buffer, an export's status is upper case, its
 * prefix never ends with '/', its progress is 0-100 and its size not
 * negative; an instance's or cluster's tags are those of its own TagList
 * (none without one), its members at most DW_RDS_CLUSTER_MEMBERS_MAX. */
#include "fuzz.h"
#include "aws/rds.h"
#include "base/xml.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_QUIET();
	return 0;
}

#define FITS(s) do { if (strnlen((s), sizeof(s)) >= sizeof(s)) abort(); } while (0)

static void snapshots(xmlNodePtr root, int cluster)
{
	const char *list = cluster ? "DescribeDBClusterSnapshotsResult/DBClusterSnapshots"
				   : "DescribeDBSnapshotsResult/DBSnapshots";
	const char *item = cluster ? "DBClusterSnapshot" : "DBSnapshot";

	for (xmlNodePtr n = dw_xml_first(dw_xml_find(root, list), item); n;
	     n = dw_xml_next(n, item)) {
		struct dw_rds_snapshot s;
		dw_rds_read_snapshot(n, cluster, &s);
		FITS(s.id);
		FITS(s.arn);
		FITS(s.source);
		FITS(s.created);
		FITS(s.engine);
		FITS(s.type);
		FITS(s.status);
	}
	free(dw_xml_text(dw_xml_first(root, NULL), "Marker"));
}

static void export_task(xmlNodePtr n)
{
	struct dw_rds_export_task t;

	dw_rds_read_export_task(n, &t);
	FITS(t.id);
	FITS(t.source_arn);
	FITS(t.status);
	FITS(t.s3_bucket);
	FITS(t.s3_prefix);
	FITS(t.failure_cause);
	FITS(t.started);
	FITS(t.snapshot_time);
	for (const char *c = t.status; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			abort();
	if (t.percent < 0 || t.percent > 100 || t.extracted_gb < 0)
		abort();
	size_t len = strlen(t.s3_prefix);
	if (len && t.s3_prefix[len - 1] == '/')
		abort();
}

static void tags_fit(const struct dw_rds_tag *tags, size_t n, int listed,
		     const struct dw_rds_tags *read)
{
	if (!listed && (n || tags))
		abort();
	if (listed && (tags != read->items || n != read->n || n > read->cap))
		abort();
	for (size_t i = 0; i < n; i++) {
		FITS(tags[i].key);
		FITS(tags[i].value);
	}
}

static void instances(xmlNodePtr root, struct dw_rds_tags *tags)
{
	for (xmlNodePtr n = dw_xml_first(dw_xml_find(root,
			"DescribeDBInstancesResult/DBInstances"), "DBInstance");
	     n; n = dw_xml_next(n, "DBInstance")) {
		struct dw_rds_instance in;
		int listed = dw_rds_read_instance(n, &in, tags);
		if (listed != (dw_xml_find(n, "TagList") != NULL))
			abort();
		FITS(in.id);
		FITS(in.arn);
		FITS(in.status);
		FITS(in.address);
		FITS(in.created);
		FITS(in.instance_class);
		FITS(in.cluster);
		tags_fit(in.tags, in.n_tags, listed, tags);
	}
}

static void clusters(xmlNodePtr root, struct dw_rds_tags *tags)
{
	for (xmlNodePtr n = dw_xml_first(dw_xml_find(root,
			"DescribeDBClustersResult/DBClusters"), "DBCluster");
	     n; n = dw_xml_next(n, "DBCluster")) {
		struct dw_rds_cluster c;
		int listed = dw_rds_read_cluster(n, &c, tags);
		if (listed != (dw_xml_find(n, "TagList") != NULL))
			abort();
		FITS(c.id);
		FITS(c.arn);
		FITS(c.status);
		FITS(c.engine);
		FITS(c.endpoint);
		FITS(c.reader_endpoint);
		FITS(c.created);
		if (c.n_members > DW_RDS_CLUSTER_MEMBERS_MAX)
			abort();
		for (size_t i = 0; i < c.n_members; i++) {
			FITS(c.members[i].id);
			if (c.members[i].writer != 0 && c.members[i].writer != 1)
				abort();
		}
		tags_fit(c.tags, c.n_tags, listed, tags);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmlDocPtr doc = NULL;
	struct dw_rds_tags tags = { 0 };

	if (size < 1)
		return 0;
	if (dw_xml_parse((const char *)data + 1, size - 1, &doc) == 0 && doc) {
		xmlNodePtr root = xmlDocGetRootElement(doc);
		switch (data[0] % 6) {
		case 0:
		case 1:
			snapshots(root, data[0] % 4);
			break;
		case 2:
			for (xmlNodePtr n = dw_xml_first(dw_xml_find(root,
					"DescribeExportTasksResult/ExportTasks"), "ExportTask");
			     n; n = dw_xml_next(n, "ExportTask"))
				export_task(n);
			break;
		case 3:
			export_task(dw_xml_find(root, "StartExportTaskResult"));
			export_task(dw_xml_find(root, "CancelExportTaskResult"));
			break;
		case 4:
			instances(root, &tags);
			break;
		default:
			clusters(root, &tags);
			break;
		}
	}
	dw_rds_tags_release(&tags);
	xmlFreeDoc(doc);
	dw_error_clear();
	return 0;
}
