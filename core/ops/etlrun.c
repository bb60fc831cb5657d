/* etlrun.c - dw-etl at work: files from S3 through the transform into Avro
 * objects, on worker threads; the SQS consumer, the Lambda runtime loop,
 * and the dead-letter queue's redrive. */
#include "ops/etlrun.h"
#include "aws/http.h"
#include "aws/s3.h"
#include "aws/session.h"
#include "aws/sqs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timefmt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAILURES_LIMIT 50

/* ---- totals shared by the workers ---------------------------------------- */

struct agg {
	unsigned long long files, missing_files, failed_files, lines, records, bad_lines,
		unknown_records, invalid_values, objects, bytes_read, bytes_written,
		multipart_objects, parts, stale_uploads_aborted;
	unsigned long long messages_ok, messages_failed, messages_failed_transient,
		test_events, empty_messages;
	cJSON *per_on;    /* {"<on>": {"records": n, "objects": n}} */
	cJSON *unknown;   /* {"<on>": n} */
	cJSON *failures;  /* [{message_id, key, code, message}] */
	unsigned long long failures_omitted;
};

static void agg_init(struct agg *a)
{
	memset(a, 0, sizeof(*a));
	a->per_on = cJSON_CreateObject();
	a->unknown = cJSON_CreateObject();
	a->failures = cJSON_CreateArray();
}

static void agg_release(struct agg *a)
{
	cJSON_Delete(a->per_on);
	cJSON_Delete(a->unknown);
	cJSON_Delete(a->failures);
}

static void add_count(cJSON *obj, const char *name, double n)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (v)
		cJSON_SetNumberValue(v, v->valuedouble + n);
	else
		cJSON_AddNumberToObject(obj, name, n);
}

static void agg_failure(struct agg *a, const char *message_id, const char *bucket,
			const char *key, const struct dw_error *e)
{
	if (cJSON_GetArraySize(a->failures) >= FAILURES_LIMIT) {
		a->failures_omitted++;
		return;
	}
	cJSON *f = cJSON_CreateObject();
	if (message_id)
		cJSON_AddStringToObject(f, "message_id", message_id);
	if (bucket)
		cJSON_AddStringToObject(f, "bucket", bucket);
	if (key)
		cJSON_AddStringToObject(f, "key", key);
	cJSON_AddStringToObject(f, "code", e->code[0] ? e->code : "InternalError");
	cJSON_AddStringToObject(f, "message", e->message);
	cJSON_AddItemToArray(a->failures, f);
}

/* ---- one file ------------------------------------------------------------ */

enum file_status { FILE_OK, FILE_MISSING, FILE_FAILED };

/* Where an output's bytes went so far: parts of a multipart upload, once
 * its container outgrew the part size (f->outputs[i] <-> ups[i]). */
struct upload {
	char *id;                  /* NULL: nothing sent yet */
	struct dw_s3_part *parts;
	size_t n, cap;
	unsigned long long sent;   /* bytes in the parts */
};

struct file_uploads {
	struct upload *ups;
	size_t n;
	unsigned long long multipart, parts, stale_aborted;
};

struct stale {
	const char *key;
	char **ids;
	size_t n;
};

static int on_open_upload(void *ud, const char *key, const char *upload_id)
{
	struct stale *st = ud;

	if (strcmp(key, st->key) == 0 && *upload_id) {
		st->ids = dw_xrealloc(st->ids, (st->n + 1) * sizeof(*st->ids));
		st->ids[st->n++] = dw_xstrdup(upload_id);
	}
	return 0;
}

/* Before an output's upload starts: an upload of the same key still open
 * was left by a worker killed midway (or is a redelivered message's twin
 * still at work, which then fails and is delivered again): abort it, so
 * its parts stop being stored and billed.  A failure here is only logged
 * (the bucket's AbortIncompleteMultipartUpload rule is the backstop). */
static void abort_stale_uploads(struct dw_aws *aws, const char *bucket, const char *key,
				struct file_uploads *fu)
{
	struct stale st = { .key = key };
	struct dw_error saved;

	dw_error_save(&saved);
	if (dw_s3_list_uploads(aws, bucket, key, on_open_upload, &st))
		dw_warn("%s", dw_error_last()->message);
	for (size_t i = 0; i < st.n; i++) {
		if (dw_s3_abort_multipart_upload(aws, bucket, key, st.ids[i]) == 0) {
			dw_warn("s3://%s/%s: aborted the multipart upload %s left open by an "
				"earlier run", bucket, key, st.ids[i]);
			fu->stale_aborted++;
		}
		free(st.ids[i]);
	}
	free(st.ids);
	dw_error_restore(&saved);
}

/* Send the output's container so far as its next part (starting the
 * upload first), and forget those bytes.  The parts are whole stretches of
 * the container in order, so the object is byte for byte the one a single
 * PUT writes. */
static int send_part(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
		     struct dw_etl_output *o, struct upload *u, struct file_uploads *fu)
{
	if (!u->id)
		abort_stale_uploads(aws, cfg->dest_bucket, o->key, fu);
	if (!u->id && dw_s3_create_upload(aws, cfg->dest_bucket, o->key, "avro/binary", &u->id))
		return dw_error_context("starting the multipart upload of s3://%s/%s",
					cfg->dest_bucket, o->key);
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 8;
		u->parts = dw_xrealloc(u->parts, u->cap * sizeof(*u->parts));
	}
	if (dw_s3_upload_part(aws, cfg->dest_bucket, o->key, u->id, (int)u->n + 1,
			      o->w.out.data, o->w.out.len, &u->parts[u->n]))
		return -1;
	dw_debug("s3://%s/%s: part %zu, %zu bytes", cfg->dest_bucket, o->key, u->n + 1, o->w.out.len);
	u->n++;
	u->sent += o->w.out.len;
	dw_buf_clear(&o->w.out);
	return 0;
}

/* After a chunk: every output past the part size sends a part. */
static int stream_outputs(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
			  struct dw_etl_file *f, struct file_uploads *fu)
{
	size_t part = cfg->part_bytes ? cfg->part_bytes : DW_ETL_PART_BYTES;

	if (fu->n < f->n_outputs) {
		fu->ups = dw_xrealloc(fu->ups, f->n_outputs * sizeof(*fu->ups));
		memset(fu->ups + fu->n, 0, (f->n_outputs - fu->n) * sizeof(*fu->ups));
		fu->n = f->n_outputs;
	}
	for (size_t i = 0; i < f->n_outputs; i++)
		if (f->outputs[i]->w.out.len >= part &&
		    send_part(aws, cfg, f->outputs[i], &fu->ups[i], fu))
			return -1;
	return 0;
}

