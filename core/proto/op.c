/* op.c - the operator protocol: request in, one JSON result line out. */
#include "proto/op.h"
#include "aws/session.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/redact.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct options {
	const char *action;
	const char *request_file;
	int pretty;
	int help;
	int version;
};

static void print_help(const struct dw_operator *op)
{
	printf("%s - %s\n\n", op->name, op->summary);
	printf("usage: %s [ACTION] [--request FILE] [--pretty] < request.json\n", op->name);
	printf("       %s --help | --version\n\n", op->name);
	printf("The request is one JSON object on stdin (or in FILE).  The result is one\n"
	       "JSON object on the last line of stdout; logs go to stderr.\n"
	       "Exit codes: 0 done, 2 rejected (nothing changed), 1 failed while working,\n"
	       "75 temporary failure after retries, 99 nothing to do.\n"
	       "A secret field NAME may instead be given as NAME_env, naming an\n"
	       "environment variable that holds it.\n\n");
	for (const struct dw_action *a = op->actions; a->name; a++) {
		printf("%s %s: %s\n", op->name, a->name, a->summary);
		dw_req_print_help(stdout, a->fields, 0);
		if (a->example)
			printf("  example: %s\n", a->example);
		printf("\n");
	}
	printf("Fields every action accepts:\n");
	dw_req_print_help(stdout, dw_common_fields, 0);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			o->help = 1;
		else if (strcmp(a, "--version") == 0)
			o->version = 1;
		else if (strcmp(a, "--pretty") == 0)
			o->pretty = 1;
		else if (strcmp(a, "--request") == 0 && i + 1 < argc)
			o->request_file = argv[++i];
		else if (strncmp(a, "--request=", 10) == 0)
			o->request_file = a + 10;
		else if (a[0] != '-' && !o->action)
			o->action = a;
		else
			return dw_invalid(NULL, "unexpected argument \"%s\" (see --help)", a);
	}
	return 0;
}

/* At most DW_JSON_MAX_REQUEST + 1 bytes are read, so --request /dev/zero
 * or an endless pipe is refused instead of growing without bound. */
static int read_request(const struct options *o, cJSON **out)
{
	FILE *in = stdin;
	struct dw_buf text;
	char chunk[8192];
	size_t n, want;
	int rc;

	if (o->request_file) {
		in = fopen(o->request_file, "r");
		if (!in)
			return dw_invalid(NULL, "cannot open request file %s", o->request_file);
	} else if (isatty(STDIN_FILENO)) {
		*out = cJSON_CreateObject();
		return 0;
	}
	dw_buf_init(&text);
	do {
		want = DW_JSON_MAX_REQUEST + 1 - text.len;
		n = fread(chunk, 1, want < sizeof(chunk) ? want : sizeof(chunk), in);
		dw_buf_append(&text, chunk, n);
	} while (n > 0 && text.len <= DW_JSON_MAX_REQUEST);
	if (in != stdin)
		fclose(in);
	if (text.len > DW_JSON_MAX_REQUEST) {
		dw_buf_release(&text);
		return dw_raise(DW_INVALID, "RequestTooLarge", NULL,
				"the request is larger than %u bytes (4 MiB)",
				DW_JSON_MAX_REQUEST);
	}
	if (text.len == 0 || strspn(text.data, " \t\r\n") == text.len) {
		dw_buf_release(&text);
		*out = cJSON_CreateObject();
		return 0;
	}
	rc = dw_json_parse(text.data, text.len, "request", out);
	dw_buf_release(&text);
	if (rc)
		return -1;
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return dw_invalid(NULL, "the request must be a JSON object");
	}
	return 0;
}

