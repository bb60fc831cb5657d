/* cleanup.c - the clean-up plan: read the policy, list what it covers
 * (reading only), guard its size, and delete exactly the listed items. */
#include "ops/cleanup.h"
#include "aws/cloudwatch.h"
#include "ops/copy.h"
#include "aws/glue.h"
#include "base/log.h"
#include "proto/req.h"
#include "aws/s3.h"
#include "aws/sigv4.h"
#include "aws/sqs.h"
#include "base/timefmt.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400L
#define DELETE_BATCH 1000

/* ---- the policy -------------------------------------------------------- */

/* The policy's field tables: the operator's request schema uses them, and
 * each section is bound from them into its rule struct. */
const struct dw_field dw_cleanup_snapshot_fields[] = {
	DW_INT("idle_hours", struct dw_cleanup_copies, idle_hours, 0, 0, 0, 24L * 366,
	       "also copies with no database connections for this many hours (CloudWatch DatabaseConnections; 0: not)"),
	DW_STR("owner", struct dw_cleanup_copies, owner, 0, NULL, "only this owner's copies (default: everyone's)"),
	DW_FIELDS_END
};
const struct dw_field dw_cleanup_s3_fields[] = {
	DW_STR("bucket", struct dw_cleanup_s3_rule, bucket, DW_REQUIRED, NULL, "bucket"),
	DW_STR("prefix", struct dw_cleanup_s3_rule, prefix, DW_REQUIRED, NULL, "key prefix (never empty)"),
	DW_INT("older_than_days", struct dw_cleanup_s3_rule, older_than_days, DW_REQUIRED, 0, 1, 100000,
	       "delete objects last modified more than this many days ago"),
	DW_INT("keep_latest", struct dw_cleanup_s3_rule, keep_latest, 0, 0, 0, 1000000,
	       "always keep this many newest objects under the prefix"),
	DW_FIELDS_END
};
const struct dw_field dw_cleanup_table_fields[] = {
	DW_STR("database", struct dw_cleanup_table_rule, database, DW_REQUIRED, NULL, "Glue database"),
	DW_STR("pattern", struct dw_cleanup_table_rule, pattern, DW_REQUIRED, NULL,
	       "table names, a glob (fnmatch): \"tmp_*\""),
	DW_INT("older_than_days", struct dw_cleanup_table_rule, older_than_days, DW_NODEFAULT, -1, 1, 100000,
	       "drop tables created or last updated more than this many days ago"),
	DW_BOOL("location_empty", struct dw_cleanup_table_rule, location_empty, 0, 0,
		"drop tables whose S3 location holds no objects"),
	DW_FIELDS_END
};
const struct dw_field dw_cleanup_queue_fields[] = {
	DW_STR("prefix", struct dw_cleanup_queue_rule, prefix, DW_REQUIRED, NULL, "queue name prefix (never empty)"),
	DW_INT("unused_days", struct dw_cleanup_queue_rule, unused_days, DW_REQUIRED, 0, 1, 455,
	       "delete empty queues not used for this many days"),
	DW_FIELDS_END
};

static int nonempty(const char *v, const char *path, const char *name)
{
	char where[96];

	if (*v)
		return 0;
	snprintf(where, sizeof(where), "%s.%s", path, name);
	return dw_invalid(where, "%s must not be empty", where);
}

static int read_copies(struct dw_cleanup_copies *c, const cJSON *sec)
{
	if (!sec || cJSON_IsNull(sec))
		return 0;
	c->enabled = 1;
	return dw_req_bind_at(sec, dw_cleanup_snapshot_fields, "snapshots", c);
}

static int read_s3_rule(struct dw_cleanup_s3_rule *r, const cJSON *o, size_t i)
{
	char path[64];

	snprintf(path, sizeof(path), "s3[%zu]", i);
	if (dw_req_bind_at(o, dw_cleanup_s3_fields, path, r))
		return -1;
	return nonempty(r->bucket, path, "bucket") || nonempty(r->prefix, path, "prefix") ? -1 : 0;
}

