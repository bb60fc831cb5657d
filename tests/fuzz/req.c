/* The request protocol of one operator (issue 12): dw_json_parse, then each
 * action's field table through dw_req_validate and, where the table binds,
 * dw_req_bind / dw_req_release, as dw_op_main and the actions do.  Built
 * once per operator (make fuzz-build: build/fuzz/fuzz_req_<op>) from this
 * file and the operator's own source, FUZZ_OPERATOR, whose main() is
 * renamed and run once: its dw_op_main() call hands over the operator's
 * table instead of running it.  Seeds: the operator's example requests
 * (examples/dw-<op>/).  Each input is checked against every action.
 *
 * Checked: a refused request raises DW_INVALID with a code; no error
 * message quotes a secret field's value; binding fails only where
 * validation did not see it coming (bounds, choices, _env) and frees what
 * it bound. */
#include "fuzz.h"
#include "base/redact.h"
#include "proto/op.h"

static const struct dw_operator *fuzz_op;

static int fuzz_capture(const struct dw_operator *op, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fuzz_op = op;
	return 0;
}

#define main fuzz_operator_main
#define dw_op_main fuzz_capture
#include FUZZ_OPERATOR
#undef dw_op_main
#undef main

/* Bytes of the options struct a table binds into, as far as its offsets
 * tell (every bound member is at most 8 bytes, or a struct of its own). */
static size_t opts_size(const struct dw_field *fields)
{
	size_t need = 0;

	for (const struct dw_field *f = fields; f && f->name; f++) {
		size_t end = f->offset + (f->bind == DW_B_STRUCT ? opts_size(f->sub) : 8);
		if (f->bind != DW_B_NONE && end > need)
			need = end;
	}
	return need;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *args[] = { "fuzz", NULL };

	(void)argc;
	(void)argv;
	FUZZ_QUIET();
	fuzz_operator_main(1, args);
	if (!fuzz_op || !fuzz_op->actions || !fuzz_op->actions[0].name)
		abort();
	return 0;
}

/* A top-level secret's value (6 characters or more) in the message? */
static int leaks_secret(const cJSON *req, const struct dw_field *fields, const char *msg)
{
	for (const struct dw_field *f = fields; f && f->name; f++) {
		const char *v = f->type == DW_T_SECRET ? dw_json_str(req, f->name) : NULL;
		if (v && strlen(v) >= 6 && strstr(msg, v))
			return 1;
	}
	return 0;
}

static void refused(const cJSON *req, const struct dw_field *fields)
{
	const struct dw_error *e = dw_error_last();

	if (e->kind != DW_INVALID || !e->code[0])
		abort();
	if (req && leaks_secret(req, fields, e->message))
		abort();
}

static void check_action(const struct dw_action *a, const cJSON *req)
{
	struct dw_common_req c;

	dw_error_clear();
	if (dw_req_validate(req, a->fields, dw_common_fields, "")) {
		refused(req, a->fields);
		return;
	}
	dw_req_common(req, &c);
	size_t need = opts_size(a->fields);
	if (!need)
		return;
	void *opts = calloc(1, need);
	if (!opts)
		abort();
	if (dw_req_bind(req, a->fields, opts))
		refused(req, a->fields);
	else
		dw_req_release(a->fields, opts);
	free(opts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *req = NULL;

	dw_error_clear();
	if (dw_json_parse((const char *)data, size, "request", &req)) {
		refused(NULL, NULL);
		return 0;
	}
	if (cJSON_IsObject(req))
		for (const struct dw_action *a = fuzz_op->actions; a->name; a++)
			check_action(a, req);
	cJSON_Delete(req);
	dw_redact_clear();
	dw_error_clear();
	return 0;
}
