/* Error bodies of the three wire protocols (JSON, query XML, REST XML):
 * the first byte picks the protocol and status; the message never outgrows
 * its buffer and a registered secret never survives in it, whole or cut. */
#include "fuzz.h"
#include "aws/aws.h"
#include "base/redact.h"

static const char SECRET[] = "FuzzSecretToken0123456789";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_QUIET();
	dw_redact_secret(SECRET);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dw_aws_protocol protos[] = { DW_PROTO_JSON, DW_PROTO_QUERY,
						       DW_PROTO_REST_XML };
	static const long statuses[] = { 400, 403, 404, 409, 429, 500, 503, 418 };
	struct dw_http_response r;
	char code[96], msg[200];

	if (size < 1)
		return 0;
	dw_http_response_init(&r);
	r.status = statuses[(data[0] >> 2) % 8];
	dw_buf_append(&r.body, data + 1, size - 1);
	dw_aws_error_parse(protos[data[0] % 3], &r, code, sizeof(code), msg, sizeof(msg));
	if (strlen(code) >= sizeof(code) || strlen(msg) >= sizeof(msg))
		abort();
	if (strstr(msg, SECRET))
		abort();
	/* issue 12 #13: masked before the cut, and no beginning of it is left
	 * at the cut.  Only a body holding the secret can leak it: a message of
	 * exactly the buffer's length that merely ends in "FuzzS" is the
	 * server's own text (a false alarm the fuzzer found). */
	size_t n = strlen(msg);
	if (n == sizeof(msg) - 1 && memmem(data + 1, size - 1, SECRET, sizeof(SECRET) - 1))
		for (size_t k = 4; k < sizeof(SECRET) - 1 && k <= n; k++)
			if (memcmp(msg + n - k, SECRET, k) == 0)
				abort();
	dw_http_response_release(&r);
	return 0;
}
