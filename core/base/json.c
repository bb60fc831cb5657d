/* json.c - strict JSON on cJSON.
 *
 * cJSON's parser is lenient where a request must not be: it keeps both
 * copies of a repeated key (so {"dry_run": true, "dry_run": false} reads as
 * whichever a lookup meets first), accepts "01", "+1", ".5", raw control
 * characters and trailing garbage, and says where it failed only as a
 * pointer into the text.  So dw_json_parse runs a strict scanner first: it
 * checks the grammar (RFC 8259), the depth and the number literals, and
 * knows line and column on failure.  Only text the scanner accepted reaches
 * cJSON, and a walk over the tree then checks siblings for duplicate keys
 * (on the decoded keys, as the code will see them) and marks the numbers
 * whose literal was not a plain exact integer. */
#include "base/json.h"
#include "base/buf.h"
#include "base/error.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Above cJSON's own type bits (0..512): set on a parsed number whose
 * literal had a fraction or an exponent, or exceeded 2^53 (a double no
 * longer holds it exactly), so dw_json_int refuses it as the old parser's
 * json_is_integer did ("timeout_s": 1.0 is not an integer).  cJSON masks
 * types with 0xFF wherever it looks at them, and keeps the bit in
 * cJSON_Duplicate. */
#define NOT_INT_LITERAL (1 << 14)

#define MAX_EXACT 9007199254740992LL /* 2^53 */

/* cJSON copies a number into a 64-byte buffer before strtod: a longer
 * literal would be cut, so the scanner refuses it. */
#define MAX_NUMBER_LEN 63

struct scan {
	const unsigned char *s;
	size_t len, pos;
	const char *err;      /* what went wrong, never quoting the text */
	unsigned char *flags; /* per number, in document order: 1 = not int */
	size_t nflags, capflags;
};

static int fail(struct scan *sc, const char *why)
{
	if (!sc->err)
		sc->err = why;
	return -1;
}

