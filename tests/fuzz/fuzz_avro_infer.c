/* Avro container headers (the schema inference reads from sample files). */
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
	struct dw_ddl_type t;

	dw_infer_init(&inf);
	if (dw_infer_avro(&inf, data, size, "fuzz.avro") == 0)
		for (size_t i = 0; i < inf.n; i++)
			(void)dw_infer_type(&inf, i, &t);
	dw_infer_release(&inf);
	dw_error_clear();
	return 0;
}
