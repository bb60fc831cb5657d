/* aws.c - the AWS client: endpoints, signing, the retry policy, and the
 * synchronous and pooled (libcurl multi) ways of sending. */
#include "aws/aws.h"
#include "base/timefmt.h"
#include "base/log.h"
#include "base/redact.h"
#include "aws/sigv4.h"
#include "base/xml.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

struct dw_aws {
	char *region;
	char *endpoint_url;
	cJSON *endpoints; /* a copy of the request's */
	int max_attempts;
	long timeout_ms;
	struct dw_creds creds;
	struct dw_aws_pool *sync;          /* dw_aws_send's: one request at a time */
	struct dw_kvlist endpoint_cache;   /* service -> base URL */
	struct dw_kvlist custom_endpoints; /* service -> "1" when configured */
	struct dw_aws_stats stats;
};

/* The SDKs' service ids, for AWS_ENDPOINT_URL_<ID>. */
static const char *service_env_id(const char *service)
{
	static const char *const map[][2] = {
		{ "secretsmanager", "SECRETS_MANAGER" },
		{ "monitoring", "CLOUDWATCH" },
		{ "events", "EVENTBRIDGE" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], service) == 0)
			return map[i][1];
	return NULL;
}

/* Services whose endpoint's host prefix is not their signing name. */
static const char *host_prefix(const char *service)
{
	return strcmp(service, "ses") == 0 ? "email" : service;
}

static char *configured_endpoint(struct dw_aws *aws, const char *service)
{
	const char *v = NULL;
	char env[96];

	if (aws->endpoints)
		v = dw_json_str(aws->endpoints, service);
	if (!v)
		v = aws->endpoint_url;
	if (!v) {
		const char *id = service_env_id(service);
		size_t i = 0;
		if (id) {
			snprintf(env, sizeof(env), "AWS_ENDPOINT_URL_%s", id);
		} else {
			i = (size_t)snprintf(env, sizeof(env), "AWS_ENDPOINT_URL_");
			for (const char *c = service; *c && i + 1 < sizeof(env); c++)
				env[i++] = (char)toupper((unsigned char)*c);
			env[i] = '\0';
		}
		v = getenv(env);
		if (!v || !*v)
			v = getenv("AWS_ENDPOINT_URL");
	}
	if (!v || !*v)
		return NULL;
	char *url = dw_xstrdup(v);
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	return url;
}

const char *dw_aws_endpoint(struct dw_aws *aws, const char *service)
{
	const char *cached = dw_kv_get(&aws->endpoint_cache, service, 0);
	char *url;

	if (cached)
		return cached;
	url = configured_endpoint(aws, service);
	dw_kv_add(&aws->custom_endpoints, service, url ? "1" : "0");
	if (!url)
		url = dw_xasprintf("https://%s.%s.amazonaws.com", host_prefix(service), aws->region);
	dw_kv_add(&aws->endpoint_cache, service, url);
	free(url);
	return dw_kv_get(&aws->endpoint_cache, service, 0);
}

int dw_aws_custom_endpoint(struct dw_aws *aws, const char *service)
{
	dw_aws_endpoint(aws, service);
	return strcmp(dw_kv_get(&aws->custom_endpoints, service, 0), "1") == 0;
}

static char *resolve_region(const struct dw_aws_config *cfg)
{
	const char *v = cfg->region;

	if (!v || !*v)
		v = getenv("AWS_REGION");
	if (!v || !*v)
		v = getenv("AWS_DEFAULT_REGION");
	if (v && *v)
		return dw_xstrdup(v);
	return dw_profile_config_value(cfg->profile, "region");
}

static int valid_region(const char *r)
{
	if (!*r || strlen(r) > 40)
		return 0;
	for (const char *c = r; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '-')
			return 0;
	return 1;
}

static int make_client(struct dw_aws **out, const struct dw_aws_config *cfg)
{
	struct dw_aws *aws = dw_xcalloc(1, sizeof(*aws));
	const char *env_attempts = getenv("AWS_MAX_ATTEMPTS");

	*out = NULL;
	aws->region = resolve_region(cfg);
	if (!aws->region || !valid_region(aws->region)) {
		dw_aws_free(aws);
		return dw_invalid("region", "no valid AWS region: set \"region\" in the request, AWS_REGION, or region in the profile");
	}
	aws->endpoint_url = cfg->endpoint_url ? dw_xstrdup(cfg->endpoint_url) : NULL;
	aws->endpoints = cfg->endpoints ? cJSON_Duplicate(cfg->endpoints, 1) : NULL;
	aws->max_attempts = cfg->max_attempts;
	if (aws->max_attempts <= 0 && env_attempts)
		aws->max_attempts = atoi(env_attempts);
	if (aws->max_attempts <= 0)
		aws->max_attempts = 3;
	aws->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
	dw_kv_init(&aws->endpoint_cache);
	dw_kv_init(&aws->custom_endpoints);
	*out = aws;
	return 0;
}

