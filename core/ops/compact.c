/* compact.c - dw-etl compact: small Avro files into big ones (see
 * ops/compact.h). */
#include "ops/compact.h"
#include "aws/aws.h"
#include "aws/s3.h"
#include "base/avro.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The header of a file is read with a ranged GET of this many bytes (the
 * whole file when the header is longer). */
#define HEADER_PROBE_BYTES (64 << 10)
#define DELETE_BATCH 1000

struct file {
	char *key;
	long long size;
	char *group;     /* "<codec>\n<schema>" once the header was read */
	int done;        /* packed into a bin, or settled by a marker */
	int merged;      /* merged (dry run: would be) */
	int gone;        /* deleted while finishing a marker */
};

struct files {
	struct file *v;
	size_t n, cap;
};

struct marker {
	char *key;
};

struct scan {
	struct files data;
	char **markers;
	size_t nmarkers;
	const char *marker_dir;
};

void dw_compact_result_init(struct dw_compact_result *r)
{
	memset(r, 0, sizeof(*r));
	r->plan = cJSON_CreateArray();
}

void dw_compact_result_release(struct dw_compact_result *r)
{
	cJSON_Delete(r->plan);
	memset(r, 0, sizeof(*r));
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int on_object(void *ud, const struct dw_s3_object *obj)
{
	struct scan *s = ud;

	if (strncmp(obj->key, s->marker_dir, strlen(s->marker_dir)) == 0) {
		if (has_suffix(obj->key, ".json")) {
			s->markers = dw_xrealloc(s->markers, (s->nmarkers + 1) * sizeof(char *));
			s->markers[s->nmarkers++] = dw_xstrdup(obj->key);
		}
		return 0;
	}
	if (!has_suffix(obj->key, ".avro"))
		return 0;
	if (s->data.n == s->data.cap) {
		s->data.cap = s->data.cap ? 2 * s->data.cap : 64;
		s->data.v = dw_xrealloc(s->data.v, s->data.cap * sizeof(*s->data.v));
	}
	struct file *f = &s->data.v[s->data.n++];
	memset(f, 0, sizeof(*f));
	f->key = dw_xstrdup(obj->key);
	f->size = obj->size;
	return 0;
}

static void scan_release(struct scan *s)
{
	for (size_t i = 0; i < s->data.n; i++) {
		free(s->data.v[i].key);
		free(s->data.v[i].group);
	}
	free(s->data.v);
	for (size_t i = 0; i < s->nmarkers; i++)
		free(s->markers[i]);
	free(s->markers);
}

static size_t folder_len(const char *key)
{
	const char *slash = strrchr(key, '/');

	return slash ? (size_t)(slash - key) : 0;
}

static int same_folder(const char *a, const char *b)
{
	size_t n = folder_len(a);

	return n == folder_len(b) && strncmp(a, b, n) == 0;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->key, ((const struct file *)b)->key);
}

static struct file *find_file(struct files *fs, const char *key)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].key, key) == 0)
			return &fs->v[i];
	return NULL;
}

/* ---- the lease ------------------------------------------------------------ */

/* Renew our own lease when a third of it is gone (between steps). */
static int keep_lease(struct dw_aws *aws, const struct dw_compact_opts *o)
{
	struct timespec ts;
	long long now;

	if (!o->own_lease || !o->lock)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (now < o->own_lease->expires_ms - 2 * o->lock->ttl_ms / 3)
		return 0;
	dw_lock_lease_release(o->own_lease);
	return dw_lock_renew(aws, o->lock, o->own_lease);
}

/* Just before inputs are deleted: the lease is ours, the token current. */
static int check_lease(struct dw_aws *aws, const struct dw_compact_opts *o)
{
	struct dw_lock_lease l;
	int rc;

	if (!o->lock)
		return 0;
	if (keep_lease(aws, o))
		return -1;
	rc = dw_lock_check(aws, o->lock, &l);
	dw_lock_lease_release(&l);
	if (rc)
		return dw_error_context("compaction stops before deleting inputs");
	return 0;
}

