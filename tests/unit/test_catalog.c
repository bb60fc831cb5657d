/* test_catalog.c - dw-catalog without AWS: which type changes are
 * widenings (the breaking/non-breaking line), Hive types as Presto's, the
 * model's checks, its parts bound by their tables, and the views' SQL quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ops/catalog.h"
#include "base/json.h"

static void test_widening(void **state)
{
	(void)state;
	assert_true(dw_catalog_type_widens("int", "bigint"));
	assert_true(dw_catalog_type_widens("tinyint", "int"));
	assert_true(dw_catalog_type_widens("float", "double"));
	assert_true(dw_catalog_type_widens("DECIMAL(10, 2)", "decimal(12,2)"));
	assert_true(dw_catalog_type_widens("decimal(10,2)", "decimal(11,3)"));
	assert_true(dw_catalog_type_widens("string", "STRING"));
	assert_false(dw_catalog_type_widens("bigint", "int"));
	assert_false(dw_catalog_type_widens("double", "float"));
	assert_false(dw_catalog_type_widens("decimal(10,2)", "decimal(10,3)")); /* one integer digit less */
	assert_false(dw_catalog_type_widens("decimal(10,2)", "decimal(12,1)")); /* a fraction digit less */
	assert_false(dw_catalog_type_widens("int", "string"));
	assert_false(dw_catalog_type_widens("decimal(10,2", "decimal(12,2)"));
}

static void check_presto(const char *hive, const char *presto)
{
	char *p = dw_catalog_presto_type(hive);

	assert_string_equal(p, presto);
	free(p);
}

static void test_presto_types(void **state)
{
	(void)state;
	check_presto("string", "varchar");
	check_presto("int", "integer");
	check_presto("float", "real");
	check_presto("decimal(12,2)", "decimal(12,2)");
	check_presto("array<string>", "array(varchar)");
	check_presto("map<string,bigint>", "map(varchar,bigint)");
	check_presto("struct<lat:double,lng:double,at:timestamp>", "row(lat double,lng double,at timestamp)");
	check_presto("struct<a:array<struct<b:int>>>", "row(a array(row(b integer)))");
}

static int read_model(const char *text, struct dw_catalog_model *m)
{
	cJSON *j = NULL;
	int rc;

	assert_int_equal(dw_json_parse(text, strlen(text), "model", &j), 0);
	dw_catalog_model_init(m);
	rc = dw_catalog_model_read(m, j, "model");
	cJSON_Delete(j);
	return rc;
}

#define TABLE "{\"table\": \"t\", \"format\": \"parquet\", \"location\": \"s3://b/t/\", " \
	"\"columns\": [{\"name\": \"id\", \"type\": \"bigint\"}, {\"name\": \"s\", \"type\": \"string\"}]}"

static void test_model_and_sql(void **state)
{
	struct dw_catalog_model m;
	char *athena, *snow;

	(void)state;
	assert_int_equal(read_model("{\"datasets\": [{\"name\": \"d\", \"database\": \"DB\", \"tables\": [" TABLE "]}],"
				    "\"bindings\": {\"t\": \"db.t\"},"
				    "\"consumers\": [{\"name\": \"c\", \"groups\": [{\"name\": \"g\", \"database\": \"v\","
				    "\"views\": [{\"name\": \"x\", \"table\": \"t\", \"columns\": [{\"name\": \"s\", \"as\": \"label\"}],"
				    "\"where\": [{\"column\": \"s\", \"op\": \"!=\", \"value\": \"a'b\\\\c\"},"
				    "{\"column\": \"id\", \"op\": \">=\", \"value\": 9007199254740991}]}]}]}]}", &m), 0);
	assert_int_equal(m.ntables, 1);
	assert_string_equal(m.tables[0].ddl.database, "db");  /* lower-cased, as Glue does */
	assert_int_equal(m.ndatabases, 2);
	athena = dw_catalog_view_sql(&m, &m.views[0], DW_DDL_ATHENA);
	snow = dw_catalog_view_sql(&m, &m.views[0], DW_DDL_SNOWFLAKE);
	/* Presto doubles a quote and reads a backslash as itself. */
	assert_string_equal(athena, "CREATE OR REPLACE VIEW \"v\".\"x\" AS SELECT \"s\" AS \"label\" FROM \"db\".\"t\" "
			    "WHERE \"s\" <> 'a''b\\c' AND \"id\" >= 9007199254740991");
	assert_non_null(strstr(snow, "CREATE OR REPLACE VIEW v.x COPY GRANTS AS SELECT s AS label FROM db.t"));
	free(athena);
	free(snow);
	dw_catalog_model_release(&m);
}