/* The end of the file: the rest of each output, as its last part or as
 * the whole object. */
static int write_outputs(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
			 struct dw_etl_file *f, struct file_uploads *fu)
{
	if (stream_outputs(aws, cfg, f, fu))
		return -1;
	for (size_t i = 0; i < f->n_outputs; i++) {
		const struct dw_etl_output *o = f->outputs[i];
		struct upload *u = &fu->ups[i];
		if (!u->id) {
			if (dw_s3_put_object(aws, cfg->dest_bucket, o->key, o->w.out.data,
					     o->w.out.len, "avro/binary"))
				return -1;
			continue;
		}
		if (o->w.out.len && send_part(aws, cfg, f->outputs[i], u, fu))
			return -1;
		if (dw_s3_complete_multipart_upload(aws, cfg->dest_bucket, o->key, u->id, u->parts, u->n))
			return dw_error_context("completing the multipart upload of s3://%s/%s",
						cfg->dest_bucket, o->key);
		fu->multipart++;
		fu->parts += u->n;
		free(u->id);
		u->id = NULL;
	}
	return 0;
}

/* Uploads left open by a failure are aborted, so no part stays stored (and
 * billed) without an object. */
static void file_uploads_release(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
				 const struct dw_etl_file *f, struct file_uploads *fu)
{
	for (size_t i = 0; i < fu->n; i++) {
		struct upload *u = &fu->ups[i];
		if (u->id) {
			struct dw_error saved;
			dw_error_save(&saved);
			if (dw_s3_abort_multipart_upload(aws, cfg->dest_bucket, f->outputs[i]->key, u->id))
				dw_warn("could not abort the multipart upload %s of s3://%s/%s (%s): "
					"a lifecycle rule AbortIncompleteMultipartUpload drops it",
					u->id, cfg->dest_bucket, f->outputs[i]->key,
					dw_error_last()->message);
			else
				dw_info("aborted the multipart upload of s3://%s/%s (%zu part(s))",
					cfg->dest_bucket, f->outputs[i]->key, u->n);
			dw_error_restore(&saved);
			free(u->id);
		}
		free(u->parts);
	}
	free(fu->ups);
	memset(fu, 0, sizeof(*fu));
}

/* Read the file in ranges through the transform, streaming outputs that
 * grow past the part size; the rest is written at the end.  Every output
 * is written before the file counts as done. */
static enum file_status process_file(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
				     const char *bucket, const char *key, struct dw_etl_file *f,
				     struct file_uploads *fu)
{
	size_t chunk = cfg->chunk_bytes ? cfg->chunk_bytes : DW_ETL_CHUNK_BYTES;
	long long offset = 0, total = -1;
	char etag[128] = "";
	struct dw_buf data;
	int rc;

	if (dw_etl_file_init(f, &cfg->etl, bucket, key))
		return FILE_FAILED;
	dw_buf_init(&data);
	do {
		dw_buf_clear(&data);
		rc = dw_s3_get_range(aws, bucket, key, offset, (long long)chunk,
				     offset ? etag : NULL, &data, &total, offset ? NULL : etag);
		if (rc) {
			dw_buf_release(&data);
			if (offset == 0 && dw_error_is("NoSuchKey"))
				return FILE_MISSING;
			return FILE_FAILED;
		}
		offset += (long long)data.len;
		if (dw_etl_file_feed(f, data.data ? data.data : "", data.len) ||
		    stream_outputs(aws, cfg, f, fu)) {
			dw_buf_release(&data);
			return FILE_FAILED;
		}
	} while (offset < total && data.len > 0);
	dw_buf_release(&data);
	if (dw_etl_file_finish(f) || write_outputs(aws, cfg, f, fu))
		return FILE_FAILED;
	return FILE_OK;
}

static void agg_file(struct agg *a, const struct dw_etl_file *f, const struct file_uploads *fu,
		     enum file_status st)
{
	const cJSON *u;

	a->files++;
	a->missing_files += st == FILE_MISSING;
	a->failed_files += st == FILE_FAILED;
	a->lines += f->lines;
	a->records += f->records;
	a->bad_lines += f->bad_lines;
	a->unknown_records += f->unknown_records;
	a->invalid_values += f->invalid_values;
	a->bytes_read += f->bytes;
	cJSON_ArrayForEach(u, f->unknown_counts) {
		add_count(a->unknown, u->string, u->valuedouble);
	}
	a->stale_uploads_aborted += fu->stale_aborted;
	if (st != FILE_OK)
		return;
	for (size_t i = 0; i < f->n_outputs; i++) {
		const struct dw_etl_output *o = f->outputs[i];
		cJSON *on = cJSON_GetObjectItemCaseSensitive(a->per_on, o->on);
		if (!on)
			on = cJSON_AddObjectToObject(a->per_on, o->on);
		add_count(on, "records", (double)o->records);
		add_count(on, "objects", 1);
		a->objects++;
		a->bytes_written += o->w.out.len + (i < fu->n ? fu->ups[i].sent : 0);
	}
	a->multipart_objects += fu->multipart;
	a->parts += fu->parts;
}

/* ---- jobs and workers ---------------------------------------------------- */

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
	/* a message (id set), or a file (bucket and key) */
	char *id, *receipt, *body;
	char *bucket, *key;
	enum job_state state;
	int ok, transient;
	struct timespec extended;   /* visibility last set (consume) */
	/* lambda: no work is started on the job from this time on (epoch ms;
	 * 0: none), and a job its invocation gave up on at that time belongs
	 * to the worker that has it (orphan), which frees it */
	long long cutoff_ms;
	int orphan;
	struct job *next;
};

