/* sigv4.c - AWS Signature Version 4.
 *
 * Done here rather than with libcurl's CURLOPT_AWS_SIGV4, which in the
 * versions Debian ships signs unsorted query strings and unencoded paths
 * wrongly. */
#include "aws/sigv4.h"
#include "aws/creds.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static void to_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void dw_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	to_hex(md, sizeof(md), out);
}

static void hmac(const unsigned char *key, size_t key_len, const char *msg,
		 unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg,
	     strlen(msg), out, &len);
}

void dw_uri_encode(struct dw_buf *out, const char *s, int keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' ||
		    *p == '~' || (keep_slash && *p == '/')) {
			dw_buf_putc(out, (char)*p);
		} else {
			char esc[3] = { '%', digits[*p >> 4], digits[*p & 15] };
			dw_buf_append(out, esc, 3);
		}
	}
}

char *dw_path_normalize(const char *path)
{
	size_t len = strlen(path);
	char **segs = dw_xcalloc(len + 1, sizeof(*segs));
	size_t n = 0;
	char *copy = dw_xstrdup(path), *save = NULL;
	struct dw_buf out;
	int trailing = len > 1 && path[len - 1] == '/';

	for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (strcmp(s, ".") == 0)
			continue;
		if (strcmp(s, "..") == 0) {
			if (n)
				n--;
			continue;
		}
		segs[n++] = s;
	}
	dw_buf_init(&out);
	for (size_t i = 0; i < n; i++)
		dw_buf_printf(&out, "/%s", segs[i]);
	if (n == 0 || trailing)
		dw_buf_putc(&out, '/');
	free(segs);
	free(copy);
	return dw_buf_detach(&out);
}

struct pair {
	char *name;
	char *value;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static void free_pairs(struct pair *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

static void canonical_query(struct dw_buf *out, const struct dw_kvlist *q)
{
	size_t n = q ? q->n : 0;
	struct pair *p = dw_xcalloc(n, sizeof(*p));
	struct dw_buf b;

	dw_buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		dw_uri_encode(&b, q->items[i].key, 0);
		p[i].name = dw_buf_detach(&b);
		dw_uri_encode(&b, q->items[i].value, 0);
		p[i].value = dw_buf_detach(&b);
	}
	qsort(p, n, sizeof(*p), cmp_pair);
	for (size_t i = 0; i < n; i++)
		dw_buf_printf(out, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value);
	free_pairs(p, n);
}

/* Trim and collapse runs of white space, as SigV4 requires. */
static char *canonical_value(const char *v)
{
	struct dw_buf b;
	int space = 0;

	dw_buf_init(&b);
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
			space = 1;
			continue;
		}
		if (space && b.len)
			dw_buf_putc(&b, ' ');
		space = 0;
		dw_buf_putc(&b, *v);
	}
	return dw_buf_detach(&b);
}

/* Lower-cased, sorted, duplicates joined with ",". */
static size_t canonical_headers(const struct dw_kvlist *h, struct pair **out)
{
	struct pair *p = dw_xcalloc(h->n, sizeof(*p));
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++) {
		char *name = dw_xstrdup(h->items[i].key);
		char *value = canonical_value(h->items[i].value);
		for (char *c = name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		size_t j;
		for (j = 0; j < n && strcmp(p[j].name, name) != 0; j++)
			;
		if (j < n) {
			char *joined = dw_xasprintf("%s,%s", p[j].value, value);
			free(p[j].value);
			p[j].value = joined;
			free(name);
			free(value);
		} else {
			p[n].name = name;
			p[n].value = value;
			n++;
		}
	}
	/* Insertion sort: a request has a handful of headers. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(p[j - 1].name, p[j].name) > 0; j--) {
			struct pair t = p[j];
			p[j] = p[j - 1];
			p[j - 1] = t;
		}
	*out = p;
	return n;
}

static void signing_key(const struct dw_sigv4_input *in, unsigned char key[32])
{
	char date[9];
	char *secret = dw_xasprintf("AWS4%s", in->creds->secret_access_key);

	memcpy(date, in->amz_date, 8);
	date[8] = '\0';
	hmac((unsigned char *)secret, strlen(secret), date, key);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	hmac(key, 32, in->region, key);
	hmac(key, 32, in->service, key);
	hmac(key, 32, "aws4_request", key);
}

void dw_sigv4_signature(const struct dw_sigv4_input *in,
			const char *string_to_sign, char out[65])
{
	unsigned char key[32], sig[32];

	signing_key(in, key);
	hmac(key, sizeof(key), string_to_sign, sig);
	OPENSSL_cleanse(key, sizeof(key));
	to_hex(sig, sizeof(sig), out);
}

int dw_sigv4_sign(const struct dw_sigv4_input *in, struct dw_sigv4_output *out)
{
	struct dw_buf creq, signed_names, sts;
	struct pair *hdrs;
	size_t nh;
	char payload[65], creq_hash[65], sig_hex[65];
	char *path;

	if (strlen(in->amz_date) != 16)
		return dw_invalid(NULL, "bad signing date %s", in->amz_date);
	dw_buf_init(&creq);
	dw_buf_init(&signed_names);
	dw_buf_init(&sts);
	dw_buf_printf(&creq, "%s\n", in->method);
	path = in->s3_path ? dw_xstrdup(in->path && *in->path ? in->path : "/")
			   : dw_path_normalize(in->path && *in->path ? in->path : "/");
	dw_uri_encode(&creq, path, 1);
	free(path);
	dw_buf_putc(&creq, '\n');
	canonical_query(&creq, in->query);
	dw_buf_putc(&creq, '\n');
	nh = canonical_headers(in->headers, &hdrs);
	for (size_t i = 0; i < nh; i++) {
		dw_buf_printf(&creq, "%s:%s\n", hdrs[i].name, hdrs[i].value);
		dw_buf_printf(&signed_names, "%s%s", i ? ";" : "", hdrs[i].name);
	}
	free_pairs(hdrs, nh);
	if (in->payload_hash)
		snprintf(payload, sizeof(payload), "%s", in->payload_hash);
	else
		dw_sha256_hex(in->body ? in->body : "", in->body_len, payload);
	dw_buf_printf(&creq, "\n%s\n%s", signed_names.data, payload);

	dw_sha256_hex(creq.data, creq.len, creq_hash);
	dw_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s",
		      in->amz_date, in->amz_date, in->region, in->service, creq_hash);
	dw_sigv4_signature(in, sts.data, sig_hex);

	out->canonical_request = dw_buf_detach(&creq);
	out->string_to_sign = dw_buf_detach(&sts);
	out->authorization = dw_xasprintf(
		"AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
		in->creds->access_key_id, in->amz_date, in->region, in->service,
		signed_names.data, sig_hex);
	dw_buf_release(&signed_names);
	return 0;
}

void dw_sigv4_output_release(struct dw_sigv4_output *out)
{
	free(out->canonical_request);
	free(out->string_to_sign);
	free(out->authorization);
	memset(out, 0, sizeof(*out));
}