static void test_model_refusals(void **state)
{
	struct dw_catalog_model m;

	(void)state;
	/* a view over a logical table nobody binds */
	assert_int_equal(read_model("{\"datasets\": [{\"name\": \"d\", \"database\": \"db\", \"tables\": [" TABLE "]}],"
				    "\"consumers\": [{\"name\": \"c\", \"groups\": [{\"name\": \"g\", \"database\": \"v\","
				    "\"views\": [{\"name\": \"x\", \"table\": \"t\"}]}]}]}", &m), -1);
	assert_string_equal(dw_error_last()->field, "model.bindings");
	dw_catalog_model_release(&m);
	/* a table listed twice */
	assert_int_equal(read_model("{\"datasets\": [{\"name\": \"d\", \"database\": \"db\", \"tables\": [" TABLE ", " TABLE "]}]}", &m), -1);
	assert_string_equal(dw_error_last()->field, "model.datasets[0].tables[1]");
	dw_catalog_model_release(&m);
	/* a filter number that a double cannot hold exactly */
	assert_int_equal(read_model("{\"datasets\": [{\"name\": \"d\", \"database\": \"db\", \"tables\": [" TABLE "]}],"
				    "\"bindings\": {\"t\": \"db.t\"},"
				    "\"consumers\": [{\"name\": \"c\", \"groups\": [{\"name\": \"g\", \"database\": \"v\","
				    "\"views\": [{\"name\": \"x\", \"table\": \"t\","
				    "\"where\": [{\"column\": \"id\", \"op\": \"=\", \"value\": 9007199254740993}]}]}]}]}", &m), -1);
	assert_string_equal(dw_error_last()->field, "model.consumers[0].groups[0].views[0].where[0]");
	dw_catalog_model_release(&m);
	/* a table of another dialect */
	assert_int_equal(read_model("{\"datasets\": [{\"name\": \"d\", \"database\": \"db\", \"tables\": ["
				    "{\"dialect\": \"snowflake\", \"table\": \"t\"}]}]}", &m), -1);
	assert_string_equal(dw_error_last()->field, "model.datasets[0].tables[0]");
	dw_catalog_model_release(&m);
}

/* A model whose one view is V (a JSON object's members). */
#define VIEW_MODEL(V) "{\"datasets\": [{\"name\": \"d\", \"database\": \"db\", \"tables\": [" TABLE "]}]," \
	"\"bindings\": {\"t\": \"db.t\"}," \
	"\"consumers\": [{\"name\": \"c\", \"groups\": [{\"name\": \"g\", \"database\": \"v\"," \
	"\"views\": [{\"name\": \"x\", \"table\": \"t\", " V "}]}]}]}"

/* The model's parts are bound by their tables (dw_req_bind_at at their
 * paths): choices, unknown keys and types are refused naming the field. */