static int read_table_rule(struct dw_cleanup_table_rule *r, const cJSON *o, size_t i)
{
	char path[64];

	snprintf(path, sizeof(path), "tables[%zu]", i);
	if (dw_req_bind_at(o, dw_cleanup_table_fields, path, r) ||
	    nonempty(r->database, path, "database") || nonempty(r->pattern, path, "pattern"))
		return -1;
	if (r->older_than_days < 0 && !r->location_empty)
		return dw_invalid(path, "%s needs older_than_days, location_empty: true, or both", path);
	return 0;
}

static int read_queue_rule(struct dw_cleanup_queue_rule *r, const cJSON *o, size_t i)
{
	char path[64];

	snprintf(path, sizeof(path), "queues[%zu]", i);
	if (dw_req_bind_at(o, dw_cleanup_queue_fields, path, r))
		return -1;
	return nonempty(r->prefix, path, "prefix");
}

/* The items of an array (none for anything else), and how many. */
static const cJSON *items_of(const cJSON *arr, size_t *n)
{
	*n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
	return *n ? arr->child : NULL;
}

int dw_cleanup_policy_read(struct dw_cleanup_policy *p, const cJSON *req)
{
	const cJSON *s3, *tables, *queues;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	s3 = items_of(cJSON_GetObjectItemCaseSensitive(req, "s3"), &p->ns3);
	tables = items_of(cJSON_GetObjectItemCaseSensitive(req, "tables"), &p->ntables);
	queues = items_of(cJSON_GetObjectItemCaseSensitive(req, "queues"), &p->nqueues);
	p->s3 = dw_xcalloc(p->ns3 + 1, sizeof(*p->s3));
	p->tables = dw_xcalloc(p->ntables + 1, sizeof(*p->tables));
	p->queues = dw_xcalloc(p->nqueues + 1, sizeof(*p->queues));
	rc = read_copies(&p->copies, cJSON_GetObjectItemCaseSensitive(req, "snapshots"));
	for (size_t i = 0; rc == 0 && i < p->ns3; i++, s3 = s3->next)
		rc = read_s3_rule(&p->s3[i], s3, i);
	for (size_t i = 0; rc == 0 && i < p->ntables; i++, tables = tables->next)
		rc = read_table_rule(&p->tables[i], tables, i);
	for (size_t i = 0; rc == 0 && i < p->nqueues; i++, queues = queues->next)
		rc = read_queue_rule(&p->queues[i], queues, i);
	if (rc == 0 && !p->copies.enabled && !p->ns3 && !p->ntables && !p->nqueues)
		rc = dw_invalid(NULL, "nothing to look at: give at least one of snapshots, s3, "
				"tables, queues");
	if (rc)
		dw_cleanup_policy_release(p);
	return rc;
}

void dw_cleanup_policy_release(struct dw_cleanup_policy *p)
{
	free(p->s3);
	free(p->tables);
	free(p->queues);
	memset(p, 0, sizeof(*p));
}

/* ---- the plan model ---------------------------------------------------- */

void dw_cleanup_plan_init(struct dw_cleanup_plan *plan, time_t now)
{
	memset(plan, 0, sizeof(*plan));
	plan->now = now;
}

void dw_cleanup_plan_release(struct dw_cleanup_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct dw_cleanup_item *it = &plan->items[i];
		free(it->rule);
		free(it->scope);
		free(it->name);
		free(it->reason);
		free(it->error);
	}
	free(plan->items);
	memset(plan, 0, sizeof(*plan));
}

/* Each item is listed once, even when rules overlap: 1 when one of the
 * first `end` items is this one. */
static int already_listed(const struct dw_cleanup_plan *plan, enum dw_cleanup_kind kind,
			  const char *scope, const char *name, size_t end)
{
	for (size_t i = 0; i < end; i++) {
		const struct dw_cleanup_item *it = &plan->items[i];
		if (it->kind == kind && strcmp(it->name, name) == 0 &&
		    (it->scope && scope ? strcmp(it->scope, scope) == 0 : it->scope == scope))
			return 1;
	}
	return 0;
}

