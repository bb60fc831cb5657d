/* test_export.c - what dw-export derives without AWS: export task ids
 * (RDS's rules, UTC dates, long names), main_prefix normalisation, and the
 * prefix checks a move makes before it changes anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "ops/export.h"
#include "ops/s3sync.h"
#include "base/timefmt.h"
#include "aws/rds.h"
#include "base/xml.h"

/* RDS: 1-60 letters, digits and hyphens, a letter first, no "--", no '-' last. */
static int valid_task_id(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > DW_EXPORT_ID_MAX || !isalpha((unsigned char)id[0]) ||
	    id[n - 1] == '-' || strstr(id, "--"))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return 0;
	return 1;
}

static void test_task_id_from_snapshot_time_in_utc(void **state)
{
	char id[DW_EXPORT_ID_MAX + 1];

	(void)state;
	/* 23:59:58 at UTC-05:00 is already the next day in UTC. */
	assert_int_equal(dw_export_task_id("warehouse", dw_time_parse_iso("2024-05-31T23:59:58-05:00"), id), 0);
	assert_string_equal(id, "warehouse-2024-06-01-045958");
	assert_int_equal(dw_export_task_id("Ware_House.db", dw_time_parse_iso("2024-06-01T03:15:12Z"), id), 0);
	assert_string_equal(id, "ware-house-db-2024-06-01-031512");
	assert_true(valid_task_id(id));
}

static void test_task_id_rejects_what_rds_cannot_take(void **state)
{
	char id[DW_EXPORT_ID_MAX + 1];

	(void)state;
	assert_int_equal(dw_export_task_id("1warehouse", 0, id), -1);
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_int_equal(dw_export_task_id("---", 0, id), -1);
	assert_int_equal(dw_export_task_id("warehouse", (time_t)-1, id), -1);
	assert_string_equal(dw_error_last()->code, "BadSnapshotTime");
}

static void test_long_sources_fit_and_stay_apart(void **state)
{
	char a[DW_EXPORT_ID_MAX + 1], b[DW_EXPORT_ID_MAX + 1], c[DW_EXPORT_ID_MAX + 1], name[80];
	time_t t = dw_time_parse_iso("2024-06-01T03:15:12Z");

	(void)state;
	memset(name, 'w', 63);
	name[63] = '\0';
	assert_int_equal(dw_export_task_id(name, t, a), 0);
	name[62] = 'x';
	assert_int_equal(dw_export_task_id(name, t, b), 0);
	/* A hyphen where the name is cut must not end up doubled. */
	name[32] = '-';
	assert_int_equal(dw_export_task_id(name, t, c), 0);
	assert_true(valid_task_id(a));
	assert_true(valid_task_id(b));
	assert_true(valid_task_id(c));
	assert_int_equal(strlen(a), DW_EXPORT_ID_MAX);
	assert_string_not_equal(a, b);
	assert_non_null(strstr(a, "-2024-06-01-031512"));
}

static void test_main_prefix(void **state)
{
	char *p = NULL;

	(void)state;
	assert_int_equal(dw_export_main_prefix("/warehouse/main//", "main_prefix", &p), 0);
	assert_string_equal(p, "warehouse/main/");
	free(p);
	assert_int_equal(dw_export_main_prefix("///", "main_prefix", &p), -1);
	assert_string_equal(dw_error_last()->field, "main_prefix");
	assert_int_equal(dw_export_main_prefix(NULL, "main_prefix", &p), -1);
}

