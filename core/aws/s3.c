/* s3.c - Amazon S3 over REST-XML. */
#include "aws/s3.h"
#include "base/log.h"
#include "base/redact.h"
#include "aws/sigv4.h"
#include "base/timefmt.h"
#include "base/xml.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void strip_quotes(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

struct dw_aws_request *dw_s3_list_request(const struct dw_s3_list *l,
					  const char *token)
{
	struct dw_aws_request *req = dw_xmalloc(sizeof(*req));

	dw_aws_request_init(req, "s3", DW_PROTO_REST_XML, "GET", "/");
	req->bucket = dw_xstrdup(l->bucket);
	dw_kv_add(&req->query, "list-type", "2");
	dw_kv_addf(&req->query, "max-keys", "%d", l->page_size > 0 ? l->page_size : 1000);
	if (l->prefix && *l->prefix)
		dw_kv_add(&req->query, "prefix", l->prefix);
	if (l->delimiter)
		dw_kv_add(&req->query, "delimiter", l->delimiter);
	if (token)
		dw_kv_add(&req->query, "continuation-token", token);
	else if (l->start_after)
		dw_kv_add(&req->query, "start-after", l->start_after);
	return req;
}

int dw_s3_list_parse(struct dw_s3_list *l, const struct dw_http_response *resp,
		     char **next_token)
{
	xmlDocPtr doc = NULL;
	int stop = 0;

	*next_token = NULL;
	if (dw_xml_parse(resp->body.data, resp->body.len, &doc))
		return -1;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	char key[2048], etag[128], modified[64], size[32];
	for (xmlNodePtr c = dw_xml_first(root, "Contents"); c && !stop;
	     c = dw_xml_next(c, "Contents")) {
		struct dw_s3_object o = {
			.key = dw_xml_textbuf(c, "Key", key, sizeof(key)),
			.size = atoll(dw_xml_textbuf(c, "Size", size, sizeof(size))),
			.etag = dw_xml_textbuf(c, "ETag", etag, sizeof(etag)),
			.last_modified = dw_xml_textbuf(c, "LastModified", modified, sizeof(modified)),
		};
		strip_quotes(etag);
		o.mtime = dw_time_parse_iso(o.last_modified);
		stop = l->on_object(l->ud, &o);
	}
	for (xmlNodePtr c = dw_xml_first(root, "CommonPrefixes"); c && !stop && l->on_prefix;
	     c = dw_xml_next(c, "CommonPrefixes"))
		stop = l->on_prefix(l->ud, dw_xml_textbuf(c, "Prefix", key, sizeof(key)));
	char truncated[8];
	dw_xml_textbuf(root, "IsTruncated", truncated, sizeof(truncated));
	if (!stop && strcmp(truncated, "true") == 0) {
		*next_token = dw_xml_text(root, "NextContinuationToken");
		/* More to come but no way to ask for it: taking the page as the
		 * last would plan (and delete) on a partial listing (issue 12 #9). */
		if (!*next_token || !**next_token) {
			free(*next_token);
			*next_token = NULL;
			stop = dw_fail("InvalidResponse", "S3 listed s3://%s/%s as truncated "
				       "(IsTruncated=true) without a NextContinuationToken: "
				       "the listing cannot be completed", l->bucket,
				       l->prefix ? l->prefix : "");
		}
	}
	xmlFreeDoc(doc);
	return stop < 0 ? -1 : 0;
}

static int list_page(struct dw_aws *aws, struct dw_s3_list *l, const char *token,
		     char **next_token)
{
	struct dw_aws_request *req = dw_s3_list_request(l, token);
	struct dw_http_response resp;
	int rc;

	*next_token = NULL;
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, req, &resp);
	l->pages++;
	if (rc == 0)
		rc = dw_s3_list_parse(l, &resp, next_token);
	else
		dw_error_context("listing s3://%s/%s", l->bucket, l->prefix ? l->prefix : "");
	dw_http_response_release(&resp);
	dw_aws_request_free(req);
	return rc;
}

int dw_s3_list_objects(struct dw_aws *aws, struct dw_s3_list *l)
{
	char *token = NULL;

	do {
		char *next = NULL;
		int rc = list_page(aws, l, token, &next);
		free(token);
		if (rc)
			return -1;
		token = next;
	} while (token);
	return 0;
}

int dw_s3_get_object(struct dw_aws *aws, const char *bucket, const char *key,
		     long long max_bytes, struct dw_buf *out)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	int rc;

	dw_aws_request_init(&req, "s3", DW_PROTO_REST_XML, "GET", key);
	req.bucket = dw_xstrdup(bucket);
	if (max_bytes > 0)
		dw_kv_addf(&req.headers, "Range", "bytes=0-%lld", max_bytes - 1);
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc == 0)
		dw_buf_append(out, resp.body.data, resp.body.len);
	else
		dw_error_context("reading s3://%s/%s", bucket, key);
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

