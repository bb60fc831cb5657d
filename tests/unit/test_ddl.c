/* test_ddl.c - identifier and literal quoting per dialect, type names, the
 * table description's binding (DW_DDL_TABLE_FIELDS into a nested member,
 * defaults and bounds from the tables), and the inference rules, without
 * AWS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ops/ddl.h"
#include "ops/infer.h"

static char *ident(enum dw_ddl_dialect d, const char *name)
{
	struct dw_buf b;

	dw_buf_init(&b);
	dw_ddl_quote_ident(&b, d, name);
	return dw_buf_detach(&b);
}

static char *literal(enum dw_ddl_dialect d, const char *s)
{
	struct dw_buf b;

	dw_buf_init(&b);
	dw_ddl_quote_literal(&b, d, s);
	return dw_buf_detach(&b);
}

#define EXPECT(fn, d, in, want) do { \
		char *got_ = fn(d, in); \
		assert_string_equal(got_, want); \
		free(got_); \
	} while (0)

static void test_snowflake_idents(void **state)
{
	(void)state;
	EXPECT(ident, DW_DDL_SNOWFLAKE, "event", "event");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "organization_id", "organization_id");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "on", "\"on\"");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "AT", "\"AT\"");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "start", "\"start\"");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "columns", "\"columns\"");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "a.b", "\"a.b\"");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "with space", "\"with space\"");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "1st", "\"1st\"");
	EXPECT(ident, DW_DDL_SNOWFLAKE, "say \"hi\"", "\"say \"\"hi\"\"\"");
}

static void test_hive_idents(void **state)
{
	(void)state;
	EXPECT(ident, DW_DDL_ATHENA, "event", "`event`");
	EXPECT(ident, DW_DDL_ATHENA, "back`tick", "`back``tick`");
	EXPECT(ident, DW_DDL_GLUE, "on", "`on`");
	EXPECT(ident, DW_DDL_REDSHIFT, "user", "\"user\"");
	EXPECT(ident, DW_DDL_REDSHIFT, "a\"b", "\"a\"\"b\"");
}

static void test_literals(void **state)
{
	(void)state;
	EXPECT(literal, DW_DDL_SNOWFLAKE, "it's", "'it''s'");
	EXPECT(literal, DW_DDL_SNOWFLAKE, "a\\b", "'a\\\\b'");
	EXPECT(literal, DW_DDL_REDSHIFT, "x'); DROP TABLE y; --", "'x''); DROP TABLE y; --'");
	EXPECT(literal, DW_DDL_ATHENA, "it's", "'it\\'s'");
	EXPECT(literal, DW_DDL_ATHENA, "\\'", "'\\\\\\''");
	EXPECT(literal, DW_DDL_ATHENA, "\t", "'\\t'");
}

static void test_types(void **state)
{
	struct dw_ddl_type t;
	char name[32];

	(void)state;
	assert_int_equal(dw_ddl_parse_type("decimal( 12 , 3 )", "f", &t), 0);
	dw_ddl_type_name(&t, name);
	assert_string_equal(name, "decimal(12,3)");
	assert_int_equal(dw_ddl_parse_type("decimal(9)", "f", &t), 0);
	assert_int_equal(t.scale, 0);
	assert_int_equal(dw_ddl_parse_type("BIGINT", "f", &t), 0);
	assert_int_equal(t.kind, DW_TY_BIGINT);
	assert_int_equal(dw_ddl_parse_type("varchar", "f", &t), -1);
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_string_equal(dw_error_last()->field, "f");
	assert_int_equal(dw_ddl_parse_type("decimal(39,2)", "f", &t), -1);
	assert_int_equal(dw_ddl_parse_type("decimal(5,6)", "f", &t), -1);
	assert_int_equal(dw_ddl_parse_type("decimal(5,2)x", "f", &t), -1);
}

static enum dw_ddl_kind kind_of(const struct dw_infer *inf, const char *path)
{
	struct dw_ddl_type t;

	for (size_t i = 0; i < inf->n; i++)
		if (strcmp(inf->cols[i].path, path) == 0) {
			assert_int_equal(dw_infer_type(inf, i, &t), 1);
			return t.kind;
		}
	fail_msg("no column %s", path);
	return DW_TY_STRING;
}

/* Dates that do not exist are strings: the one strict parser decides. */
static void test_infer_invalid_dates(void **state)
{
	static const char lines[] =
		"{\"leap\": \"2020-02-29\", \"feb31\": \"2019-02-31\", \"m13\": \"2019-13-01\", "
		"\"h24\": \"2019-06-01T24:00:00Z\", \"ok\": \"2019-06-01T23:59:59Z\", "
		"\"noleap\": \"2019-02-29T00:00\"}\n";
	struct dw_infer inf;

	(void)state;
	dw_infer_init(&inf);
	dw_infer_json_lines(&inf, lines, strlen(lines), 100, 1);
	assert_int_equal(inf.records, 1);
	assert_int_equal(kind_of(&inf, "leap"), DW_TY_DATE);
	assert_int_equal(kind_of(&inf, "feb31"), DW_TY_STRING);
	assert_int_equal(kind_of(&inf, "m13"), DW_TY_STRING);
	assert_int_equal(kind_of(&inf, "h24"), DW_TY_STRING);
	assert_int_equal(kind_of(&inf, "ok"), DW_TY_TIMESTAMP);
	assert_int_equal(kind_of(&inf, "noleap"), DW_TY_STRING);
	dw_infer_release(&inf);
}