static void test_move_checks_prefixes(void **state)
{
	struct dw_s3sync s = {
		.src_bucket = "b", .src_prefix = "exports/t1/",
		.dst_bucket = "b", .dst_prefix = "main/", .marker_name = "_m.json",
	};

	(void)state;
	assert_int_equal(dw_s3sync_check(&s), 0);
	s.dst_prefix = "exports/";   /* holds the source: it would be deleted as stale */
	assert_int_equal(dw_s3sync_check(&s), -1);
	s.dst_prefix = "exports/t1/x/";
	assert_int_equal(dw_s3sync_check(&s), -1);
	s.dst_bucket = "other";      /* another bucket: no overlap */
	assert_int_equal(dw_s3sync_check(&s), 0);
	s.dst_prefix = "";
	assert_int_equal(dw_s3sync_check(&s), -1);
	s.dst_prefix = "main";
	assert_int_equal(dw_s3sync_check(&s), -1);
	s.dst_prefix = "main/";
	s.marker_name = "a/b";
	assert_int_equal(dw_s3sync_check(&s), -1);
}

static void task_in(struct dw_rds_export_task *t, const char *status, const char *cause)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "warehouse-2024-06-01-031512");
	snprintf(t->status, sizeof(t->status), "%s", status);
	snprintf(t->failure_cause, sizeof(t->failure_cause), "%s", cause);
}

/* The waiter's verdict on each state RDS reports (tests/test_export.py
 * drives the same states through dw-export wait, moto's answers rewritten
 * by the fault proxy). */
static void test_wait_verdicts(void **state)
{
	struct dw_rds_export_task t;
	int rc = 99;

	(void)state;
	task_in(&t, "STARTING", "");
	assert_int_equal(dw_export_finished(&t, &rc), 0);
	task_in(&t, "IN_PROGRESS", "");
	assert_int_equal(dw_export_finished(&t, &rc), 0);
	task_in(&t, "COMPLETE", "");
	assert_int_equal(dw_export_finished(&t, &rc), 1);
	assert_int_equal(rc, 0);
	task_in(&t, "FAILED", "The IAM role does not have access to the bucket");
	assert_int_equal(dw_export_finished(&t, &rc), 1);
	assert_int_equal(rc, -1);
	assert_string_equal(dw_error_last()->code, "ExportFailed");
	assert_int_equal(dw_error_last()->kind, DW_FAILED);
	assert_non_null(strstr(dw_error_last()->message, "does not have access to the bucket"));
	task_in(&t, "CANCELING", "");
	assert_int_equal(dw_export_finished(&t, &rc), 1);
	assert_string_equal(dw_error_last()->code, "Canceled");
	assert_non_null(strstr(dw_error_last()->message, "is being canceled"));
	task_in(&t, "CANCELED", "Canceled by user request");
	assert_int_equal(dw_export_finished(&t, &rc), 1);
	assert_int_equal(rc, -1);
	assert_string_equal(dw_error_last()->code, "Canceled");
	assert_non_null(strstr(dw_error_last()->message, "was canceled: Canceled by user request"));
}

static void test_prefixes_overlap_by_path_segments(void **state)
{
	(void)state;
	/* main_prefix inside the exports' folder, or the same folder. */
	assert_int_equal(dw_export_prefixes_overlap("rds", "rds/current/"), 1);
	assert_int_equal(dw_export_prefixes_overlap("rds/", "rds/"), 1);
	assert_int_equal(dw_export_prefixes_overlap("/rds//", "rds"), 1);
	assert_int_equal(dw_export_prefixes_overlap("a/b", "a//b/c/"), 1);
	/* The bucket's root holds every export folder: it is every folder's
	 * ancestor, as "rds" is rds/current's. */
	assert_int_equal(dw_export_prefixes_overlap("", "rds-snapshot-export/"), 1);
	assert_int_equal(dw_export_prefixes_overlap(NULL, "main/"), 1);
	assert_int_equal(dw_export_prefixes_overlap("/", "main/"), 1);
	/* The exports inside main_prefix. */
	assert_int_equal(dw_export_prefixes_overlap("warehouse/exports", "warehouse/"), 1);
	assert_int_equal(dw_export_prefixes_overlap("x", ""), 1);
	/* Side by side: sharing characters is not sharing a folder. */
	assert_int_equal(dw_export_prefixes_overlap("rds", "rds-snapshot-export/"), 0);
	assert_int_equal(dw_export_prefixes_overlap("rds-snapshot-export", "rds/"), 0);
	assert_int_equal(dw_export_prefixes_overlap("rds/exports", "rds/current/"), 0);
	assert_int_equal(dw_export_prefixes_overlap("exports", "warehouse/main/"), 0);
	assert_int_equal(dw_export_prefixes_overlap("a/b", "a/bc/"), 0);
}