int dw_compact_lock_from_env(struct dw_lock_opts *o)
{
	const char *resource = getenv("DW_LOCK_RESOURCE"), *mode = getenv("DW_LOCK_MODE");
	const char *token = getenv("DW_LOCK_FENCING_TOKEN");

	if (!resource || !mode || !token || !getenv("DW_LOCK_HOLDER"))
		return 0;
	if (strcmp(mode, "write") != 0)
		return dw_invalid("lock", "compaction runs under a write lease, but dw-lock exec holds a %s lease on %s",
				  mode, resource);
	dw_lock_opts_init(o);
	o->write = 1;
	o->resource = resource;
	o->holder = getenv("DW_LOCK_HOLDER");
	o->lease_id = getenv("DW_LOCK_LEASE_ID");
	o->fence = strtoll(token, NULL, 10);
	if (getenv("DW_LOCK_TABLE"))
		o->table = getenv("DW_LOCK_TABLE");
	return 1;
}

/* ---- markers -------------------------------------------------------------- */

static int put_marker(struct dw_aws *aws, const struct dw_compact_opts *o, const char *key,
		      const char *state, const char *folder, const struct file *const *in,
		      size_t n, const char *output)
{
	cJSON *m = cJSON_CreateObject(), *inputs;
	char *text;
	int rc;

	cJSON_AddStringToObject(m, "state", state);
	cJSON_AddStringToObject(m, "folder", folder);
	cJSON_AddStringToObject(m, "output", output);
	inputs = cJSON_AddArrayToObject(m, "inputs");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(inputs, cJSON_CreateString(in[i]->key));
	text = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	rc = dw_s3_put_object(aws, o->bucket, key, text, strlen(text), "application/json");
	cJSON_free(text);
	return rc;
}

struct delete_failures {
	int failed;
};

static void on_delete_failed(void *ud, const char *key, const char *code, const char *message)
{
	struct delete_failures *f = ud;

	f->failed++;
	dw_err("could not delete %s: %s (%s)", key, message, code);
}

static int delete_keys(struct dw_aws *aws, const char *bucket, const char *const *keys, size_t n)
{
	struct delete_failures f = { 0 };

	for (size_t i = 0; i < n; i += DELETE_BATCH) {
		size_t m = n - i < DELETE_BATCH ? n - i : DELETE_BATCH;
		if (dw_s3_delete_objects(aws, bucket, keys + i, m, on_delete_failed, &f))
			return -1;
	}
	if (f.failed)
		return dw_fail("DeleteFailed", "%d objects could not be deleted (a re-run deletes them)", f.failed);
	return 0;
}

/* Finish what an interrupted run left (see ops/compact.h). */
static int recover(struct dw_aws *aws, const struct dw_compact_opts *o, struct scan *s,
		   const char *marker, struct dw_compact_result *r)
{
	struct dw_buf body;
	cJSON *m = NULL;
	const cJSON *inputs, *in;
	const char *state, *output;
	int rc = 0;

	dw_buf_init(&body);
	if (dw_s3_get_object(aws, o->bucket, marker, 0, &body)) {
		dw_buf_release(&body);
		return dw_error_context("reading compaction marker %s", marker);
	}
	m = cJSON_ParseWithLength(body.data ? body.data : "", body.len);
	dw_buf_release(&body);
	state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "state"));
	output = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "output"));
	inputs = cJSON_GetObjectItemCaseSensitive(m, "inputs");
	if (!state || !output || !cJSON_IsArray(inputs)) {
		cJSON_Delete(m);
		return dw_fail("BadMarker", "compaction marker %s is not one dw-etl wrote; move it away to go on",
			       marker);
	}
	if (o->dry_run) {
		dw_info("would finish the interrupted compaction of %s (%s)", output, state);
	} else if (strcmp(state, "committed") == 0) {
		size_t n = 0;
		const char **keys = dw_xcalloc((size_t)cJSON_GetArraySize(inputs) + 1, sizeof(char *));
		cJSON_ArrayForEach(in, inputs)
			if (cJSON_IsString(in))
				keys[n++] = in->valuestring;
		dw_info("finishing the compaction into %s: deleting its %zu inputs", output, n);
		rc = check_lease(aws, o);
		if (rc == 0)
			rc = delete_keys(aws, o->bucket, keys, n);
		free(keys);
	} else {
		const char *keys[1] = { output };
		dw_info("undoing the unfinished compaction into %s (inputs untouched)", output);
		rc = delete_keys(aws, o->bucket, keys, 1);
		struct file *f = find_file(&s->data, output);
		if (rc == 0 && f)
			f->done = f->gone = 1;
	}
	/* Either way, the marker's inputs (gone, or kept) and output (kept,
	 * or gone) are settled: leave them out of this run's plan. */
	cJSON_ArrayForEach(in, inputs) {
		struct file *f = cJSON_IsString(in) ? find_file(&s->data, in->valuestring) : NULL;
		if (f && strcmp(state, "committed") == 0)
			f->done = f->gone = 1;
	}
	if (rc == 0 && !o->dry_run) {
		const char *keys[1] = { marker };
		rc = delete_keys(aws, o->bucket, keys, 1);
	}
	if (rc == 0)
		r->recovered++;
	cJSON_Delete(m);
	return rc;
}

