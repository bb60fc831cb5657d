/* error.c - the thread's last error. */
#include "base/error.h"
#include "base/log.h"
#include "base/redact.h"

#include <stdio.h>
#include <string.h>

static _Thread_local struct dw_error last;

static const char *const code_names[] = {
#define DW_ERRCODE_NAME(name, exits, meaning) #name,
	DW_ERRCODES(DW_ERRCODE_NAME)
#undef DW_ERRCODE_NAME
};

int dw_errcode_registered(const char *name)
{
	for (size_t i = 0; i < sizeof(code_names) / sizeof(code_names[0]); i++)
		if (strcmp(code_names[i], name) == 0)
			return 1;
	return 0;
}

/* scripts/check-errcodes.py keeps unregistered codes out of the tree; this
 * says so at run time too, should one slip through a macro. */
static void check_registered(const char *code)
{
	if (code && !dw_errcode_registered(code))
		dw_warn("error code %s is not registered in core/base/errcodes.h", code);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void dw_raisev(enum dw_kind kind, const char *code, const char *field,
	      const char *fmt, va_list ap)
{
	struct dw_error e = { .kind = kind };

	copy_str(e.code, sizeof(e.code), code);
	copy_str(e.field, sizeof(e.field), field);
	dw_redact_vformat(e.message, sizeof(e.message), fmt, ap);
	last = e;
}

void dw_raise_(enum dw_kind kind, const char *code, const char *field,
	       const char *fmt, ...)
{
	va_list ap;

	check_registered(code);
	va_start(ap, fmt);
	dw_raisev(kind, code, field, fmt, ap);
	va_end(ap);
}

void dw_raise_passthrough_(enum dw_kind kind, const char *code, const char *field,
			   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dw_raisev(kind, code, field, fmt, ap);
	va_end(ap);
}

void dw_invalid_(const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dw_raisev(DW_INVALID, "InvalidRequest", field, fmt, ap);
	va_end(ap);
}

void dw_fail_(const char *code, const char *fmt, ...)
{
	va_list ap;

	check_registered(code);
	va_start(ap, fmt);
	dw_raisev(DW_FAILED, code, NULL, fmt, ap);
	va_end(ap);
}

void dw_error_context_(const char *fmt, ...)
{
	char prefix[512];
	char msg[sizeof(last.message)];
	va_list ap;

	va_start(ap, fmt);
	dw_redact_vformat(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	dw_redact_format(msg, sizeof(msg), "%s: %s", prefix, last.message);
	memcpy(last.message, msg, sizeof(msg));
}

const struct dw_error *dw_error_last(void)
{
	return &last;
}

void dw_error_clear(void)
{
	memset(&last, 0, sizeof(last));
}

int dw_error_is(const char *code)
{
	return strcmp(last.code, code) == 0;
}

void dw_error_save(struct dw_error *out)
{
	*out = last;
}

void dw_error_restore(const struct dw_error *in)
{
	last = *in;
}