/* promote's bytes_copied (and counts) as the result line carries them:
 * exact for a 6 GiB object and beyond cJSON's int, and read back exactly. */
static void test_promotion_sizes_are_exact(void **state)
{
	static const long long sizes[] = { 6442450944LL, 4294967296LL + 1, 2147483648LL,
					   (1LL << 53), (1LL << 53) + 1, 9223372036854775807LL };
	struct dw_export_promotion p = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		cJSON *r = cJSON_CreateObject(), *back = NULL;
		char lit[64], *text;
		long long v = 0;

		p.bytes_copied = sizes[i];
		assert_non_null(dw_json_add_int(r, "bytes_copied", p.bytes_copied));
		text = dw_json_print(r);
		snprintf(lit, sizeof(lit), "{\"bytes_copied\":%lld}", sizes[i]);
		assert_string_equal(text, lit);
		assert_int_equal(dw_json_int(cJSON_GetObjectItemCaseSensitive(r, "bytes_copied"), &v), 0);
		assert_true(v == sizes[i]);
		/* what a caller parsing the line sees, up to 2^53 as a number */
		assert_int_equal(dw_json_parse(text, strlen(text), "result", &back), 0);
		if (sizes[i] <= (1LL << 53)) {
			assert_int_equal(dw_json_int(cJSON_GetObjectItemCaseSensitive(back, "bytes_copied"),
						     &v), 0);
			assert_true(v == sizes[i]);
		}
		cJSON_Delete(back);
		cJSON_free(text);
		cJSON_Delete(r);
	}
}

/* An export task as a hostile server may describe it (fuzz_rds_answers):
 * a number that is not one, or out of range, reads as 0 (atoi read
 * "99999999999999999999" as a progress of -1); a progress over 100 is 100. */
static void test_export_task_numbers_bounded(void **state)
{
	static const struct { const char *pct, *gb; int want_pct; long long want_gb; } cases[] = {
		{ "42", "6", 42, 6 }, { "99999999999999999999", "99999999999999999999999", 0, 0 },
		{ "-5", "-7", 0, 0 }, { "101", "x", 100, 0 }, { "", "", 0, 0 },
		{ "7%", "12.5", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *xml = dw_xasprintf("<R><ExportTaskIdentifier>t</ExportTaskIdentifier>"
					 "<PercentProgress>%s</PercentProgress>"
					 "<TotalExtractedDataInGB>%s</TotalExtractedDataInGB></R>",
					 cases[i].pct, cases[i].gb);
		xmlDocPtr doc = NULL;
		struct dw_rds_export_task t;
		assert_int_equal(dw_xml_parse(xml, strlen(xml), &doc), 0);
		dw_rds_read_export_task(xmlDocGetRootElement(doc), &t);
		assert_int_equal(t.percent, cases[i].want_pct);
		assert_true(t.extracted_gb == cases[i].want_gb);
		xmlFreeDoc(doc);
		free(xml);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_id_from_snapshot_time_in_utc),
		cmocka_unit_test(test_task_id_rejects_what_rds_cannot_take),
		cmocka_unit_test(test_long_sources_fit_and_stay_apart),
		cmocka_unit_test(test_main_prefix),
		cmocka_unit_test(test_move_checks_prefixes),
		cmocka_unit_test(test_prefixes_overlap_by_path_segments),
		cmocka_unit_test(test_wait_verdicts),
		cmocka_unit_test(test_promotion_sizes_are_exact),
		cmocka_unit_test(test_export_task_numbers_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