static void add_item(struct dw_cleanup_plan *plan, enum dw_cleanup_kind kind,
		     const char *rule, const char *scope, const char *name, char *reason)
{
	struct dw_cleanup_item *it;

	if (plan->n == plan->cap) {
		plan->cap = plan->cap ? 2 * plan->cap : 64;
		plan->items = dw_xrealloc(plan->items, plan->cap * sizeof(*plan->items));
	}
	it = &plan->items[plan->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->rule = dw_xstrdup(rule);
	it->scope = scope ? dw_xstrdup(scope) : NULL;
	it->name = dw_xstrdup(name);
	it->reason = reason;
}

static long days_between(time_t then, time_t now)
{
	return (long)((now - then) / DAY_S);
}

/* ---- warehouse copies --------------------------------------------------- */

/* Sets *idle when the copy had no connection during the last idle_hours:
 * it is at least that old and CloudWatch has datapoints for the window, all
 * zero.  Missing data is not taken as idle. */
static int copy_is_idle(struct dw_aws *aws, const struct dw_copy *c, long idle_hours,
			time_t now, int *idle)
{
	/* A clone's connections are counted on its cluster. */
	struct dw_cw_dimension dim = {
		c->is_cluster ? "DBClusterIdentifier" : "DBInstanceIdentifier",
		c->is_cluster ? c->cluster : c->instance,
	};
	struct dw_cw_query q = {
		.namespace_ = "AWS/RDS", .metric = "DatabaseConnections",
		.dims = &dim, .ndims = 1, .start = now - idle_hours * 3600L, .end = now,
		.statistic = "Maximum",
	};
	struct dw_cw_datapoint *points = NULL;
	size_t n = 0;
	time_t created = dw_time_parse_iso(c->created_at);

	*idle = 0;
	if (created < 0 || created > q.start)
		return 0;
	if (dw_cw_metric_statistics(aws, &q, &points, &n))
		return -1;
	*idle = n > 0;
	for (size_t i = 0; i < n; i++)
		if (points[i].value > 0)
			*idle = 0;
	free(points);
	return 0;
}

static int plan_copy(struct dw_aws *aws, const struct dw_cleanup_copies *cfg,
		     const struct dw_copy *c, struct dw_cleanup_plan *plan)
{
	int idle = 0;

	/* dw_copy_list only lists managed copies; checked again because this
	 * is the one promise that must never break. */
	if (!c->managed)
		return 0;
	if (strcmp(c->status, "deleting") == 0) {
		dw_info("%s is already being deleted; leaving it", c->instance);
		return 0;
	}
	if (c->expires && c->expires <= plan->now) {
		add_item(plan, DW_CLEANUP_COPY, "snapshots", NULL, c->instance,
			 dw_xasprintf("expired at %s (owner %s)", c->expires_at,
				      c->owner[0] ? c->owner : "unknown"));
		return 0;
	}
	if (cfg->idle_hours <= 0)
		return 0;
	if (copy_is_idle(aws, c, cfg->idle_hours, plan->now, &idle))
		return dw_error_context("checking whether %s is idle", c->instance);
	if (idle)
		add_item(plan, DW_CLEANUP_COPY, "snapshots", NULL, c->instance,
			 dw_xasprintf("no database connections for %ld hours (owner %s, expires %s)",
				      cfg->idle_hours, c->owner[0] ? c->owner : "unknown",
				      c->expires_at[0] ? c->expires_at : "never"));
	return 0;
}

static int plan_copies(struct dw_aws *aws, const struct dw_cleanup_copies *cfg,
		       struct dw_cleanup_plan *plan)
{
	struct dw_copy *copies = NULL;
	size_t n = 0;
	int rc = 0;

	if (dw_copy_list(aws, cfg->owner, &copies, &n))
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = plan_copy(aws, cfg, &copies[i], plan);
	dw_info("snapshots: %zu managed copies looked at", n);
	free(copies);
	return rc;
}

/* ---- S3 objects -------------------------------------------------------- */

struct s3_object {
	char *key;
	time_t mtime;
};

struct s3_listing {
	struct s3_object *items;
	size_t n, cap;
};

static int collect_object(void *ud, const struct dw_s3_object *o)
{
	struct s3_listing *l = ud;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->items = dw_xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->n].key = dw_xstrdup(o->key);
	l->items[l->n].mtime = o->mtime;
	l->n++;
	return 0;
}

