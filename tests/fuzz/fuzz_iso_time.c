/* ISO 8601 times (server answers, requests) and dw-fanout's hours. */
#include "fuzz.h"
#include "base/timefmt.h"
#include "ops/fanout.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_QUIET();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	time_t t = dw_time_parse_iso(s), h;

	/* Up to 9999-12-31T23:59:59Z (a five-digit year is not ISO 8601's). */
	if (t >= 0 && t < 253402300800) {
		char back[32];
		dw_time_format_iso(t, back);
		if (dw_time_parse_iso(back) != t)
			abort(); /* what we print we read back the same */
	}
	if (dw_fanout_parse_hour(s, "hour", size & 1, &h) == 0 && h % 3600 != 0)
		abort(); /* a whole hour */
	dw_error_clear();
	free(s);
	return 0;
}
