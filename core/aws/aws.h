/* dw/aws.h - the AWS client: endpoints, signing, retries, and the three
 * wire protocols (query/XML, JSON 1.0/1.1, REST-XML).
 *
 * Retries follow AWS's "standard" mode: up to max_attempts tries, with
 * exponential backoff and full jitter, on throttling error codes, 5xx and
 * transport errors; never on other 4xx.  When retries run out on a
 * retryable failure the error is DW_TRANSIENT (exit 75). */
#ifndef DW_AWS_H
#define DW_AWS_H

#include "base/json.h"
#include <libxml/tree.h>
#include "base/buf.h"
#include "aws/creds.h"
#include "aws/http.h"

enum dw_aws_protocol { DW_PROTO_QUERY, DW_PROTO_JSON, DW_PROTO_REST_XML };

struct dw_aws_config {
	const char *region;        /* NULL: AWS_REGION, AWS_DEFAULT_REGION, profile */
	const char *profile;       /* NULL: AWS_PROFILE or "default" */
	const char *endpoint_url;  /* for every service; NULL: environment */
	const cJSON *endpoints;   /* {"sqs": "http://..."}; may be NULL */
	int max_attempts;          /* 0: AWS_MAX_ATTEMPTS or 3 */
	long timeout_ms;           /* per request; 0: 60 s */
};

struct dw_aws;
/* A client with these credentials (copied; NULL: none yet).  The region is
 * resolved and checked now.  Operators open theirs with the credential
 * chain through dw_session_open (aws/session.h). */
int dw_aws_new_with_creds(struct dw_aws **out, const struct dw_aws_config *cfg,
			  const struct dw_creds *creds);
/* Replace the client's credentials by a copy of creds. */
void dw_aws_set_creds(struct dw_aws *aws, const struct dw_creds *creds);
void dw_aws_free(struct dw_aws *aws);
const char *dw_aws_region(const struct dw_aws *aws);
/* Where the credentials came from: "env", "profile", "assume-role", ... */
const char *dw_aws_credentials_source(const struct dw_aws *aws);
/* "https://sqs.us-east-1.amazonaws.com" or the configured override. */
const char *dw_aws_endpoint(struct dw_aws *aws, const char *service);
/* 1 when service talks to a custom endpoint (S3 then uses path style). */
int dw_aws_custom_endpoint(struct dw_aws *aws, const char *service);

struct dw_aws_stats {
	unsigned long requests; /* HTTP attempts sent */
	unsigned long retries;
};
const struct dw_aws_stats *dw_aws_stats(const struct dw_aws *aws);
/* Tries per call (the request's max_attempts, AWS_MAX_ATTEMPTS or 3). */
int dw_aws_max_attempts(const struct dw_aws *aws);

struct dw_aws_request {
	const char *service;  /* endpoint and signing name: "s3", "sqs", ... */
	enum dw_aws_protocol protocol;
	const char *method;
	char *bucket;         /* S3: addressed path- or virtual-host-style */
	char *path;           /* raw path (after the bucket for S3) */
	struct dw_kvlist query;
	struct dw_kvlist headers;
	struct dw_buf body;
};

void dw_aws_request_init(struct dw_aws_request *r, const char *service,
			 enum dw_aws_protocol protocol, const char *method,
			 const char *path);
void dw_aws_request_release(struct dw_aws_request *r);
/* Release and free a request made on the heap (dw_aws_json_request,
 * dw_s3_list_request, ...); NULL is fine. */
void dw_aws_request_free(struct dw_aws_request *r);

/* Send with signing and retries: the pool's single-request case (the
 * client's own pool of one), so there is one way of signing, sending,
 * classifying and backing off.  On a 2xx answer returns 0 with resp
 * filled; otherwise -1 with the AWS error code and message raised (and
 * resp still holding the last answer, e.g. to look at a 404). */
int dw_aws_send(struct dw_aws *aws, const struct dw_aws_request *req,
		struct dw_http_response *resp);

/* Many requests in flight: a pool submits prepared requests through one
 * libcurl multi handle, retries each per the policy, and calls done with
 * err NULL on success or the final error. */
typedef void (*dw_aws_done_fn)(void *ud, const struct dw_http_response *resp,
			       const struct dw_error *err);
struct dw_aws_pool;
struct dw_aws_pool *dw_aws_pool_new(struct dw_aws *aws, int concurrency);
void dw_aws_pool_free(struct dw_aws_pool *p);
/* Takes ownership of req (the pool frees it). */
void dw_aws_pool_submit(struct dw_aws_pool *p, struct dw_aws_request *req,
			dw_aws_done_fn done, void *ud);
/* The same, sent no sooner than delay_ms from now (retrying part of an
 * answer, e.g. a batch's failed entries, after a backoff).  May be called
 * from a done callback. */
void dw_aws_pool_submit_after(struct dw_aws_pool *p, struct dw_aws_request *req,
			      long delay_ms, dw_aws_done_fn done, void *ud);
/* Run until at most max_pending requests are queued or in flight. */
void dw_aws_pool_wait(struct dw_aws_pool *p, int max_pending);
int dw_aws_pool_pending(const struct dw_aws_pool *p);

/* Query protocol (RDS, STS, CloudWatch): Action=...&Version=...&params.
 * *out is the parsed XML answer. */
int dw_aws_query(struct dw_aws *aws, const char *service, const char *version,
		 const char *action, const struct dw_kvlist *params,
		 xmlDocPtr *out);

/* JSON protocol: target like "AmazonSQS.SendMessageBatch", json_version
 * "1.0" or "1.1".  in is borrowed; *out is a new tree the caller deletes
 * (an empty object for an empty answer). */
int dw_aws_json(struct dw_aws *aws, const char *service,
		const char *json_version, const char *target, const cJSON *in,
		cJSON **out);
/* The same, split for pools: build the request, and parse an answer. */
struct dw_aws_request *dw_aws_json_request(const char *service,
					   const char *json_version,
					   const char *target,
					   const cJSON *in);
int dw_aws_json_parse(const struct dw_http_response *resp, cJSON **out);
/* The same from JSON text the caller built (len bytes of json). */
struct dw_aws_request *dw_aws_json_request_text(const char *service,
						const char *json_version,
						const char *target, const char *json,
						size_t len);

/* The AWS error in an answer: code and message, per protocol. */
void dw_aws_error_parse(enum dw_aws_protocol protocol,
			const struct dw_http_response *resp, char *code,
			size_t code_len, char *msg, size_t msg_len);
/* 1 when a code is one of AWS's throttling or transient codes. */
int dw_aws_code_retryable(const char *code);

/* Milliseconds of full-jitter backoff before attempt n (1-based retry). */
long dw_aws_backoff_ms(int retry);

#endif
