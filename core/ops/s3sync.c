/* s3sync.c - move an S3 prefix onto another (see dw/s3sync.h for the
 * order of steps and why it is crash-safe). */
#include "ops/s3sync.h"
#include "base/log.h"
#include "base/redact.h"
#include "aws/s3.h"
#include "base/timefmt.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One object of a listing, by its key relative to the listed prefix. */
struct entry {
	char *rel;
	long long size;
	char etag[80];
};

struct listing {
	size_t prefix_len;
	const char *marker_name;
	struct entry *v;
	size_t n, cap;
	int has_marker;
};

static void listing_release(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].rel);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int collect_object(void *ud, const struct dw_s3_object *o)
{
	struct listing *l = ud;
	const char *rel = o->key + l->prefix_len;

	if (strcmp(rel, l->marker_name) == 0) {
		l->has_marker = 1;
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = dw_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct entry *e = &l->v[l->n++];
	e->rel = dw_xstrdup(rel);
	e->size = o->size;
	snprintf(e->etag, sizeof(e->etag), "%s", o->etag);
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->rel, ((const struct entry *)b)->rel);
}

static const struct entry *listing_find(const struct listing *l, const char *rel)
{
	struct entry key = { .rel = (char *)rel };

	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), entry_cmp) : NULL;
}

static int list_prefix(struct dw_aws *aws, const char *bucket, const char *prefix,
		       const char *marker_name, struct listing *out)
{
	struct dw_s3_list req = {
		.bucket = bucket, .prefix = prefix,
		.on_object = collect_object, .ud = out,
	};

	memset(out, 0, sizeof(*out));
	out->prefix_len = strlen(prefix);
	out->marker_name = marker_name;
	if (dw_s3_list_objects(aws, &req)) {
		listing_release(out);
		return -1;
	}
	/* S3 lists in byte order already; sorting again costs little and
	 * makes the lookups independent of the endpoint. */
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), entry_cmp);
	return 0;
}

static int overlaps(const char *a, const char *b)
{
	return strncmp(a, b, strlen(a)) == 0 || strncmp(b, a, strlen(b)) == 0;
}

static int check_prefix(const char *prefix, const char *what)
{
	size_t n = prefix ? strlen(prefix) : 0;

	if (n == 0)
		return dw_invalid(what, "%s must not be empty (the bucket's root is never replaced)", what);
	if (prefix[n - 1] != '/')
		return dw_invalid(what, "%s must end with '/', not \"%s\"", what, prefix);
	return 0;
}

int dw_s3sync_check(const struct dw_s3sync *s)
{
	if (check_prefix(s->src_prefix, "source prefix") ||
	    check_prefix(s->dst_prefix, "destination prefix"))
		return -1;
	if (strcmp(s->src_bucket, s->dst_bucket) == 0 && overlaps(s->src_prefix, s->dst_prefix))
		return dw_invalid("destination prefix",
				  "s3://%s/%s and s3://%s/%s overlap: one would delete the other",
				  s->src_bucket, s->src_prefix, s->dst_bucket, s->dst_prefix);
	if (!s->marker_name || !*s->marker_name || strchr(s->marker_name, '/'))
		return dw_invalid("marker", "the marker needs a plain object name");
	return 0;
}

/* ---- the marker ---------------------------------------------------- */

struct marker {
	char *source;  /* "s3://bucket/prefix/" */
	char *version;
};

static char *source_url(const struct dw_s3sync *s)
{
	return dw_xasprintf("s3://%s/%s", s->src_bucket, s->src_prefix);
}

static char *marker_key(const struct dw_s3sync *s)
{
	return dw_xasprintf("%s%s", s->dst_prefix, s->marker_name);
}

static int read_marker(struct dw_aws *aws, const struct dw_s3sync *s, struct marker *m)
{
	char *key = marker_key(s);
	struct dw_buf body;
	cJSON *doc = NULL;
	int rc;

	dw_buf_init(&body);
	rc = dw_s3_get_object(aws, s->dst_bucket, key, 0, &body);
	if (rc == 0 && dw_json_parse(body.data ? body.data : "", body.len, "marker", &doc))
		doc = NULL; /* raised again as BadMarker below */
	if (rc == 0 && !cJSON_IsObject(doc))
		rc = dw_fail("BadMarker", "s3://%s/%s is not the JSON dwops writes; remove it to start over",
			     s->dst_bucket, key);
	if (rc == 0) {
		m->source = dw_xstrdup(dw_json_str(doc, "source") ?: "");
		m->version = dw_xstrdup(dw_json_str(doc, "version") ?: "");
	}
	cJSON_Delete(doc);
	dw_buf_release(&body);
	free(key);
	return rc;
}

