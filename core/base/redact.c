/* redact.c - masking secrets in text: the registered ones and well-known
 * secret-bearing patterns.  Every log line (base/log.c) and every error
 * message (base/error.c) goes through dw_redact. */
#include "base/redact.h"
#include "base/buf.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The registry is shared by every thread: dw-etl's workers each open a
 * session and register its keys while other threads log (the array grew
 * under a reader's feet: heap-buffer-overflow under ASan, the Lambda
 * runtime's crash behind the RIE's 502s).  One lock guards it, held while
 * registering and while masking. */
static pthread_mutex_t secrets_mu = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t n_secrets;

void dw_redact_secret(const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return;
	pthread_mutex_lock(&secrets_mu);
	for (size_t i = 0; i < n_secrets; i++)
		if (strcmp(secrets[i], secret) == 0) {
			pthread_mutex_unlock(&secrets_mu);
			return;
		}
	secrets = dw_xrealloc(secrets, (n_secrets + 1) * sizeof(*secrets));
	secrets[n_secrets++] = dw_xstrdup(secret);
	pthread_mutex_unlock(&secrets_mu);
}

void dw_redact_clear(void)
{
	pthread_mutex_lock(&secrets_mu);
	for (size_t i = 0; i < n_secrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	n_secrets = 0;
	pthread_mutex_unlock(&secrets_mu);
}

/* Replace text[start, end) by "***" (or stars of the same length when
 * shorter), so the text never grows. */
static size_t mask(char *text, size_t start, size_t end)
{
	size_t span = end - start;

	if (span <= 3) {
		memset(text + start, '*', span);
		return end;
	}
	text[start] = text[start + 1] = text[start + 2] = '*';
	memmove(text + start + 3, text + end, strlen(text + end) + 1);
	return start + 3;
}

static void mask_registered(char *text)
{
	pthread_mutex_lock(&secrets_mu);
	for (size_t i = 0; i < n_secrets; i++) {
		size_t len = strlen(secrets[i]);
		char *p = text;

		while ((p = strstr(p, secrets[i])) != NULL) {
			size_t at = (size_t)(p - text);
			p = text + mask(text, at, at + len);
		}
	}
	pthread_mutex_unlock(&secrets_mu);
}

/* After each marker (case-insensitive), mask up to a terminator. */
struct marker {
	const char *text;
	const char *stop; /* characters that end the secret */
};

static const struct marker markers[] = {
	{ "authorization:", "\r\n" },
	{ "authorization=", "&\r\n \"" },
	{ "x-amz-security-token:", "\r\n" },
	{ "x-amz-security-token=", "&\r\n \"" },
	{ "signature=", "&,\r\n \"" },
	{ "password=", "&\r\n \"" },
	{ "identified by ", "\r\n" },
	{ "<secretaccesskey>", "<" },
	{ "<sessiontoken>", "<" },
	{ "<password>", "<" },
	{ "<masteruserpassword>", "<" },
	{ "<secretstring>", "<" },
	{ "<token>", "<" },
};

static void mask_markers(char *text)
{
	for (size_t m = 0; m < sizeof(markers) / sizeof(markers[0]); m++) {
		size_t mlen = strlen(markers[m].text);
		size_t i = 0;

		while (text[i]) {
			if (strncasecmp(text + i, markers[m].text, mlen) != 0) {
				i++;
				continue;
			}
			size_t start = i + mlen;
			while (text[start] == ' ')
				start++;
			size_t end = start + strcspn(text + start, markers[m].stop);
			i = end > start ? mask(text, start, end) : end;
		}
	}
}

static int key_is_secret(const char *key, size_t len)
{
	static const char *const words[] = { "password", "secret", "token",
					     "authorization" };
	char lower[64];

	if (len >= sizeof(lower))
		len = sizeof(lower) - 1;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)key[i]);
	lower[len] = '\0';
	if (strstr(lower, "_env") || strstr(lower, "secret_id") ||
	    strstr(lower, "secretid") || strstr(lower, "tokens"))
		return 0; /* names of where a secret is, not the secret */
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
		if (strstr(lower, words[w]))
			return 1;
	return 0;
}

/* "key": "value" with a secret-sounding key: mask the value. */
static void mask_json_values(char *text)
{
	char *p = text;

	while ((p = strchr(p, '"')) != NULL) {
		char *key = p + 1;
		char *kend = strchr(key, '"');

		if (!kend)
			return;
		char *q = kend + 1;
		/* Any JSON white space: --pretty output has tabs and newlines. */
		q += strspn(q, " \t\r\n");
		if (*q != ':' || !key_is_secret(key, (size_t)(kend - key))) {
			p = kend + 1;
			continue;
		}
		q++;
		q += strspn(q, " \t\r\n");
		if (*q != '"') {
			p = q;
			continue;
		}
		char *v = q + 1, *vend = v;
		while (*vend && *vend != '"')
			vend += (*vend == '\\' && vend[1]) ? 2 : 1;
		size_t next = mask(text, (size_t)(v - text), (size_t)(vend - text));
		p = text + next + (text[next] ? 1 : 0);
	}
}

void dw_redact(char *text)
{
	if (!text)
		return;
	mask_registered(text);
	mask_markers(text);
	mask_json_values(text);
}

/* After a cut, the text's last k bytes may be the first k of a secret. */
static void mask_cut_secret(char *text)
{
	size_t n = strlen(text);

	pthread_mutex_lock(&secrets_mu);
	for (size_t i = 0; i < n_secrets; i++) {
		size_t len = strlen(secrets[i]);
		for (size_t k = len - 1 < n ? len - 1 : n; k > 0; k--)
			if (memcmp(text + n - k, secrets[i], k) == 0) {
				memset(text + n - k, '*', k);
				break;
			}
	}
	pthread_mutex_unlock(&secrets_mu);
}

void dw_redact_copy(char *dst, size_t cap, const char *src)
{
	char *full;
	size_t n;

	if (cap == 0)
		return;
	full = dw_xstrdup(src ? src : "");
	dw_redact(full);
	n = strlen(full);
	if (n >= cap) {
		n = cap - 1;
		/* Do not leave half a UTF-8 sequence at the end. */
		while (n > 0 && ((unsigned char)full[n] & 0xc0) == 0x80)
			n--;
		full[n] = '\0';
		mask_cut_secret(full);
	}
	memcpy(dst, full, n + 1);
	free(full);
}

void dw_redact_vformat(char *dst, size_t cap, const char *fmt, va_list ap)
{
	char *full = NULL;

	if (vasprintf(&full, fmt, ap) < 0) {
		dw_redact_copy(dst, cap, "(no memory to format a message)");
		return;
	}
	dw_redact_copy(dst, cap, full);
	free(full);
}

void dw_redact_format(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dw_redact_vformat(dst, cap, fmt, ap);
	va_end(ap);
}