/* Newest first; equal times by key, so the order never depends on the
 * listing's. */
static int newest_first(const void *a, const void *b)
{
	const struct s3_object *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? 1 : -1;
	return strcmp(x->key, y->key);
}

static char *object_reason(const struct dw_cleanup_s3_rule *r, time_t mtime, time_t now)
{
	char iso[32];

	dw_time_format_iso(mtime, iso);
	if (r->keep_latest > 0)
		return dw_xasprintf("last modified %s, %ld days ago (older than %ld days); "
				    "not among the %ld newest under %s", iso,
				    days_between(mtime, now), r->older_than_days,
				    r->keep_latest, r->prefix);
	return dw_xasprintf("last modified %s, %ld days ago (older than %ld days)", iso,
			    days_between(mtime, now), r->older_than_days);
}

static int plan_s3_rule(struct dw_aws *aws, const struct dw_cleanup_s3_rule *r,
			const char *rule, struct dw_cleanup_plan *plan)
{
	struct s3_listing found = { 0 };
	struct dw_s3_list l = {
		.bucket = r->bucket, .prefix = r->prefix, .on_object = collect_object, .ud = &found,
	};
	time_t cutoff = plan->now - r->older_than_days * DAY_S;
	size_t first = plan->n;
	int rc = dw_s3_list_objects(aws, &l);

	if (rc == 0 && found.n)
		qsort(found.items, found.n, sizeof(*found.items), newest_first);
	for (size_t i = 0; i < found.n; i++) {
		const struct s3_object *o = &found.items[i];
		/* An object whose age cannot be read is never taken for old. */
		if (rc == 0 && (long)i >= r->keep_latest && o->mtime >= 0 && o->mtime < cutoff &&
		    !already_listed(plan, DW_CLEANUP_OBJECT, r->bucket, o->key, first))
			add_item(plan, DW_CLEANUP_OBJECT, rule, r->bucket, o->key,
				 object_reason(r, o->mtime, plan->now));
		free(o->key);
	}
	if (rc == 0)
		dw_info("%s: s3://%s/%s: %zu objects in %lu pages, %zu to delete", rule, r->bucket,
			r->prefix, found.n, l.pages, plan->n - first);
	free(found.items);
	return rc;
}

/* ---- Glue tables ------------------------------------------------------- */

struct table_scan {
	struct dw_aws *aws;
	const struct dw_cleanup_table_rule *r;
	const char *rule;
	struct dw_cleanup_plan *plan;
	size_t first;  /* items listed before this rule */
	size_t seen;
};

/* Glue gives times as epoch seconds; ISO text is taken too. */
static time_t glue_time(const cJSON *v)
{
	if (cJSON_IsNumber(v))  /* bounded: a cast out of range is undefined */
		return v->valuedouble >= 0 && v->valuedouble < 1e12 ? (time_t)v->valuedouble : (time_t)-1;
	if (cJSON_IsString(v))
		return dw_time_parse_iso(v->valuestring);
	return (time_t)-1;
}

static int stop_at_first(void *ud, const struct dw_s3_object *o)
{
	(void)o;
	*(int *)ud = 1;
	return 1;
}

/* Is there no object under the table's location?  *why says why it is
 * empty; locations that are not s3:// are never taken for empty. */
static int location_empty(struct dw_aws *aws, const char *location, int *empty, char **why)
{
	char *bucket = NULL, *prefix = NULL;
	int found = 0, rc;

	*empty = 0;
	if (!location || strncmp(location, "s3://", 5) != 0 ||
	    dw_s3_parse_url(location, "location", &bucket, &prefix)) {
		dw_error_clear();
		return 0;
	}
	if (*prefix && prefix[strlen(prefix) - 1] != '/') {
		char *dir = dw_xasprintf("%s/", prefix);
		free(prefix);
		prefix = dir;
	}
	struct dw_s3_list l = {
		.bucket = bucket, .prefix = prefix, .page_size = 1,
		.on_object = stop_at_first, .ud = &found,
	};
	rc = dw_s3_list_objects(aws, &l);
	if (rc && dw_error_is("NoSuchBucket")) {
		dw_error_clear();
		*empty = 1;
		*why = dw_xasprintf("its location %s is gone (bucket %s no longer exists)", location, bucket);
		rc = 0;
	} else if (rc == 0 && !found) {
		*empty = 1;
		*why = dw_xasprintf("its location %s holds no objects", location);
	}
	free(bucket);
	free(prefix);
	return rc;
}

