/* alertwatch.c - dw-alert watch: Airflow's REST API asked for DAG runs that
 * run too long and scheduled runs that did not start (see ops/alert.h).
 *
 * Airflow 2: /api/v1 with HTTP basic auth (auth backend
 * airflow.api.auth.backend.basic_auth).  Airflow 3: /api/v2 with a JWT
 * from POST /auth/token ({"username", "password"} -> {"access_token"}).
 * Both list runs as GET .../dags/~/dagRuns?state=...&limit=&offset= with
 * total_entries, which is what is paged through. */
#include "ops/alert.h"
#include "aws/dynamodb.h"
#include "aws/http.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/redact.h"
#include "base/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Airflow's default maximum page size is 100. */
#define PAGE 100
/* Never more than this many pages of one listing (100,000 runs). */
#define MAX_PAGES 1000

struct airflow {
	const struct dw_watch_opts *o;
	struct dw_http *http;
	char *auth;                 /* the Authorization header's value */
	const char *prefix;         /* "/api/v1" or "/api/v2" */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *base64(const char *s)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s);
	struct dw_buf b;

	dw_buf_init(&b);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		dw_buf_putc(&b, tab[(v >> 18) & 63]);
		dw_buf_putc(&b, tab[(v >> 12) & 63]);
		dw_buf_putc(&b, i + 1 < n ? tab[(v >> 6) & 63] : '=');
		dw_buf_putc(&b, i + 2 < n ? tab[v & 63] : '=');
	}
	return dw_buf_detach(&b);
}

/* One call; 0 with *out the JSON answer (caller deletes), or -1: an
 * unreachable server or a 5xx is temporary (75), a 4xx is not. */
static int api_call(struct airflow *af, const char *method, const char *path,
		    const char *body, cJSON **out)
{
	struct dw_kvlist headers;
	char *url = dw_xasprintf("%s%s", af->o->url, path);
	struct dw_http_request req = { .method = method, .url = url, .headers = &headers,
				       .body = body, .body_len = body ? strlen(body) : 0,
				       .timeout_ms = af->o->timeout_ms };
	struct dw_http_response resp;
	int rc = 0;

	*out = NULL;
	dw_kv_init(&headers);
	dw_kv_add(&headers, "Accept", "application/json");
	if (body)
		dw_kv_add(&headers, "Content-Type", "application/json");
	if (af->auth)
		dw_kv_add(&headers, "Authorization", af->auth);
	dw_http_response_init(&resp);
	if (dw_http_perform(af->http, &req, &resp))
		rc = dw_raise(DW_TRANSIENT, "AirflowUnreachable", "url",
			      "the Airflow API at %s did not answer %s %s: %s", af->o->url, method, path,
			      resp.error);
	else if (resp.status >= 500)
		rc = dw_raise(DW_TRANSIENT, "AirflowUnreachable", "url",
			      "the Airflow API answered %ld to %s %s", resp.status, method, path);
	else if (resp.status == 401 || resp.status == 403)
		rc = dw_raise(DW_INVALID, "AirflowAuthFailed", "username",
			      "the Airflow API refused the credentials (%ld to %s %s)", resp.status,
			      method, path);
	else if (resp.status >= 300)
		rc = dw_fail("AirflowApiError", "the Airflow API answered %ld to %s %s", resp.status,
			     method, path);
	else if (!(*out = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len)) ||
		 !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		rc = dw_fail("AirflowApiError", "the Airflow API answered %s %s with something that is "
			     "not a JSON object", method, path);
	}
	dw_http_response_release(&resp);
	dw_kv_release(&headers);
	free(url);
	return rc;
}

static int login(struct airflow *af)
{
	const struct dw_watch_opts *o = af->o;

	if (!o->username)
		return 0;
	if (o->api_version == 1) {
		char *pair = dw_xasprintf("%s:%s", o->username, o->password ? o->password : "");
		char *b64 = base64(pair);
		dw_redact_secret(b64);
		af->auth = dw_xasprintf("Basic %s", b64);
		free(pair);
		free(b64);
		return 0;
	}
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "username", o->username);
	cJSON_AddStringToObject(in, "password", o->password ? o->password : "");
	char *body = dw_json_print(in);
	int rc = api_call(af, "POST", "/auth/token", body, &out);
	cJSON_Delete(in);
	cJSON_free(body);
	if (rc == 0) {
		const char *tok = dw_json_str(out, "access_token");
		if (!tok)
			rc = dw_fail("AirflowApiError", "POST /auth/token answered without an access_token");
		else {
			dw_redact_secret(tok);
			af->auth = dw_xasprintf("Bearer %s", tok);
		}
	}
	cJSON_Delete(out);
	return rc;
}