static void skip_ws(struct scan *sc)
{
	while (sc->pos < sc->len) {
		unsigned char c = sc->s[sc->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		sc->pos++;
	}
}

static int hex4(struct scan *sc, unsigned *out)
{
	unsigned v = 0;

	if (sc->len - sc->pos < 4)
		return fail(sc, "a \\u escape needs four hex digits");
	for (int i = 0; i < 4; i++) {
		unsigned char c = sc->s[sc->pos++];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(sc, "a \\u escape needs four hex digits");
	}
	*out = v;
	return 0;
}

static int scan_escape(struct scan *sc)
{
	unsigned cp = 0, lo = 0;

	if (sc->pos >= sc->len)
		return fail(sc, "unterminated string");
	switch (sc->s[sc->pos++]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		return 0;
	case 'u':
		break;
	default:
		sc->pos--;
		return fail(sc, "invalid escape in a string");
	}
	if (hex4(sc, &cp))
		return -1;
	if (cp == 0)
		return fail(sc, "\\u0000 is not allowed in a string");
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return fail(sc, "a low surrogate without a high one");
	if (cp < 0xD800 || cp > 0xDBFF)
		return 0;
	if (sc->len - sc->pos < 2 || sc->s[sc->pos] != '\\' || sc->s[sc->pos + 1] != 'u')
		return fail(sc, "a high surrogate without a low one");
	sc->pos += 2;
	if (hex4(sc, &lo))
		return -1;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return fail(sc, "a high surrogate without a low one");
	return 0;
}

/* One UTF-8 sequence starting at a byte >= 0x80 (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF). */
static int scan_utf8(struct scan *sc)
{
	const unsigned char *p = sc->s + sc->pos;
	size_t left = sc->len - sc->pos;
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return fail(sc, "invalid UTF-8 in a string");
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (left < n || p[1] < lo || p[1] > hi)
		return fail(sc, "invalid UTF-8 in a string");
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return fail(sc, "invalid UTF-8 in a string");
	sc->pos += n;
	return 0;
}

static int scan_string(struct scan *sc)
{
	sc->pos++; /* the opening quote */
	while (sc->pos < sc->len) {
		unsigned char c = sc->s[sc->pos];
		if (c == '"') {
			sc->pos++;
			return 0;
		}
		if (c == '\\') {
			sc->pos++;
			if (scan_escape(sc))
				return -1;
		} else if (c < 0x20) {
			return fail(sc, "a control character in a string (escape it)");
		} else if (c >= 0x80) {
			if (scan_utf8(sc))
				return -1;
		} else {
			sc->pos++;
		}
	}
	return fail(sc, "unterminated string");
}

static int is_digit(struct scan *sc)
{
	return sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9';
}

static int note_number(struct scan *sc, int not_int)
{
	if (sc->nflags == sc->capflags) {
		size_t cap = sc->capflags ? 2 * sc->capflags : 64;
		unsigned char *f = realloc(sc->flags, cap);
		if (!f)
			return fail(sc, "out of memory");
		sc->flags = f;
		sc->capflags = cap;
	}
	sc->flags[sc->nflags++] = (unsigned char)not_int;
	return 0;
}

static int scan_number(struct scan *sc)
{
	size_t start = sc->pos, digits;
	int not_int = 0;

	if (sc->s[sc->pos] == '-')
		sc->pos++;
	if (!is_digit(sc))
		return fail(sc, "invalid number");
	if (sc->s[sc->pos] == '0')
		sc->pos++;
	else
		while (is_digit(sc))
			sc->pos++;
	digits = sc->pos - start - (sc->s[start] == '-');
	if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
		sc->pos++;
		not_int = 1;
		if (!is_digit(sc))
			return fail(sc, "invalid number (digits must follow the decimal point)");
		while (is_digit(sc))
			sc->pos++;
	}
	if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
		sc->pos++;
		not_int = 1;
		if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (!is_digit(sc))
			return fail(sc, "invalid number (digits must follow the exponent)");
		while (is_digit(sc))
			sc->pos++;
	}
	if (sc->pos - start > MAX_NUMBER_LEN) {
		sc->pos = start;
		return fail(sc, "a number longer than 63 characters");
	}
	if (!not_int && digits >= 16) {
		/* 2^53 has 16 digits: compare exactly. */
		unsigned long long v = 0;
		const unsigned char *d = sc->s + start + (sc->s[start] == '-');
		for (size_t i = 0; i < digits && v <= (unsigned long long)MAX_EXACT; i++)
			v = v * 10 + (unsigned)(d[i] - '0');
		not_int = v > (unsigned long long)MAX_EXACT;
	}
	return note_number(sc, not_int);
}

static int scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
		return fail(sc, "expected a value");
	sc->pos += n;
	return 0;
}

static int scan_value(struct scan *sc, int depth);

