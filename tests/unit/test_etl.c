/* test_etl.c - dw-etl's transform without a network: mappings, output keys,
 * files fed in chunks of any size, and the messages it reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/etl.h"

static struct dw_etl_mapping *default_mapping(void)
{
	cJSON *j = cJSON_Parse(dw_etl_default_mapping);
	struct dw_etl_mapping *m = NULL;

	assert_non_null(j);
	assert_int_equal(dw_etl_mapping_new(j, "mapping", &m), 0);
	cJSON_Delete(j);
	return m;
}

static void test_default_mapping(void **state)
{
	struct dw_etl_mapping *m = default_mapping();

	(void)state;
	assert_int_equal(dw_etl_mapping_kinds(m), 2);
	assert_string_equal(dw_etl_mapping_kind(m, 0), "vehicle");
	assert_string_equal(dw_etl_mapping_kind(m, 1), "operating_period");
	cJSON *s = cJSON_Parse(dw_etl_mapping_schema(m, 0));
	assert_string_equal(cJSON_GetObjectItem(s, "name")->valuestring, "vehicle");
	cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "fields"), 2);
	assert_string_equal(cJSON_GetObjectItem(f, "name")->valuestring, "at");
	cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(f, "type"), 1);
	assert_string_equal(cJSON_GetObjectItem(t, "logicalType")->valuestring, "timestamp-millis");
	f = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "fields"), 5);
	assert_string_equal(cJSON_GetObjectItem(f, "name")->valuestring, "lat");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(f, "type"), 1)->valuestring, "double");
	cJSON_Delete(s);
	dw_etl_mapping_free(m);
}

static void mapping_rejected(const char *json, const char *field)
{
	cJSON *j = cJSON_Parse(json);
	struct dw_etl_mapping *m = NULL;

	assert_non_null(j);
	dw_error_clear();
	assert_int_equal(dw_etl_mapping_new(j, "mapping", &m), -1);
	assert_null(m);
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_string_equal(dw_error_last()->field, field);
	cJSON_Delete(j);
}

static void test_bad_mappings(void **state)
{
	(void)state;
	mapping_rejected("{}", "mapping");
	mapping_rejected("[]", "mapping");
	mapping_rejected("{\"v\": []}", "mapping.v");
	mapping_rejected("{\"v\": [{\"name\": \"a\", \"type\": \"varchar\"}]}", "mapping.v[0].type");
	mapping_rejected("{\"v\": [{\"name\": \"a-b\", \"type\": \"string\"}]}", "mapping.v[0].name");
	mapping_rejected("{\"v\": [{\"name\": \"a\", \"type\": \"string\", \"pth\": \"x\"}]}", "mapping.v[0].pth");
	mapping_rejected("{\"v\": [{\"name\": \"a\", \"type\": \"string\", \"path\": \"x..y\"}]}", "mapping.v[0].path");
	mapping_rejected("{\"v\": [{\"name\": \"a\", \"type\": \"string\", \"path\": [1]}]}", "mapping.v[0].path");
	mapping_rejected("{\"v\": [{\"name\": \"a\", \"type\": \"string\"}, {\"name\": \"a\", \"type\": \"int\"}]}",
			 "mapping.v[1]");
	mapping_rejected("{\"v\": [{\"name\": \"a\", \"type\": \"decimal(40,2)\"}]}", "mapping.v[0].type");
	mapping_rejected("{\"_unknown\": [{\"name\": \"a\", \"type\": \"string\"}]}", "mapping._unknown");
	mapping_rejected("{\"a/b\": [{\"name\": \"a\", \"type\": \"string\"}]}", "mapping.a/b");
}

static void test_keys(void **state)
{
	struct dw_etl_keyfmt *k = NULL;
	struct dw_buf b;
	time_t day;

	(void)state;
	assert_int_equal(dw_etl_key_date("incoming/2019-06-01-15-5-3-events.json", &day), 0);
	assert_int_equal(day, 1559347200);
	assert_int_equal(dw_etl_key_date("dt=2019-06-02/events.json", &day), 0);
	assert_int_equal(day, 1559347200 + 86400);
	assert_int_equal(dw_etl_key_date("incoming/2019-02-30-x.json", &day), -1);
	assert_int_equal(dw_etl_key_date("events.json", &day), -1);
	assert_int_equal(dw_etl_keyfmt_new(DW_ETL_KEY_FORMAT, "key_format", &k), 0);
	dw_buf_init(&b);
	dw_etl_keyfmt_render(k, "demo", "vehicle", 1559347200, "incoming/2019-06-01-15-5-3-events.json", &b);
	assert_string_equal(b.data, "demo/vehicle/2019/06/01/2019-06-01-15-5-3-events.avro");
	dw_etl_keyfmt_free(k);
	assert_int_equal(dw_etl_keyfmt_new("lake/on={on}/dt={YYYY}-{MM}-{DD}/{name}.avro", "key_format", &k), 0);
	dw_buf_clear(&b);
	dw_etl_keyfmt_render(k, "", "op", 1559347200, "a.b.json", &b);
	assert_string_equal(b.data, "lake/on=op/dt=2019-06-01/a.b.json.avro");
	dw_etl_keyfmt_free(k);
	dw_buf_release(&b);
	assert_int_equal(dw_etl_keyfmt_new("{prefix}/{YYYY}/{basename}.avro", "key_format", &k), -1);
	assert_string_equal(dw_error_last()->field, "key_format");
	assert_int_equal(dw_etl_keyfmt_new("{prefix}/{on}/x.avro", "key_format", &k), -1);
	assert_int_equal(dw_etl_keyfmt_new("{prefix}/{on}/{hour}/{name}", "key_format", &k), -1);
	assert_int_equal(dw_etl_keyfmt_new("/{on}/{name}", "key_format", &k), -1);
}

static const char sample[] =
	"{\"event\": \"moved\", \"on\": \"vehicle\", \"at\": \"2019-06-01T15:00:01.250Z\", \"organization_id\": 7,"
	" \"data\": {\"id\": \"v1\", \"location\": {\"lat\": 52.520008, \"lng\": 13.404954, \"at\": \"2019-06-01T14:59:59Z\"}}}\n"
	"{\"event\": \"moved\", \"on\": \"vehicle\", \"organization_id\": \"8\","
	" \"data\": {\"id\": 12, \"location\": {\"lat\": \"1.5\", \"lng\": null, \"at\": \"2019-06-01T14:59:58Z\"}}}\r\n"
	"not json at all\n"
	"\n"
	"[1, 2]\n"
	"{\"event\": \"started\", \"on\": \"operating_period\", \"at\": \"2019-06-01T15:00:02Z\","
	" \"data\": {\"id\": \"p1\", \"start\": \"2019-06-01T15:00:00Z\", \"finish\": null}}\n"
	"{\"event\": \"honk\", \"on\": \"horn\", \"at\": \"2019-06-01T15:00:03Z\"}\n"
	"{\"event\": \"x\", \"at\": \"2019-06-01T15:00:04Z\"}\n"
	"{\"event\": \"moved\", \"on\": \"vehicle\", \"organization_id\": 1.5}"; /* no newline at the end */

