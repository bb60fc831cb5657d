/* dw-sigv4-sign - sign one request with the core's SigV4 signer, for
 * tests/test_sigv4.py, which signs the same inputs with botocore and
 * compares.  No JSON on purpose: the inputs are lines "NAME VALUE" on
 * stdin, VALUE percent-encoded (so any byte, spaces and newlines included,
 * survives), and the outputs are lines of the same form on stdout.
 *
 * Inputs: method, path (raw), query NAME VALUE and header NAME VALUE
 * (repeatable; NAME encoded too), body, payload (a given payload hash, e.g.
 * UNSIGNED-PAYLOAD), region, service, date (YYYYMMDDTHHMMSSZ), access_key,
 * secret_key, token, s3 (1: S3's path rules).
 * Outputs: canonical_request, string_to_sign, authorization.
 * Exit 0, or 2 on bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds.h"
#include "aws/sigv4.h"
#include "base/buf.h"
#include "base/error.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s in place; its length after decoding in *len. */
static int pct_decode(char *s, size_t *len)
{
	char *o = s;

	for (const char *p = s; *p; p++) {
		if (*p == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (lo < 0)
				return -1;
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	*len = (size_t)(o - s);
	return 0;
}

static void put(const char *name, const char *value)
{
	static const char digits[] = "0123456789ABCDEF";

	printf("%s ", name);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p > ' ' && *p < 0x7f && *p != '%')
			putchar(*p);
		else
			printf("%%%c%c", digits[*p >> 4], digits[*p & 15]);
	}
	putchar('\n');
}

struct input {
	struct dw_sigv4_input in;
	struct dw_creds creds;
	struct dw_kvlist query, headers;
	char *strings[16];
	size_t n_strings;
};

static char *keep(struct input *x, char *s)
{
	if (x->n_strings < sizeof(x->strings) / sizeof(x->strings[0]))
		x->strings[x->n_strings++] = s;
	return s;
}

/* One "NAME VALUE" line; VALUE may be "NAME2 VALUE2" for pairs. */
static int read_line(struct input *x, char *line)
{
	char *sp = strchr(line, ' ');
	char *name = line, *value = sp ? sp + 1 : line + strlen(line);
	size_t len;

	if (sp)
		*sp = '\0';
	if (strcmp(name, "query") == 0 || strcmp(name, "header") == 0) {
		char *sp2 = strchr(value, ' ');
		char *v = sp2 ? sp2 + 1 : value + strlen(value);
		size_t klen;
		if (sp2)
			*sp2 = '\0';
		if (pct_decode(value, &klen) || pct_decode(v, &len))
			return -1;
		dw_kv_add(name[0] == 'q' ? &x->query : &x->headers, value, v);
		return 0;
	}
	if (pct_decode(value, &len))
		return -1;
	char *v = keep(x, dw_xstrdup(value));
	if (strcmp(name, "method") == 0)
		x->in.method = v;
	else if (strcmp(name, "path") == 0)
		x->in.path = v;
	else if (strcmp(name, "body") == 0) {
		x->in.body = v;
		x->in.body_len = len;
	} else if (strcmp(name, "payload") == 0)
		x->in.payload_hash = v;
	else if (strcmp(name, "region") == 0)
		x->in.region = v;
	else if (strcmp(name, "service") == 0)
		x->in.service = v;
	else if (strcmp(name, "date") == 0)
		x->in.amz_date = v;
	else if (strcmp(name, "access_key") == 0)
		x->creds.access_key_id = v;
	else if (strcmp(name, "secret_key") == 0)
		x->creds.secret_access_key = v;
	else if (strcmp(name, "token") == 0)
		x->creds.session_token = v;
	else if (strcmp(name, "s3") == 0)
		x->in.s3_path = strcmp(v, "1") == 0;
	else
		return -1;
	return 0;
}

int main(void)
{
	struct input x;
	struct dw_sigv4_output out = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	memset(&x, 0, sizeof(x));
	dw_kv_init(&x.query);
	dw_kv_init(&x.headers);
	while (rc == 0 && (n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (*line && read_line(&x, line)) {
			fprintf(stderr, "dw-sigv4-sign: bad input line \"%s\"\n", line);
			rc = 2;
		}
	}
	free(line);
	if (rc == 0 && (!x.in.method || !x.in.region || !x.in.service || !x.in.amz_date ||
			!x.creds.access_key_id || !x.creds.secret_access_key)) {
		fprintf(stderr, "dw-sigv4-sign: method, region, service, date, access_key "
			"and secret_key are required\n");
		rc = 2;
	}
	if (rc == 0) {
		x.in.query = &x.query;
		x.in.headers = &x.headers;
		x.in.creds = &x.creds;
		if (dw_sigv4_sign(&x.in, &out)) {
			fprintf(stderr, "dw-sigv4-sign: %s\n", dw_error_last()->message);
			rc = 2;
		} else {
			put("canonical_request", out.canonical_request);
			put("string_to_sign", out.string_to_sign);
			put("authorization", out.authorization);
		}
	}
	dw_sigv4_output_release(&out);
	dw_kv_release(&x.query);
	dw_kv_release(&x.headers);
	for (size_t i = 0; i < x.n_strings; i++)
		free(x.strings[i]);
	return rc;
}
