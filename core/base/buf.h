/* dw/buf.h - growable byte buffers and key/value lists. */
#ifndef DW_BUF_H
#define DW_BUF_H

#include <stddef.h>
#include "base/error.h"

/* Always NUL-terminated once anything was appended. */
struct dw_buf {
	char *data;
	size_t len;
	size_t cap;
};

void dw_buf_init(struct dw_buf *b);
void dw_buf_release(struct dw_buf *b);
void dw_buf_clear(struct dw_buf *b);
void dw_buf_append(struct dw_buf *b, const void *data, size_t len);
void dw_buf_puts(struct dw_buf *b, const char *s);
void dw_buf_putc(struct dw_buf *b, char c);
void dw_buf_printf(struct dw_buf *b, const char *fmt, ...) DW_PRINTF(2, 3);
/* Hand the contents over to the caller (never NULL) and reset b. */
char *dw_buf_detach(struct dw_buf *b);

struct dw_kv {
	char *key;
	char *value;
};

struct dw_kvlist {
	struct dw_kv *items;
	size_t n;
	size_t cap;
};

void dw_kv_init(struct dw_kvlist *l);
void dw_kv_release(struct dw_kvlist *l);
void dw_kv_add(struct dw_kvlist *l, const char *key, const char *value);
void dw_kv_addf(struct dw_kvlist *l, const char *key, const char *fmt, ...)
	DW_PRINTF(3, 4);
/* First value for key (case-insensitive when nocase), or NULL. */
const char *dw_kv_get(const struct dw_kvlist *l, const char *key, int nocase);
void dw_kv_copy(struct dw_kvlist *dst, const struct dw_kvlist *src);

/* Allocation that never returns NULL: out of memory aborts. */
void *dw_xmalloc(size_t n);
void *dw_xcalloc(size_t n, size_t size);
void *dw_xrealloc(void *p, size_t n);
char *dw_xstrdup(const char *s);
char *dw_xstrndup(const char *s, size_t n);
char *dw_xasprintf(const char *fmt, ...) DW_PRINTF(1, 2);

#endif