static void run_file(const struct dw_etl_config *cfg, const char *text, size_t chunk,
		     struct dw_etl_file *f, int want_rc)
{
	size_t len = strlen(text);

	assert_int_equal(dw_etl_file_init(f, cfg, "events", "incoming/2019-06-01-15-0-1-events.json"), 0);
	int rc = 0;
	for (size_t at = 0; at < len && rc == 0; at += chunk)
		rc = dw_etl_file_feed(f, text + at, len - at < chunk ? len - at : chunk);
	if (rc == 0)
		rc = dw_etl_file_finish(f);
	assert_int_equal(rc, want_rc);
}

static unsigned long long records_in(const struct dw_etl_output *o)
{
	struct dw_avro_reader r;
	unsigned long long n = 0;
	int rc;

	assert_int_equal(dw_avro_reader_open(&r, o->w.out.data, o->w.out.len), 0);
	while ((rc = dw_avro_reader_next(&r)) == 1)
		n += (unsigned long long)r.count;
	assert_int_equal(rc, 0);
	dw_avro_reader_release(&r);
	return n;
}

static void test_file(void **state)
{
	struct dw_etl_mapping *m = default_mapping();
	struct dw_etl_keyfmt *k = NULL;
	struct dw_etl_config cfg = { .mapping = m, .prefix = "demo", .codec = DW_AVRO_DEFLATE };
	struct dw_etl_file whole, f;

	(void)state;
	assert_int_equal(dw_etl_keyfmt_new(DW_ETL_KEY_FORMAT, "key_format", &k), 0);
	cfg.keyfmt = k;
	run_file(&cfg, sample, sizeof(sample), &whole, 0);
	assert_int_equal(whole.lines, 8);
	assert_int_equal(whole.records, 6);
	assert_int_equal(whole.bad_lines, 2);
	assert_int_equal(whole.unknown_records, 2);
	assert_int_equal(whole.invalid_values, 1); /* organization_id 1.5 */
	assert_int_equal(whole.n_outputs, 2);
	assert_string_equal(whole.outputs[0]->key, "demo/vehicle/2019/06/01/2019-06-01-15-0-1-events.avro");
	assert_int_equal(whole.outputs[0]->records, 3);
	assert_int_equal(records_in(whole.outputs[0]), 3);
	assert_string_equal(whole.outputs[1]->key,
			    "demo/operating_period/2019/06/01/2019-06-01-15-0-1-events.avro");
	assert_int_equal(records_in(whole.outputs[1]), 1);
	assert_int_equal(cJSON_GetObjectItem(whole.unknown_counts, "horn")->valuedouble, 1);
	assert_int_equal(cJSON_GetObjectItem(whole.unknown_counts, "null")->valuedouble, 1);
	assert_non_null(strstr(whole.first_bad, "line 3"));
	/* any chunking gives the same bytes */
	size_t chunks[] = { 1, 2, 7, 64, 333 };
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		run_file(&cfg, sample, chunks[i], &f, 0);
		assert_int_equal(f.records, whole.records);
		assert_int_equal(f.bad_lines, whole.bad_lines);
		assert_int_equal(f.n_outputs, whole.n_outputs);
		for (size_t j = 0; j < f.n_outputs; j++) {
			assert_int_equal(f.outputs[j]->w.out.len, whole.outputs[j]->w.out.len);
			assert_memory_equal(f.outputs[j]->w.out.data, whole.outputs[j]->w.out.data,
					    f.outputs[j]->w.out.len);
		}
		dw_etl_file_release(&f);
	}
	dw_etl_file_release(&whole);

	/* unknown kinds into the _unknown folder, raw */
	cfg.unknown = DW_ETL_UNKNOWN_FOLDER;
	run_file(&cfg, sample, 5, &f, 0);
	assert_int_equal(f.n_outputs, 3);
	assert_string_equal(f.outputs[2]->key, "demo/_unknown/2019/06/01/2019-06-01-15-0-1-events.avro");
	assert_int_equal(records_in(f.outputs[2]), 2);
	dw_etl_file_release(&f);

	/* unknown: fail */
	cfg.unknown = DW_ETL_UNKNOWN_FAIL;
	run_file(&cfg, sample, 4096, &f, -1);
	assert_string_equal(dw_error_last()->code, "UnknownKind");
	assert_string_equal(f.first_unknown, "horn");
	dw_etl_file_release(&f);
	cfg.unknown = DW_ETL_UNKNOWN_SKIP;

	/* every line bad: the file fails; an empty file does not */
	run_file(&cfg, "nope\n[1]\n\"x\"\n", 3, &f, -1);
	assert_string_equal(dw_error_last()->code, "AllLinesBad");
	dw_etl_file_release(&f);
	run_file(&cfg, "\n\n", 3, &f, 0);
	assert_int_equal(f.lines, 0);
	assert_int_equal(f.n_outputs, 0);
	dw_etl_file_release(&f);

	/* an over-long line is one bad line, the next line still counts */
	cfg.max_line = 64;
	char longer[512];
	memset(longer, 'x', 300);
	snprintf(longer + 300, sizeof(longer) - 300,
		 "\n{\"on\": \"vehicle\", \"at\": \"2019-06-01T00:00:00Z\"}\n");
	run_file(&cfg, longer, 10, &f, 0);
	assert_int_equal(f.lines, 2);
	assert_int_equal(f.bad_lines, 1);
	assert_int_equal(f.records, 1);
	dw_etl_file_release(&f);
	cfg.max_line = 0;

	/* dates from the records: one output per kind and day */
	cfg.date_from = DW_ETL_DATE_RECORDS;
	run_file(&cfg, "{\"on\": \"vehicle\", \"at\": \"2019-06-01T23:59:59Z\"}\n"
		 "{\"on\": \"vehicle\", \"at\": \"2019-06-02T00:00:00Z\"}\n"
		 "{\"on\": \"vehicle\"}\n", 8, &f, 0);
	assert_int_equal(f.n_outputs, 2);
	assert_string_equal(f.outputs[1]->key, "demo/vehicle/2019/06/02/2019-06-01-15-0-1-events.avro");
	assert_int_equal(f.bad_lines, 1);
	dw_etl_file_release(&f);

	/* a name without a date, dates from the name: the file fails */
	cfg.date_from = DW_ETL_DATE_KEY;
	assert_int_equal(dw_etl_file_init(&f, &cfg, "events", "incoming/events.json"), -1);
	assert_string_equal(dw_error_last()->code, "NoDateInKey");
	dw_etl_file_release(&f);
	dw_etl_keyfmt_free(k);
	dw_etl_mapping_free(m);
}