static void test_infer_rules(void **state)
{
	static const char lines[] =
		"{\"n\": 1, \"x\": 1, \"d\": \"2019-06-01\", \"t\": \"2019-06-01T10:00:00Z\", \"o\": {\"a\": 1}, \"m\": null}\n"
		"{\"n\": 2.5, \"x\": \"a\", \"d\": \"2019-06-02\", \"t\": \"2019-06-01\", \"o\": 3, \"m\": true}\n"
		"[1, 2]\n"
		"{\"n\": 3, \"cut";
	struct dw_infer inf;
	struct dw_ddl_type t;

	(void)state;
	dw_infer_init(&inf);
	dw_infer_json_lines(&inf, lines, strlen(lines), 100, 1);
	assert_int_equal(inf.records, 2);
	assert_int_equal(inf.bad_lines, 1);
	assert_int_equal(kind_of(&inf, "n"), DW_TY_DOUBLE);
	assert_int_equal(kind_of(&inf, "x"), DW_TY_STRING);
	assert_int_equal(kind_of(&inf, "d"), DW_TY_DATE);
	assert_int_equal(kind_of(&inf, "t"), DW_TY_TIMESTAMP);
	assert_int_equal(kind_of(&inf, "o"), DW_TY_STRING);
	assert_int_equal(kind_of(&inf, "m"), DW_TY_BOOLEAN);
	/* o was a number once: its keys are not columns of their own */
	for (size_t i = 0; i < inf.n; i++)
		if (strcmp(inf.cols[i].path, "o.a") == 0)
			assert_int_equal(dw_infer_type(&inf, i, &t), 0);
	dw_infer_release(&inf);
}

/* issue 12 #11: a header map whose block count is LLONG_MIN (zig-zag
 * ff ff ff ff ff ff ff ff ff 01) made the reader negate it, undefined
 * behaviour; it is refused as not an Avro file. */
static void test_infer_avro_hostile_count(void **state)
{
	static const unsigned char file[] = {
		'O', 'b', 'j', 1,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* count */
		0x02, /* block size */
		0x00, 0x00,
	};
	struct dw_infer inf;

	(void)state;
	dw_infer_init(&inf);
	assert_int_equal(dw_infer_avro(&inf, file, sizeof(file), "hostile.avro"), -1);
	assert_string_equal(dw_error_last()->code, "NotAvro");
	assert_int_equal(inf.n, 0);
	dw_error_clear();
	dw_infer_release(&inf);
}

/* issue 12 #15: a sample with more distinct keys than a table may have
 * columns stops being tracked (its cost grew with their square) and says so. */
