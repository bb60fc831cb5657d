/* ListObjectsV2 pages as a hostile server may send them. */
#include "fuzz.h"
#include "aws/s3.h"

static int on_object(void *ud, const struct dw_s3_object *o)
{
	(*(size_t *)ud) += strlen(o->key) + strlen(o->etag) + (size_t)(o->size & 1);
	return 0;
}

static int on_prefix(void *ud, const char *prefix)
{
	(*(size_t *)ud) += strlen(prefix);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_QUIET();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t seen = 0;
	struct dw_s3_list l = { .bucket = "b", .prefix = "p/", .on_object = on_object,
				.on_prefix = on_prefix, .ud = &seen };
	struct dw_http_response r;
	char *next = NULL;

	dw_http_response_init(&r);
	dw_buf_append(&r.body, data, size);
	r.status = 200;
	if (dw_s3_list_parse(&l, &r, &next) == 0 && next && !*next)
		abort(); /* an empty token is never handed back (issue 12 #9) */
	free(next);
	dw_http_response_release(&r);
	dw_error_clear();
	return 0;
}