int dw_aws_new_with_creds(struct dw_aws **out, const struct dw_aws_config *cfg,
			  const struct dw_creds *creds)
{
	if (make_client(out, cfg))
		return -1;
	if (creds)
		dw_creds_copy(&(*out)->creds, creds);
	return 0;
}

void dw_aws_set_creds(struct dw_aws *aws, const struct dw_creds *creds)
{
	dw_creds_release(&aws->creds);
	dw_creds_copy(&aws->creds, creds);
}

void dw_aws_free(struct dw_aws *aws)
{
	if (!aws)
		return;
	free(aws->region);
	free(aws->endpoint_url);
	cJSON_Delete(aws->endpoints);
	dw_creds_release(&aws->creds);
	dw_aws_pool_free(aws->sync);
	dw_kv_release(&aws->endpoint_cache);
	dw_kv_release(&aws->custom_endpoints);
	free(aws);
}

const char *dw_aws_region(const struct dw_aws *aws)
{
	return aws->region;
}

const char *dw_aws_credentials_source(const struct dw_aws *aws)
{
	return aws->creds.source;
}

int dw_aws_max_attempts(const struct dw_aws *aws)
{
	return aws->max_attempts;
}

const struct dw_aws_stats *dw_aws_stats(const struct dw_aws *aws)
{
	return &aws->stats;
}

void dw_aws_request_init(struct dw_aws_request *r, const char *service,
			 enum dw_aws_protocol protocol, const char *method,
			 const char *path)
{
	memset(r, 0, sizeof(*r));
	r->service = service;
	r->protocol = protocol;
	r->method = method;
	r->path = dw_xstrdup(path ? path : "/");
	dw_kv_init(&r->query);
	dw_kv_init(&r->headers);
	dw_buf_init(&r->body);
}

void dw_aws_request_release(struct dw_aws_request *r)
{
	free(r->bucket);
	free(r->path);
	dw_kv_release(&r->query);
	dw_kv_release(&r->headers);
	dw_buf_release(&r->body);
}

void dw_aws_request_free(struct dw_aws_request *r)
{
	if (!r)
		return;
	dw_aws_request_release(r);
	free(r);
}

/* A request made ready for the wire: URL and signed headers. */
struct signed_req {
	char *url;
	struct dw_kvlist headers;
	struct dw_http_request http;
};

static void signed_req_release(struct signed_req *s)
{
	free(s->url);
	dw_kv_release(&s->headers);
}

static void amz_now(char out[17])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* S3 buckets go into the host name on real AWS when DNS allows it, and
 * into the path on custom endpoints (moto, MinIO, proxies). */
static int virtual_host(struct dw_aws *aws, const struct dw_aws_request *req)
{
	if (!req->bucket || dw_aws_custom_endpoint(aws, req->service))
		return 0;
	for (const char *c = req->bucket; *c; c++)
		if (*c == '.' || isupper((unsigned char)*c) || *c == '_')
			return 0;
	return 1;
}

static void sign(struct dw_aws *aws, const struct dw_aws_request *req,
		 struct signed_req *out)
{
	const char *base = dw_aws_endpoint(aws, req->service);
	const char *scheme_end = strstr(base, "://");
	const char *host = scheme_end ? scheme_end + 3 : base;
	struct dw_buf url, path;
	struct dw_sigv4_output sig = { 0 };
	char date[17], hash[65];
	int vhost = virtual_host(aws, req);

