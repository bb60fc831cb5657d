/* test_sigv4.c - every case of the official AWS SigV4 test suite, read from
 * ../shared/testdata (or DW_SIGV4_SUITE): canonical request, string to
 * sign and Authorization header must match to the byte.  The suite lives
 * outside the repository: without ../shared the suite is skipped (reported
 * as such) and tests/test_sigv4.py checks the signer against botocore,
 * signing the same requests at test time.  DW_SIGV4_SUITE set but empty of
 * cases is a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "aws/creds.h"
#include "aws/sigv4.h"

struct suite_case {
	char *dir;
	char *name;
};

static char *slurp(const char *dir, const char *name, const char *ext)
{
	char path[4096];
	struct dw_buf b;
	char chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	dw_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		dw_buf_append(&b, chunk, n);
	fclose(f);
	return dw_buf_detach(&b);
}

static char *percent_decode(const char *s, size_t len)
{
	char *out = dw_xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };
			*o++ = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static void parse_query(const char *q, struct dw_kvlist *out)
{
	while (q && *q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;
		char *k = percent_decode(q, klen);
		char *v = eq ? percent_decode(eq + 1, len - klen - 1) : dw_xstrdup("");
		dw_kv_add(out, k, v);
		free(k);
		free(v);
		q += len + (q[len] == '&');
	}
}

/* The .req format: request line, headers (a line starting with white space
 * continues the previous header as another value), blank line, body. */
struct parsed {
	char *method, *path;
	struct dw_kvlist query, headers;
	const char *body;
	char *text;
};

static void parse_req(char *text, struct parsed *p)
{
	char *line_end = strchr(text, '\n');
	char *line = text, *sp, *http;
	const char *last_name = NULL;

	memset(p, 0, sizeof(*p));
	p->text = text;
	dw_kv_init(&p->query);
	dw_kv_init(&p->headers);
	if (line_end)
		*line_end = '\0';
	sp = strchr(line, ' ');
	http = strstr(line, " HTTP/");
	p->method = dw_xstrndup(line, (size_t)(sp - line));
	char *target = dw_xstrndup(sp + 1, (size_t)(http - sp - 1));
	char *qm = strchr(target, '?');
	if (qm) {
		*qm = '\0';
		parse_query(qm + 1, &p->query);
	}
	p->path = target;
	for (line = line_end ? line_end + 1 : NULL; line; line = line_end ? line_end + 1 : NULL) {
		line_end = strchr(line, '\n');
		if (line_end)
			*line_end = '\0';
		if (*line == '\0') {
			p->body = line_end ? line_end + 1 : "";
			break;
		}
		if ((*line == ' ' || *line == '\t') && last_name) {
			dw_kv_add(&p->headers, last_name, line);
			continue;
		}
		char *colon = strchr(line, ':');
		*colon = '\0';
		dw_kv_add(&p->headers, line, colon + 1);
		last_name = p->headers.items[p->headers.n - 1].key;
	}
}

static void free_parsed(struct parsed *p)
{
	free(p->method);
	free(p->path);
	dw_kv_release(&p->query);
	dw_kv_release(&p->headers);
	free(p->text);
}

/* Two cases of the suite (post-x-www-form-urlencoded*) carry a .sts and
 * .authz derived from an older canonical request than their .creq (one
 * without content-length).  No signer can match all three; for those the
 * steps are checked one by one: the canonical request as above, our string
 * to sign against the hash of the suite's canonical request, and our
 * signature over the suite's string to sign against its .authz. */
static int suite_consistent(const char *creq, const char *sts)
{
	char hash[65];
	const char *last = strrchr(sts, '\n');

	dw_sha256_hex(creq, strlen(creq), hash);
	return last && strcmp(last + 1, hash) == 0;
}

static void check_erratum(const struct dw_sigv4_input *in,
			  const struct dw_sigv4_output *out, const char *sts,
			  const char *authz)
{
	char hash[65], sig[65];
	const char *ours = strrchr(out->string_to_sign, '\n');
	const char *theirs = strrchr(sts, '\n');

	/* Same algorithm, date and scope lines. */
	assert_memory_equal(out->string_to_sign, sts, (size_t)(theirs - sts));
	dw_sha256_hex(out->canonical_request, strlen(out->canonical_request), hash);
	assert_string_equal(ours + 1, hash);
	dw_sigv4_signature(in, sts, sig);
	assert_non_null(strstr(authz, sig));
}