/* ---- grouping -------------------------------------------------------------- */

/* f->group from the file's header. */
static int read_group(struct dw_aws *aws, const struct dw_compact_opts *o, struct file *f)
{
	struct dw_buf head;
	struct dw_avro_reader rd;
	int rc;

	dw_buf_init(&head);
	rc = dw_s3_get_object(aws, o->bucket, f->key, HEADER_PROBE_BYTES, &head);
	if (rc == 0)
		rc = dw_avro_reader_open(&rd, head.data, head.len);
	if (rc && (long long)head.len < f->size && head.len == HEADER_PROBE_BYTES) {
		/* a header longer than the probe: the whole file */
		dw_error_clear();
		dw_buf_clear(&head);
		rc = dw_s3_get_object(aws, o->bucket, f->key, 0, &head);
		if (rc == 0)
			rc = dw_avro_reader_open(&rd, head.data, head.len);
	}
	if (rc == 0) {
		f->group = dw_xasprintf("%s\n%s", dw_avro_codec_name(rd.codec), rd.schema);
		dw_avro_reader_release(&rd);
	}
	dw_buf_release(&head);
	if (rc)
		return dw_error_context("reading the Avro header of s3://%s/%s", o->bucket, f->key);
	return 0;
}

/* ---- merging --------------------------------------------------------------- */

struct merge {
	struct dw_buf out, rec;
	long count;
	enum dw_avro_codec codec;
	unsigned char sync[DW_AVRO_SYNC_LEN];
	EVP_MD_CTX *sha;
	long long records;
};

static int flush_block(struct merge *m)
{
	int rc = 0;

	if (m->count > 0)
		rc = dw_avro_put_block(&m->out, m->codec, m->sync, m->count, m->rec.data, m->rec.len);
	dw_buf_clear(&m->rec);
	m->count = 0;
	return rc;
}

/* Append one input's records to the merge; its header must match. */
static int merge_input(struct dw_aws *aws, const struct dw_compact_opts *o, struct merge *m,
		       const struct file *f, const char *schema)
{
	struct dw_buf data;
	struct dw_avro_reader rd;
	int rc, more, opened;

	dw_buf_init(&data);
	if (dw_s3_get_object(aws, o->bucket, f->key, 0, &data)) {
		dw_buf_release(&data);
		return dw_error_context("reading s3://%s/%s", o->bucket, f->key);
	}
	rc = dw_avro_reader_open(&rd, data.data, data.len);
	opened = rc == 0;
	if (rc == 0 && (rd.codec != m->codec || strcmp(rd.schema, schema) != 0))
		rc = dw_fail("InputChanged", "s3://%s/%s changed while compaction ran (schema or codec)",
			     o->bucket, f->key);
	while (rc == 0 && (more = dw_avro_reader_next(&rd)) != 0) {
		if (more < 0) {
			rc = -1;
			break;
		}
		EVP_DigestUpdate(m->sha, rd.block.data, rd.block.len);
		dw_buf_append(&m->rec, rd.block.data, rd.block.len);
		m->count += rd.count;
		m->records += rd.count;
		if (m->rec.len >= DW_AVRO_BLOCK_BYTES)
			rc = flush_block(m);
	}
	if (opened)
		dw_avro_reader_release(&rd);
	dw_buf_release(&data);
	if (rc)
		return dw_error_context("merging s3://%s/%s", o->bucket, f->key);
	return 0;
}