struct pool {
	const struct dw_etl_run_config *cfg;
	pthread_t *threads;
	int n;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct job *head, *tail;
	int closing;
	struct agg agg;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Wall-clock epoch milliseconds, as Lambda-Runtime-Deadline-Ms counts. */
static long long epoch_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int past_cutoff(const struct job *j)
{
	return j->cutoff_ms > 0 && epoch_ms() >= j->cutoff_ms;
}

static void job_free(struct job *j)
{
	free(j->id);
	free(j->receipt);
	free(j->body);
	free(j->bucket);
	free(j->key);
	free(j);
}

/* One file of a job: transform, write, and count it. */
static int run_file(struct pool *p, struct dw_aws *aws, struct job *j, const char *bucket,
		    const char *key, int *transient)
{
	struct dw_etl_file f;
	struct file_uploads fu = { 0 };
	struct dw_error e;
	enum file_status st;

	memset(&f, 0, sizeof(f));
	dw_error_clear();
	st = aws ? process_file(aws, p->cfg, bucket, key, &f, &fu) : FILE_FAILED;
	dw_error_save(&e);
	if (st == FILE_MISSING)
		dw_warn("s3://%s/%s no longer exists (NoSuchKey): counted, acknowledged", bucket, key);
	else if (st == FILE_FAILED)
		dw_warn("s3://%s/%s failed: %s: %s", bucket, key, e.code, e.message);
	else
		dw_debug("s3://%s/%s: %llu records, %zu objects", bucket, key, f.records, f.n_outputs);
	pthread_mutex_lock(&p->mu);
	agg_file(&p->agg, &f, &fu, st);
	if (st == FILE_FAILED)
		agg_failure(&p->agg, j->id, bucket, key, &e);
	pthread_mutex_unlock(&p->mu);
	file_uploads_release(aws, p->cfg, &f, &fu);
	dw_etl_file_release(&f);
	*transient = e.kind == DW_TRANSIENT;
	return st == FILE_FAILED ? -1 : 0;
}

static void run_job(struct pool *p, struct dw_aws *aws, struct job *j)
{
	struct dw_etl_refs refs;
	int transient = 0, all_transient = 1;

	j->ok = 1;
	if (past_cutoff(j)) {
		/* the invocation's deadline is near: not started, reported failed */
		j->ok = 0;
		j->transient = 1;
		return;
	}
	if (!j->id) {
		j->ok = run_file(p, aws, j, j->bucket, j->key, &transient) == 0;
		j->transient = !j->ok && transient;
		return;
	}
	dw_error_clear();
	if (dw_etl_message_refs(j->body, p->cfg->source_bucket, &refs)) {
		struct dw_error e;
		dw_error_save(&e);
		dw_warn("message %s: %s", j->id, e.message);
		pthread_mutex_lock(&p->mu);
		agg_failure(&p->agg, j->id, NULL, NULL, &e);
		p->agg.messages_failed++;
		pthread_mutex_unlock(&p->mu);
		j->ok = 0;
		return;
	}
	for (size_t i = 0; i < refs.n; i++) {
		if (past_cutoff(j)) {
			j->ok = 0;  /* the rest of its files are left for a redelivery */
			break;
		}
		if (run_file(p, aws, j, refs.items[i].bucket, refs.items[i].key, &transient)) {
			j->ok = 0;
			all_transient &= transient;
		}
	}
	j->transient = !j->ok && all_transient;
	pthread_mutex_lock(&p->mu);
	if (refs.test_event)
		p->agg.test_events++;
	else if (refs.n == 0)
		p->agg.empty_messages++;
	if (j->ok)
		p->agg.messages_ok++;
	else {
		p->agg.messages_failed++;
		p->agg.messages_failed_transient += (unsigned long long)j->transient;
	}
	pthread_mutex_unlock(&p->mu);
	if (refs.test_event)
		dw_info("message %s: an s3:TestEvent, acknowledged", j->id);
	dw_etl_refs_release(&refs);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct dw_aws *aws = NULL;
	struct dw_error aws_err;

	if (dw_session_open(&aws, p->cfg->aws_cfg)) {
		aws = NULL;
		dw_error_save(&aws_err);
	}
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head && !p->closing)
			pthread_cond_wait(&p->work, &p->mu);
		struct job *j = p->head;
		if (!j) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&p->mu);
		if (!aws)
			dw_error_restore(&aws_err);
		run_job(p, aws, j);
		pthread_mutex_lock(&p->mu);
		if (j->orphan) {
			pthread_mutex_unlock(&p->mu);
			job_free(j);
			continue;
		}
		j->state = JOB_DONE;
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
	dw_aws_free(aws);
	return NULL;
}

static void pool_start(struct pool *p, const struct dw_etl_run_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->n = cfg->concurrency > 0 ? cfg->concurrency : 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	agg_init(&p->agg);
	p->threads = dw_xcalloc((size_t)p->n, sizeof(*p->threads));
	for (int i = 0; i < p->n; i++)
		pthread_create(&p->threads[i], NULL, worker, p);
}

static void pool_push(struct pool *p, struct job *j)
{
	pthread_mutex_lock(&p->mu);
	j->state = JOB_QUEUED;
	j->next = NULL;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static void pool_stop(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
}

/* Wait until every job of jobs[0..n) is done. */
static void pool_wait_all(struct pool *p, struct job *const *jobs, size_t n)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < n; i++)
		while (jobs[i]->state != JOB_DONE)
			pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* ---- results ------------------------------------------------------------- */

static void fill_totals(const struct agg *a, cJSON *r)
{
	dw_json_add_int(r, "files", (long long)a->files);
	dw_json_add_int(r, "missing_files", (long long)a->missing_files);
	dw_json_add_int(r, "failed_files", (long long)a->failed_files);
	dw_json_add_int(r, "lines", (long long)a->lines);
	dw_json_add_int(r, "records", (long long)a->records);
	dw_json_add_int(r, "bad_lines", (long long)a->bad_lines);
	dw_json_add_int(r, "unknown_records", (long long)a->unknown_records);
	dw_json_add_int(r, "invalid_values", (long long)a->invalid_values);
	dw_json_add_int(r, "objects_written", (long long)a->objects);
	dw_json_add_int(r, "bytes_read", (long long)a->bytes_read);
	dw_json_add_int(r, "bytes_written", (long long)a->bytes_written);
	dw_json_add_int(r, "multipart_objects", (long long)a->multipart_objects);
	dw_json_add_int(r, "parts_uploaded", (long long)a->parts);
	if (a->stale_uploads_aborted)
		dw_json_add_int(r, "stale_uploads_aborted", (long long)a->stale_uploads_aborted);
	cJSON_AddItemToObject(r, "per_on", cJSON_Duplicate(a->per_on, 1));
	cJSON_AddItemToObject(r, "unknown", cJSON_Duplicate(a->unknown, 1));
	if (cJSON_GetArraySize(a->failures))
		cJSON_AddItemToObject(r, "failures", cJSON_Duplicate(a->failures, 1));
	if (a->failures_omitted)
		dw_json_add_int(r, "failures_omitted", (long long)a->failures_omitted);
}