static int write_marker(struct dw_aws *aws, const struct dw_s3sync *s, size_t objects)
{
	char now[32], *key = marker_key(s), *src = source_url(s), *text;
	cJSON *doc = cJSON_CreateObject();
	int rc;

	/* keys in sorted order, as the marker always had them */
	dw_time_format_iso(time(NULL), now);
	cJSON_AddStringToObject(doc, "finished_at", now);
	dw_json_add_int(doc, "objects", (long long)objects);
	cJSON_AddStringToObject(doc, "source", src);
	cJSON_AddStringToObject(doc, "version", s->version ? s->version : "");
	text = dw_json_print(doc);
	cJSON_Delete(doc);
	if (!text)
		abort(); /* out of memory, as dw_xmalloc */
	rc = dw_s3_put_object(aws, s->dst_bucket, key, text, strlen(text), "application/json");
	cJSON_free(text);
	free(src);
	free(key);
	return rc;
}

/* ---- copies ---------------------------------------------------------- */

struct copy_run {
	size_t submitted, done, failed;
	struct dw_error first;
};

static void copy_failed(struct copy_run *run, const struct dw_error *err)
{
	if (run->failed++ == 0)
		run->first = *err;
}

static void on_copied(void *ud, const struct dw_http_response *resp,
		      const struct dw_error *err)
{
	struct copy_run *run = ud;
	struct dw_error e;

	run->done++;
	if (!err && dw_s3_copy_result(resp, &e))
		err = &e;
	if (err) {
		copy_failed(run, err);
		return;
	}
	if (run->done % 1000 == 0)
		dw_info("copied %zu of %zu objects", run->done, run->submitted);
}

/* ---- copies in parts ------------------------------------------------- */

struct part_run {
	struct dw_s3_part *parts;
	size_t failed;
	struct dw_error first;
};

struct part_job {
	struct part_run *run;
	size_t index;
};

static void on_part(void *ud, const struct dw_http_response *resp,
		    const struct dw_error *err)
{
	struct part_job *job = ud;
	struct dw_error e;

	if (!err && dw_s3_upload_part_copy_parse(resp, &job->run->parts[job->index], &e))
		err = &e;
	if (err && job->run->failed++ == 0)
		job->run->first = *err;
}

/* Abort, so the parts copied so far are not kept (and billed); the error
 * that led here stays the one raised. */
static void abort_upload(struct dw_aws *aws, const char *bucket, const char *key,
			 const char *upload_id)
{
	struct dw_error saved;

	dw_error_save(&saved);
	if (dw_s3_abort_multipart_upload(aws, bucket, key, upload_id))
		dw_warn("could not abort the multipart upload of s3://%s/%s: %s", bucket, key,
			dw_error_last()->message);
	dw_error_restore(&saved);
}

static long long part_size_for(const struct dw_s3sync *s, long long size)
{
	long long part = s->part_size > 0 ? s->part_size : DW_S3SYNC_PART_SIZE;

	if (part < DW_S3SYNC_MIN_PART_SIZE)
		part = DW_S3SYNC_MIN_PART_SIZE;
	if ((size + part - 1) / part > 10000)
		part = (size + 9999) / 10000;
	return part;
}