static void test_messages(void **state)
{
	struct dw_etl_refs r;
	char *d;

	(void)state;
	assert_int_equal(dw_etl_message_refs("incoming/2019-06-01-15-0-1-events.json\n", "events", &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.items[0].bucket, "events");
	assert_string_equal(r.items[0].key, "incoming/2019-06-01-15-0-1-events.json");
	dw_etl_refs_release(&r);
	assert_int_equal(dw_etl_message_refs("s3://other/a/b.json", NULL, &r), 0);
	assert_string_equal(r.items[0].bucket, "other");
	assert_string_equal(r.items[0].key, "a/b.json");
	dw_etl_refs_release(&r);
	assert_int_equal(dw_etl_message_refs(
		"{\"Records\": [{\"eventVersion\": \"2.1\", \"eventSource\": \"aws:s3\", \"eventName\": \"ObjectCreated:Put\","
		" \"s3\": {\"bucket\": {\"name\": \"ev\"}, \"object\": {\"key\": \"in/my+file%C3%A9%2B.json\", \"size\": 3}}},"
		" {\"eventSource\": \"aws:s3\", \"eventName\": \"ObjectRemoved:Delete\","
		" \"s3\": {\"bucket\": {\"name\": \"ev\"}, \"object\": {\"key\": \"gone\"}}}]}", NULL, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.items[0].key, "in/my file\xc3\xa9+.json");
	dw_etl_refs_release(&r);
	assert_int_equal(dw_etl_message_refs(
		"{\"Service\": \"Amazon S3\", \"Event\": \"s3:TestEvent\", \"Time\": \"2019-06-01T15:00:00Z\","
		" \"Bucket\": \"ev\"}", NULL, &r), 0);
	assert_int_equal(r.test_event, 1);
	assert_int_equal(r.n, 0);
	dw_etl_refs_release(&r);
	/* through SNS */
	assert_int_equal(dw_etl_message_refs(
		"{\"Type\": \"Notification\", \"TopicArn\": \"arn:aws:sns:us-east-1:1:t\", \"Message\":"
		" \"{\\\"Records\\\": [{\\\"eventSource\\\": \\\"aws:s3\\\", \\\"eventName\\\": \\\"ObjectCreated:Put\\\","
		" \\\"s3\\\": {\\\"bucket\\\": {\\\"name\\\": \\\"b\\\"}, \\\"object\\\": {\\\"key\\\": \\\"k\\\"}}}]}\"}",
		NULL, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.items[0].bucket, "b");
	dw_etl_refs_release(&r);
	/* refused */
	assert_int_equal(dw_etl_message_refs("   ", "b", &r), -1);
	assert_string_equal(dw_error_last()->code, "BadMessage");
	assert_int_equal(dw_etl_message_refs("key.json", NULL, &r), -1);
	assert_int_equal(dw_etl_message_refs("{\"hello\": 1}", "b", &r), -1);
	assert_int_equal(dw_etl_message_refs("{\"Records\": [{\"eventSource\": \"aws:s3\", "
					     "\"eventName\": \"ObjectCreated:Put\", \"s3\": {}}]}", "b", &r), -1);
	d = dw_etl_form_decode("a+b%2fc%zz");
	assert_string_equal(d, "a b/c%zz");
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_mapping),
		cmocka_unit_test(test_bad_mappings),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