static void add_elapsed(cJSON *r, double t0)
{
	cJSON_AddNumberToObject(r, "elapsed_s", (double)(long long)((now_s() - t0) * 1000) / 1000);
}

/* The verdict over files: failed ones fail the run (temporarily when all
 * of them failed only for lack of retries). */
static int files_outcome(const struct agg *a, int all_transient)
{
	if (a->failed_files) {
		const cJSON *first = cJSON_GetArrayItem(a->failures, 0);
		const char *key = dw_json_str(first, "key");
		return dw_raise(all_transient ? DW_TRANSIENT : DW_FAILED, "FilesFailed", NULL,
				"%llu of %llu files failed (first: %s: %s; see result.failures)",
				a->failed_files, a->files, key ? key : "?",
				dw_json_str(first, "code") ? dw_json_str(first, "code") : "?");
	}
	if (a->files == 0)
		return DW_NOTHING;
	return 0;
}

/* ---- process ------------------------------------------------------------- */

/* Run file jobs for keys (in batches of the pool's width times a few, so a
 * long list is never all queued at once). */
static int run_keys(struct pool *p, const char *bucket, const char *const *keys, size_t n,
		    int *all_transient)
{
	size_t window = (size_t)p->n * 4;
	struct job **jobs = dw_xcalloc(window, sizeof(struct job *));

	for (size_t at = 0; at < n; at += window) {
		size_t m = n - at < window ? n - at : window;
		for (size_t i = 0; i < m; i++) {
			jobs[i] = dw_xcalloc(1, sizeof(struct job));
			jobs[i]->bucket = dw_xstrdup(bucket);
			jobs[i]->key = dw_xstrdup(keys[at + i]);
			pool_push(p, jobs[i]);
		}
		pool_wait_all(p, jobs, m);
		for (size_t i = 0; i < m; i++) {
			if (!jobs[i]->ok)
				*all_transient &= jobs[i]->transient;
			job_free(jobs[i]);
		}
	}
	free(jobs);
	return 0;
}

int dw_etl_process_keys(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
			const char *const *keys, size_t n, cJSON *result)
{
	struct pool p;
	double t0 = now_s();
	int all_transient = 1, rc;

	(void)aws;
	dw_info("processing %zu file(s) of s3://%s into s3://%s", n, cfg->source_bucket,
		cfg->dest_bucket);
	pool_start(&p, cfg);
	run_keys(&p, cfg->source_bucket, keys, n, &all_transient);
	pool_stop(&p);
	cJSON_AddStringToObject(result, "bucket", cfg->source_bucket);
	cJSON_AddStringToObject(result, "dest_bucket", cfg->dest_bucket);
	fill_totals(&p.agg, result);
	add_elapsed(result, t0);
	rc = files_outcome(&p.agg, all_transient);
	dw_info("%llu file(s), %llu records, %llu objects written, %llu failed", p.agg.files,
		p.agg.records, p.agg.objects, p.agg.failed_files);
	agg_release(&p.agg);
	return rc;
}

struct hour_keys {
	const struct dw_fanout_keyfmt *keyfmt;
	const char *prefix;
	size_t prefix_len;
	char **keys;
	size_t n, cap;
	unsigned long long listed, skipped;
};

static int on_hour_object(void *ud, const struct dw_s3_object *o)
{
	struct hour_keys *h = ud;
	int second;
	size_t len = strlen(o->key);

	h->listed++;
	/* dw-fanout's rule: only keys whose rest matches the key format. */
	if (strncmp(o->key, h->prefix, h->prefix_len) != 0 || !len || o->key[len - 1] == '/' ||
	    !dw_fanout_keyfmt_match(h->keyfmt, o->key + h->prefix_len, &second)) {
		h->skipped++;
		return 0;
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 256;
		h->keys = dw_xrealloc(h->keys, h->cap * sizeof(*h->keys));
	}
	h->keys[h->n++] = dw_xstrdup(o->key);
	return 0;
}

int dw_etl_process_hours(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
			 const char *folder, const struct dw_fanout_keyfmt *keyfmt,
			 time_t start, time_t end, cJSON *result)
{
	struct pool p;
	double t0 = now_s();
	unsigned long long listed = 0, skipped = 0, hours = 0, empty_hours = 0;
	int all_transient = 1, rc = 0;
	char a[32], b[32];

	pool_start(&p, cfg);
	for (time_t t = start; t < end && rc == 0; t += 3600) {
		struct dw_buf prefix;
		dw_buf_init(&prefix);
		if (folder && *folder) {
			dw_buf_puts(&prefix, folder);
			if (folder[strlen(folder) - 1] != '/')
				dw_buf_putc(&prefix, '/');
		}
		dw_fanout_keyfmt_prefix(keyfmt, t, &prefix);
		struct hour_keys h = { .keyfmt = keyfmt, .prefix = prefix.data,
				       .prefix_len = prefix.len };
		struct dw_s3_list l = { .bucket = cfg->source_bucket, .prefix = prefix.data,
					.on_object = on_hour_object, .ud = &h };
		rc = dw_s3_list_objects(aws, &l);
		if (rc == 0) {
			dw_info("%s: %zu file(s) under s3://%s/%s", (dw_time_format_iso(t, a), a), h.n,
				cfg->source_bucket, prefix.data);
			run_keys(&p, cfg->source_bucket, (const char *const *)h.keys, h.n, &all_transient);
		} else if (dw_error_is("NoSuchBucket") && hours == 0) {
			dw_error_last();
			rc = dw_invalid("bucket", "bucket %s does not exist", cfg->source_bucket);
		}
		hours++;
		empty_hours += h.n == 0;
		listed += h.listed;
		skipped += h.skipped;
		for (size_t i = 0; i < h.n; i++)
			free(h.keys[i]);
		free(h.keys);
		dw_buf_release(&prefix);
	}
	struct dw_error list_err;
	dw_error_save(&list_err);
	pool_stop(&p);
	dw_time_format_iso(start, a);
	dw_time_format_iso(end, b);
	cJSON_AddStringToObject(result, "bucket", cfg->source_bucket);
	cJSON_AddStringToObject(result, "dest_bucket", cfg->dest_bucket);
	cJSON_AddStringToObject(result, "start", a);
	cJSON_AddStringToObject(result, "end", b);
	dw_json_add_int(result, "hours", (long long)hours);
	dw_json_add_int(result, "listed", (long long)listed);
	dw_json_add_int(result, "skipped", (long long)skipped);
	dw_json_add_int(result, "empty_hours", (long long)empty_hours);
	fill_totals(&p.agg, result);
	add_elapsed(result, t0);
	if (rc) {
		dw_error_restore(&list_err);
	} else {
		rc = files_outcome(&p.agg, all_transient);
	}
	agg_release(&p.agg);
	return rc;
}