static void run_case(void **state)
{
	const struct suite_case *c = *state;
	struct dw_creds creds = {
		.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	};
	struct parsed p;
	struct dw_sigv4_output out = { 0 };
	char *req = slurp(c->dir, c->name, "req");
	char *creq = slurp(c->dir, c->name, "creq");
	char *sts = slurp(c->dir, c->name, "sts");
	char *authz = slurp(c->dir, c->name, "authz");

	assert_non_null(req);
	assert_non_null(creq);
	assert_non_null(sts);
	assert_non_null(authz);
	parse_req(req, &p);
	struct dw_sigv4_input in = {
		.method = p.method, .path = p.path, .query = &p.query,
		.headers = &p.headers, .body = p.body,
		.body_len = p.body ? strlen(p.body) : 0, .region = "us-east-1",
		.service = "service", .amz_date = dw_kv_get(&p.headers, "X-Amz-Date", 1),
		.creds = &creds,
	};
	assert_int_equal(dw_sigv4_sign(&in, &out), 0);
	assert_string_equal(out.canonical_request, creq);
	if (suite_consistent(creq, sts)) {
		assert_string_equal(out.string_to_sign, sts);
		assert_string_equal(out.authorization, authz);
	} else {
		check_erratum(&in, &out, sts, authz);
	}
	dw_sigv4_output_release(&out);
	free_parsed(&p);
	free(creq);
	free(sts);
	free(authz);
}

static void find_cases(const char *dir, struct suite_case **cases, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		char *req = slurp(path, e->d_name, "req");
		if (req) {
			*cases = dw_xrealloc(*cases, (*n + 1) * sizeof(**cases));
			(*cases)[*n].dir = dw_xstrdup(path);
			(*cases)[*n].name = dw_xstrdup(e->d_name);
			(*n)++;
			free(req);
		}
		find_cases(path, cases, n);
	}
	closedir(d);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct suite_case *)a)->name,
		      ((const struct suite_case *)b)->name);
}

/* Encoding and normalisation on their own, beyond the suite. */
static void test_uri_encode(void **state)
{
	struct dw_buf b;

	(void)state;
	dw_buf_init(&b);
	dw_uri_encode(&b, "a b/c~d+e=f&\xe1\x88\xb4", 1);
	assert_string_equal(b.data, "a%20b/c~d%2Be%3Df%26%E1%88%B4");
	dw_buf_clear(&b);
	dw_uri_encode(&b, "2019-06-01/x y", 0);
	assert_string_equal(b.data, "2019-06-01%2Fx%20y");
	dw_buf_release(&b);
}

static void test_path_normalize(void **state)
{
	char *p;

	(void)state;
	p = dw_path_normalize("//a/./b/../c//");
	assert_string_equal(p, "/a/c/");
	free(p);
	p = dw_path_normalize("/../..");
	assert_string_equal(p, "/");
	free(p);
}

static void suite_absent(void **state)
{
	fprintf(stderr, "the official SigV4 suite is not there (%s): skipped; "
		"tests/test_sigv4.py checks the signer against botocore\n", (const char *)*state);
	skip();
}

#define DEFAULT_SUITE "../shared/testdata/aws-sig-v4-test-suite/aws-sig-v4-test-suite"

int main(void)
{
	const char *suite = getenv("DW_SIGV4_SUITE");
	int explicit = suite && *suite;
	struct suite_case *cases = NULL;
	size_t n = 0;
	struct stat st;
	int failed;

	if (!explicit)
		suite = DEFAULT_SUITE;
	find_cases(suite, &cases, &n);
	if (n == 0 && (explicit || stat(suite, &st) == 0)) {
		fprintf(stderr, "no SigV4 suite cases found under %s\n", suite);
		return 1;
	}
	if (n)
		qsort(cases, n, sizeof(*cases), by_name);
	struct CMUnitTest *tests = dw_xcalloc(n + 3, sizeof(*tests));
	size_t k = 0;
	for (size_t i = 0; i < n; i++, k++) {
		tests[k].name = cases[i].name;
		tests[k].test_func = run_case;
		tests[k].initial_state = &cases[i];
	}
	if (n == 0) {
		tests[k].name = "official_suite";
		tests[k].test_func = suite_absent;
		tests[k++].initial_state = (void *)suite;
	}
	tests[k].name = "uri_encode";
	tests[k++].test_func = test_uri_encode;
	tests[k].name = "path_normalize";
	tests[k++].test_func = test_path_normalize;
	failed = _cmocka_run_group_tests("sigv4", tests, k, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		free(cases[i].dir);
		free(cases[i].name);
	}
	free(cases);
	free(tests);
	return failed;
}