	memset(out, 0, sizeof(*out));
	dw_buf_init(&url);
	dw_buf_init(&path);
	if (req->bucket && !vhost)
		dw_buf_printf(&path, "/%s", req->bucket);
	dw_buf_puts(&path, req->path[0] == '/' ? "" : "/");
	dw_buf_puts(&path, req->path);
	if (req->bucket && !vhost && strcmp(req->path, "/") == 0)
		path.data[--path.len] = '\0'; /* "/bucket", not "/bucket/" */
	if (vhost)
		dw_buf_printf(&url, "%.*s%s.%s", (int)(host - base), base, req->bucket, host);
	else
		dw_buf_puts(&url, base);
	char *host_only = dw_xstrdup(url.data + (host - base));
	dw_uri_encode(&url, path.data, 1);
	for (size_t i = 0; i < req->query.n; i++) {
		dw_buf_putc(&url, i ? '&' : '?');
		dw_uri_encode(&url, req->query.items[i].key, 0);
		dw_buf_putc(&url, '=');
		dw_uri_encode(&url, req->query.items[i].value, 0);
	}

	amz_now(date);
	dw_kv_init(&out->headers);
	dw_kv_add(&out->headers, "Host", host_only);
	free(host_only);
	dw_kv_add(&out->headers, "X-Amz-Date", date);
	if (aws->creds.session_token)
		dw_kv_add(&out->headers, "X-Amz-Security-Token", aws->creds.session_token);
	dw_sha256_hex(req->body.data ? req->body.data : "", req->body.len, hash);
	if (strcmp(req->service, "s3") == 0)
		dw_kv_add(&out->headers, "X-Amz-Content-Sha256", hash);
	dw_kv_copy(&out->headers, &req->headers);

	struct dw_sigv4_input in = {
		.method = req->method, .path = path.data, .query = &req->query,
		.headers = &out->headers, .body = req->body.data,
		.body_len = req->body.len, .payload_hash = hash,
		.region = aws->region, .service = req->service,
		.amz_date = date, .creds = &aws->creds,
		.s3_path = strcmp(req->service, "s3") == 0,
	};
	dw_sigv4_sign(&in, &sig);
	dw_kv_add(&out->headers, "Authorization", sig.authorization);
	dw_sigv4_output_release(&sig);
	dw_buf_release(&path);

	out->url = dw_buf_detach(&url);
	out->http.method = req->method;
	out->http.url = out->url;
	out->http.headers = &out->headers;
	out->http.body = req->body.data;
	out->http.body_len = req->body.len;
	out->http.timeout_ms = aws->timeout_ms;
}

int dw_aws_code_retryable(const char *code)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
		"EC2ThrottledException", "RequestTimeout", "RequestTimeoutException",
		"InternalError", "InternalFailure", "ServiceUnavailable",
		"AWS.SimpleQueueService.RequestThrottled", "KMS.ThrottlingException",
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i], code) == 0)
			return 1;
	return 0;
}

long dw_aws_backoff_ms(int retry)
{
	static int seeded;
	const char *env = getenv("DW_RETRY_BASE_MS");
	long base = env && atol(env) > 0 ? atol(env) : 1000;
	long cap = 20 * base;
	long ceiling = base;

	if (!seeded) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		srandom((unsigned)(tv.tv_usec ^ tv.tv_sec));
		seeded = 1;
	}
	for (int i = 1; i < retry && ceiling < cap; i++)
		ceiling *= 2;
	if (ceiling > cap)
		ceiling = cap;
	return random() % (ceiling + 1);
}

static void copy_text(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void json_error(const struct dw_http_response *resp, char *code,
		       size_t code_len, char *msg, size_t msg_len)
{
	const char *query_err = dw_kv_get(&resp->headers, "x-amzn-query-error", 0);
	const char *type_hdr = dw_kv_get(&resp->headers, "x-amzn-errortype", 0);
	/* Strict, as answers are: a lenient parse would keep a string cut at a
	 * raw NUL, whose end the redaction cannot see as a cut (a secret's
	 * beginning would survive).  The last error is kept: this runs while
	 * one is being built. */
	struct dw_error saved;
	cJSON *doc = NULL;

	dw_error_save(&saved);
	if (resp->body.len && dw_json_parse(resp->body.data, resp->body.len, "error", &doc))
		doc = NULL;
	dw_error_restore(&saved);
	const char *type = dw_json_str(doc, "__type");
	const char *m = dw_json_str(doc, "message");

	if (!m)
		m = dw_json_str(doc, "Message");
	if (query_err) {
		copy_text(code, code_len, query_err);
	} else {
		if (!type)
			type = type_hdr;
		const char *hash = type ? strrchr(type, '#') : NULL;
		copy_text(code, code_len, hash ? hash + 1 : type);
	}
	code[strcspn(code, ":;")] = '\0';
	dw_redact_copy(msg, msg_len, m); /* masked in full, then cut */
	cJSON_Delete(doc);
}

static void xml_error(const struct dw_http_response *resp, char *code,
		      size_t code_len, char *msg, size_t msg_len)
{
	xmlDocPtr doc = NULL;

	code[0] = msg[0] = '\0';
	if (!resp->body.len || dw_xml_parse(resp->body.data, resp->body.len, &doc))
		return;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr err = strcmp((const char *)root->name, "Error") == 0
		? root : dw_xml_find(root, "Error");
	dw_xml_textbuf(err, "Code", code, code_len);
	char *m = dw_xml_text(err, "Message");
	dw_redact_copy(msg, msg_len, m); /* masked in full, then cut */
	free(m);
	xmlFreeDoc(doc);
}

static const char *status_code_name(long status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 403: return "AccessDenied";
	case 404: return "NotFound";
	case 409: return "Conflict";
	case 429: return "TooManyRequestsException";
	case 500: return "InternalError";
	case 502: return "BadGateway";
	case 503: return "ServiceUnavailable";
	case 504: return "GatewayTimeout";
	default: return "HttpError";
	}
}