/* Why the table goes, or NULL when it stays. */
static int table_reason(struct table_scan *s, const cJSON *t, char **reason)
{
	const struct dw_cleanup_table_rule *r = s->r;
	time_t created = glue_time(cJSON_GetObjectItemCaseSensitive(t, "CreateTime"));
	time_t updated = glue_time(cJSON_GetObjectItemCaseSensitive(t, "UpdateTime"));
	time_t changed = updated > created ? updated : created;
	int empty = 0;

	*reason = NULL;
	if (r->older_than_days > 0 && changed >= 0 &&
	    changed < s->plan->now - r->older_than_days * DAY_S) {
		char iso[32];
		dw_time_format_iso(changed, iso);
		*reason = dw_xasprintf("last changed %s, %ld days ago (older than %ld days)", iso,
				       days_between(changed, s->plan->now), r->older_than_days);
		return 0;
	}
	if (!r->location_empty)
		return 0;
	const char *location = dw_json_str(
		cJSON_GetObjectItemCaseSensitive(t, "StorageDescriptor"), "Location");
	return location_empty(s->aws, location, &empty, reason);
}

static int on_table(void *ud, const cJSON *t)
{
	struct table_scan *s = ud;
	const char *name = dw_json_str(t, "Name");
	char *reason = NULL;

	s->seen++;
	if (!name || fnmatch(s->r->pattern, name, 0) != 0 ||
	    already_listed(s->plan, DW_CLEANUP_TABLE, s->r->database, name, s->first))
		return 0;
	if (table_reason(s, t, &reason))
		return dw_error_context("looking at table %s.%s", s->r->database, name);
	if (reason)
		add_item(s->plan, DW_CLEANUP_TABLE, s->rule, s->r->database, name, reason);
	return 0;
}

static int plan_table_rule(struct dw_aws *aws, const struct dw_cleanup_table_rule *r,
			   const char *rule, struct dw_cleanup_plan *plan)
{
	struct table_scan s = { aws, r, rule, plan, plan->n, 0 };

	if (dw_glue_get_tables(aws, r->database, on_table, &s))
		return -1;
	dw_info("%s: %s: %zu tables, %zu to drop", rule, r->database, s.seen, plan->n - s.first);
	return 0;
}

/* ---- SQS queues -------------------------------------------------------- */

struct queue_scan {
	struct dw_aws *aws;
	const struct dw_cleanup_queue_rule *r;
	const char *rule;
	struct dw_cleanup_plan *plan;
	size_t first;
	size_t seen;
};

static double attr_num(const cJSON *attrs, const char *name)
{
	const char *v = dw_json_str(attrs, name);

	return v ? strtod(v, NULL) : 0;
}

/* Messages sent or received during [start, end], per CloudWatch; a queue
 * with no data published nothing (SQS stops publishing for idle queues). */
static int queue_activity(struct dw_aws *aws, const char *name, time_t start, time_t end,
			  double *total)
{
	static const char *const metrics[] = { "NumberOfMessagesSent", "NumberOfMessagesReceived" };
	struct dw_cw_dimension dim = { "QueueName", name };

	*total = 0;
	for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
		struct dw_cw_query q = {
			.namespace_ = "AWS/SQS", .metric = metrics[m], .dims = &dim, .ndims = 1,
			.start = start, .end = end, .period_s = (int)DAY_S, .statistic = "Sum",
		};
		struct dw_cw_datapoint *points = NULL;
		size_t n = 0;
		if (dw_cw_metric_statistics(aws, &q, &points, &n))
			return -1;
		for (size_t i = 0; i < n; i++)
			*total += points[i].value;
		free(points);
	}
	return 0;
}

/* Why the queue goes (empty, unchanged and unused for unused_days), or
 * NULL when it stays. */