/* UploadPartCopy for each part, concurrency in flight, then complete. */
static int copy_in_parts(struct dw_aws *aws, const struct dw_s3sync *s, const char *from,
			 const char *to, long long size)
{
	long long part = part_size_for(s, size);
	size_t n = (size_t)((size + part - 1) / part);
	int concurrency = s->concurrency > 0 ? s->concurrency : 32;
	struct part_run run = { .parts = dw_xcalloc(n, sizeof(*run.parts)) };
	struct part_job *jobs = dw_xcalloc(n, sizeof(*jobs));
	char *upload_id = NULL;
	int rc = dw_s3_create_multipart_upload(aws, s->dst_bucket, to, &upload_id);

	if (rc == 0) {
		dw_info("copying s3://%s/%s (%lld bytes) in %zu parts", s->src_bucket, from, size, n);
		struct dw_aws_pool *pool = dw_aws_pool_new(aws, concurrency);
		for (size_t i = 0; i < n; i++) {
			long long first = (long long)i * part;
			struct dw_s3_part_copy pc = {
				.src_bucket = s->src_bucket, .src_key = from,
				.dst_bucket = s->dst_bucket, .dst_key = to,
				.upload_id = upload_id, .part_number = (int)i + 1, .first = first,
				.last = first + part > size ? size - 1 : first + part - 1,
			};
			struct dw_aws_request *req = dw_s3_upload_part_copy_request(&pc);
			jobs[i] = (struct part_job){ &run, i };
			dw_aws_pool_submit(pool, req, on_part, &jobs[i]);
			dw_aws_pool_wait(pool, concurrency * 2);
		}
		dw_aws_pool_wait(pool, 0);
		dw_aws_pool_free(pool);
		if (run.failed) {
			dw_error_restore(&run.first);
			rc = -1;
		}
		if (rc == 0)
			rc = dw_s3_complete_multipart_upload(aws, s->dst_bucket, to, upload_id,
							     run.parts, n);
		if (rc)
			abort_upload(aws, s->dst_bucket, to, upload_id);
	}
	if (rc)
		dw_error_context("copying s3://%s/%s to s3://%s/%s in parts", s->src_bucket, from,
				 s->dst_bucket, to);
	free(upload_id);
	free(jobs);
	free(run.parts);
	return rc;
}

static int needs_copy(const struct listing *dst, const struct entry *e)
{
	const struct entry *have = listing_find(dst, e->rel);

	return !(have && have->size == e->size && strcmp(have->etag, e->etag) == 0);
}

static int is_large(const struct dw_s3sync *s, const struct entry *e)
{
	return e->size > (s->multipart_threshold > 0 ? s->multipart_threshold : DW_S3SYNC_COPY_LIMIT);
}

/* Objects in parts, one after another (their parts run concurrently). */
static int copy_large(struct dw_aws *aws, struct dw_s3sync *s, const struct listing *src,
		      const struct listing *dst)
{
	int rc = 0;

	for (size_t i = 0; i < src->n && rc == 0; i++) {
		const struct entry *e = &src->v[i];
		if (!is_large(s, e) || !needs_copy(dst, e))
			continue;
		char *from = dw_xasprintf("%s%s", s->src_prefix, e->rel);
		char *to = dw_xasprintf("%s%s", s->dst_prefix, e->rel);
		rc = copy_in_parts(aws, s, from, to, e->size);
		if (rc == 0) {
			s->copied++;
			s->bytes_copied += e->size;
		}
		free(from);
		free(to);
	}
	return rc;
}

static int copy_all(struct dw_aws *aws, struct dw_s3sync *s,
		    const struct listing *src, const struct listing *dst)
{
	int concurrency = s->concurrency > 0 ? s->concurrency : 32;
	struct dw_aws_pool *pool = dw_aws_pool_new(aws, concurrency);
	struct copy_run run = { 0 };
	long long bytes = 0;

	for (size_t i = 0; i < src->n; i++) {
		const struct entry *e = &src->v[i];
		if (!needs_copy(dst, e)) {
			s->unchanged++;
			continue;
		}
		if (is_large(s, e))
			continue;
		char *from = dw_xasprintf("%s%s", s->src_prefix, e->rel);
		char *to = dw_xasprintf("%s%s", s->dst_prefix, e->rel);
		dw_aws_pool_submit(pool, dw_s3_copy_request(s->src_bucket, from, s->dst_bucket, to),
				   on_copied, &run);
		free(from);
		free(to);
		run.submitted++;
		bytes += e->size;
		dw_aws_pool_wait(pool, concurrency * 2);
	}
	dw_aws_pool_wait(pool, 0);
	dw_aws_pool_free(pool);
	if (run.failed) {
		dw_error_restore(&run.first);
		return dw_error_context("%zu of %zu copies to s3://%s/%s failed; nothing was deleted",
					run.failed, run.submitted, s->dst_bucket, s->dst_prefix);
	}
	s->copied = run.submitted;
	s->bytes_copied = bytes;
	if (copy_large(aws, s, src, dst))
		return dw_error_context("nothing was deleted");
	dw_info("copied %lu objects (%lld bytes), %lu already in place", s->copied,
		s->bytes_copied, s->unchanged);
	return 0;
}

/* ---- deletes --------------------------------------------------------- */

struct delete_run {
	unsigned long failed;
	char first[512];
};

