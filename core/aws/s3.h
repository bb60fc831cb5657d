/* dw/s3.h - Amazon S3 (REST-XML). */
#ifndef DW_S3_H
#define DW_S3_H

#include <time.h>
#include "aws/aws.h"

struct dw_s3_object {
	const char *key;
	long long size;
	const char *etag;          /* without quotes */
	const char *last_modified; /* ISO 8601 as S3 gives it */
	time_t mtime;
};

/* Called for each object; return 0 to go on, 1 to stop listing, -1 to
 * stop with the error the callback raised. */
typedef int (*dw_s3_object_fn)(void *ud, const struct dw_s3_object *obj);
/* Called for each common prefix when listing with a delimiter. */
typedef int (*dw_s3_prefix_fn)(void *ud, const char *prefix);

struct dw_s3_list {
	const char *bucket;
	const char *prefix;      /* may be NULL */
	const char *start_after; /* may be NULL */
	const char *delimiter;   /* may be NULL */
	int page_size;           /* 0: 1000 */
	dw_s3_object_fn on_object;
	dw_s3_prefix_fn on_prefix; /* may be NULL */
	void *ud;
	unsigned long pages;     /* out: ListObjectsV2 calls made */
};

/* ListObjectsV2 across every page, streaming each object to on_object. */
int dw_s3_list_objects(struct dw_aws *aws, struct dw_s3_list *l);
/* The same one page at a time, for pools: the request for a page (token
 * NULL for the first), and the parse of its answer, which streams the
 * page's objects to l->on_object and sets *next_token (a new string, NULL
 * after the last page).  l->pages is left to the caller. */
struct dw_aws_request *dw_s3_list_request(const struct dw_s3_list *l,
					  const char *token);
int dw_s3_list_parse(struct dw_s3_list *l, const struct dw_http_response *resp,
		     char **next_token);

/* GetObject; max_bytes > 0 asks for only the first bytes (Range). */
int dw_s3_get_object(struct dw_aws *aws, const char *bucket, const char *key,
		     long long max_bytes, struct dw_buf *out);
/* GetObject of the len bytes from offset (a ranged GET), appended to out,
 * for reading large objects piece by piece.  *total gets the object's size
 * and etag (at least 128 bytes, may be NULL) its ETag from the answer;
 * if_match (may be NULL) asks for exactly that version (a changed object
 * fails with PreconditionFailed).  An empty object gives *total 0. */
int dw_s3_get_range(struct dw_aws *aws, const char *bucket, const char *key,
		    long long offset, long long len, const char *if_match,
		    struct dw_buf *out, long long *total, char *etag);
int dw_s3_put_object(struct dw_aws *aws, const char *bucket, const char *key,
		     const void *data, size_t len, const char *content_type);

/* DeleteObjects for up to 1000 keys.  on_failed (may be NULL) is called
 * for each key S3 could not delete; the call fails only when the request
 * itself does. */
typedef void (*dw_s3_delete_failed_fn)(void *ud, const char *key,
				       const char *code, const char *message);
int dw_s3_delete_objects(struct dw_aws *aws, const char *bucket,
			 const char *const *keys, size_t n,
			 dw_s3_delete_failed_fn on_failed, void *ud);

/* A CopyObject request (server-side copy) for a pool. */
struct dw_aws_request *dw_s3_copy_request(const char *src_bucket,
					  const char *src_key,
					  const char *dst_bucket,
					  const char *dst_key);

/* A CopyObject or UploadPartCopy answer may be 200 with the error in its
 * body: 0 when it is not, else -1 with *e filled (DW_TRANSIENT when the
 * code is a retryable one). */
int dw_s3_copy_result(const struct dw_http_response *resp, struct dw_error *e);

/* ---- multipart uploads (server-side copies in parts) ------------------- */

#define DW_S3_ETAG_MAX 128

struct dw_s3_part {
	char etag[DW_S3_ETAG_MAX];
};

/* CreateMultipartUpload: *upload_id is a new string. */
int dw_s3_create_multipart_upload(struct dw_aws *aws, const char *bucket,
				  const char *key, char **upload_id);
/* The same with the object's Content-Type (NULL: none). */
int dw_s3_create_upload(struct dw_aws *aws, const char *bucket, const char *key,
			const char *content_type, char **upload_id);

/* UploadPart: len bytes as part part_number (1-based) of the upload; 0
 * with out->etag from the answer.  Every part but the last must hold at
 * least DW_S3_MIN_PART bytes (S3 refuses the completion otherwise). */
#define DW_S3_MIN_PART (5u << 20)
int dw_s3_upload_part(struct dw_aws *aws, const char *bucket, const char *key,
		      const char *upload_id, int part_number, const void *data,
		      size_t len, struct dw_s3_part *out);

struct dw_s3_part_copy {
	const char *src_bucket, *src_key;
	const char *dst_bucket, *dst_key;
	const char *upload_id;
	int part_number;        /* 1-based */
	long long first, last;  /* the source's bytes, inclusive */
};
/* An UploadPartCopy request for a pool, and the parse of its answer: 0
 * with out->etag, or -1 with *e filled. */
struct dw_aws_request *dw_s3_upload_part_copy_request(const struct dw_s3_part_copy *in);
int dw_s3_upload_part_copy_parse(const struct dw_http_response *resp,
				 struct dw_s3_part *out, struct dw_error *e);

/* CompleteMultipartUpload with parts 1..n (an error in a 200 answer is
 * raised too). */
int dw_s3_complete_multipart_upload(struct dw_aws *aws, const char *bucket,
				    const char *key, const char *upload_id,
				    const struct dw_s3_part *parts, size_t n);
/* ListMultipartUploads under prefix across every page: on_upload gets
 * each open upload's key and id (return 0 to go on, -1 to stop with the
 * error it raised). */
typedef int (*dw_s3_upload_fn)(void *ud, const char *key, const char *upload_id);
int dw_s3_list_uploads(struct dw_aws *aws, const char *bucket, const char *prefix,
		       dw_s3_upload_fn on_upload, void *ud);
/* AbortMultipartUpload (the parts copied so far are dropped, not billed). */
int dw_s3_abort_multipart_upload(struct dw_aws *aws, const char *bucket,
				 const char *key, const char *upload_id);

/* Split "s3://bucket/prefix" into new strings (prefix may be ""). */
int dw_s3_parse_url(const char *url, const char *field, char **bucket,
		    char **prefix);

#endif