void dw_aws_error_parse(enum dw_aws_protocol protocol,
			const struct dw_http_response *resp, char *code,
			size_t code_len, char *msg, size_t msg_len)
{
	if (protocol == DW_PROTO_JSON)
		json_error(resp, code, code_len, msg, msg_len);
	else
		xml_error(resp, code, code_len, msg, msg_len);
	if (!code[0])
		copy_text(code, code_len, status_code_name(resp->status));
	if (!msg[0])
		snprintf(msg, msg_len, "HTTP %ld", resp->status);
}

static const char *operation_name(const struct dw_aws_request *req)
{
	const char *target = dw_kv_get(&req->headers, "X-Amz-Target", 1);

	if (target)
		return target;
	return req->method;
}

/* 0: success; 1: retryable failure; -1: final failure.  err is filled for
 * failures. */
static int classify(const struct dw_aws_request *req,
		    const struct dw_http_response *resp, struct dw_error *err)
{
	const char *fault = dw_http_fault_code(resp);
	char code[sizeof(err->code)], msg[1024];
	int retryable;

	memset(err, 0, sizeof(*err));
	if (fault) {
		snprintf(err->code, sizeof(err->code), "%s", fault);
		snprintf(err->message, sizeof(err->message), "%s %s: %s",
			 req->service, operation_name(req), resp->error);
		err->kind = DW_FAILED;
		/* Too large an answer would come again the same: not retried. */
		return resp->too_large ? -1 : 1;
	}
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	dw_aws_error_parse(req->protocol, resp, code, sizeof(code), msg, sizeof(msg));
	retryable = resp->status >= 500 || resp->status == 429 || dw_aws_code_retryable(code);
	snprintf(err->code, sizeof(err->code), "%s", code);
	dw_redact_format(err->message, sizeof(err->message), "%s %s: %s (HTTP %ld)",
			 req->service, operation_name(req), msg, resp->status);
	err->http_status = resp->status;
	err->kind = DW_FAILED;
	return retryable ? 1 : -1;
}

/* ---- many in flight ---------------------------------------------------- */

struct pool_item {
	struct dw_aws_pool *pool;
	struct dw_aws_request *req;
	int owned;                      /* the pool frees req */
	struct dw_http_response *keep;  /* gets the final answer (dw_aws_send) */
	dw_aws_done_fn done;
	void *ud;
	int attempt;
	long long ready_at;
	struct signed_req signed_req;
	struct pool_item *next;
};

struct dw_aws_pool {
	struct dw_aws *aws;
	struct dw_http_multi *multi;
	int concurrency;
	int in_flight;
	int pending;
	struct pool_item *head, *tail; /* waiting to be sent, in order */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* connections: how many the multi handle keeps open (per host and in all). */
static struct dw_aws_pool *pool_create(struct dw_aws *aws, int concurrency, int connections)
{
	struct dw_aws_pool *p = dw_xcalloc(1, sizeof(*p));