static void test_model_parts_bound(void **state)
{
	struct dw_catalog_model m;

	(void)state;
	/* a filter's op is a choice of the filter's table */
	assert_int_equal(read_model(VIEW_MODEL("\"where\": [{\"column\": \"s\", \"op\": \"LIKE\", \"value\": \"a%\"}]"),
				    &m), -1);
	assert_string_equal(dw_error_last()->field, "model.consumers[0].groups[0].views[0].where[0].op");
	assert_non_null(strstr(dw_error_last()->message, "must be one of: =, !=, <, <=, >, >=, is_null, not_null"));
	dw_catalog_model_release(&m);
	/* is_null binds, and still takes no value */
	assert_int_equal(read_model(VIEW_MODEL("\"where\": [{\"column\": \"s\", \"op\": \"is_null\", \"value\": 1}]"),
				    &m), -1);
	assert_string_equal(dw_error_last()->field, "model.consumers[0].groups[0].views[0].where[0]");
	assert_string_equal(dw_error_last()->message, "is_null takes no value");
	dw_catalog_model_release(&m);
	/* a view column object has its own table: {name, as} */
	assert_int_equal(read_model(VIEW_MODEL("\"columns\": [\"id\", {\"name\": \"s\", \"nick\": \"n\"}]"), &m), -1);
	assert_string_equal(dw_error_last()->field, "model.consumers[0].groups[0].views[0].columns[1].nick");
	assert_non_null(strstr(dw_error_last()->message, "unknown field"));
	dw_catalog_model_release(&m);
	assert_int_equal(read_model(VIEW_MODEL("\"columns\": [{\"name\": \"s\", \"as\": 3}]"), &m), -1);
	assert_string_equal(dw_error_last()->field, "model.consumers[0].groups[0].views[0].columns[0].as");
	dw_catalog_model_release(&m);
	assert_int_equal(read_model(VIEW_MODEL("\"columns\": [{\"as\": \"label\"}]"), &m), -1);
	assert_string_equal(dw_error_last()->field, "model.consumers[0].groups[0].views[0].columns[0].name");
	dw_catalog_model_release(&m);
	/* a name Glue would not take is still the reader's check, at the column */
	assert_int_equal(read_model(VIEW_MODEL("\"columns\": [{\"name\": \"s\", \"as\": \"a b\"}]"), &m), -1);
	assert_string_equal(dw_error_last()->field, "model.consumers[0].groups[0].views[0].columns[0]");
	dw_catalog_model_release(&m);
	/* a string column stays a string; an object's as renames it */
	assert_int_equal(read_model(VIEW_MODEL("\"columns\": [\"ID\", {\"name\": \"s\", \"as\": \"Label\"}],"
					       "\"where\": [{\"column\": \"s\", \"op\": \"not_null\"}]"), &m), 0);
	assert_int_equal(m.views[0].ncolumns, 2);
	assert_string_equal(m.views[0].columns[0].source, "id");
	assert_string_equal(m.views[0].columns[0].name, "id");
	assert_string_equal(m.views[0].columns[1].source, "s");
	assert_string_equal(m.views[0].columns[1].name, "label");
	assert_int_equal(m.views[0].nfilters, 1);
	assert_string_equal(m.views[0].filters[0].op, "not_null");
	assert_null(m.views[0].filters[0].value);
	dw_catalog_model_release(&m);
	/* the model's own fields, and a dataset's */
	assert_int_equal(read_model("{\"version\": 9007199254740993, \"datasets\": []}", &m), -1);
	assert_string_equal(dw_error_last()->field, "model.version");
	dw_catalog_model_release(&m);
	assert_int_equal(read_model("{\"datasets\": [{\"name\": \"d\", \"tables\": []}]}", &m), -1);
	assert_string_equal(dw_error_last()->field, "model.datasets[0].database");
	dw_catalog_model_release(&m);
	assert_int_equal(read_model("{\"datasets\": [], \"consumers\": [{\"name\": \"c\", \"groups\": "
				    "[{\"name\": \"g\", \"database\": \"v\", \"views\": [], \"owner\": \"o\"}]}]}", &m), -1);
	assert_string_equal(dw_error_last()->field, "model.consumers[0].groups[0].owner");
	dw_catalog_model_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_widening),
		cmocka_unit_test(test_presto_types),
		cmocka_unit_test(test_model_and_sql),
		cmocka_unit_test(test_model_refusals),
		cmocka_unit_test(test_model_parts_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
