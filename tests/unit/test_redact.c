/* test_redact.c - secrets are masked before a text is cut to fit (issue 12
 * #13): a secret cut at the boundary must not survive in part, in error
 * messages, AWS error bodies or log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/aws.h"
#include "base/error.h"
#include "base/log.h"
#include "base/redact.h"

static const char TOKEN[] = "FQoGZXIvYXdzEJr//////////wEaDFAKESESSIONTOKEN0123456789abcdef";

/* No 4 consecutive characters of the token are left anywhere in text. */
static void assert_no_token_part(const char *text)
{
	char part[5];

	for (size_t i = 0; i + 4 <= strlen(TOKEN); i++) {
		memcpy(part, TOKEN + i, 4);
		part[4] = '\0';
		if (strstr(text, part))
			fail_msg("\"%s\" of the token is left in: ...%s", part,
				 text + (strlen(text) > 60 ? strlen(text) - 60 : 0));
	}
}

static char *filler(size_t n)
{
	char *s = malloc(n + 1);

	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

static int setup(void **state)
{
	(void)state;
	dw_redact_secret(TOKEN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dw_redact_clear();
	return 0;
}

/* The token at every position around the cut of a 2048-byte message. */
static void test_error_message_cut_at_a_secret(void **state)
{
	(void)state;
	for (size_t at = 2047 - strlen(TOKEN) - 2; at < 2050; at++) {
		char *pad = filler(at);
		dw_raise(DW_FAILED, "Echo", NULL, "%s%s tail", pad, TOKEN);
		assert_true(strlen(dw_error_last()->message) < 2048);
		assert_no_token_part(dw_error_last()->message);
		/* and with context put in front (the message grows past the cap) */
		dw_error_context("listing s3://bucket/prefix");
		assert_no_token_part(dw_error_last()->message);
		free(pad);
	}
	dw_error_clear();
}

/* An AWS error body echoing the token after about 990 characters: the
 * message is cut to msg's size after masking. */
static void test_aws_error_body_cut_at_a_secret(void **state)
{
	(void)state;
	for (size_t at = 960; at < 1030; at += 3) {
		struct dw_http_response r;
		char code[96], msg[1024], *pad = filler(at), *body;

		dw_http_response_init(&r);
		r.status = 400;
		if (asprintf(&body, "<ErrorResponse><Error><Code>Echo</Code><Message>%s%s"
			     "</Message></Error></ErrorResponse>", pad, TOKEN) < 0)
			fail();
		dw_buf_puts(&r.body, body);
		dw_aws_error_parse(DW_PROTO_QUERY, &r, code, sizeof(code), msg, sizeof(msg));
		assert_string_equal(code, "Echo");
		assert_no_token_part(msg);
		free(body);
		if (asprintf(&body, "{\"__type\":\"Echo\",\"message\":\"%s%s\"}", pad, TOKEN) < 0)
			fail();
		dw_buf_release(&r.body);
		dw_buf_init(&r.body);
		dw_buf_puts(&r.body, body);
		dw_aws_error_parse(DW_PROTO_JSON, &r, code, sizeof(code), msg, sizeof(msg));
		assert_no_token_part(msg);
		free(body);
		free(pad);
		dw_http_response_release(&r);
	}
}

/* Log lines are cut at 4 KiB: the same rule. */
static void test_log_line_cut_at_a_secret(void **state)
{
	char path[] = "/tmp/dw-redact-log-XXXXXX", buf[16384];
	int fd = mkstemp(path), saved = dup(2);
	FILE *f;
	size_t n;

	(void)state;
	assert_true(fd >= 0);
	dup2(fd, 2);
	for (size_t at = 4095 - strlen(TOKEN) - 40; at < 4096; at += 7) {
		char *pad = filler(at);
		dw_err("%s%s", pad, TOKEN);
		free(pad);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	assert_true(n > 4096);
	assert_no_token_part(buf);
}

/* A copy that fits is only masked; a cut never splits a UTF-8 sequence. */
static void test_copy_fits_and_utf8(void **state)
{
	char out[16];

	(void)state;
	dw_redact_copy(out, sizeof(out), "short");
	assert_string_equal(out, "short");
	dw_redact_copy(out, sizeof(out), "abcdefghijklmn\xc3\xa9");
	assert_string_equal(out, "abcdefghijklmn");
}

/* Threads register secrets while others redact (dw-etl's workers each open
 * a session and register its keys while the main thread logs): the registry
 * grew under a reader's feet and ASan saw a heap-buffer-overflow, which
 * crashed dw-etl's Lambda runtime behind the RIE's 502s.  Every secret a
 * thread registered is masked afterwards. */
#define RACE_THREADS 8
#define RACE_SECRETS 200

static void *register_and_mask(void *arg)
{
	long t = (long)arg;
	char secret[64], text[128];

	for (int i = 0; i < RACE_SECRETS; i++) {
		snprintf(secret, sizeof(secret), "race-secret-%02ld-%03d", t, i);
		dw_redact_secret(secret);
		snprintf(text, sizeof(text), "key=%s end", secret);
		dw_redact(text);
		if (strstr(text, secret))
			return (void *)1;
	}
	return NULL;
}

static void test_registry_shared_by_threads(void **state)
{
	pthread_t th[RACE_THREADS];
	char text[128];

	(void)state;
	for (long t = 0; t < RACE_THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, register_and_mask, (void *)t), 0);
	for (int t = 0; t < RACE_THREADS; t++) {
		void *failed = NULL;
		pthread_join(th[t], &failed);
		assert_null(failed);
	}
	snprintf(text, sizeof(text), "race-secret-%02d-%03d", RACE_THREADS - 1, RACE_SECRETS - 1);
	dw_redact(text);
	assert_string_equal(text, "***");
	dw_redact_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_message_cut_at_a_secret),
		cmocka_unit_test(test_aws_error_body_cut_at_a_secret),
		cmocka_unit_test(test_log_line_cut_at_a_secret),
		cmocka_unit_test(test_copy_fits_and_utf8),
		cmocka_unit_test(test_registry_shared_by_threads),
	};
	return cmocka_run_group_tests_name("redact", tests, setup, teardown);
}