typedef int (*run_fn)(void *ud, const cJSON *run);

/* Every run of dag ("~": all DAGs) in state, newest first when order is
 * given, at most max (0: all). */
static int list_runs(struct airflow *af, const char *dag, const char *state, const char *order,
		     int max, run_fn fn, void *ud)
{
	long long total = 0;
	int seen = 0;

	for (int page = 0; page < MAX_PAGES; page++) {
		char path[1024];
		cJSON *out = NULL;
		const cJSON *r;
		int limit = max > 0 && max - seen < PAGE ? max - seen : PAGE, got = 0;
		snprintf(path, sizeof(path), "%s/dags/%s/dagRuns?state=%s&limit=%d&offset=%d%s%s",
			 af->prefix, dag, state, limit, seen, order ? "&order_by=" : "", order ? order : "");
		if (api_call(af, "GET", path, NULL, &out))
			return -1;
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(out, "dag_runs")) {
			got++;
			if (fn(ud, r)) {
				cJSON_Delete(out);
				return -1;
			}
		}
		if (dw_json_int(cJSON_GetObjectItemCaseSensitive(out, "total_entries"), &total))
			total = 0;
		cJSON_Delete(out);
		seen += got;
		if (got == 0 || seen >= total || (max > 0 && seen >= max))
			return 0;
	}
	return 0;
}

static long long time_ms(const cJSON *run, const char *name)
{
	const char *s = dw_json_str(run, name);
	time_t t;

	if (!s || dw_time_parse(s, &t, NULL))
		return -1;
	return (long long)t * 1000;
}

struct durations {
	double *v;
	size_t n, cap;
};

static int add_duration(void *ud, const cJSON *run)
{
	struct durations *d = ud;
	long long s = time_ms(run, "start_date"), e = time_ms(run, "end_date");

	if (s < 0 || e < s)
		return 0;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = dw_xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n++] = (double)(e - s);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The limit for dag: its own, else factor x median of its recent
 * successful runs (at least min_limit), else the default; 0: none. */
static int limit_for(struct airflow *af, const char *dag, long long *limit_ms, const char **why)
{
	const struct dw_watch_opts *o = af->o;
	const cJSON *own = cJSON_GetObjectItemCaseSensitive(o->limits_s, dag);
	long long s;

	*limit_ms = 0;
	*why = "none";
	if (own && dw_json_int(own, &s) == 0) {
		*limit_ms = s * 1000;
		*why = "the DAG's limit";
		return 0;
	}
	if (o->median_factor > 0) {
		struct durations d = { 0 };
		char path[600];
		snprintf(path, sizeof(path), "%s", dag);
		if (list_runs(af, path, "success", "-start_date", o->median_runs, add_duration, &d)) {
			free(d.v);
			return -1;
		}
		if (d.n > 0) {
			qsort(d.v, d.n, sizeof(*d.v), cmp_double);
			double med = d.n % 2 ? d.v[d.n / 2] : (d.v[d.n / 2 - 1] + d.v[d.n / 2]) / 2;
			*limit_ms = (long long)ceil(med * o->median_factor);
			if (*limit_ms < o->min_limit_ms)
				*limit_ms = o->min_limit_ms;
			*why = "a multiple of the median of recent runs";
		}
		free(d.v);
		if (*limit_ms)
			return 0;
	}
	if (o->default_limit_ms > 0) {
		*limit_ms = o->default_limit_ms;
		*why = "the default limit";
	}
	return 0;
}

struct watch {
	struct airflow *af;
	struct dw_aws *aws;
	struct dw_alert_stats *st;
	cJSON *findings;
	long long now;
	int late;                   /* listing queued runs */
};

static int watched(const struct dw_watch_opts *o, const char *dag)
{
	if (!o->dag_ids)
		return 1;
	for (size_t i = 0; i < o->ndag_ids; i++)
		if (strcmp(o->dag_ids[i], dag) == 0)
			return 1;
	return 0;
}

/* A watch killed between marking a run and publishing its alert must not
 * lose the alert: the mark is first "sending", held for SENDING_MS, and
 * becomes "sent" only once SNS took the alert.  A later watch that finds a
 * "sending" mark past its hold publishes again (at least once: a crash
 * after the publish and before "sent" alerts twice, never zero times).
 * 10 minutes is dwops_watch's schedule: the next scheduled watch retries. */