/* ---- consume ------------------------------------------------------------- */

struct consumer {
	struct dw_aws *aws;
	const struct dw_etl_run_config *cfg;
	struct pool pool;
	struct job **inflight;
	size_t n_inflight;
	int visibility;
	unsigned long long received, deleted, delete_failed, extensions, receive_errors;
	char *done_receipts[10];
	size_t n_done;
};

static int check_queue(struct consumer *c, cJSON *result)
{
	cJSON *attrs = NULL;

	if (dw_sqs_queue_attributes(c->aws, c->cfg->queue_url, &attrs)) {
		const struct dw_error *e = dw_error_last();
		if (strstr(e->code, "NonExistentQueue") || strstr(e->code, "QueueDoesNotExist"))
			return dw_invalid("queue_url", "queue %s does not exist", c->cfg->queue_url);
		return dw_error_context("checking queue %s", c->cfg->queue_url);
	}
	const char *vis = dw_json_str(attrs, "VisibilityTimeout");
	const char *redrive = dw_json_str(attrs, "RedrivePolicy");
	c->visibility = c->cfg->visibility_s > 0 ? c->cfg->visibility_s : vis ? atoi(vis) : 30;
	if (c->visibility < 2)
		c->visibility = 2;
	if (!redrive || !*redrive) {
		dw_warn("queue %s has no redrive policy: a message that always fails is received "
			"again and again, never moved to a dead-letter queue (see the README: "
			"RedrivePolicy with maxReceiveCount)", c->cfg->queue_url);
		cJSON_AddStringToObject(result, "warning", "the queue has no redrive policy (no dead-letter queue)");
	} else {
		cJSON *rp = cJSON_Parse(redrive);
		const char *dlq = dw_json_str(rp, "deadLetterTargetArn");
		if (dlq)
			cJSON_AddStringToObject(result, "dead_letter_queue", dlq);
		cJSON_Delete(rp);
	}
	cJSON_Delete(attrs);
	return 0;
}

static void flush_deletes(struct consumer *c)
{
	int ok[10];

	if (!c->n_done)
		return;
	if (dw_sqs_delete_batch(c->aws, c->cfg->queue_url, (const char *const *)c->done_receipts,
				c->n_done, ok)) {
		dw_warn("DeleteMessageBatch failed (%s): %zu message(s) will be delivered again "
			"and rewrite the same objects", dw_error_last()->message, c->n_done);
		memset(ok, 0, sizeof(ok));
	}
	for (size_t i = 0; i < c->n_done; i++) {
		c->deleted += (unsigned long long)ok[i];
		c->delete_failed += (unsigned long long)!ok[i];
		free(c->done_receipts[i]);
	}
	c->n_done = 0;
}

/* Settle finished jobs: a done message is deleted, a failed one is left to
 * come back (or go to the dead-letter queue). */
static int collect_done(struct consumer *c)
{
	size_t keep = 0;
	int any = 0;

	pthread_mutex_lock(&c->pool.mu);
	for (size_t i = 0; i < c->n_inflight; i++) {
		struct job *j = c->inflight[i];
		if (j->state != JOB_DONE) {
			c->inflight[keep++] = j;
			continue;
		}
		any = 1;
		if (j->ok) {
			c->done_receipts[c->n_done++] = j->receipt;
			j->receipt = NULL;
		} else {
			dw_warn("message %s failed: left on the queue for another try", j->id);
		}
		job_free(j);
		if (c->n_done == 10) {
			pthread_mutex_unlock(&c->pool.mu);
			flush_deletes(c);
			pthread_mutex_lock(&c->pool.mu);
		}
	}
	c->n_inflight = keep;
	pthread_mutex_unlock(&c->pool.mu);
	flush_deletes(c);
	return any;
}

/* Messages still being worked on get their visibility timeout renewed at
 * half-time, so no other worker receives them meanwhile. */
static void extend_visibility(struct consumer *c)
{
	const char *receipts[10];
	struct job *jobs[10];
	size_t n = 0;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i <= c->n_inflight; i++) {
		if (i < c->n_inflight) {
			struct job *j = c->inflight[i];
			if ((double)(now.tv_sec - j->extended.tv_sec) < c->visibility / 2.0)
				continue;
			receipts[n] = j->receipt;
			jobs[n++] = j;
		}
		if (n == 10 || (i == c->n_inflight && n)) {
			int ok[10];
			if (dw_sqs_visibility_batch(c->aws, c->cfg->queue_url, receipts, n,
						    c->visibility, ok) == 0) {
				for (size_t k = 0; k < n; k++)
					if (ok[k]) {
						jobs[k]->extended = now;
						c->extensions++;
					}
			} else {
				dw_warn("could not extend the visibility of %zu message(s): %s", n,
					dw_error_last()->message);
			}
			n = 0;
		}
	}
}

static int receive_some(struct consumer *c, int want, int wait_s)
{
	struct dw_sqs_message *m = NULL;
	size_t n = 0;

	if (dw_sqs_receive(c->aws, c->cfg->queue_url, want, wait_s, c->visibility, &m, &n)) {
		const struct dw_error *e = dw_error_last();
		if (e->kind != DW_TRANSIENT)
			return -1;
		c->receive_errors++;
		dw_warn("ReceiveMessage failed for now (%s); trying again", e->code);
		dw_sleep_ms(dw_aws_backoff_ms((int)(c->receive_errors > 5 ? 5 : c->receive_errors)));
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = dw_xcalloc(1, sizeof(*j));
		j->id = m[i].id;
		j->receipt = m[i].receipt;
		j->body = m[i].body;
		m[i].id = m[i].receipt = m[i].body = NULL;
		clock_gettime(CLOCK_MONOTONIC, &j->extended);
		if (m[i].receive_count > 1)
			dw_info("message %s: delivery %ld", j->id, m[i].receive_count);
		c->inflight[c->n_inflight++] = j;
		c->received++;
		pool_push(&c->pool, j);
	}
	dw_sqs_messages_free(m, n);
	return (int)n;
}