int dw_s3_get_range(struct dw_aws *aws, const char *bucket, const char *key,
		    long long offset, long long len, const char *if_match,
		    struct dw_buf *out, long long *total, char *etag)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	const char *range, *tag;
	int rc;

	dw_aws_request_init(&req, "s3", DW_PROTO_REST_XML, "GET", key);
	req.bucket = dw_xstrdup(bucket);
	dw_kv_addf(&req.headers, "Range", "bytes=%lld-%lld", offset, offset + len - 1);
	if (if_match && *if_match)
		dw_kv_addf(&req.headers, "If-Match", "\"%s\"", if_match);
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc == 0) {
		dw_buf_append(out, resp.body.data, resp.body.len);
		/* 206 "Content-Range: bytes 0-99/12345"; a 200 is the whole object. */
		range = dw_kv_get(&resp.headers, "content-range", 1);
		const char *slash = range ? strrchr(range, '/') : NULL;
		*total = slash ? atoll(slash + 1) : offset + (long long)resp.body.len;
		tag = dw_kv_get(&resp.headers, "etag", 1);
		if (etag) {
			snprintf(etag, 128, "%s", tag ? tag : "");
			strip_quotes(etag);
		}
	} else if (offset == 0 && dw_error_is("InvalidRange")) {
		/* A range of an empty object cannot be satisfied. */
		*total = 0;
		if (etag)
			etag[0] = '\0';
		dw_error_clear();
		rc = 0;
	} else {
		dw_error_context("reading s3://%s/%s", bucket, key);
	}
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

int dw_s3_put_object(struct dw_aws *aws, const char *bucket, const char *key,
		     const void *data, size_t len, const char *content_type)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	int rc;

	dw_aws_request_init(&req, "s3", DW_PROTO_REST_XML, "PUT", key);
	req.bucket = dw_xstrdup(bucket);
	dw_buf_append(&req.body, data, len);
	if (content_type)
		dw_kv_add(&req.headers, "Content-Type", content_type);
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc)
		dw_error_context("writing s3://%s/%s", bucket, key);
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

static void content_md5(const struct dw_buf *body, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_Digest(body->data, body->len, md, &len, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)len);
}

int dw_s3_delete_objects(struct dw_aws *aws, const char *bucket,
			 const char *const *keys, size_t n,
			 dw_s3_delete_failed_fn on_failed, void *ud)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	xmlDocPtr doc = NULL;
	char md5[32];
	int rc;

	if (n == 0)
		return 0;
	if (n > 1000)
		return dw_fail("TooManyKeys", "DeleteObjects takes at most 1000 keys, not %zu", n);
	dw_aws_request_init(&req, "s3", DW_PROTO_REST_XML, "POST", "/");
	req.bucket = dw_xstrdup(bucket);
	dw_kv_add(&req.query, "delete", "");
	dw_buf_puts(&req.body, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
	for (size_t i = 0; i < n; i++) {
		dw_buf_puts(&req.body, "<Object><Key>");
		dw_xml_escape(&req.body, keys[i]);
		dw_buf_puts(&req.body, "</Key></Object>");
	}
	dw_buf_puts(&req.body, "</Delete>");
	content_md5(&req.body, md5);
	dw_kv_add(&req.headers, "Content-MD5", md5);
	dw_kv_add(&req.headers, "Content-Type", "application/xml");
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc == 0 && resp.body.len && dw_xml_parse(resp.body.data, resp.body.len, &doc) == 0) {
		xmlNodePtr root = xmlDocGetRootElement(doc);
		char key[2048], code[128], msg[512];
		for (xmlNodePtr e = dw_xml_first(root, "Error"); e && on_failed;
		     e = dw_xml_next(e, "Error")) {
			char *m = dw_xml_text(e, "Message");
			dw_redact_copy(msg, sizeof(msg), m); /* masked in full, then cut */
			free(m);
			on_failed(ud, dw_xml_textbuf(e, "Key", key, sizeof(key)),
				  dw_xml_textbuf(e, "Code", code, sizeof(code)), msg);
		}
	} else if (rc) {
		dw_error_context("deleting %zu objects from s3://%s", n, bucket);
	}
	xmlFreeDoc(doc);
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

struct dw_aws_request *dw_s3_copy_request(const char *src_bucket,
					  const char *src_key,
					  const char *dst_bucket,
					  const char *dst_key)
{
	struct dw_aws_request *req = dw_xmalloc(sizeof(*req));
	struct dw_buf source;

	dw_aws_request_init(req, "s3", DW_PROTO_REST_XML, "PUT", dst_key);
	req->bucket = dw_xstrdup(dst_bucket);
	dw_buf_init(&source);
	dw_buf_printf(&source, "/%s/", src_bucket);
	dw_uri_encode(&source, src_key, 1);
	dw_kv_add(&req->headers, "X-Amz-Copy-Source", source.data);
	dw_buf_release(&source);
	return req;
}