/* Read the merged file back: the same records, byte for byte. */
static int verify(const struct merge *m, const unsigned char *want, unsigned int want_len)
{
	struct dw_avro_reader rd;
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned int got_len = 0;
	long long records = 0;
	int rc = dw_avro_reader_open(&rd, m->out.data, m->out.len), more, opened = rc == 0;

	EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
	while (rc == 0 && (more = dw_avro_reader_next(&rd)) != 0) {
		if (more < 0) {
			rc = -1;
			break;
		}
		EVP_DigestUpdate(sha, rd.block.data, rd.block.len);
		records += rd.count;
	}
	if (opened)
		dw_avro_reader_release(&rd);
	EVP_DigestFinal_ex(sha, got, &got_len);
	EVP_MD_CTX_free(sha);
	if (rc)
		return dw_error_context("reading the merged file back");
	if (records != m->records || got_len != want_len || memcmp(got, want, want_len) != 0)
		return dw_fail("VerifyFailed", "the merged file does not hold the inputs' records "
			       "(%lld records, %lld expected)", records, m->records);
	return 0;
}

static void random_id(char out[17])
{
	unsigned char b[8];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, b, sizeof(b)) : -1;

	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", got == (ssize_t)sizeof(b) ? b[i] : (unsigned)(random() & 0xff));
}

static cJSON *plan_entry(const char *folder, const char *output, struct file *const *in, size_t n,
			 long long bytes, const char *group)
{
	cJSON *e = cJSON_CreateObject(), *inputs;
	char codec[16];

	snprintf(codec, sizeof(codec), "%.*s", (int)strcspn(group, "\n"), group);
	cJSON_AddStringToObject(e, "folder", folder);
	cJSON_AddStringToObject(e, "output", output);
	cJSON_AddNumberToObject(e, "bytes", (double)bytes);
	cJSON_AddStringToObject(e, "codec", codec);
	inputs = cJSON_AddArrayToObject(e, "inputs");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(inputs, cJSON_CreateString(in[i]->key));
	return e;
}

/* Merge one bin (two or more files of one folder and group) under its
 * marker; see ops/compact.h for the steps. */
static int merge_bin(struct dw_aws *aws, const struct dw_compact_opts *o, struct file **in,
		     size_t n, long long bytes, struct dw_compact_result *r)
{
	char id[17], *folder = dw_xstrndup(in[0]->key, folder_len(in[0]->key));
	const char *group = in[0]->group, *schema = strchr(group, '\n') + 1;
	char *output, *marker;
	const char *parts[2];
	struct merge m;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int rc = 0;

	random_id(id);
	output = dw_xasprintf("%s/compacted-%s.avro", folder, id);
	marker = dw_xasprintf("%s/%s/%s.json", o->prefix, DW_COMPACT_MARKERS, id);
	cJSON_AddItemToArray(r->plan, plan_entry(folder, output, in, n, bytes, group));
	r->groups++;
	if (o->dry_run) {
		dw_info("would merge %zu files (%lld bytes) of %s into %s", n, bytes, folder, output);
		for (size_t i = 0; i < n; i++)
			in[i]->merged = 1;
		r->files_in += (long)n;
		r->files_out++;
		r->bytes_in += bytes;
		goto done;
	}
	memset(&m, 0, sizeof(m));
	dw_buf_init(&m.out);
	dw_buf_init(&m.rec);
	char codec_name[16];
	snprintf(codec_name, sizeof(codec_name), "%.*s", (int)strcspn(group, "\n"), group);
	dw_avro_codec_parse(codec_name, &m.codec);
	parts[0] = o->bucket;
	parts[1] = output;
	dw_avro_sync_derive(parts, 2, m.sync);
	dw_avro_put_header(&m.out, schema, m.codec, m.sync);
	m.sha = EVP_MD_CTX_new();
	EVP_DigestInit_ex(m.sha, EVP_sha256(), NULL);

	rc = put_marker(aws, o, marker, "writing", folder, (const struct file *const *)in, n, output);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = keep_lease(aws, o);
		if (rc == 0)
			rc = merge_input(aws, o, &m, in[i], schema);
	}
	if (rc == 0)
		rc = flush_block(&m);
	EVP_DigestFinal_ex(m.sha, digest, &dlen);
	EVP_MD_CTX_free(m.sha);
	if (rc == 0)
		rc = verify(&m, digest, dlen);
	if (rc == 0)
		rc = dw_s3_put_object(aws, o->bucket, output, m.out.data, m.out.len, "avro/binary");
	if (rc == 0)
		rc = put_marker(aws, o, marker, "committed", folder, (const struct file *const *)in, n, output);
	if (rc == 0) {
		rc = check_lease(aws, o);
		if (rc) {
			/* Not ours any more: take the merged file back rather
			 * than leave its records twice for the readers. */
			struct dw_error saved;
			const char *undo[2] = { output, marker };
			dw_error_save(&saved);
			if (put_marker(aws, o, marker, "writing", folder, (const struct file *const *)in, n,
				       output) == 0)
				(void)delete_keys(aws, o->bucket, undo, 2);
			dw_error_restore(&saved);
		}
	}
	if (rc == 0) {
		const char **keys = dw_xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			keys[i] = in[i]->key;
		rc = delete_keys(aws, o->bucket, keys, n);
		free(keys);
	}
	if (rc == 0) {
		const char *keys[1] = { marker };
		rc = delete_keys(aws, o->bucket, keys, 1);
	}
	if (rc == 0) {
		dw_info("merged %zu files (%lld bytes, %lld records) of %s into %s (%zu bytes)", n, bytes,
			m.records, folder, output, m.out.len);
		for (size_t i = 0; i < n; i++)
			in[i]->merged = 1;
		r->files_in += (long)n;
		r->files_out++;
		r->bytes_in += bytes;
		r->bytes_out += (long long)m.out.len;
		r->records += m.records;
	}
	dw_buf_release(&m.out);
	dw_buf_release(&m.rec);