	p->aws = aws;
	p->concurrency = concurrency;
	p->multi = dw_http_multi_new(connections);
	return p;
}

struct dw_aws_pool *dw_aws_pool_new(struct dw_aws *aws, int concurrency)
{
	concurrency = concurrency > 0 ? concurrency : 16;
	return pool_create(aws, concurrency, concurrency);
}

static void item_free(struct pool_item *it)
{
	if (it->owned) {
		dw_aws_request_free(it->req);
	}
	free(it);
}

void dw_aws_pool_free(struct dw_aws_pool *p)
{
	if (!p)
		return;
	dw_aws_pool_wait(p, 0);
	dw_http_multi_free(p->multi);
	free(p);
}

static void enqueue(struct dw_aws_pool *p, struct pool_item *it)
{
	it->next = NULL;
	if (p->tail)
		p->tail->next = it;
	else
		p->head = it;
	p->tail = it;
}

static void submit(struct dw_aws_pool *p, struct dw_aws_request *req, int owned,
		   struct dw_http_response *keep, long delay_ms, dw_aws_done_fn done,
		   void *ud)
{
	struct pool_item *it = dw_xcalloc(1, sizeof(*it));

	it->pool = p;
	it->req = req;
	it->owned = owned;
	it->keep = keep;
	it->done = done;
	it->ud = ud;
	it->ready_at = delay_ms > 0 ? now_ms() + delay_ms : 0;
	enqueue(p, it);
	p->pending++;
}

void dw_aws_pool_submit_after(struct dw_aws_pool *p, struct dw_aws_request *req,
			      long delay_ms, dw_aws_done_fn done, void *ud)
{
	submit(p, req, 1, NULL, delay_ms, done, ud);
}

void dw_aws_pool_submit(struct dw_aws_pool *p, struct dw_aws_request *req,
			dw_aws_done_fn done, void *ud)
{
	dw_aws_pool_submit_after(p, req, 0, done, ud);
}

static void on_http_done(void *ud, struct dw_http_response *resp)
{
	struct pool_item *it = ud;
	struct dw_aws_pool *p = it->pool;
	struct dw_error err;
	int verdict = classify(it->req, resp, &err);

	signed_req_release(&it->signed_req);
	p->in_flight--;
	if (verdict == 1 && it->attempt < p->aws->max_attempts) {
		long wait = dw_aws_backoff_ms(it->attempt);
		dw_warn("%s (%s); retrying in %ld ms (attempt %d of %d)", err.message,
			err.code, wait, it->attempt + 1, p->aws->max_attempts);
		p->aws->stats.retries++;
		it->ready_at = now_ms() + wait;
		enqueue(p, it);
		return;
	}
	if (verdict == 1) {
		err.kind = DW_TRANSIENT;
		snprintf(err.message + strlen(err.message),
			 sizeof(err.message) - strlen(err.message),
			 " (gave up after %d attempts)", it->attempt);
	}
	if (it->keep) {
		/* The answer moves to dw_aws_send's caller; an empty one is freed. */
		struct dw_http_response moved = *it->keep;
		*it->keep = *resp;
		*resp = moved;
	}
	it->done(it->ud, it->keep ? it->keep : resp, verdict == 0 ? NULL : &err);
	p->pending--;
	item_free(it);
}

/* Send what is ready while there is room; returns ms until the next
 * waiting item is ready (or 100 when none waits). */
static long start_ready(struct dw_aws_pool *p)
{
	long long now = now_ms(), next = now + 100;
	struct pool_item **link = &p->head, *prev = NULL;

	while (*link && p->in_flight < p->concurrency) {
		struct pool_item *it = *link;
		if (it->ready_at > now) {
			if (it->ready_at < next)
				next = it->ready_at;
			prev = it;
			link = &it->next;
			continue;
		}
		*link = it->next;
		if (p->tail == it)
			p->tail = prev;
		it->attempt++;
		sign(p->aws, it->req, &it->signed_req);
		p->aws->stats.requests++;
		p->in_flight++;
		dw_http_multi_add(p->multi, &it->signed_req.http, on_http_done, it);
	}
	return (long)(next - now);
}

/* Sleep only when nothing is in flight and nothing is ready.  A completion
 * callback often queues ready work (a list page arriving queues its 100
 * batches): going round to start_ready at once, instead of sleeping the
 * 100 ms computed before the poll, took a day's fan-out (96 pages) from
 * 9.9 s to 3.2 s. */
void dw_aws_pool_wait(struct dw_aws_pool *p, int max_pending)
{
	while (p->pending > max_pending) {
		long idle = start_ready(p);
		if (p->in_flight) {
			dw_http_multi_poll(p->multi, (int)(idle < 100 ? idle : 100));
			continue;
		}
		/* Nothing went out, so nothing was ready: only items waiting out
		 * a backoff remain, and no callback can run before they are due. */
		dw_sleep_ms(idle < 100 ? idle : 100);
	}
}

int dw_aws_pool_pending(const struct dw_aws_pool *p)
{
	return p->pending;
}

/* ---- one at a time: the pool's single-request case ---------------------- */

struct sync_call {
	int failed;
	struct dw_error err;
};

static void on_sync_done(void *ud, const struct dw_http_response *resp,
			 const struct dw_error *err)
{
	struct sync_call *c = ud;

	(void)resp;
	if (err) {
		c->failed = 1;
		c->err = *err;
	}
}

int dw_aws_send(struct dw_aws *aws, const struct dw_aws_request *req,
		struct dw_http_response *resp)
{
	struct sync_call c = { 0 };