/* Copies and multipart completions may answer 200 with the error in the
 * body; 1 (and *e filled) when this one did. */
static int body_error(const struct dw_http_response *resp, struct dw_error *e)
{
	if (!resp->body.data || !strstr(resp->body.data, "<Error>"))
		return 0;
	memset(e, 0, sizeof(*e));
	e->kind = DW_FAILED;
	e->http_status = resp->status;
	dw_aws_error_parse(DW_PROTO_REST_XML, resp, e->code, sizeof(e->code),
			   e->message, sizeof(e->message));
	if (dw_aws_code_retryable(e->code))
		e->kind = DW_TRANSIENT;
	return 1;
}

int dw_s3_copy_result(const struct dw_http_response *resp, struct dw_error *e)
{
	return body_error(resp, e) ? -1 : 0;
}

/* ---- multipart uploads -------------------------------------------------- */

/* A request on key of an upload: ?uploads (upload_id NULL) or ?uploadId=. */
static void upload_request(struct dw_aws_request *req, const char *method,
			   const char *bucket, const char *key, const char *upload_id)
{
	dw_aws_request_init(req, "s3", DW_PROTO_REST_XML, method, key);
	req->bucket = dw_xstrdup(bucket);
	if (upload_id)
		dw_kv_add(&req->query, "uploadId", upload_id);
	else
		dw_kv_add(&req->query, "uploads", "");
}

int dw_s3_create_multipart_upload(struct dw_aws *aws, const char *bucket,
				  const char *key, char **upload_id)
{
	return dw_s3_create_upload(aws, bucket, key, NULL, upload_id);
}

int dw_s3_create_upload(struct dw_aws *aws, const char *bucket, const char *key,
			const char *content_type, char **upload_id)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	xmlDocPtr doc = NULL;
	int rc;

	*upload_id = NULL;
	upload_request(&req, "POST", bucket, key, NULL);
	if (content_type)
		dw_kv_add(&req.headers, "Content-Type", content_type);
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc == 0)
		rc = dw_xml_parse(resp.body.data, resp.body.len, &doc);
	if (rc == 0 && !(*upload_id = dw_xml_text(xmlDocGetRootElement(doc), "UploadId")))
		rc = dw_fail("InvalidResponse", "CreateMultipartUpload answered without an UploadId");
	xmlFreeDoc(doc);
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

int dw_s3_upload_part(struct dw_aws *aws, const char *bucket, const char *key,
		      const char *upload_id, int part_number, const void *data,
		      size_t len, struct dw_s3_part *out)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	int rc;

	dw_aws_request_init(&req, "s3", DW_PROTO_REST_XML, "PUT", key);
	req.bucket = dw_xstrdup(bucket);
	dw_kv_addf(&req.query, "partNumber", "%d", part_number);
	dw_kv_add(&req.query, "uploadId", upload_id);
	/* else libcurl says application/x-www-form-urlencoded, and a server
	 * may read the part as a form (moto then stores it empty) */
	dw_kv_add(&req.headers, "Content-Type", "application/octet-stream");
	dw_buf_append(&req.body, data, len);
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc == 0) {
		const char *etag = dw_kv_get(&resp.headers, "etag", 1);
		if (!etag || !*etag || strlen(etag) >= sizeof(out->etag))
			rc = dw_fail("InvalidResponse", "UploadPart answered without an ETag");
		else
			snprintf(out->etag, sizeof(out->etag), "%s", etag);
	}
	if (rc)
		dw_error_context("writing part %d of s3://%s/%s", part_number, bucket, key);
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

struct dw_aws_request *dw_s3_upload_part_copy_request(const struct dw_s3_part_copy *in)
{
	struct dw_aws_request *req = dw_s3_copy_request(in->src_bucket, in->src_key,
							in->dst_bucket, in->dst_key);

	dw_kv_addf(&req->query, "partNumber", "%d", in->part_number);
	dw_kv_add(&req->query, "uploadId", in->upload_id);
	dw_kv_addf(&req->headers, "x-amz-copy-source-range", "bytes=%lld-%lld", in->first,
		   in->last);
	return req;
}

int dw_s3_upload_part_copy_parse(const struct dw_http_response *resp,
				 struct dw_s3_part *out, struct dw_error *e)
{
	xmlDocPtr doc = NULL;
	int rc = 0;