static void wait_for_progress(struct consumer *c, int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&c->pool.mu);
	int pending = 0;
	for (size_t i = 0; i < c->n_inflight; i++)
		pending += c->inflight[i]->state == JOB_DONE;
	if (!pending)
		pthread_cond_timedwait(&c->pool.done, &c->pool.mu, &until);
	pthread_mutex_unlock(&c->pool.mu);
}

static const char *stop_reason(const struct consumer *c, double t0, double last_activity)
{
	const struct dw_etl_run_config *cfg = c->cfg;
	double t = now_s();

	if (cfg->max_messages > 0 && c->received >= (unsigned long long)cfg->max_messages)
		return "max_messages";
	if (cfg->time_budget_s > 0 && t - t0 >= cfg->time_budget_s)
		return "time_budget";
	if (cfg->idle_exit_s > 0 && c->n_inflight == 0 && t - last_activity >= cfg->idle_exit_s)
		return "idle";
	return NULL;
}

static int consume_loop(struct consumer *c, double t0, const char **why)
{
	const struct dw_etl_run_config *cfg = c->cfg;
	double last_activity = now_s();

	for (;;) {
		if (collect_done(c))
			last_activity = now_s();
		extend_visibility(c);
		*why = stop_reason(c, t0, last_activity);
		if (*why && c->n_inflight == 0)
			return 0;
		if (*why || c->n_inflight >= (size_t)c->pool.n) {
			wait_for_progress(c, 500);
			continue;
		}
		long want = c->pool.n - (long)c->n_inflight;
		if (want > 10)
			want = 10;
		if (cfg->max_messages > 0 && cfg->max_messages - (long)c->received < want)
			want = cfg->max_messages - (long)c->received;
		/* Long-poll only while nothing is in flight: finished messages
		 * must be deleted, and others extended, without delay. */
		int wait = c->n_inflight ? 0 : cfg->wait_s > 0 ? cfg->wait_s : 20;
		if (cfg->idle_exit_s > 0) {
			int left = (int)(cfg->idle_exit_s - (now_s() - last_activity) + 0.999);
			if (left < wait)
				wait = left > 0 ? left : 0;
		}
		if (cfg->time_budget_s > 0) {
			int left = (int)(cfg->time_budget_s - (now_s() - t0));
			if (left < wait)
				wait = left > 0 ? left : 0;
		}
		int got = receive_some(c, (int)want, wait);
		if (got < 0)
			return -1;
		if (got > 0)
			last_activity = now_s();
		else if (c->n_inflight)
			wait_for_progress(c, 200);
	}
}

int dw_etl_consume(struct dw_aws *aws, const struct dw_etl_run_config *cfg,
		   cJSON *result)
{
	struct consumer c = { .aws = aws, .cfg = cfg };
	double t0 = now_s();
	const char *why = NULL;
	struct dw_error err;
	int rc;

	if (check_queue(&c, result))
		return -1;
	dw_info("consuming %s with %d in flight (visibility %d s) into s3://%s", cfg->queue_url,
		cfg->concurrency, c.visibility, cfg->dest_bucket);
	pool_start(&c.pool, cfg);
	c.inflight = dw_xcalloc((size_t)c.pool.n, sizeof(struct job *));
	rc = consume_loop(&c, t0, &why);
	dw_error_save(&err);
	if (rc) {
		/* A fatal receive error: finish what is in flight first. */
		while (c.n_inflight) {
			wait_for_progress(&c, 500);
			collect_done(&c);
		}
	}
	pool_stop(&c.pool);
	free(c.inflight);
	cJSON_AddStringToObject(result, "queue_url", cfg->queue_url);
	cJSON_AddStringToObject(result, "dest_bucket", cfg->dest_bucket);
	dw_json_add_int(result, "received", (long long)c.received);
	dw_json_add_int(result, "processed", (long long)c.pool.agg.messages_ok);
	dw_json_add_int(result, "failed", (long long)c.pool.agg.messages_failed);
	dw_json_add_int(result, "deleted", (long long)c.deleted);
	if (c.delete_failed)
		dw_json_add_int(result, "delete_failed", (long long)c.delete_failed);
	dw_json_add_int(result, "test_events", (long long)c.pool.agg.test_events);
	dw_json_add_int(result, "visibility_extensions", (long long)c.extensions);
	dw_json_add_int(result, "receive_errors", (long long)c.receive_errors);
	fill_totals(&c.pool.agg, result);
	if (why)
		cJSON_AddStringToObject(result, "stopped", why);
	add_elapsed(result, t0);
	dw_info("received %llu, processed %llu, failed %llu, deleted %llu; %llu records, "
		"%llu objects (%s)", c.received, c.pool.agg.messages_ok, c.pool.agg.messages_failed,
		c.deleted, c.pool.agg.records, c.pool.agg.objects, why ? why : "stopped");
	if (rc) {
		dw_error_restore(&err);
	} else if (c.pool.agg.messages_failed) {
		int all_t = c.pool.agg.messages_failed_transient == c.pool.agg.messages_failed;
		const char *code = dw_json_str(cJSON_GetArrayItem(c.pool.agg.failures, 0), "code");
		rc = dw_raise(all_t ? DW_TRANSIENT : DW_FAILED, "MessagesFailed", NULL,
			      "%llu of %llu messages failed (first: %s; left on the queue for "
			      "another try; see result.failures)", c.pool.agg.messages_failed,
			      c.received, code ? code : "?");
	} else if (c.received == 0) {
		rc = DW_NOTHING;
	}
	agg_release(&c.pool.agg);
	return rc;
}

/* ---- lambda -------------------------------------------------------------- */

cJSON *dw_etl_batch_response(const char *const *failed_ids, size_t n)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(r, "batchItemFailures");

	for (size_t i = 0; i < n; i++) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "itemIdentifier", failed_ids[i]);
		cJSON_AddItemToArray(list, f);
	}
	return r;
}

static int runtime_call(struct dw_http *http, const char *api, const char *method,
			const char *path, const char *body, struct dw_http_response *resp)
{
	struct dw_kvlist headers;
	char *url = dw_xasprintf("http://%s/2018-06-01/runtime/%s", api, path);
	struct dw_http_request req = { .method = method, .url = url, .headers = &headers,
				       .body = body, .body_len = body ? strlen(body) : 0 };
	int rc;

	dw_kv_init(&headers);
	if (body)
		dw_kv_add(&headers, "Content-Type", "application/json");
	dw_http_response_clear(resp);
	rc = dw_http_perform(http, &req, resp);
	dw_kv_release(&headers);
	free(url);
	if (rc)
		return dw_raise(DW_TRANSIENT, "RuntimeApiUnreachable", NULL,
				"the Lambda Runtime API at %s did not answer %s %s: %s", api,
				method, path, resp->error);
	if (resp->status >= 300)
		return dw_fail("RuntimeApiError", "the Lambda Runtime API answered %ld to %s %s",
			       resp->status, method, path);
	return 0;
}

