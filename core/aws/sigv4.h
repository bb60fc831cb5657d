/* dw/sigv4.h - AWS Signature Version 4 (OpenSSL HMAC/SHA-256). */
#ifndef DW_SIGV4_H
#define DW_SIGV4_H

#include <stddef.h>
#include "base/buf.h"

struct dw_creds;

struct dw_sigv4_input {
	const char *method;
	const char *path;              /* raw, not yet percent-encoded */
	const struct dw_kvlist *query; /* raw names and values */
	const struct dw_kvlist *headers; /* as sent; must include host */
	const void *body;
	size_t body_len;
	const char *payload_hash;      /* hex, "UNSIGNED-PAYLOAD", or NULL: hash body */
	const char *region;
	const char *service;
	const char *amz_date;          /* YYYYMMDDTHHMMSSZ */
	const struct dw_creds *creds;
	int s3_path;                   /* S3: no normalisation, encode once */
};

struct dw_sigv4_output {
	char *canonical_request;
	char *string_to_sign;
	char *authorization;
};

/* Compute the canonical request, string to sign and Authorization value. */
int dw_sigv4_sign(const struct dw_sigv4_input *in, struct dw_sigv4_output *out);
void dw_sigv4_output_release(struct dw_sigv4_output *out);
/* The hex signature of a string to sign with in's credentials, date,
 * region and service (the last step of dw_sigv4_sign). */
void dw_sigv4_signature(const struct dw_sigv4_input *in,
			const char *string_to_sign, char out[65]);

/* RFC 3986 encoding as SigV4 wants it: unreserved characters kept, others
 * %XX (upper case); '/' kept when keep_slash. */
void dw_uri_encode(struct dw_buf *out, const char *s, int keep_slash);
/* The path with "." and ".." segments and repeated slashes removed. */
char *dw_path_normalize(const char *path);
/* Lower-case hex SHA-256 of data into out[65]. */
void dw_sha256_hex(const void *data, size_t len, char out[65]);

#endif
