/* http.c - libcurl underneath: a reused easy handle for one call at a time
 * and a multi handle for many in flight.  Both keep connections alive. */
#include "aws/http.h"
#include "base/log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

void dw_http_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void dw_http_global_cleanup(void)
{
	curl_global_cleanup();
}

void dw_http_response_init(struct dw_http_response *r)
{
	memset(r, 0, sizeof(*r));
	dw_buf_init(&r->body);
	dw_kv_init(&r->headers);
}

void dw_http_response_release(struct dw_http_response *r)
{
	dw_buf_release(&r->body);
	dw_kv_release(&r->headers);
}

void dw_http_response_clear(struct dw_http_response *r)
{
	dw_http_response_release(r);
	dw_http_response_init(r);
}

/* Counts what libcurl hands over after decoding: returning short aborts
 * the transfer (CURLE_WRITE_ERROR). */
static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct dw_http_response *r = ud;

	if (size * n > r->max_body - r->body.len) {
		r->too_large = 1;
		return 0;
	}
	dw_buf_append(&r->body, data, size * n);
	return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct dw_http_response *r = ud;
	size_t len = size * n;
	char *colon = memchr(data, ':', len);

	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue or a redirect) starts over. */
		dw_kv_release(&r->headers);
		return len;
	}
	if (!colon)
		return len;
	char *name = dw_xstrndup(data, (size_t)(colon - data));
	const char *v = colon + 1, *end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	char *value = dw_xstrndup(v, (size_t)(end - v));
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	dw_kv_add(&r->headers, name, value);
	free(name);
	free(value);
	return len;
}

/* Set up an easy handle for one request; the returned list is freed by the
 * caller after the transfer. */
static struct curl_slist *prepare(CURL *e, const struct dw_http_request *req,
				  struct dw_http_response *resp, char *errbuf)
{
	struct curl_slist *hdrs = NULL;

	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	resp->max_body = req->max_body ? req->max_body : DW_HTTP_MAX_BODY;
	/* Refused early when the length is announced; on_body counts the rest. */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)resp->max_body);
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (req->body || strcmp(req->method, "POST") == 0 ||
		   strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0 &&
	    strcmp(req->method, "HEAD") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	for (size_t i = 0; req->headers && i < req->headers->n; i++) {
		char *line = dw_xasprintf("%s: %s", req->headers->items[i].key,
					  req->headers->items[i].value);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
	}
	/* Do not wait for 100 Continue, and let the signed headers stand alone. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs = curl_slist_append(hdrs, "Accept:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	return hdrs;
}

const char *dw_http_fault_code(const struct dw_http_response *resp)
{
	if (resp->too_large)
		return "ResponseTooLarge";
	switch ((CURLcode)resp->transport_error) {
	case CURLE_OK:
		return NULL;
	case CURLE_OPERATION_TIMEDOUT:
		return "RequestTimeout";
	default:
		return "NetworkError";
	}
}

static void finish(CURL *e, CURLcode rc, struct dw_http_response *resp,
		   const char *errbuf)
{
	resp->transport_error = (int)rc;
	if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR && resp->too_large)) {
		resp->too_large = 1;
		snprintf(resp->error, sizeof(resp->error), "the answer is larger than %zu MiB "
			 "(after decompression), the most dwops reads", resp->max_body >> 20);
		resp->status = 0;
		return;
	}
	if (rc != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
		resp->status = 0;
		return;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
}

struct dw_http {
	CURL *easy;
};

struct dw_http *dw_http_new(void)
{
	struct dw_http *h = dw_xcalloc(1, sizeof(*h));

	h->easy = curl_easy_init();
	if (!h->easy) {
		free(h);
		return NULL;
	}
	return h;
}

void dw_http_free(struct dw_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->easy);
	free(h);
}

int dw_http_perform(struct dw_http *h, const struct dw_http_request *req,
		    struct dw_http_response *resp)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = prepare(h->easy, req, resp, errbuf);
	CURLcode rc = curl_easy_perform(h->easy);

	finish(h->easy, rc, resp, errbuf);
	curl_slist_free_all(hdrs);
	return rc == CURLE_OK ? 0 : -1;
}

struct transfer {
	CURL *easy;
	struct curl_slist *hdrs;
	struct dw_http_response resp;
	dw_http_done_fn done;
	void *ud;
	char errbuf[CURL_ERROR_SIZE];
	struct transfer *next_free;
};

struct dw_http_multi {
	CURLM *multi;
	struct transfer *free_list;
	int in_flight;
};

struct dw_http_multi *dw_http_multi_new(int max_connections)
{
	struct dw_http_multi *m = dw_xcalloc(1, sizeof(*m));

	m->multi = curl_multi_init();
	curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_connections);
	curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)max_connections);
	return m;
}

void dw_http_multi_free(struct dw_http_multi *m)
{
	if (!m)
		return;
	while (m->free_list) {
		struct transfer *t = m->free_list;
		m->free_list = t->next_free;
		curl_easy_cleanup(t->easy);
		free(t);
	}
	curl_multi_cleanup(m->multi);
	free(m);
}

void dw_http_multi_add(struct dw_http_multi *m, const struct dw_http_request *req,
		       dw_http_done_fn done, void *ud)
{
	struct transfer *t = m->free_list;

	if (t) {
		m->free_list = t->next_free;
	} else {
		t = dw_xcalloc(1, sizeof(*t));
		t->easy = curl_easy_init();
	}
	dw_http_response_init(&t->resp);
	t->done = done;
	t->ud = ud;
	t->errbuf[0] = '\0';
	t->hdrs = prepare(t->easy, req, &t->resp, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_multi_add_handle(m->multi, t->easy);
	m->in_flight++;
}

static void complete(struct dw_http_multi *m, CURL *e, CURLcode rc)
{
	struct transfer *t = NULL;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
	finish(e, rc, &t->resp, t->errbuf);
	curl_multi_remove_handle(m->multi, e);
	curl_slist_free_all(t->hdrs);
	t->hdrs = NULL;
	m->in_flight--;
	t->done(t->ud, &t->resp);
	dw_http_response_release(&t->resp);
	t->next_free = m->free_list;
	m->free_list = t;
}

int dw_http_multi_poll(struct dw_http_multi *m, int timeout_ms)
{
	int running = 0, left = 0;
	CURLMsg *msg;

	curl_multi_perform(m->multi, &running);
	if (running > 0)
		curl_multi_poll(m->multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(m->multi, &running);
	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			complete(m, msg->easy_handle, msg->data.result);
	return m->in_flight;
}