static void test_infer_too_many_paths(void **state)
{
	struct dw_buf line;
	struct dw_infer inf;

	(void)state;
	dw_buf_init(&line);
	dw_buf_putc(&line, '{');
	for (int i = 0; i < DW_INFER_MAX_PATHS + 5; i++)
		dw_buf_printf(&line, "%s\"k%d\":1", i ? "," : "", i);
	dw_buf_puts(&line, "}\n");
	dw_infer_init(&inf);
	dw_infer_json_lines(&inf, line.data, line.len, 10, 0);
	assert_int_equal(inf.n, DW_INFER_MAX_PATHS);
	assert_true(inf.too_many);
	dw_infer_release(&inf);
	dw_buf_release(&line);
}

/* fuzz_json_infer's finding: a sample of white space only, in a buffer
 * without a terminator, was scanned past its end (ASan reports it). */
static void test_infer_blank_lines_unterminated(void **state)
{
	static const char text[] = " \n \t\r";
	char *data = malloc(sizeof(text) - 1);
	struct dw_infer inf;

	(void)state;
	memcpy(data, text, sizeof(text) - 1);
	dw_infer_init(&inf);
	dw_infer_json_lines(&inf, data, sizeof(text) - 1, 10, 0);
	assert_int_equal(inf.records, 0);
	assert_int_equal(inf.bad_lines, 0);
	dw_infer_release(&inf);
	free(data);
}

/* ---- the table description, bound ---- */

/* DW_DDL_TABLE_FIELDS into a nested member ("in.ddl"), between others. */
struct bind_outer {
	int before;
	struct {
		long pad;
		struct dw_ddl_req ddl;
	} in;
	int after;
};
static const struct dw_field outer_fields[] = {
	DW_DDL_TABLE_FIELDS(struct bind_outer, in.ddl),
	DW_INT("after", struct bind_outer, after, 0, 7, 0, 9, "a field of the action's own"),
	DW_FIELDS_END
};

static int bind_ddl(const char *text, struct bind_outer *o, cJSON **req)
{
	memset(o, 0x5a, sizeof(*o));
	o->before = 42;
	*req = cJSON_Parse(text);
	assert_non_null(*req);
	dw_error_clear();
	return dw_req_bind_at(*req, outer_fields, "", o);
}

static void test_bind_defaults(void **state)
{
	struct bind_outer o;
	struct dw_ddl_table t;
	cJSON *req;

	(void)state;
	assert_int_equal(bind_ddl("{\"dialect\":\"athena\",\"table\":\"events\",\"database\":\"lake\","
				  "\"location\":\"s3://lake/events\",\"partitions\":[{\"name\":\"dt\"}]}",
				  &o, &req), 0);
	assert_int_equal(o.before, 42); /* no field: left alone */
	assert_int_equal(o.after, 7);
	assert_int_equal(o.in.ddl.dialect, DW_DDL_ATHENA);
	assert_string_equal(o.in.ddl.table, "events");
	assert_null(o.in.ddl.schema);
	assert_int_equal(o.in.ddl.format, DW_FMT_JSON);  /* default "json" */
	assert_null(o.in.ddl.delimiter);
	assert_int_equal(o.in.ddl.header, -1);           /* not given */
	assert_null(o.in.ddl.stage);
	assert_null(o.in.ddl.create_stage.storage_integration);
	assert_null(o.in.ddl.file_format.name);
	assert_int_equal(o.in.ddl.file_format.create, 0);
	assert_null(o.in.ddl.columns);
	assert_non_null(o.in.ddl.partitions);
	assert_null(o.in.ddl.add_partitions);
	assert_int_equal(o.in.ddl.options.auto_refresh, -1); /* not given */
	assert_int_equal(o.in.ddl.options.projection, 1);
	assert_int_equal(o.in.ddl.options.replace, 0);
	assert_int_equal(o.in.ddl.options.create_database, 0);
	assert_null(o.in.ddl.options.comment);
	assert_null(o.in.ddl.options.table_properties);

	dw_ddl_table_init(&t);
	assert_int_equal(dw_ddl_table_parse(&t, &o.in.ddl), 0);
	assert_int_equal(t.dialect, DW_DDL_ATHENA);
	assert_int_equal(t.format, DW_FMT_JSON);
	assert_int_equal(t.projection, 1);
	assert_int_equal(t.auto_refresh, 1);
	assert_int_equal(t.header, 0);
	assert_int_equal(t.delimiter, ',');
	assert_string_equal(t.location, "s3://lake/events/");
	assert_int_equal(t.npartitions, 1);
	assert_string_equal(t.partitions[0].name, "dt");
	assert_int_equal(t.partitions[0].type.kind, DW_TY_STRING); /* default string */
	assert_int_equal(t.partitions[0].segment, 1);              /* its position */
	assert_int_equal(t.partitions[0].sub_start, 0);            /* whole segment */
	dw_ddl_table_release(&t);
	cJSON_Delete(req);
	assert_string_equal(dw_ddl_dialect_name(DW_DDL_GLUE), "glue");
}

