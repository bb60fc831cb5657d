/* dw/error.h - status codes and the thread's last error.
 *
 * Every core call returns 0 on success or -1 on failure, having raised an
 * error that says what went wrong (aws-c-common style).  The error's kind
 * decides the operator's exit code. */
#ifndef DW_ERROR_H
#define DW_ERROR_H

#include <stdarg.h>
#include "base/errcodes.h"

enum dw_kind {
	DW_OK = 0,
	DW_FAILED = 1,     /* failed while working */
	DW_INVALID = 2,    /* rejected before anything changed */
	DW_TRANSIENT = 75, /* temporary failure after retries were exhausted */
	DW_NOTHING = 99,   /* the exit code of an action that had nothing to do
			    * (dw_ctx.nothing_to_do); never an error's kind */
};

struct dw_error {
	enum dw_kind kind;
	char code[96];     /* a registered code (base/errcodes.h) or an AWS one */
	char field[160];   /* request field at fault, or "" */
	char message[2048];/* already redacted */
	long http_status;  /* for AWS errors, else 0 */
};

#if defined(__GNUC__)
#define DW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DW_PRINTF(a, b)
#endif

/* Record an error for this thread.  The macros are GNU statement
 * expressions worth -1, visibly to static analysers, so that
 * `return dw_fail(...)` is seen as the failure it is; they may also stand
 * alone as statements. */
void dw_raise_(enum dw_kind kind, const char *code, const char *field,
	       const char *fmt, ...) DW_PRINTF(4, 5);
void dw_raisev(enum dw_kind kind, const char *code, const char *field,
	       const char *fmt, va_list ap);
#define dw_raise(...) ({ dw_raise_(__VA_ARGS__); -1; })
/* The same with a code that is not dwops's own and so not in the registry
 * (base/errcodes.h): an AWS error code passing through from a server, or
 * the code of an error already raised, raised again with more said.  The
 * only raise that takes its code from a variable; dw_raise and dw_fail
 * name a registered code as a literal (scripts/check-errcodes.py). */
void dw_raise_passthrough_(enum dw_kind kind, const char *code, const char *field,
			   const char *fmt, ...) DW_PRINTF(4, 5);
#define dw_raise_passthrough(...) ({ dw_raise_passthrough_(__VA_ARGS__); -1; })

/* Shorthands for the common kinds. */
void dw_invalid_(const char *field, const char *fmt, ...) DW_PRINTF(2, 3);
void dw_fail_(const char *code, const char *fmt, ...) DW_PRINTF(2, 3);
#define dw_invalid(...) ({ dw_invalid_(__VA_ARGS__); -1; })
#define dw_fail(...) ({ dw_fail_(__VA_ARGS__); -1; })

/* Put "context: " in front of the last error's message. */
void dw_error_context_(const char *fmt, ...) DW_PRINTF(1, 2);
#define dw_error_context(...) ({ dw_error_context_(__VA_ARGS__); -1; })

const struct dw_error *dw_error_last(void);
void dw_error_clear(void);
/* 1 when the last error carries this code. */
int dw_error_is(const char *code);
/* Copy the last error out and back in, around clean-up code that may raise. */
void dw_error_save(struct dw_error *out);
void dw_error_restore(const struct dw_error *in);

#endif