static const struct dw_action *find_action(const struct dw_operator *op,
					   const char *name)
{
	for (const struct dw_action *a = op->actions; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static int pick_action(const struct dw_operator *op, const char *arg,
		       const cJSON *req, const struct dw_action **out)
{
	const char *in_req = dw_req_str(req, "action", NULL);
	const char *name = arg ? arg : in_req;
	struct dw_buf names;

	if (cJSON_GetObjectItemCaseSensitive(req, "action") && !in_req)
		return dw_invalid("action", "action must be a string");
	if (arg && in_req && strcmp(arg, in_req) != 0)
		return dw_invalid("action", "the argument says \"%s\" but the request's action is \"%s\"",
				  arg, in_req);
	if (name && (*out = find_action(op, name)) != NULL)
		return 0;
	/* An operator with one action (dw-fanout) runs it when none is given. */
	if (!name && op->actions[0].name && !op->actions[1].name) {
		*out = &op->actions[0];
		return 0;
	}
	dw_buf_init(&names);
	for (const struct dw_action *a = op->actions; a->name; a++)
		dw_buf_printf(&names, "%s%s", a == op->actions ? "" : ", ", a->name);
	if (name)
		dw_invalid("action", "unknown action \"%s\" (one of: %s)", name, names.data);
	else
		dw_invalid("action", "no action given (one of: %s)", names.data);
	dw_buf_release(&names);
	return -1;
}

static void print_result(const struct dw_ctx *ctx, int status, int pretty,
			 const char *nothing)
{
	cJSON *out = cJSON_CreateObject();
	char *line;

	cJSON_AddBoolToObject(out, "ok", status == 0);
	cJSON_AddStringToObject(out, "operator", ctx->op->name);
	if (ctx->action)
		cJSON_AddStringToObject(out, "action", ctx->action->name);
	if (nothing)
		cJSON_AddStringToObject(out, "nothing_to_do", nothing);
	if (status != 0) {
		const struct dw_error *e = dw_error_last();
		cJSON *err = cJSON_AddObjectToObject(out, "error");
		cJSON_AddStringToObject(err, "code", e->code[0] ? e->code : "InternalError");
		cJSON_AddStringToObject(err, "message",
					e->message[0] ? e->message : "unknown error");
		if (e->field[0])
			cJSON_AddStringToObject(err, "field", e->field);
		else
			cJSON_AddNullToObject(err, "field");
	}
	/* The result is borrowed into out for printing, and taken back. */
	if (ctx->result && (status == 0 || ctx->result->child))
		cJSON_AddItemReferenceToObject(out, "result", ctx->result);
	line = pretty ? cJSON_Print(out) : cJSON_PrintUnformatted(out);
	dw_redact(line);
	fflush(stdout);
	printf("%s\n", line ? line : "{\"ok\":false,\"error\":{\"code\":\"OutOfMemory\"}}");
	fflush(stdout);
	cJSON_free(line);
	cJSON_Delete(out);
}

int dw_nothing_to_do(struct dw_ctx *ctx, const char *reason)
{
	free(ctx->nothing_to_do);
	ctx->nothing_to_do = dw_xstrdup(reason);
	dw_info("nothing to do: %s", reason);
	return 0;
}

void dw_ctx_aws_config(const struct dw_ctx *ctx, struct dw_aws_config *cfg)
{
	struct dw_common_req c;

	dw_req_common(ctx->req, &c);
	memset(cfg, 0, sizeof(*cfg));
	cfg->region = c.region;
	cfg->profile = c.profile;
	cfg->endpoint_url = c.endpoint_url;
	cfg->endpoints = c.endpoints;
	cfg->max_attempts = c.max_attempts;
	/* At most 86400 s (the table's bound): no overflow. */
	cfg->timeout_ms = c.timeout_s * 1000;
}

struct dw_aws *dw_ctx_aws(struct dw_ctx *ctx)
{
	struct dw_aws_config cfg;

	if (ctx->aws)
		return ctx->aws;
	dw_ctx_aws_config(ctx, &cfg);
	if (dw_session_open(&ctx->aws, &cfg))
		return NULL;
	return ctx->aws;
}

static int exit_code(const struct dw_ctx *ctx, int status)
{
	if (status == 0)
		return ctx->nothing_to_do ? DW_NOTHING : 0;
	enum dw_kind k = dw_error_last()->kind;
	return k == DW_OK || k == DW_NOTHING ? DW_FAILED : (int)k;
}

static int run(const struct dw_operator *op, const struct options *o,
	       struct dw_ctx *ctx)
{
	if (read_request(o, &ctx->req))
		return -1;
	if (pick_action(op, o->action, ctx->req, &ctx->action))
		return -1;
	if (dw_req_validate(ctx->req, ctx->action->fields, dw_common_fields, ""))
		return -1;
	dw_debug("%s %s: starting", op->name, ctx->action->name);
	return ctx->action->run(ctx);
}

int dw_op_main(const struct dw_operator *op, int argc, char **argv)
{
	struct dw_ctx ctx = { .op = op };
	struct options o;
	int status;

	signal(SIGPIPE, SIG_IGN);
	ctx.result = cJSON_CreateObject();
	status = parse_args(argc, argv, &o);
	if (status == 0 && o.help) {
		print_help(op);
		cJSON_Delete(ctx.result);
		return 0;
	}
	if (status == 0 && o.version) {
		printf("%s %s\n", op->name, DW_VERSION);
		cJSON_Delete(ctx.result);
		return 0;
	}
	dw_http_global_init();
	if (status == 0)
		status = run(op, &o, &ctx);
	if (status != 0)
		dw_err("%s: %s", dw_error_last()->code, dw_error_last()->message);
	print_result(&ctx, status, o.pretty, status == 0 ? ctx.nothing_to_do : NULL);
	status = exit_code(&ctx, status);
	free(ctx.nothing_to_do);
	dw_aws_free(ctx.aws);
	cJSON_Delete(ctx.req);
	cJSON_Delete(ctx.result);
	dw_http_global_cleanup();
	dw_redact_clear();
	return status;
}
