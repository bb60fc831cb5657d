/* dw/http.h - HTTP over libcurl: one reused easy handle for calls made one
 * at a time, and a multi handle for many requests in flight at once.  Both
 * keep connections alive and reuse them. */
#ifndef DW_HTTP_H
#define DW_HTTP_H

#include <stddef.h>
#include "base/buf.h"

struct dw_http_request {
	const char *method;
	const char *url;              /* fully encoded */
	const struct dw_kvlist *headers;
	const void *body;
	size_t body_len;
	long timeout_ms;              /* whole request; 0: no limit */
	size_t max_body;              /* answers larger are refused; 0: DW_HTTP_MAX_BODY */
};

/* The most an answer's body may hold, counted after decompression (a 2 MB
 * gzip answer can inflate to gigabytes; issue 12 #8).  Every answer dwops
 * reads is far smaller: a ListObjectsV2 page of 1,000 long keys is under
 * 2 MiB, the JSON files it reads a few KiB. */
#define DW_HTTP_MAX_BODY ((size_t)64 << 20)

struct dw_http_response {
	long status;            /* 0 when no response arrived */
	struct dw_buf body;
	struct dw_kvlist headers; /* lower-case names */
	int transport_error;    /* libcurl's code, 0 when none: read it
				   through dw_http_fault_code */
	int too_large;          /* the body went over max_body (transport_error set too) */
	size_t max_body;        /* the request's cap, set when it is sent */
	char error[256];        /* libcurl's words for it */
};

/* What a request that got no answer failed with, as a dwops error code:
 * "ResponseTooLarge" (the body went over max_body), "RequestTimeout" (the
 * time limit ran out) or "NetworkError" (no connection, reset, TLS, ...);
 * NULL when an answer arrived.  The one place libcurl's codes are read. */
const char *dw_http_fault_code(const struct dw_http_response *r);

void dw_http_response_init(struct dw_http_response *r);
void dw_http_response_release(struct dw_http_response *r);
void dw_http_response_clear(struct dw_http_response *r);

struct dw_http;
struct dw_http *dw_http_new(void);
void dw_http_free(struct dw_http *h);
/* Perform one request; 0 when a response (any status) arrived, -1 with
 * resp->transport_error set when none did. */
int dw_http_perform(struct dw_http *h, const struct dw_http_request *req,
		    struct dw_http_response *resp);

/* Many requests at once.  The callback runs on completion from inside
 * dw_http_multi_run/poll; it may add more requests. */
typedef void (*dw_http_done_fn)(void *ud, struct dw_http_response *resp);
struct dw_http_multi;
struct dw_http_multi *dw_http_multi_new(int max_connections);
void dw_http_multi_free(struct dw_http_multi *m);
/* Request data must stay valid until the callback ran. */
void dw_http_multi_add(struct dw_http_multi *m,
		       const struct dw_http_request *req,
		       dw_http_done_fn done, void *ud);
/* Drive transfers for at most timeout_ms; returns the number in flight. */
int dw_http_multi_poll(struct dw_http_multi *m, int timeout_ms);

/* One-time global set-up and tear-down (curl_global_*). */
void dw_http_global_init(void);
void dw_http_global_cleanup(void);

#endif