static int queue_reason(struct queue_scan *s, const char *url, const char *name,
			char **reason)
{
	cJSON *attrs = NULL;
	time_t cutoff = s->plan->now - s->r->unused_days * DAY_S;
	double activity = 0;
	int rc;

	*reason = NULL;
	if (dw_sqs_queue_attributes(s->aws, url, &attrs))
		return -1;
	time_t created = (time_t)attr_num(attrs, "CreatedTimestamp");
	time_t modified = (time_t)attr_num(attrs, "LastModifiedTimestamp");
	double messages = attr_num(attrs, "ApproximateNumberOfMessages") +
			  attr_num(attrs, "ApproximateNumberOfMessagesNotVisible") +
			  attr_num(attrs, "ApproximateNumberOfMessagesDelayed");
	cJSON_Delete(attrs);
	if (messages > 0 || created <= 0 || created >= cutoff || modified >= cutoff)
		return 0;
	rc = queue_activity(s->aws, name, cutoff, s->plan->now, &activity);
	if (rc == 0 && activity <= 0) {
		char c_iso[32], m_iso[32];
		dw_time_format_iso(created, c_iso);
		dw_time_format_iso(modified, m_iso);
		*reason = dw_xasprintf("empty, and no messages sent or received in the last %ld days "
				       "(created %s, attributes last changed %s)",
				       s->r->unused_days, c_iso, m_iso);
	}
	return rc;
}

static int on_queue(void *ud, const char *url)
{
	struct queue_scan *s = ud;
	const char *slash = strrchr(url, '/');
	const char *name = slash ? slash + 1 : url;
	char *reason = NULL;

	/* The prefix is checked here too: not every endpoint honours it. */
	if (strncmp(name, s->r->prefix, strlen(s->r->prefix)) != 0 ||
	    already_listed(s->plan, DW_CLEANUP_QUEUE, NULL, url, s->first))
		return 0;
	s->seen++;
	if (queue_reason(s, url, name, &reason)) {
		if (!dw_error_is("QueueDoesNotExist") &&
		    !dw_error_is("AWS.SimpleQueueService.NonExistentQueue"))
			return dw_error_context("looking at queue %s", name);
		dw_error_clear();
	}
	if (reason)
		add_item(s->plan, DW_CLEANUP_QUEUE, s->rule, NULL, url, reason);
	return 0;
}

static int plan_queue_rule(struct dw_aws *aws, const struct dw_cleanup_queue_rule *r,
			   const char *rule, struct dw_cleanup_plan *plan)
{
	struct queue_scan s = { aws, r, rule, plan, plan->n, 0 };

	if (dw_sqs_list_queues(aws, r->prefix, on_queue, &s))
		return -1;
	dw_info("%s: queues named %s*: %zu, %zu to delete", rule, r->prefix, s.seen,
		plan->n - s.first);
	return 0;
}

/* ---- making the plan --------------------------------------------------- */

int dw_cleanup_plan_make(struct dw_aws *aws, const struct dw_cleanup_policy *policy,
			 struct dw_cleanup_plan *plan)
{
	char rule[32];

	if (policy->copies.enabled && plan_copies(aws, &policy->copies, plan))
		return dw_error_context("planning snapshots");
	for (size_t i = 0; i < policy->ns3; i++) {
		snprintf(rule, sizeof(rule), "s3[%zu]", i);
		if (plan_s3_rule(aws, &policy->s3[i], rule, plan))
			return dw_error_context("planning %s", rule);
	}
	for (size_t i = 0; i < policy->ntables; i++) {
		snprintf(rule, sizeof(rule), "tables[%zu]", i);
		if (plan_table_rule(aws, &policy->tables[i], rule, plan))
			return dw_error_context("planning %s", rule);
	}
	for (size_t i = 0; i < policy->nqueues; i++) {
		snprintf(rule, sizeof(rule), "queues[%zu]", i);
		if (plan_queue_rule(aws, &policy->queues[i], rule, plan))
			return dw_error_context("planning %s", rule);
	}
	return 0;
}