static void post_error(struct dw_http *http, const char *api, const char *path,
		       const char *type, const char *message)
{
	struct dw_http_response resp;
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "errorType", type);
	cJSON_AddStringToObject(e, "errorMessage", message);
	char *text = cJSON_PrintUnformatted(e);
	dw_http_response_init(&resp);
	if (runtime_call(http, api, "POST", path, text, &resp))
		dw_warn("could not report the error to the runtime API: %s", dw_error_last()->message);
	dw_http_response_release(&resp);
	cJSON_free(text);
	cJSON_Delete(e);
}

struct lambda_counts {
	unsigned long long invocations, messages, failed, bad_events, unfinished;
};

/* Wait until every job is done or, with a cutoff, until the cutoff: 0 when
 * all are done, 1 at the cutoff.  Called with p->mu held. */
static int wait_jobs_locked(struct pool *p, struct job *const *jobs, size_t n, long long cutoff_ms)
{
	struct timespec until = { .tv_sec = (time_t)(cutoff_ms / 1000),
				  .tv_nsec = (long)(cutoff_ms % 1000) * 1000000L };

	for (size_t i = 0; i < n; i++)
		while (jobs[i]->state != JOB_DONE) {
			if (!cutoff_ms)
				pthread_cond_wait(&p->done, &p->mu);
			else if (pthread_cond_timedwait(&p->done, &p->mu, &until) != 0 &&
				 epoch_ms() >= cutoff_ms)
				return 1;
		}
	return 0;
}

/* One invocation: the SQS event's messages as jobs; the batch response
 * names exactly the messages that failed.  With a deadline, work stops at
 * cutoff_ms (the deadline less the margin): messages not started by then
 * are not started, and the answer goes out then, naming every message not
 * done (a worker still on one finishes it and frees it; its objects are
 * the same when the message is delivered again). */
static char *invocation(struct pool *p, const cJSON *event, long long cutoff_ms,
			struct lambda_counts *c)
{
	const cJSON *recs = cJSON_GetObjectItemCaseSensitive(event, "Records"), *r;
	size_t n = cJSON_IsArray(recs) ? (size_t)cJSON_GetArraySize(recs) : 0, k = 0, nf = 0;
	struct job **jobs = dw_xcalloc(n ? n : 1, sizeof(struct job *));
	char **ids = dw_xcalloc(n ? n : 1, sizeof(*ids));
	unsigned long long unfinished = 0;

