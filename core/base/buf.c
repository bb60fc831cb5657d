/* buf.c - growable buffers, key/value lists, allocation that cannot fail. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void out_of_memory(void)
{
	fputs("dwops: out of memory\n", stderr);
	abort();
}

void *dw_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *dw_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *dw_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

char *dw_xstrdup(const char *s)
{
	return dw_xstrndup(s, strlen(s));
}

char *dw_xstrndup(const char *s, size_t n)
{
	char *p = dw_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* vsnprintf into a new string of the right size. */
static char *xvasprintf(const char *fmt, va_list ap)
{
	va_list copy;
	int n;
	char *p;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		out_of_memory();
	p = dw_xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *dw_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void dw_buf_init(struct dw_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void dw_buf_release(struct dw_buf *b)
{
	free(b->data);
	dw_buf_init(b);
}

void dw_buf_clear(struct dw_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static void grow(struct dw_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = dw_xrealloc(b->data, cap);
	b->cap = cap;
}

void dw_buf_append(struct dw_buf *b, const void *data, size_t len)
{
	grow(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void dw_buf_puts(struct dw_buf *b, const char *s)
{
	dw_buf_append(b, s, strlen(s));
}

void dw_buf_putc(struct dw_buf *b, char c)
{
	dw_buf_append(b, &c, 1);
}

void dw_buf_printf(struct dw_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	dw_buf_puts(b, p);
	free(p);
}

char *dw_buf_detach(struct dw_buf *b)
{
	char *p = b->data ? b->data : dw_xstrdup("");

	dw_buf_init(b);
	return p;
}

void dw_kv_init(struct dw_kvlist *l)
{
	l->items = NULL;
	l->n = 0;
	l->cap = 0;
}

void dw_kv_release(struct dw_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	dw_kv_init(l);
}

static void kv_push(struct dw_kvlist *l, char *key, char *value)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->items = dw_xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->n].key = key;
	l->items[l->n].value = value;
	l->n++;
}

void dw_kv_add(struct dw_kvlist *l, const char *key, const char *value)
{
	kv_push(l, dw_xstrdup(key), dw_xstrdup(value ? value : ""));
}

void dw_kv_addf(struct dw_kvlist *l, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value;

	va_start(ap, fmt);
	value = xvasprintf(fmt, ap);
	va_end(ap);
	kv_push(l, dw_xstrdup(key), value);
}

const char *dw_kv_get(const struct dw_kvlist *l, const char *key, int nocase)
{
	for (size_t i = 0; i < l->n; i++) {
		int same = nocase ? strcasecmp(l->items[i].key, key) == 0
				  : strcmp(l->items[i].key, key) == 0;
		if (same)
			return l->items[i].value;
	}
	return NULL;
}

void dw_kv_copy(struct dw_kvlist *dst, const struct dw_kvlist *src)
{
	for (size_t i = 0; i < src->n; i++)
		dw_kv_add(dst, src->items[i].key, src->items[i].value);
}
