/* JSON-lines sample files as inference reads them, cut short or not, then
 * the columns they make added to a table. */
#include "fuzz.h"
#include "ops/infer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_QUIET();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dw_infer inf;
	struct dw_ddl_table t;

	if (size < 1)
		return 0;
	dw_infer_init(&inf);
	dw_infer_json_lines(&inf, (const char *)data + 1, size - 1, 1 + data[0] % 50, data[0] & 1);
	dw_ddl_table_init(&t);
	dw_infer_add_columns(&inf, &t);
	dw_ddl_table_release(&t);
	dw_infer_release(&inf);
	dw_error_clear();
	return 0;
}
