/* records.c - cutting record lists into calls, and resending the failed
 * entries of partial answers. */
#include "aws/records.h"
#include "base/buf.h"
#include "base/error.h"

#include "base/json.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t record_size(const struct dw_record *r)
{
	return r->len + (r->key ? strlen(r->key) : 0);
}

size_t dw_records_fit(const struct dw_record *const *recs, size_t n,
		      const struct dw_record_limits *l)
{
	size_t bytes = 0, i;

	for (i = 0; i < n && i < l->max_records; i++) {
		size_t sz = record_size(recs[i]);
		if (i > 0 && bytes + sz > l->max_bytes)
			break;
		bytes += sz;
	}
	return i ? i : (n ? 1 : 0);
}

int dw_records_check(const struct dw_record *recs, size_t n, const struct dw_record_limits *l)
{
	for (size_t i = 0; i < n; i++) {
		size_t sz = record_size(&recs[i]);
		if (sz > l->max_record_bytes || sz > l->max_bytes)
			return dw_fail("RecordTooLarge", "record %zu is %zu bytes, more than the "
				       "%zu a record may be", i, sz, l->max_record_bytes);
	}
	return 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0)
		;
}

/* One pass over pending[0..*n): the records that failed are moved to the
 * front and *n becomes their count. */
static int pass(struct dw_records_send *s, const struct dw_record **pending, size_t *n,
		unsigned char *failed, char *why, size_t why_len)
{
	size_t done = 0, kept = 0;

	while (done < *n) {
		size_t k = dw_records_fit(pending + done, *n - done, s->limits);
		memset(failed, 0, k);
		s->calls++;
		if (s->put(s->ud, pending + done, k, failed, why, why_len))
			return -1;
		for (size_t i = 0; i < k; i++)
			if (failed[i])
				pending[kept++] = pending[done + i];
		done += k;
	}
	*n = kept;
	return 0;
}

int dw_records_send(struct dw_records_send *s, const struct dw_record *recs, size_t n)
{
	const struct dw_record **pending;
	unsigned char *failed;
	char why[512] = "";
	int rc = 0;

	if (n == 0)
		return 0;
	if (dw_records_check(recs, n, s->limits))
		return -1;
	pending = dw_xcalloc(n, sizeof(*pending)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
	failed = dw_xcalloc(n < s->limits->max_records ? n : s->limits->max_records, 1);
	for (size_t i = 0; i < n; i++)
		pending[i] = &recs[i];
	for (int attempt = 1; n > 0; attempt++) {
		if (attempt > 1) {
			if (attempt > s->max_attempts) {
				rc = dw_raise(DW_TRANSIENT, "SendFailed", "",
					      "%zu records were still refused after %d attempts (%s)",
					      n, s->max_attempts, why);
				break;
			}
			s->retried += n;
			if (s->backoff_ms)
				pause_ms(s->backoff_ms(attempt - 1));
		}
		if (pass(s, pending, &n, failed, why, sizeof(why))) {
			rc = -1;
			break;
		}
	}
	free(pending);
	free(failed);
	return rc;
}

void dw_records_b64(struct dw_buf *b, const char *data, size_t len)
{
	size_t need = 4 * ((len + 2) / 3) + 3;

	dw_buf_putc(b, '"');
	if (b->cap < b->len + need)
		b->data = dw_xrealloc(b->data, b->cap = b->len + need + b->len / 2);
	b->len += (size_t)EVP_EncodeBlock((unsigned char *)b->data + b->len,
					  (const unsigned char *)data, (int)len);
	b->data[b->len] = '\0';
	dw_buf_putc(b, '"');
}

void dw_records_json_string(struct dw_buf *b, const char *s)
{
	dw_buf_putc(b, '"');
	for (const char *run = s;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		dw_buf_append(b, run, (size_t)(s - run));
		if (!c)
			break;
		if (c == '"' || c == '\\')
			dw_buf_printf(b, "\\%c", c);
		else
			dw_buf_printf(b, "\\u%04x", c);
		run = s + 1;
	}
	dw_buf_putc(b, '"');
}

int dw_records_answer(const cJSON *ans, const char *list, size_t n, unsigned char *failed,
		      char *why, size_t why_len)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(ans, list), *e;
	size_t i = 0;

	if (!cJSON_IsArray(items) || (size_t)cJSON_GetArraySize(items) != n)
		return dw_fail("InvalidResponse", "the answer's %s list does not hold one entry per "
			       "record sent (%zu)", list, n);
	cJSON_ArrayForEach(e, items) {
		const char *code = dw_json_str(e, "ErrorCode");
		failed[i] = code && *code;
		if (failed[i] && why && why_len && !why[0])
			snprintf(why, why_len, "%s: %s", code,
				 dw_json_str(e, "ErrorMessage") ? dw_json_str(e, "ErrorMessage") : "");
		i++;
	}
	return 0;
}
