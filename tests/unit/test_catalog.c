/* test_catalog.c - dw-catalog without AWS: which type changes are
 * widenings (the breaking/non-breaking line), Hive types as Presto's, the
 * model's checks, and the views' SQL quoting. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_widening),
		cmocka_unit_test(test_presto_types),
		cmocka_unit_test(test_model_and_sql),
		cmocka_unit_test(test_model_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
