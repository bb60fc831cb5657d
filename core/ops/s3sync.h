/* dw/s3sync.h - move an S3 prefix onto another, replacing what was there:
 * server-side copies (many in flight), then the objects the destination
 * has and the source does not are deleted, then the source.
 *
 * Crash safety: nothing is deleted before every copy succeeded, and before
 * the source is deleted a marker object under the destination records that
 * the destination is complete for this source.  A re-run after a crash
 * while the source was being deleted sees the marker, so it does not take
 * the (now partial) source listing as the truth and never deletes the only
 * copy of an object. */
#ifndef DW_S3SYNC_H
#define DW_S3SYNC_H

#include "aws/aws.h"

/* CopyObject's limit; larger objects are copied in parts (UploadPartCopy). */
#define DW_S3SYNC_COPY_LIMIT (5LL * 1024 * 1024 * 1024)
#define DW_S3SYNC_PART_SIZE (512LL * 1024 * 1024)
#define DW_S3SYNC_MIN_PART_SIZE (5LL * 1024 * 1024)

struct dw_s3sync {
	const char *src_bucket;
	const char *src_prefix;  /* non-empty, ends with '/' */
	const char *dst_bucket;
	const char *dst_prefix;  /* non-empty, ends with '/' */
	/* Key under dst_prefix of the marker (never copied nor deleted as
	 * stale), e.g. "_dwops_promoted.json". */
	const char *marker_name;
	/* Orders moves onto the same destination (an ISO time, say): a move
	 * older than the one the marker records is refused.  May be NULL. */
	const char *version;
	int concurrency;         /* copies (and parts) in flight; 0: 32 */
	/* Objects larger than this are copied in parts of part_size (raised
	 * when an object would need more than 10000 parts).  0: the limit of
	 * CopyObject, and 512 MiB parts. */
	long long multipart_threshold;
	long long part_size;

	/* out */
	unsigned long copied;        /* CopyObject calls that succeeded */
	unsigned long unchanged;     /* already at the destination (same ETag and size) */
	unsigned long stale_deleted; /* destination objects the source lacked */
	unsigned long source_deleted;
	long long bytes_copied;
	int already_done;            /* the source was gone and the marker names it */
};

/* Check prefixes and limits (DW_INVALID) without calling AWS. */
int dw_s3sync_check(const struct dw_s3sync *s);
/* The whole move; a re-run after any failure finishes it. */
int dw_s3sync_move(struct dw_aws *aws, struct dw_s3sync *s);

#endif
