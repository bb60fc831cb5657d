/* fuzz.h - what the libFuzzer harnesses share (make fuzz; tests/fuzz/README).
 * Each harness fuzz_<name>.c defines LLVMFuzzerTestOneInput over one parser
 * of untrusted input and keeps its seeds in tests/fuzz/<name>/corpus. */
#ifndef DW_FUZZ_H
#define DW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as a NUL-terminated string (caller frees). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Log lines off: the fuzzer's speed, not stderr's. */
#define FUZZ_QUIET() setenv("DW_LOG_LEVEL", "error", 1)

#endif