	/* One request in flight; a few connections kept for the services a
	 * run talks to in turn (what libcurl's easy handle would keep). */
	if (!aws->sync)
		aws->sync = pool_create(aws, 1, 5);
	dw_http_response_clear(resp);
	submit(aws->sync, (struct dw_aws_request *)req, 0, resp, 0, on_sync_done, &c);
	dw_aws_pool_wait(aws->sync, 0);
	if (c.failed) {
		dw_error_restore(&c.err);
		return -1;
	}
	return 0;
}

/* ---- protocols ---------------------------------------------------------- */

int dw_aws_query(struct dw_aws *aws, const char *service, const char *version,
		 const char *action, const struct dw_kvlist *params,
		 xmlDocPtr *out)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	int rc;

	dw_aws_request_init(&req, service, DW_PROTO_QUERY, "POST", "/");
	dw_kv_add(&req.headers, "Content-Type",
		  "application/x-www-form-urlencoded; charset=utf-8");
	dw_buf_printf(&req.body, "Action=%s&Version=%s", action, version);
	for (size_t i = 0; params && i < params->n; i++) {
		dw_buf_putc(&req.body, '&');
		dw_uri_encode(&req.body, params->items[i].key, 0);
		dw_buf_putc(&req.body, '=');
		dw_uri_encode(&req.body, params->items[i].value, 0);
	}
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc)
		dw_error_context("%s %s", service, action);
	else if (dw_xml_parse(resp.body.data, resp.body.len, out))
		rc = dw_error_context("%s %s", service, action);
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

struct dw_aws_request *dw_aws_json_request_text(const char *service,
						const char *json_version,
						const char *target, const char *json,
						size_t len)
{
	struct dw_aws_request *req = dw_xmalloc(sizeof(*req));

	dw_aws_request_init(req, service, DW_PROTO_JSON, "POST", "/");
	dw_kv_addf(&req->headers, "Content-Type", "application/x-amz-json-%s", json_version);
	dw_kv_add(&req->headers, "X-Amz-Target", target);
	dw_buf_append(&req->body, json, len);
	return req;
}

struct dw_aws_request *dw_aws_json_request(const char *service,
					   const char *json_version,
					   const char *target, const cJSON *in)
{
	char *body = dw_json_print(in);
	struct dw_aws_request *req = dw_aws_json_request_text(service, json_version, target,
							      body ? body : "{}",
							      body ? strlen(body) : 2);

	cJSON_free(body);
	return req;
}

int dw_aws_json_parse(const struct dw_http_response *resp, cJSON **out)
{
	char why[sizeof(dw_error_last()->message)];

	if (resp->body.len == 0) {
		*out = cJSON_CreateObject();
		return 0;
	}
	if (dw_json_parse(resp->body.data, resp->body.len, "answer", out)) {
		/* A bad answer is the server's failure, not a rejected request. */
		snprintf(why, sizeof(why), "%s", dw_error_last()->message);
		return dw_fail("InvalidResponse", "%s", why);
	}
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return dw_fail("InvalidResponse", "the answer is not a JSON object");
	}
	return 0;
}

int dw_aws_json(struct dw_aws *aws, const char *service,
		const char *json_version, const char *target, const cJSON *in,
		cJSON **out)
{
	struct dw_aws_request *req = dw_aws_json_request(service, json_version, target, in);
	struct dw_http_response resp;
	int rc;

	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, req, &resp);
	if (rc == 0)
		rc = dw_aws_json_parse(&resp, out);
	dw_http_response_release(&resp);
	dw_aws_request_free(req);
	return rc;
}