/* Given values land, tri-states included; what parse refuses still names
 * the field. */
static void test_bind_given(void **state)
{
	struct bind_outer o;
	struct dw_ddl_table t;
	cJSON *req;

	(void)state;
	assert_int_equal(bind_ddl("{\"dialect\":\"snowflake\",\"table\":\"t\",\"stage\":\"st/a/\","
				  "\"format\":\"csv\",\"header\":false,\"delimiter\":\"|\","
				  "\"partitions\":[{\"name\":\"h\",\"segment\":2,"
				  "\"substring\":{\"start\":3}}],"
				  "\"options\":{\"auto_refresh\":false,\"replace\":true}}", &o, &req), 0);
	assert_int_equal(o.in.ddl.format, DW_FMT_CSV);
	assert_int_equal(o.in.ddl.header, 0);
	assert_int_equal(o.in.ddl.options.auto_refresh, 0);
	dw_ddl_table_init(&t);
	assert_int_equal(dw_ddl_table_parse(&t, &o.in.ddl), 0);
	assert_int_equal(t.auto_refresh, 0);
	assert_int_equal(t.replace, 1);
	assert_int_equal(t.delimiter, '|');
	assert_int_equal(t.partitions[0].segment, 2);
	assert_int_equal(t.partitions[0].sub_start, 3);
	assert_int_equal(t.partitions[0].sub_length, 0);
	dw_ddl_table_release(&t);
	cJSON_Delete(req);

	/* header given (even false) is for csv only */
	assert_int_equal(bind_ddl("{\"dialect\":\"athena\",\"table\":\"t\",\"database\":\"d\","
				  "\"header\":false}", &o, &req), 0);
	dw_ddl_table_init(&t);
	assert_int_equal(dw_ddl_table_parse(&t, &o.in.ddl), -1);
	assert_string_equal(dw_error_last()->field, "header");
	dw_ddl_table_release(&t);
	cJSON_Delete(req);
	/* auto_refresh given (even true) is snowflake's */
	assert_int_equal(bind_ddl("{\"dialect\":\"athena\",\"table\":\"t\",\"database\":\"d\","
				  "\"options\":{\"auto_refresh\":true}}", &o, &req), 0);
	dw_ddl_table_init(&t);
	assert_int_equal(dw_ddl_table_parse(&t, &o.in.ddl), -1);
	assert_string_equal(dw_error_last()->field, "options");
	dw_ddl_table_release(&t);
	cJSON_Delete(req);
}

static void bind_refused(const char *text, const char *field, const char *words)
{
	struct bind_outer o;
	cJSON *req;

	assert_int_equal(bind_ddl(text, &o, &req), -1);
	assert_int_equal(dw_error_last()->kind, DW_INVALID);
	assert_string_equal(dw_error_last()->field, field);
	if (words && !strstr(dw_error_last()->message, words))
		fail_msg("\"%s\" not in \"%s\"", words, dw_error_last()->message);
	cJSON_Delete(req);
}