static int scan_container(struct scan *sc, int depth, char close)
{
	int first = 1;

	if (depth > DW_JSON_MAX_DEPTH)
		return fail(sc, "nested deeper than 64 levels");
	sc->pos++;
	for (;;) {
		skip_ws(sc);
		if (sc->pos >= sc->len)
			return fail(sc, "unexpected end of the text");
		if (sc->s[sc->pos] == (unsigned char)close && first) {
			sc->pos++;
			return 0;
		}
		if (close == '}') {
			if (sc->s[sc->pos] != '"')
				return fail(sc, "expected a key in double quotes");
			if (scan_string(sc))
				return -1;
			skip_ws(sc);
			if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
				return fail(sc, "expected ':' after a key");
			sc->pos++;
		}
		if (scan_value(sc, depth))
			return -1;
		skip_ws(sc);
		if (sc->pos >= sc->len)
			return fail(sc, "unexpected end of the text");
		if (sc->s[sc->pos] == (unsigned char)close) {
			sc->pos++;
			return 0;
		}
		if (sc->s[sc->pos] != ',')
			return fail(sc, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
		sc->pos++;
		first = 0;
	}
}

static int scan_value(struct scan *sc, int depth)
{
	skip_ws(sc);
	if (sc->pos >= sc->len)
		return fail(sc, "unexpected end of the text");
	switch (sc->s[sc->pos]) {
	case '{': return scan_container(sc, depth + 1, '}');
	case '[': return scan_container(sc, depth + 1, ']');
	case '"': return scan_string(sc);
	case 't': return scan_literal(sc, "true");
	case 'f': return scan_literal(sc, "false");
	case 'n': return scan_literal(sc, "null");
	default:
		if (sc->s[sc->pos] == '-' || (sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9'))
			return scan_number(sc);
		return fail(sc, "expected a value");
	}
}

/* Line and column (1-based; columns count characters, not bytes). */
static void where(const unsigned char *s, size_t pos, long *line, long *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if ((s[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

/* ---- after cJSON: duplicate keys and integer marks -------------------- */

struct walk {
	const unsigned char *flags;
	size_t nflags, next;
	const char *what;
};

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *repeated_key(const cJSON *obj)
{
	size_t n = 0, i = 0;
	const cJSON *c;
	const char **keys, *dup = NULL;

	for (c = obj->child; c; c = c->next)
		n++;
	if (n <= 16) {
		/* The usual request: a few keys, compared pairwise. */
		for (c = obj->child; c; c = c->next)
			for (const cJSON *d = c->next; d; d = d->next)
				if (strcmp(c->string, d->string) == 0)
					return c->string;
		return NULL;
	}
	/* Many keys (a hostile 4 MiB object): sorted, so never quadratic. */
	keys = dw_xmalloc(n * sizeof(*keys)); /* never a silent pass on no memory */
	for (c = obj->child; c; c = c->next)
		keys[i++] = c->string;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	for (i = 1; i < n && !dup; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0)
			dup = keys[i];
	free(keys);
	return dup;
}

static void child_path(char *out, size_t len, const char *path,
		       const cJSON *parent, const cJSON *child, size_t index)
{
	if (cJSON_IsArray(parent))
		snprintf(out, len, "%s[%zu]", path, index);
	else if (*path)
		snprintf(out, len, "%s.%s", path, child->string);
	else
		snprintf(out, len, "%s", child->string);
}

static int walk(struct walk *w, cJSON *v, const char *path)
{
	char sub[160];
	size_t i = 0;

	if (cJSON_IsNumber(v)) {
		if (w->next < w->nflags && w->flags[w->next])
			v->type |= NOT_INT_LITERAL;
		w->next++;
		return 0;
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return 0;
	if (cJSON_IsObject(v)) {
		const char *dup = repeated_key(v);
		if (dup) {
			if (*path)
				snprintf(sub, sizeof(sub), "%s.%s", path, dup);
			else
				snprintf(sub, sizeof(sub), "%s", dup);
			return dw_raise(DW_INVALID, "DuplicateKey", sub,
					"duplicate key \"%s\" in the %s", sub, w->what);
		}
	}
	for (cJSON *c = v->child; c; c = c->next, i++) {
		child_path(sub, sizeof(sub), path, v, c, i);
		if (walk(w, c, sub))
			return -1;
	}
	return 0;
}

int dw_json_parse(const char *text, size_t len, const char *what, cJSON **out)
{
	struct scan sc = { .s = (const unsigned char *)text, .len = len };
	struct walk w = { 0 };
	const char *end = NULL;
	long line, col;
	size_t bom = 0;
	cJSON *doc;

	*out = NULL;
	if (!what)
		what = "text";
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		sc.pos = bom = 3; /* a UTF-8 byte order mark */
	if (scan_value(&sc, 0) == 0) {
		skip_ws(&sc);
		if (sc.pos < sc.len)
			fail(&sc, "more text after the value");
	}
	if (sc.err) {
		free(sc.flags);
		where(sc.s, sc.pos, &line, &col);
		/* Never the text around the position: it may hold a password. */
		return dw_raise(DW_INVALID, "InvalidJSON", NULL,
				"the %s is not valid JSON: %s at line %ld, column %ld",
				what, sc.err, line, col);
	}
	/* Past the mark: cJSON skips one only when two more bytes follow it
	 * ("\xEF\xBB\xBF" "5" failed there). */
	doc = cJSON_ParseWithLengthOpts(text + bom, len - bom, &end, 0);
	if (!doc) {
		/* Only out of memory: the scanner is stricter than cJSON. */
		free(sc.flags);
		return dw_raise(DW_FAILED, "NoMemory", NULL,
				"the %s could not be parsed (out of memory)", what);
	}
	w.flags = sc.flags;
	w.nflags = sc.nflags;
	w.what = what;
	if (walk(&w, doc, "")) {
		free(sc.flags);
		cJSON_Delete(doc);
		return -1;
	}
	free(sc.flags);
	*out = doc;
	return 0;
}

/* ---- integers ----------------------------------------------------------- */

static int raw_int(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return -1;
	*out = v;
	return 0;
}

int dw_json_int(const cJSON *v, long long *out)
{
	double d;

	if (cJSON_IsRaw(v))
		return raw_int(v->valuestring, out); /* dw_json_add_int beyond 2^53 */
	if (!cJSON_IsNumber(v) || (v->type & NOT_INT_LITERAL))
		return -1;
	d = v->valuedouble;
	/* The comparisons are false for NaN too. */
	if (!(d >= -(double)MAX_EXACT && d <= (double)MAX_EXACT))
		return -1;
	if ((double)(long long)d != d)
		return -1;
	*out = (long long)d;
	return 0;
}

/* cJSON prints a number with 15 significant digits when that reads back
 * within a relative DBL_EPSILON, so 9007199254740991 would come out as
 * 9.00719925474099e+15: from 10^15 on an integer is written as a raw
 * literal, which prints exactly (dw_json_int reads it back). */
#define MAX_PRINTED_EXACT 1000000000000000LL /* 10^15 */

cJSON *dw_json_int_new(long long v)
{
	char lit[24];

	if (v > -MAX_PRINTED_EXACT && v < MAX_PRINTED_EXACT)
		return cJSON_CreateNumber((double)v);
	snprintf(lit, sizeof(lit), "%lld", v);
	return cJSON_CreateRaw(lit);
}

cJSON *dw_json_add_int(cJSON *obj, const char *name, long long v)
{
	cJSON *item = dw_json_int_new(v);

	if (!item)
		return NULL;
	if (!cJSON_AddItemToObject(obj, name, item)) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

const char *dw_json_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

char *dw_json_print(const cJSON *v)
{
	return cJSON_PrintUnformatted(v);
}

int dw_json_read_file(const char *path, size_t max, const char *field, cJSON **out)
{
	FILE *f = fopen(path, "r");
	struct dw_buf text;
	char chunk[8192];
	size_t n;
	int rc;

	*out = NULL;
	if (!f)
		return dw_invalid(field, "cannot open %s: %s", path, strerror(errno));
	dw_buf_init(&text);
	/* One byte more than max tells a file of exactly max from a larger one. */
	while (text.len <= max && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		dw_buf_append(&text, chunk, n);
	fclose(f);
	if (text.len > max) {
		dw_buf_release(&text);
		return dw_invalid(field, "%s is larger than %zu bytes", path, max);
	}
	rc = dw_json_parse(text.data ? text.data : "", text.len, field, out);
	dw_buf_release(&text);
	if (rc) {
		struct dw_error e;
		char where[sizeof(e.field)];

		/* name the field the file came from, and the key's path in it */
		dw_error_save(&e);
		snprintf(where, sizeof(where), "%s%s%s", field, *e.field ? "." : "", e.field);
		dw_raise_passthrough_(e.kind, e.code, where, "%s: %s", path, e.message);
		return -1;
	}
	return 0;
}