int dw_cleanup_guard(const struct dw_cleanup_plan *plan, size_t max_deletions)
{
	if (plan->n <= max_deletions)
		return 0;
	return dw_raise(DW_INVALID, "TooManyDeletions", "max_deletions",
			"the plan has %zu deletions, more than max_deletions (%zu); nothing was "
			"deleted. Check the plan, then raise max_deletions in the request to go ahead",
			plan->n, max_deletions);
}

/* ---- applying it ------------------------------------------------------- */

char *dw_cleanup_item_target(const struct dw_cleanup_item *it)
{
	switch (it->kind) {
	case DW_CLEANUP_OBJECT:
		return dw_xasprintf("s3://%s/%s", it->scope, it->name);
	case DW_CLEANUP_TABLE:
		return dw_xasprintf("%s.%s", it->scope, it->name);
	case DW_CLEANUP_COPY:
	case DW_CLEANUP_QUEUE:
		break;
	}
	return dw_xstrdup(it->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void dw_cleanup_plan_hash(const struct dw_cleanup_plan *plan, char out[65])
{
	char **lines = dw_xcalloc(plan->n ? plan->n : 1, sizeof(*lines));
	struct dw_buf all;

	/* Length-prefixed: an S3 key may hold any character, a newline too. */
	for (size_t i = 0; i < plan->n; i++) {
		const char *kind = dw_cleanup_kind_name(plan->items[i].kind);
		char *target = dw_cleanup_item_target(&plan->items[i]);
		lines[i] = dw_xasprintf("%zu:%s %zu:%s\n", strlen(kind), kind, strlen(target), target);
		free(target);
	}
	qsort(lines, plan->n, sizeof(*lines), cmp_str);
	dw_buf_init(&all);
	dw_buf_puts(&all, "dwops-cleanup-plan/1\n");
	for (size_t i = 0; i < plan->n; i++) {
		dw_buf_puts(&all, lines[i]);
		free(lines[i]);
	}
	free(lines);
	dw_sha256_hex(all.data, all.len, out);
	dw_buf_release(&all);
}

int dw_cleanup_expect(const struct dw_cleanup_plan *plan, const char *expect)
{
	char hash[65];

	if (strlen(expect) != 64 || strspn(expect, "0123456789abcdef") != 64)
		return dw_invalid("expect_plan", "expect_plan must be a plan's plan_hash (64 "
				  "lower-case hex digits)");
	dw_cleanup_plan_hash(plan, hash);
	if (strcmp(hash, expect) != 0)
		return dw_raise(DW_INVALID, "PlanChanged", "expect_plan",
				"the plan is not the one reviewed: its hash is %s, not %s "
				"(%zu items now); nothing was deleted: review the new plan",
				hash, expect, plan->n);
	return 0;
}

static void log_deletion(const struct dw_cleanup_item *it)
{
	char *target = dw_cleanup_item_target(it);

	dw_info("deleting %s %s: %s", dw_cleanup_kind_name(it->kind), target, it->reason);
	free(target);
}

static void mark_failed(struct dw_cleanup_item *it, const char *code, const char *message)
{
	char *target = dw_cleanup_item_target(it);

	it->status = DW_CLEANUP_FAILED;
	free(it->error);
	it->error = dw_xasprintf("%s: %s", code, message);
	dw_warn("could not delete %s %s: %s", dw_cleanup_kind_name(it->kind), target, it->error);
	free(target);
}

/* Gone already counts as done: the goal is reached either way. */
static int already_gone(void)
{
	return dw_error_is("DBInstanceNotFound") || dw_error_is("DBClusterNotFoundFault") ||
	       dw_error_is("EntityNotFoundException") ||
	       dw_error_is("QueueDoesNotExist") ||
	       dw_error_is("AWS.SimpleQueueService.NonExistentQueue");
}

static void delete_one(struct dw_aws *aws, struct dw_cleanup_item *it)
{
	int rc = 0;

	log_deletion(it);
	switch (it->kind) {
	case DW_CLEANUP_COPY:
		/* Refuses anything without the managed-by tag, whatever the plan says. */
		rc = dw_copy_destroy(aws, it->name,
				     &(struct dw_copy_destroy_opts){ .as_admin = 1 });
		break;
	case DW_CLEANUP_TABLE:
		rc = dw_glue_delete_table(aws, it->scope, it->name);
		break;
	case DW_CLEANUP_QUEUE:
		rc = dw_sqs_delete_queue(aws, it->name);
		break;
	case DW_CLEANUP_OBJECT:
		return; /* in batches, see delete_objects */
	}
	if (rc && already_gone()) {
		dw_info("%s was already gone", it->name);
		rc = 0;
	}
	if (rc)
		mark_failed(it, dw_error_last()->code, dw_error_last()->message);
	else
		it->status = DW_CLEANUP_DONE;
	dw_error_clear();
}

/* A run of consecutive object items in one bucket: first[0..n). */
struct object_batch {
	struct dw_cleanup_item *first;
	const char **keys;
	size_t n;
};

static void on_key_failed(void *ud, const char *key, const char *code, const char *message)
{
	struct object_batch *b = ud;

	for (size_t i = 0; i < b->n; i++)
		if (b->first[i].status == DW_CLEANUP_PLANNED && strcmp(b->keys[i], key) == 0) {
			mark_failed(&b->first[i], code, message);
			return;
		}
}

/* The objects from items[start] on that share its bucket, up to one
 * DeleteObjects call; returns the index after the batch. */
static size_t delete_objects(struct dw_aws *aws, struct dw_cleanup_plan *plan, size_t start)
{
	struct object_batch b = { &plan->items[start], NULL, 0 };
	const char *bucket = plan->items[start].scope;

	b.keys = dw_xcalloc(DELETE_BATCH, sizeof(const char *));
	while (start + b.n < plan->n && b.n < DELETE_BATCH &&
	       b.first[b.n].kind == DW_CLEANUP_OBJECT && strcmp(b.first[b.n].scope, bucket) == 0) {
		log_deletion(&b.first[b.n]);
		b.keys[b.n] = b.first[b.n].name;
		b.n++;
	}
	int rc = dw_s3_delete_objects(aws, bucket, b.keys, b.n, on_key_failed, &b);
	for (size_t i = 0; i < b.n; i++) {
		if (b.first[i].status != DW_CLEANUP_PLANNED)
			continue;
		if (rc)
			mark_failed(&b.first[i], dw_error_last()->code, dw_error_last()->message);
		else
			b.first[i].status = DW_CLEANUP_DONE;
	}
	dw_error_clear();
	free(b.keys);
	return start + b.n;
}

int dw_cleanup_apply(struct dw_aws *aws, struct dw_cleanup_plan *plan)
{
	size_t failed;

	for (size_t i = 0; i < plan->n;) {
		if (plan->items[i].kind == DW_CLEANUP_OBJECT) {
			i = delete_objects(aws, plan, i);
		} else {
			delete_one(aws, &plan->items[i]);
			i++;
		}
	}
	failed = dw_cleanup_count(plan, DW_CLEANUP_FAILED);
	dw_info("cleanup: %zu deleted, %zu failed", dw_cleanup_count(plan, DW_CLEANUP_DONE), failed);
	if (failed)
		return dw_fail("CleanupIncomplete", "%zu of %zu deletions failed (the others were done); "
			       "see the failed items", failed, plan->n);
	return 0;
}

/* ---- reporting --------------------------------------------------------- */

size_t dw_cleanup_count(const struct dw_cleanup_plan *plan, enum dw_cleanup_status status)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->n; i++)
		n += plan->items[i].status == status;
	return n;
}

const char *dw_cleanup_kind_name(enum dw_cleanup_kind kind)
{
	switch (kind) {
	case DW_CLEANUP_COPY: return "copy";
	case DW_CLEANUP_OBJECT: return "s3-object";
	case DW_CLEANUP_TABLE: return "glue-table";
	case DW_CLEANUP_QUEUE: return "sqs-queue";
	}
	return "unknown";
}

const char *dw_cleanup_status_name(enum dw_cleanup_status status)
{
	switch (status) {
	case DW_CLEANUP_PLANNED: return "planned";
	case DW_CLEANUP_DONE: return "done";
	case DW_CLEANUP_FAILED: return "failed";
	}
	return "unknown";
}