/* Bounds and choices from the tables, refused at the bind naming the path. */
static void test_bind_bounds(void **state)
{
	(void)state;
#define BASE "\"dialect\":\"athena\",\"table\":\"t\",\"database\":\"d\""
	bind_refused("{" BASE ",\"partitions\":[{\"name\":\"a\",\"segment\":65}]}",
		     "partitions[0].segment", "between 1 and 64, not 65");
	bind_refused("{" BASE ",\"partitions\":[{\"name\":\"a\"},{\"name\":\"b\",\"segment\":0}]}",
		     "partitions[1].segment", "between 1 and 64, not 0");
	bind_refused("{" BASE ",\"partitions\":[{\"name\":\"a\",\"substring\":{\"start\":0}}]}",
		     "partitions[0].substring.start", "between 1 and 1024");
	bind_refused("{" BASE ",\"partitions\":[{\"name\":\"a\",\"substring\":{\"start\":1,\"length\":1025}}]}",
		     "partitions[0].substring.length", "between 0 and 1024");
	bind_refused("{" BASE ",\"partitions\":[{\"name\":\"a\",\"substring\":{}}]}",
		     "partitions[0].substring.start", "required");
	bind_refused("{" BASE ",\"format\":\"xml\"}", "format", "one of: json, avro, parquet, csv");
	bind_refused("{\"dialect\":\"oracle\",\"table\":\"t\"}", "dialect",
		     "one of: snowflake, athena, redshift, glue");
	bind_refused("{" BASE ",\"columns\":[{\"name\":\"a\"}]}", "columns[0].type", "required");
	bind_refused("{" BASE ",\"options\":{\"projection\":1}}", "options.projection", "true or false");
	bind_refused("{" BASE ",\"after\":10}", "after", "between 0 and 9");
#undef BASE
}

/* The 65th partition without a segment: its position is out of range,
 * which only the parse can see. */
/* The choices a request's dialect binds to are indices into enum
 * dw_ddl_dialect: the two lists must stay in the same order. */
static void test_dialect_choices_match_enum(void **state)
{
	const char *const *names = DW_DDL_DIALECTS;
	size_t i = 0;

	(void)state;
	for (; names[i]; i++)
		assert_string_equal(names[i], dw_ddl_dialect_name((enum dw_ddl_dialect)i));
	assert_int_equal(i, DW_DDL_GLUE + 1);
}

static void test_parse_segment_by_position(void **state)
{
	struct bind_outer o;
	struct dw_ddl_table t;
	struct dw_buf b;
	cJSON *req;

	(void)state;
	dw_buf_init(&b);
	dw_buf_puts(&b, "{\"dialect\":\"athena\",\"table\":\"t\",\"database\":\"d\",\"partitions\":[");
	for (int i = 0; i < 65; i++)
		dw_buf_printf(&b, "%s{\"name\":\"p%d\"}", i ? "," : "", i);
	dw_buf_puts(&b, "]}");
	assert_int_equal(bind_ddl(b.data, &o, &req), 0);
	dw_ddl_table_init(&t);
	assert_int_equal(dw_ddl_table_parse(&t, &o.in.ddl), -1);
	assert_string_equal(dw_error_last()->field, "partitions[64].segment");
	assert_non_null(strstr(dw_error_last()->message, "segment 65 is out of range"));
	dw_ddl_table_release(&t);
	cJSON_Delete(req);
	dw_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snowflake_idents),
		cmocka_unit_test(test_hive_idents),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_bind_defaults),
		cmocka_unit_test(test_bind_given),
		cmocka_unit_test(test_bind_bounds),
		cmocka_unit_test(test_parse_segment_by_position),
		cmocka_unit_test(test_dialect_choices_match_enum),
		cmocka_unit_test(test_infer_rules),
		cmocka_unit_test(test_infer_invalid_dates),
		cmocka_unit_test(test_infer_avro_hostile_count),
		cmocka_unit_test(test_infer_too_many_paths),
		cmocka_unit_test(test_infer_blank_lines_unterminated),
	};

	return cmocka_run_group_tests_name("ddl", tests, NULL, NULL);
}