	cJSON_ArrayForEach(r, recs) {
		const char *id = dw_json_str(r, "messageId"), *body = dw_json_str(r, "body");
		struct job *j = dw_xcalloc(1, sizeof(*j));
		j->id = dw_xstrdup(id ? id : "");
		j->body = dw_xstrdup(body ? body : "");
		j->cutoff_ms = cutoff_ms;
		jobs[k++] = j;
		pool_push(p, j);
	}
	pthread_mutex_lock(&p->mu);
	wait_jobs_locked(p, jobs, k, cutoff_ms);
	for (size_t i = 0; i < k; i++) {
		if (jobs[i]->state == JOB_DONE && jobs[i]->ok)
			continue;
		ids[nf++] = dw_xstrdup(jobs[i]->id);
		if (jobs[i]->state != JOB_DONE) {
			jobs[i]->orphan = 1;  /* its worker frees it */
			jobs[i] = NULL;
			unfinished++;
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (unfinished)
		dw_warn("the invocation's deadline is near: %llu of %zu message(s) not finished, "
			"reported as failures (delivered again)", unfinished, k);
	cJSON *resp = dw_etl_batch_response((const char *const *)ids, nf);
	char *text = cJSON_PrintUnformatted(resp);
	cJSON_Delete(resp);
	c->messages += k;
	c->failed += nf;
	c->unfinished += unfinished;
	for (size_t i = 0; i < k; i++)
		if (jobs[i])
			job_free(jobs[i]);
	for (size_t i = 0; i < nf; i++)
		free(ids[i]);
	free(jobs);
	free(ids);
	return text;
}

/* The time work stops for an invocation: its deadline less the margin
 * (at most half of the time left, so a short timeout still gets work
 * done); 0 when the runtime gave no deadline. */
static long long invocation_cutoff(const struct dw_http_response *resp, int margin_ms)
{
	const char *h = dw_kv_get(&resp->headers, "lambda-runtime-deadline-ms", 1);
	char *end = NULL;
	long long deadline = h ? strtoll(h, &end, 10) : 0, now = epoch_ms();

	if (!h || end == h || deadline <= 0)
		return 0;
	long long margin = margin_ms;
	if (deadline - now < 2 * margin)
		margin = (deadline - now) / 2;
	return deadline - (margin > 0 ? margin : 0);
}

int dw_etl_lambda(const struct dw_etl_run_config *cfg, const char *runtime_api,
		  long max_invocations, cJSON *result)
{
	struct dw_http *http = dw_http_new();
	struct dw_http_response resp;
	struct pool p;
	struct lambda_counts c = { 0 };
	int margin = cfg->deadline_margin_ms >= 0 ? cfg->deadline_margin_ms : DW_ETL_DEADLINE_MARGIN_MS;
	double t0 = now_s();
	int rc = 0;

	dw_http_response_init(&resp);
	pool_start(&p, cfg);
	dw_info("Lambda runtime at %s: %d message(s) of a batch in flight", runtime_api, p.n);
	while (max_invocations <= 0 || (long)c.invocations < max_invocations) {
		if (runtime_call(http, runtime_api, "GET", "invocation/next", NULL, &resp)) {
			rc = -1;
			break;
		}
		const char *rid = dw_kv_get(&resp.headers, "lambda-runtime-aws-request-id", 1);
		char *id = dw_xstrdup(rid ? rid : "");
		cJSON *event = NULL;
		c.invocations++;
		long long cutoff = invocation_cutoff(&resp, margin);
		if (!*id || dw_json_parse(resp.body.data ? resp.body.data : "", resp.body.len,
					  "event", &event) || !cJSON_IsObject(event) ||
		    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(event, "Records"))) {
			char *path = dw_xasprintf("invocation/%s/error", id);
			c.bad_events++;
			dw_warn("invocation %s: not an SQS event", id);
			post_error(http, runtime_api, path, "InvalidEvent",
				   "dw-etl expects an SQS event ({\"Records\": [...]})");
			free(path);
		} else {
			char *answer = invocation(&p, event, cutoff, &c);
			char *path = dw_xasprintf("invocation/%s/response", id);
			if (runtime_call(http, runtime_api, "POST", path, answer, &resp))
				dw_warn("invocation %s: %s", id, dw_error_last()->message);
			free(path);
			cJSON_free(answer);
		}
		cJSON_Delete(event);
		free(id);
	}
	struct dw_error err;
	dw_error_save(&err);
	pool_stop(&p);
	dw_json_add_int(result, "invocations", (long long)c.invocations);
	dw_json_add_int(result, "messages", (long long)c.messages);
	dw_json_add_int(result, "failed", (long long)c.failed);
	dw_json_add_int(result, "unfinished_at_deadline", (long long)c.unfinished);
	dw_json_add_int(result, "bad_events", (long long)c.bad_events);
	fill_totals(&p.agg, result);
	add_elapsed(result, t0);
	agg_release(&p.agg);
	dw_http_response_release(&resp);
	dw_http_free(http);
	if (rc)
		dw_error_restore(&err);
	return rc;
}

/* ---- redrive ------------------------------------------------------------- */

static int find_dlq(struct dw_aws *aws, const char *queue_url, char **dlq_url)
{
	cJSON *attrs = NULL, *rp = NULL;
	int rc;

	if (dw_sqs_queue_attributes(aws, queue_url, &attrs)) {
		const struct dw_error *e = dw_error_last();
		if (strstr(e->code, "NonExistentQueue") || strstr(e->code, "QueueDoesNotExist"))
			return dw_invalid("queue_url", "queue %s does not exist", queue_url);
		return -1;
	}
	const char *text = dw_json_str(attrs, "RedrivePolicy");
	rp = text ? cJSON_Parse(text) : NULL;
	const char *arn = dw_json_str(rp, "deadLetterTargetArn");
	const char *name = arn ? strrchr(arn, ':') : NULL;
	if (!name)
		rc = dw_invalid("dlq_url", "queue %s has no redrive policy: name its dead-letter "
				"queue with dlq_url", queue_url);
	else
		rc = dw_sqs_queue_url(aws, name + 1, dlq_url);
	cJSON_Delete(rp);
	cJSON_Delete(attrs);
	return rc;
}

/* A FIFO queue's name ends in ".fifo" (SQS requires it). */
static int is_fifo(const char *url)
{
	size_t n = strlen(url);

	return n > 5 && strcmp(url + n - 5, ".fifo") == 0;
}

int dw_etl_redrive(struct dw_aws *aws, const char *queue_url, const char *dlq_url,
		   long max_messages, cJSON *result)
{
	char *dlq = NULL;
	unsigned long long moved = 0, send_failed = 0, batches = 0;
	double t0 = now_s();
	int rc = 0;

	if (!dlq_url) {
		if (find_dlq(aws, queue_url, &dlq))
			return -1;
		dlq_url = dlq;
	}
	if (strcmp(dlq_url, queue_url) == 0) {
		free(dlq);
		return dw_invalid("dlq_url", "the dead-letter queue is the queue itself");
	}
	/* SQS gives a FIFO queue only a FIFO dead-letter queue; a mix is a
	 * wrong dlq_url (a standard queue would drop the group and order). */
	if (is_fifo(queue_url) != is_fifo(dlq_url)) {
		rc = dw_invalid("dlq_url", "%s is a %s queue and %s a %s one: both or neither must be "
				"FIFO", queue_url, is_fifo(queue_url) ? "FIFO" : "standard", dlq_url,
				is_fifo(dlq_url) ? "FIFO" : "standard");
		free(dlq);
		return rc;
	}
	dw_info("redriving up to %ld message(s) from %s to %s", max_messages, dlq_url, queue_url);
	while ((long)(moved + send_failed) < max_messages) {
		struct dw_sqs_message *m = NULL;
		size_t n = 0;
		long want = max_messages - (long)(moved + send_failed);
		int ok[10];
		const char *receipts[10];
		size_t nr = 0;

		if (dw_sqs_receive(aws, dlq_url, want > 10 ? 10 : (int)want, 1, 60, &m, &n)) {
			rc = -1;
			break;
		}
		if (n == 0) {
			dw_sqs_messages_free(m, n);
			break;
		}
		batches++;
		if (dw_sqs_send_batch(aws, queue_url, m, n, ok)) {
			dw_sqs_messages_free(m, n);
			rc = -1;
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (ok[i])
				receipts[nr++] = m[i].receipt;
		send_failed += n - nr;
		/* Only what the source queue took leaves the dead-letter queue;
		 * a failed delete leaves a copy behind (delivered twice, and the
		 * objects are rewritten identically). */
		int dok[10];
		if (dw_sqs_delete_batch(aws, dlq_url, receipts, nr, dok) == 0)
			for (size_t i = 0; i < nr; i++)
				moved += (unsigned long long)dok[i];
		else
			dw_warn("DeleteMessageBatch on the dead-letter queue failed: %s",
				dw_error_last()->message);
		dw_sqs_messages_free(m, n);
	}
	struct dw_error err;
	dw_error_save(&err);
	cJSON_AddStringToObject(result, "queue_url", queue_url);
	cJSON_AddStringToObject(result, "dlq_url", dlq_url);
	dw_json_add_int(result, "moved", (long long)moved);
	dw_json_add_int(result, "failed", (long long)send_failed);
	dw_json_add_int(result, "batches", (long long)batches);
	dw_json_add_int(result, "max_messages", max_messages);
	cJSON_AddBoolToObject(result, "limit_reached", (long)(moved + send_failed) >= max_messages);
	add_elapsed(result, t0);
	dw_info("moved %llu message(s) back, %llu failed", moved, send_failed);
	free(dlq);
	if (rc) {
		dw_error_restore(&err);
		return -1;
	}
	if (send_failed)
		return dw_fail("RedriveFailed", "%llu message(s) could not be sent back; they stay "
			       "in the dead-letter queue", send_failed);
	return moved ? 0 : DW_NOTHING;
}