static void on_delete_failed(void *ud, const char *key, const char *code,
			     const char *message)
{
	struct delete_run *run = ud;

	if (run->failed++ == 0)
		dw_redact_format(run->first, sizeof(run->first), "%s: %s %s", key, code, message);
}

/* Delete prefix + rel for the entries keep() says no to, 1000 a call. */
static int delete_entries(struct dw_aws *aws, const char *bucket, const char *prefix,
			  const struct listing *l, const struct listing *keep,
			  unsigned long *deleted)
{
	const char *batch[1000];
	struct delete_run run = { 0 };
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i <= l->n && rc == 0; i++) {
		if (i < l->n && !(keep && listing_find(keep, l->v[i].rel)))
			batch[n++] = dw_xasprintf("%s%s", prefix, l->v[i].rel);
		if (n == 1000 || (i == l->n && n)) {
			rc = dw_s3_delete_objects(aws, bucket, batch, n, on_delete_failed, &run);
			if (rc == 0)
				*deleted += n;
			while (n)
				free((char *)batch[--n]);
		}
	}
	if (rc == 0 && run.failed) {
		*deleted -= run.failed;
		rc = dw_fail("DeleteFailed", "%lu objects under s3://%s/%s could not be deleted (first: %s)",
			     run.failed, bucket, prefix, run.first);
	}
	return rc;
}

/* ---- the move -------------------------------------------------------- */

/* With the listings made: decide, copy, delete stale, mark, delete source. */
static int move_listed(struct dw_aws *aws, struct dw_s3sync *s,
		       const struct listing *src, const struct listing *dst,
		       const struct marker *m)
{
	char *url = source_url(s);
	int finishing = m->source && strcmp(m->source, url) == 0;
	int rc = 0;

	if (src->n == 0 && finishing) {
		dw_info("s3://%s/%s already holds %s and the source is gone: nothing to do",
			s->dst_bucket, s->dst_prefix, url);
		s->already_done = 1;
	} else if (src->n == 0) {
		rc = dw_fail("SourceEmpty", "nothing under %s to move", url);
	} else if (!finishing && m->version && s->version && strcmp(m->version, s->version) > 0) {
		rc = dw_fail("NewerInPlace", "s3://%s/%s holds %s (version %s), newer than %s (version %s); not replacing it",
			     s->dst_bucket, s->dst_prefix, m->source, m->version, url, s->version);
	} else {
		if (finishing)
			dw_info("finishing an interrupted move of %s: the destination is complete, "
				"%zu source objects are left", url, src->n);
		rc = copy_all(aws, s, src, dst);
		/* A finishing run's source listing may be partial: never
		 * judge the destination by it. */
		if (rc == 0 && !finishing)
			rc = delete_entries(aws, s->dst_bucket, s->dst_prefix, dst, src, &s->stale_deleted);
		if (rc == 0 && !finishing)
			rc = write_marker(aws, s, src->n);
		if (rc == 0)
			rc = delete_entries(aws, s->src_bucket, s->src_prefix, src, NULL, &s->source_deleted);
		if (rc == 0)
			dw_info("moved %s to s3://%s/%s: %lu copied, %lu unchanged, %lu stale deleted, %lu source objects deleted",
				url, s->dst_bucket, s->dst_prefix, s->copied, s->unchanged,
				s->stale_deleted, s->source_deleted);
	}
	free(url);
	return rc;
}

int dw_s3sync_move(struct dw_aws *aws, struct dw_s3sync *s)
{
	struct listing src, dst;
	struct marker m = { 0 };
	int rc;

	if (dw_s3sync_check(s))
		return -1;
	if (list_prefix(aws, s->src_bucket, s->src_prefix, s->marker_name, &src))
		return -1;
	rc = list_prefix(aws, s->dst_bucket, s->dst_prefix, s->marker_name, &dst);
	if (rc) {
		listing_release(&src);
		return -1;
	}
	dw_info("s3://%s/%s: %zu objects; s3://%s/%s: %zu objects%s", s->src_bucket, s->src_prefix,
		src.n, s->dst_bucket, s->dst_prefix, dst.n, dst.has_marker ? " and a marker" : "");
	if (dst.has_marker)
		rc = read_marker(aws, s, &m);
	if (rc == 0)
		rc = move_listed(aws, s, &src, &dst, &m);
	free(m.source);
	free(m.version);
	listing_release(&src);
	listing_release(&dst);
	return rc;
}