done:
	free(folder);
	free(output);
	free(marker);
	return rc;
}

/* One folder's files [from, to) (sorted by key): group, pack, merge. */
static int compact_folder(struct dw_aws *aws, const struct dw_compact_opts *o, struct files *fs,
			  size_t from, size_t to, struct dw_compact_result *r)
{
	struct file **bin = dw_xcalloc(to - from, sizeof(struct file *));
	int rc = 0;

	r->partitions++;
	for (size_t i = from; rc == 0 && i < to; i++) {
		struct file *f = &fs->v[i];
		if (!f->done && f->size < o->target_bytes && !f->group)
			rc = read_group(aws, o, f);
	}
	/* Each group in key order of its first file, packed first-fit in key
	 * order: a bin closes when the next file would take it past the
	 * target. */
	for (size_t i = from; rc == 0 && i < to; i++) {
		struct file *first = &fs->v[i];
		size_t n = 0;
		long long bytes = 0;
		if (first->done || !first->group)
			continue;
		for (size_t j = i; rc == 0 && j <= to; j++) {
			struct file *f = j < to ? &fs->v[j] : NULL;
			if (f && (f->done || !f->group || strcmp(f->group, first->group) != 0))
				continue;
			if (f && bytes + f->size <= o->target_bytes) {
				bin[n++] = f;
				bytes += f->size;
				f->done = 1;
				continue;
			}
			if (n >= 2)
				rc = merge_bin(aws, o, bin, n, bytes, r);
			n = 0;
			bytes = 0;
			if (f) {
				bin[n++] = f;
				bytes = f->size;
				f->done = 1;
			}
		}
	}
	free(bin);
	return rc;
}

int dw_compact_run(struct dw_aws *aws, const struct dw_compact_opts *o, struct dw_compact_result *r)
{
	struct scan s;
	char *marker_dir = dw_xasprintf("%s/%s/", o->prefix, DW_COMPACT_MARKERS);
	char *list_prefix = dw_xasprintf("%s/", o->prefix);
	struct dw_s3_list l = { .bucket = o->bucket, .prefix = list_prefix, .on_object = on_object };
	int rc;

	memset(&s, 0, sizeof(s));
	s.marker_dir = marker_dir;
	l.ud = &s;
	rc = dw_s3_list_objects(aws, &l);
	if (rc == 0) {
		if (s.data.n)  /* qsort of an empty, never allocated list is undefined */
			qsort(s.data.v, s.data.n, sizeof(*s.data.v), by_key);
		for (size_t i = 0; rc == 0 && i < s.nmarkers; i++)
			rc = recover(aws, o, &s, s.markers[i], r);
	}
	for (size_t i = 0; rc == 0 && i < s.data.n;) {
		size_t j = i + 1;
		while (j < s.data.n && same_folder(s.data.v[i].key, s.data.v[j].key))
			j++;
		rc = compact_folder(aws, o, &s.data, i, j, r);
		i = j;
	}
	for (size_t i = 0; i < s.data.n; i++)
		if (!s.data.v[i].merged && !s.data.v[i].gone)
			r->left_alone++;
	scan_release(&s);
	free(marker_dir);
	free(list_prefix);
	return rc;
}
