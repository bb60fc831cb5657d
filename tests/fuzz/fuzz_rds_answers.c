/* RDS query-protocol (XML) answers as a hostile server may send them: the
 * first byte picks the answer, the rest is the body.
 *   0  DescribeDBSnapshots, 1 DescribeDBClusterSnapshots: every item and
 *      the page's Marker;
 *   2  DescribeExportTasks, 3 StartExportTask / CancelExportTask (their
 *      result element may be missing).
 * Each field stays inside its buffer, an export's status is upper case, its
 * prefix never ends with '/', its progress is 0-100 and its size not
 * negative. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmlDocPtr doc = NULL;

	if (size < 1)
		return 0;
	if (dw_xml_parse((const char *)data + 1, size - 1, &doc) == 0 && doc) {
		xmlNodePtr root = xmlDocGetRootElement(doc);
		switch (data[0] % 4) {
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
		default:
			export_task(dw_xml_find(root, "StartExportTaskResult"));
			export_task(dw_xml_find(root, "CancelExportTaskResult"));
			break;
		}
	}
	xmlFreeDoc(doc);
	dw_error_clear();
	return 0;
}