#define SENDING_MS (10 * 60 * 1000LL)

static char *mark_key(const char *dag, const char *run, const char *kind)
{
	return dw_xasprintf("watch#%s#%s#%s", dag, run, kind);
}

/* Alert once per run and kind: 0 first time (now marked "sending"),
 * 1 already sent or being sent, -1 failed. */
static int mark_once(struct watch *w, const char *dag, const char *run, const char *kind)
{
	char *key = mark_key(dag, run, kind);
	cJSON *item = cJSON_CreateObject(), *names = cJSON_CreateObject();
	cJSON *values = cJSON_CreateObject();
	struct dw_ddb_write wr = { .table = w->af->o->table, .item = item, .names = names,
				   .values = values,
				   .condition = "attribute_not_exists(#k) OR (#s = :sending AND #u < :now)" };
	int rc;

	dw_ddb_add(item, DW_ALERT_KEY, dw_ddb_s(key));
	dw_ddb_add(item, "at", dw_ddb_n(w->now));
	dw_ddb_add(item, "state", dw_ddb_s("sending"));
	dw_ddb_add(item, "until", dw_ddb_n(w->now + SENDING_MS));
	cJSON_AddStringToObject(names, "#k", DW_ALERT_KEY);
	cJSON_AddStringToObject(names, "#s", "state");
	cJSON_AddStringToObject(names, "#u", "until");
	dw_ddb_add(values, ":sending", dw_ddb_s("sending"));
	dw_ddb_add(values, ":now", dw_ddb_n(w->now));
	rc = dw_ddb_put_item(w->aws, &wr, NULL);
	cJSON_Delete(item);
	cJSON_Delete(names);
	cJSON_Delete(values);
	free(key);
	return rc;
}

/* SNS took the alert: the mark is "sent" for good. */
static int mark_sent(struct watch *w, const char *dag, const char *run, const char *kind)
{
	char *key = mark_key(dag, run, kind);
	cJSON *item = cJSON_CreateObject();
	struct dw_ddb_write wr = { .table = w->af->o->table, .item = item };
	int rc;

	dw_ddb_add(item, DW_ALERT_KEY, dw_ddb_s(key));
	dw_ddb_add(item, "at", dw_ddb_n(w->now));
	dw_ddb_add(item, "state", dw_ddb_s("sent"));
	rc = dw_ddb_put_item(w->aws, &wr, NULL);
	cJSON_Delete(item);
	free(key);
	return rc < 0 ? -1 : 0;
}

/* Forget a mark whose alert could not be published, so the next run
 * tries again. */
static void unmark(struct watch *w, const char *dag, const char *run, const char *kind)
{
	char *key = mark_key(dag, run, kind);
	cJSON *k = cJSON_CreateObject();
	struct dw_ddb_write wr = { .table = w->af->o->table, .key = k };
	struct dw_error saved;

	dw_error_save(&saved);
	dw_ddb_add(k, DW_ALERT_KEY, dw_ddb_s(key));
	if (dw_ddb_delete_item(w->aws, &wr, NULL) < 0)
		dw_warn("could not forget the mark %s: it is alerted again once its hold ends", key);
	dw_error_restore(&saved);
	cJSON_Delete(k);
	free(key);
}

