/* dw/redact.h - secrets masked out of text before it is logged or put in
 * an error message. */
#ifndef DW_REDACT_H
#define DW_REDACT_H

#include <stdarg.h>
#include <stddef.h>
#include "base/error.h"

/* Register a secret: from now on it is masked wherever text is redacted.
 * Strings shorter than 4 bytes are ignored (they would mask too much). */
void dw_redact_secret(const char *secret);
/* Mask registered secrets and well-known secret-bearing patterns
 * (Authorization headers, signatures, tokens, passwords) in place.
 * The text only ever shrinks. */
void dw_redact(char *text);
/* Text cut to fit a buffer is masked first and cut after (issue 12 #13:
 * a secret cut at the boundary no longer matches).  These format or copy in
 * full, redact, cut to cap - 1 bytes at a UTF-8 boundary, and then mask
 * whatever beginning of a registered secret the cut left at the end. */
void dw_redact_copy(char *dst, size_t cap, const char *src);
void dw_redact_format(char *dst, size_t cap, const char *fmt, ...) DW_PRINTF(3, 4);
void dw_redact_vformat(char *dst, size_t cap, const char *fmt, va_list ap);

/* Forget the registered secrets (tests, and exit clean-up). */
void dw_redact_clear(void);

#endif