	if (body_error(resp, e))
		return -1;
	if (dw_xml_parse(resp->body.data, resp->body.len, &doc) != 0 ||
	    !*dw_xml_textbuf(xmlDocGetRootElement(doc), "ETag", out->etag, sizeof(out->etag))) {
		*e = (struct dw_error){ .kind = DW_FAILED, .code = "InvalidResponse",
					.message = "UploadPartCopy answered without an ETag" };
		rc = -1;
	}
	xmlFreeDoc(doc);
	return rc;
}

int dw_s3_complete_multipart_upload(struct dw_aws *aws, const char *bucket,
				    const char *key, const char *upload_id,
				    const struct dw_s3_part *parts, size_t n)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	struct dw_error e;
	int rc;

	upload_request(&req, "POST", bucket, key, upload_id);
	dw_kv_add(&req.headers, "Content-Type", "application/xml");
	dw_buf_puts(&req.body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (size_t i = 0; i < n; i++) {
		dw_buf_printf(&req.body, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
		dw_xml_escape(&req.body, parts[i].etag);
		dw_buf_puts(&req.body, "</ETag></Part>");
	}
	dw_buf_puts(&req.body, "</CompleteMultipartUpload>");
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc == 0 && body_error(&resp, &e)) {
		dw_error_restore(&e);
		rc = -1;
	}
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

/* One page of ListMultipartUploads: the uploads to on_upload, and the
 * markers of the next page (new strings; NULL after the last). */
static int uploads_page(struct dw_aws *aws, const char *bucket, const char *prefix,
			char **key_marker, char **id_marker, dw_s3_upload_fn on_upload, void *ud)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	xmlDocPtr doc = NULL;
	char key[2048], id[1024], truncated[8];
	int rc;

	upload_request(&req, "GET", bucket, "/", NULL);
	if (prefix && *prefix)
		dw_kv_add(&req.query, "prefix", prefix);
	if (*key_marker)
		dw_kv_add(&req.query, "key-marker", *key_marker);
	if (*id_marker)
		dw_kv_add(&req.query, "upload-id-marker", *id_marker);
	free(*key_marker);
	free(*id_marker);
	*key_marker = *id_marker = NULL;
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	if (rc == 0)
		rc = dw_xml_parse(resp.body.data, resp.body.len, &doc);
	xmlNodePtr root = rc == 0 ? xmlDocGetRootElement(doc) : NULL;
	for (xmlNodePtr u = root ? dw_xml_first(root, "Upload") : NULL; rc == 0 && u;
	     u = dw_xml_next(u, "Upload"))
		rc = on_upload(ud, dw_xml_textbuf(u, "Key", key, sizeof(key)),
			       dw_xml_textbuf(u, "UploadId", id, sizeof(id)));
	if (rc == 0 && strcmp(dw_xml_textbuf(root, "IsTruncated", truncated, sizeof(truncated)),
			      "true") == 0) {
		*key_marker = dw_xml_text(root, "NextKeyMarker");
		*id_marker = dw_xml_text(root, "NextUploadIdMarker");
		if (!*key_marker || !**key_marker)
			rc = dw_fail("InvalidResponse", "ListMultipartUploads answered a truncated "
				     "page without NextKeyMarker");
	}
	xmlFreeDoc(doc);
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

int dw_s3_list_uploads(struct dw_aws *aws, const char *bucket, const char *prefix,
		       dw_s3_upload_fn on_upload, void *ud)
{
	char *key_marker = NULL, *id_marker = NULL;
	int rc;

	do {
		rc = uploads_page(aws, bucket, prefix, &key_marker, &id_marker, on_upload, ud);
	} while (rc == 0 && key_marker);
	free(key_marker);
	free(id_marker);
	if (rc)
		return dw_error_context("listing the multipart uploads of s3://%s/%s", bucket,
					prefix ? prefix : "");
	return 0;
}

int dw_s3_abort_multipart_upload(struct dw_aws *aws, const char *bucket,
				 const char *key, const char *upload_id)
{
	struct dw_aws_request req;
	struct dw_http_response resp;
	int rc;

	upload_request(&req, "DELETE", bucket, key, upload_id);
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, &req, &resp);
	dw_http_response_release(&resp);
	dw_aws_request_release(&req);
	return rc;
}

int dw_s3_parse_url(const char *url, const char *field, char **bucket,
		    char **prefix)
{
	const char *b, *slash;

	if (!url || strncmp(url, "s3://", 5) != 0 || !url[5] || url[5] == '/')
		return dw_invalid(field, "%s must look like s3://bucket/prefix/", field);
	b = url + 5;
	slash = strchr(b, '/');
	*bucket = slash ? dw_xstrndup(b, (size_t)(slash - b)) : dw_xstrdup(b);
	*prefix = dw_xstrdup(slash ? slash + 1 : "");
	return 0;
}
