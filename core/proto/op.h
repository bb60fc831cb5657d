/* dw/op.h - the operator protocol shared by every bin/dw-* tool.
 *
 * An operator is a table of actions.  dw_op_main() reads the request
 * (stdin or --request FILE), picks the action (argv[1] or "action"; an
 * operator with a single action runs it when neither names one),
 * validates the fields, runs the action and prints one JSON result as the
 * last line of stdout; its return value is the exit code. */
#ifndef DW_OP_H
#define DW_OP_H

#include "base/json.h"
#include "base/error.h"
#include "proto/req.h"

struct dw_aws;
struct dw_ctx;

struct dw_action {
	const char *name;
	const char *summary;
	const struct dw_field *fields;
	/* Fill ctx->result; return 0 (after dw_nothing_to_do() when there
	 * was nothing to do), or -1 with an error raised. */
	int (*run)(struct dw_ctx *ctx);
	const char *example; /* a request, shown by --help */
};

struct dw_operator {
	const char *name;
	const char *summary;
	const struct dw_action *actions; /* NULL-name terminated */
};

struct dw_ctx {
	const struct dw_operator *op;
	const struct dw_action *action;
	cJSON *req;    /* the validated request */
	cJSON *result; /* the action's result object */
	struct dw_aws *aws;
	/* Why the action had nothing to do (set by dw_nothing_to_do: the
	 * result says it and the exit code is 99), else NULL. */
	char *nothing_to_do;
};

int dw_op_main(const struct dw_operator *op, int argc, char **argv);

/* The AWS client for this request (region, endpoints, credentials), made
 * on first use.  NULL with an error raised when it cannot be made. */
struct dw_aws *dw_ctx_aws(struct dw_ctx *ctx);
/* The configuration dw_ctx_aws() uses, for callers that need more clients
 * of their own (worker threads).  It borrows from ctx->req. */
struct dw_aws_config;
void dw_ctx_aws_config(const struct dw_ctx *ctx, struct dw_aws_config *cfg);

/* Record that the action had nothing to do, and why: it still succeeds
 * (returns 0), the result is printed with ok:true and the reason, and the
 * exit code is 99.  Returns 0, for `return dw_nothing_to_do(ctx, ...)`. */
int dw_nothing_to_do(struct dw_ctx *ctx, const char *reason);

#define DW_VERSION "0.1.0"

#endif