static int finding(struct watch *w, const cJSON *run, const char *dag, const char *run_id,
		   const char *kind, const char *text, long long age_ms, long long limit_ms)
{
	const struct dw_watch_opts *o = w->af->o;
	cJSON *a, *ctx, *brief;
	char *subject, *link;
	int rc;

	w->st->incidents++;
	brief = cJSON_CreateObject();
	cJSON_AddStringToObject(brief, "dag_id", dag);
	cJSON_AddStringToObject(brief, "run_id", run_id);
	cJSON_AddStringToObject(brief, "kind", kind);
	dw_json_add_int(brief, "age_s", age_ms / 1000);
	dw_json_add_int(brief, "limit_s", limit_ms / 1000);
	cJSON_AddItemToArray(w->findings, brief);
	if (o->dry_run)
		return 0;
	rc = mark_once(w, dag, run_id, kind);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		w->st->suppressed++;
		cJSON_AddTrueToObject(brief, "already_alerted");
		return 0;
	}
	a = cJSON_CreateObject();
	subject = dw_xasprintf("%s: run %s %s", dag, run_id, kind);
	link = dw_xasprintf("%s/dags/%s/grid", o->url, dag);
	cJSON_AddStringToObject(a, "source", o->source ? o->source : "airflow");
	cJSON_AddStringToObject(a, "severity", "warning");
	cJSON_AddStringToObject(a, "operator", "dw-alert");
	cJSON_AddStringToObject(a, "action", "watch");
	cJSON_AddStringToObject(a, "code", strcmp(kind, "late") == 0 ? "RunNotStarted" : "RunTooLong");
	cJSON_AddStringToObject(a, "subject", subject);
	cJSON_AddStringToObject(a, "text", text);
	cJSON_AddStringToObject(a, "link", link);
	ctx = cJSON_AddObjectToObject(a, "context");
	cJSON_AddStringToObject(ctx, "dag_id", dag);
	cJSON_AddStringToObject(ctx, "run_id", run_id);
	if (dw_json_str(run, "run_type"))
		cJSON_AddStringToObject(ctx, "run_type", dw_json_str(run, "run_type"));
	dw_alert_finish(a);
	rc = dw_alert_publish(w->aws, o->topic_arn, a, NULL, NULL);
	if (rc == 0) {
		w->st->published++;
		/* Not fatal: a "sending" mark left behind is published again
		 * once its hold ends (a duplicate, never a loss). */
		struct dw_error saved;

		dw_error_save(&saved);
		if (mark_sent(w, dag, run_id, kind) < 0)
			dw_warn("published, but the mark of %s %s stays \"sending\": it may be alerted again",
				dag, run_id);
		dw_error_restore(&saved);
	} else {
		w->st->failed++;
		unmark(w, dag, run_id, kind);
	}
	cJSON_Delete(a);
	free(subject);
	free(link);
	return rc;
}

static int check_run(void *ud, const cJSON *run)
{
	struct watch *w = ud;
	const char *dag = dw_json_str(run, "dag_id"), *run_id = dw_json_str(run, "dag_run_id");
	long long start, limit;
	const char *why;
	char text[512];

	if (!dag || !run_id || !watched(w->af->o, dag))
		return 0;
	w->st->events_read++;
	if (w->late) {
		const char *type = dw_json_str(run, "run_type");
		if (w->af->o->start_grace_ms <= 0 || (type && strcmp(type, "scheduled") != 0))
			return 0;
		/* A scheduled run is due at the end of its data interval. */
		start = time_ms(run, "data_interval_end");
		if (start < 0)
			start = time_ms(run, "queued_at");
		if (start < 0 || w->now - start <= w->af->o->start_grace_ms)
			return 0;
		snprintf(text, sizeof(text), "the scheduled run %s of %s was due %lld s ago and has not "
			 "started (it is queued; grace %lld s)", run_id, dag, (w->now - start) / 1000,
			 w->af->o->start_grace_ms / 1000);
		return finding(w, run, dag, run_id, "late", text, w->now - start, w->af->o->start_grace_ms);
	}
	start = time_ms(run, "start_date");
	if (start < 0)
		return 0;
	if (limit_for(w->af, dag, &limit, &why))
		return -1;
	if (limit <= 0 || w->now - start <= limit)
		return 0;
	snprintf(text, sizeof(text), "the run %s of %s has been running for %lld s, longer than its "
		 "limit of %lld s (%s)", run_id, dag, (w->now - start) / 1000, limit / 1000, why);
	return finding(w, run, dag, run_id, "running too long", text, w->now - start, limit);
}

int dw_alert_watch(struct dw_aws *aws, const struct dw_watch_opts *o,
		   struct dw_alert_stats *st, cJSON *result)
{
	struct airflow af = { .o = o, .http = dw_http_new(),
			      .prefix = o->api_version == 1 ? "/api/v1" : "/api/v2" };
	struct watch w = { .af = &af, .aws = aws, .st = st, .now = now_ms() };
	int rc;

	w.findings = cJSON_AddArrayToObject(result, "findings");
	rc = login(&af);
	if (rc == 0)
		rc = list_runs(&af, "~", "running", NULL, 0, check_run, &w);
	if (rc == 0 && o->start_grace_ms > 0) {
		w.late = 1;
		rc = list_runs(&af, "~", "queued", NULL, 0, check_run, &w);
	}
	free(af.auth);
	dw_http_free(af.http);
	return rc;
}
