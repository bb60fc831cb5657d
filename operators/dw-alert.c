/* dw-alert - failures reach people: publish alerts to SNS (notify), find
 * them in CloudWatch Logs (scan), mail them with SES from an SQS queue
 * subscribed to the topic (deliver), and find Airflow runs that hang
 * (watch).  The logic lives in core/ops/alert.c and alertwatch.c; this
 * file reads requests and prints results. */
#include "ops/alert.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "proto/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 100
#define MAX_DAY_S 86400LL
#define MAX_WEEK_S (7 * 86400LL)
/* A result file larger than this is not a dwops result line. */
#define MAX_RESULT_FILE (4u << 20)

/* Every action's request (each action's table binds the fields it has). */
struct rule_req {
	const char *name, *contains, *regex, *json_field, *equals, *severity;
	int ignore_case;
};
struct alert_req {
	const char *table, *topic_arn, *source, *severity, *subject, *text, *link, *group_id;
	const char *result_file, *log_group, *name, *queue_url, *from, *subject_prefix;
	const char *url, *username, *checkpoint_parameter;
	char *password;
	const cJSON *result, *context, *rules, *recipients, *limits_s, *dag_ids;
	long long window_s, lookback_s, dedup_window_s, default_limit_s, min_limit_s, start_grace_s;
	int page_size, samples, max_messages, wait_s, visibility_s, airflow_version, median_runs;
	double send_rate, median_factor;
	int digest, dry_run;
};

#define F(kind, n, ...) DW_##kind(n, struct alert_req, __VA_ARGS__)
#define TABLE_FIELD \
	F(STR, "table", table, 0, DW_ALERT_TABLE_DEFAULT, "DynamoDB state table (key \"key\", a string)")

static const struct dw_field notify_fields[] = {
	F(STR, "topic_arn", topic_arn, DW_REQUIRED, NULL, "the SNS topic (a .fifo topic gets a group and a de-duplication id)"),
	F(ANY, "result", result, 0, "the failed operator's result: its JSON object, or the text of its last stdout line"),
	F(STR, "result_file", result_file, 0, NULL, "a file holding the failed operator's result: the whole file, or its last non-empty line"),
	F(STR, "source", source, 0, NULL, "where it comes from: \"airflow\", \"jenkins\", ... (default dwops)"),
	F(CHOICE, "severity", severity, 0, NULL, DW_CHOICES("info", "warning", "error", "critical"),
	  "the alert's severity (default error, or the result's)"),
	F(STR, "subject", subject, 0, NULL, "one line (default: \"<operator> <action> failed: <code>\")"),
	F(STR, "text", text, 0, NULL, "the alert's text"),
	F(STR, "link", link, 0, NULL, "where to look: a log or build URL"),
	F(MAP, "context", context, 0, "names to values: dag_id, task_id, run_id, try_number, log_url, build_url, ..."),
	F(STR, "group_id", group_id, 0, NULL, "FIFO topics: the message group (default: the source)"),
	F(BOOL, "dry_run", dry_run, 0, 0, "build the alert and show it, publish nothing"),
	DW_FIELDS_END
};

static const struct dw_field rule_fields[] = {
	DW_STR("name", struct rule_req, name, DW_REQUIRED, NULL, "the rule's name (the alert's code)"),
	DW_STR("contains", struct rule_req, contains, 0, NULL, "match: the message holds this text"),
	DW_STR("regex", struct rule_req, regex, 0, NULL, "match: a POSIX extended regular expression"),
	DW_STR("json_field", struct rule_req, json_field, 0, NULL, "match: this member (dotted path) of a JSON message ..."),
	DW_STR("equals", struct rule_req, equals, 0, NULL, "... has this value (compared as text)"),
	DW_BOOL("ignore_case", struct rule_req, ignore_case, 0, 0, "compare without case"),
	DW_CHOICE("severity", struct rule_req, severity, 0, "error", DW_CHOICES("info", "warning", "error", "critical"),
		  "the incidents' severity"),
	DW_FIELDS_END
};

static const struct dw_field scan_fields[] = {
	F(STR, "log_group", log_group, DW_REQUIRED, NULL, "the CloudWatch Logs group"),
	F(STR, "topic_arn", topic_arn, DW_REQUIRED, NULL, "the SNS topic incidents go to"),
	F(OBJS, "rules", rules, DW_REQUIRED, rule_fields, "what to look for: 1 to 100 rules, exactly one of contains, regex, json_field+equals each"),
	F(STR, "name", name, 0, "default", "the checkpoint's name, for several scans of one group"),
	F(STR, "checkpoint_parameter", checkpoint_parameter, 0, NULL,
	  "keep the checkpoint in this SSM parameter instead of the table"),
	TABLE_FIELD,
	F(INT, "window_s", window_s, 0, 300, 0, MAX_DAY_S,
	  "matches of a rule in a stream within this many seconds of the first are one incident"),
	F(INT, "lookback_s", lookback_s, 0, 3600, 1, 14 * MAX_DAY_S, "first run (no checkpoint): read this far back"),
	F(INT, "page_size", page_size, DW_NODEFAULT, 0, 0, 10000, "events per FilterLogEvents page (default: the service's)"),
	F(INT, "samples", samples, 0, 5, 0, 50, "lines quoted per incident"),
	F(BOOL, "dry_run", dry_run, 0, 0, "find and count incidents, publish nothing, keep the checkpoint"),
	DW_FIELDS_END
};

static const struct dw_field recipient_fields[] = {
	DW_FIELD("default", DW_T_STRINGS, DW_REQUIRED, NULL, "who gets an alert no other list names"),
	DW_FIELD("severity", DW_T_ANY, 0, NULL, "{\"critical\": [addresses]}: by the alert's severity"),
	DW_FIELD("source", DW_T_ANY, 0, NULL, "{\"jenkins\": [addresses]}: by the alert's source"),
	DW_FIELDS_END
};

static const struct dw_field deliver_fields[] = {
	F(STR, "queue_url", queue_url, DW_REQUIRED, NULL, "the SQS queue subscribed to the topic (raw or not)"),
	F(STR, "from", from, DW_REQUIRED, NULL, "the sender: an SES-verified identity"),
	F(OBJ, "recipients", recipients, DW_REQUIRED, recipient_fields, "who gets what: source's and severity's lists, else default"),
	TABLE_FIELD,
	F(INT, "dedup_window_s", dedup_window_s, 0, 3600, 0, MAX_WEEK_S, "the same alert within this many seconds is mailed once"),
	F(INT, "max_messages", max_messages, 0, 100, 1, 10000, "read at most this many messages per run"),
	F(INT, "wait_s", wait_s, 0, 1, 0, 20, "long-poll wait per receive; an empty receive ends the run"),
	F(INT, "visibility_s", visibility_s, 0, 60, 1, 43200, "messages being mailed stay hidden this long"),
	F(NUM, "send_rate", send_rate, DW_NODEFAULT, 0, 0, 1000,
	  "recipients per second at most (SES counts each recipient), above 0 (default and cap: the account's MaxSendRate)"),
	F(BOOL, "digest", digest, 0, 0, "one mail per recipient list with every alert of the run"),
	F(STR, "subject_prefix", subject_prefix, 0, "[dwops]", "in front of every mail's subject"),
	DW_FIELDS_END
};

static const struct dw_field watch_fields[] = {
	F(STR, "url", url, DW_REQUIRED, NULL, "the Airflow web server (2) or API server (3), e.g. http://airflow:8080"),
	F(INT, "airflow_version", airflow_version, DW_REQUIRED, 2, 2, 3,
	  "2 (/api/v1, basic auth) or 3 (/api/v2, a token from /auth/token)"),
	F(STR, "username", username, 0, NULL, "the API user"),
	F(SECRET, "password", password, 0, "its password"),
	F(STR, "topic_arn", topic_arn, DW_REQUIRED, NULL, "the SNS topic alerts go to"),
	F(MAP, "limits_s", limits_s, 0, "{\"dag_id\": seconds}: a DAG's own run-time limit"),
	F(INT, "default_limit_s", default_limit_s, DW_NODEFAULT, 0, 0, 30 * MAX_DAY_S,
	  "the limit of DAGs with none of their own and no median (default none)"),
	F(NUM, "median_factor", median_factor, DW_NODEFAULT, 0, 1, 1000,
	  "a DAG without its own limit may run this many times its recent median (default: not)"),
	F(INT, "median_runs", median_runs, 0, 10, 1, 100, "the median is of this many recent successful runs"),
	F(INT, "min_limit_s", min_limit_s, 0, 300, 0, 30 * MAX_DAY_S, "a median-based limit is at least this"),
	F(INT, "start_grace_s", start_grace_s, 0, 0, 0, 30 * MAX_DAY_S,
	  "a scheduled run still queued this long after it was due is late (0: not checked)"),
	F(STRINGS, "dag_ids", dag_ids, 0, "watch only these DAGs (default: all)"),
	F(STR, "source", source, 0, "airflow", "the alerts' source"),
	TABLE_FIELD,
	F(BOOL, "dry_run", dry_run, 0, 0, "report findings, publish and mark nothing"),
	DW_FIELDS_END
};

static const struct dw_field table_fields[] = {
	TABLE_FIELD,
	DW_FIELDS_END
};
#undef F

static int nonempty(const char *v, const char *name)
{
	if (v && (!*v || strlen(v) > 2048))
		return dw_invalid(name, "%s must be 1 to 2048 characters", name);
	return 0;
}

static int check_table(const char *t)
{
	if (strlen(t) < 3 || strlen(t) > 255 ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(t))
		return dw_invalid("table", "table must be a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ . -)");
	return 0;
}

static void put_stats(struct dw_ctx *ctx, const struct dw_alert_stats *st)
{
	dw_alert_stats_json(st, ctx->result);
}

/* ---- notify ------------------------------------------------------------------ */

/* A result file: a JSON object, or output whose last line is one. */
static int read_last_line(const char *path, cJSON **out)
{
	FILE *f = fopen(path, "rb");
	struct dw_buf b;
	char chunk[8192];
	size_t n;

	*out = NULL;
	if (!f)
		return dw_invalid("result_file", "cannot read result_file");
	dw_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= MAX_RESULT_FILE)
		dw_buf_append(&b, chunk, n);
	fclose(f);
	if (b.len > MAX_RESULT_FILE) {
		dw_buf_release(&b);
		return dw_invalid("result_file", "result_file is larger than 4 MiB");
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	/* The whole file (a pretty-printed result, as Jenkins keeps them),
	 * else its last line (an operator's stdout). */
	*out = b.len ? cJSON_Parse(b.data) : NULL;
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		const char *last = b.len ? strrchr(b.data, '\n') : NULL;
		last = last ? last + 1 : (b.data ? b.data : "");
		if (*last)
			*out = cJSON_Parse(last);
	}
	dw_buf_release(&b);
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return dw_invalid("result_file", "the last line of result_file is not a dwops result (a JSON object)");
	}
	return 0;
}

static int notify_result(const struct alert_req *q, cJSON **alert)
{
	const cJSON *r = q->result;
	const char *file = q->result_file;
	cJSON *parsed = NULL;
	int rc;

	*alert = NULL;
	if (r && file)
		return dw_invalid("result_file", "give result or result_file, not both");
	if (file) {
		if (read_last_line(file, &parsed))
			return -1;
		r = parsed;
	} else if (r && cJSON_IsString(r)) {
		parsed = cJSON_Parse(r->valuestring);
		if (!cJSON_IsObject(parsed)) {
			cJSON_Delete(parsed);
			return dw_invalid("result", "result is text that is not a dwops result (a JSON object)");
		}
		r = parsed;
	} else if (r && !cJSON_IsObject(r)) {
		return dw_invalid("result", "result must be a dwops result: an object or its JSON text");
	}
	if (!r) {
		*alert = cJSON_CreateObject();
		return 0;
	}
	rc = dw_alert_from_result(r, file ? "result_file" : "result", alert);
	cJSON_Delete(parsed);
	return rc;
}

static int do_notify(struct dw_ctx *ctx)
{
	static const char *const direct[] = { "source", "severity", "subject", "text", "link", NULL };
	struct alert_req q = { 0 };
	struct dw_alert_stats st = { 0 };
	cJSON *alert = NULL;
	char *msg_id = NULL;
	struct dw_aws *aws;
	int rc;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q))
		return -1;
	/* The fields that override the result's (as direct[]). */
	const char *const values[] = { q.source, q.severity, q.subject, q.text, q.link };
	for (size_t i = 0; direct[i]; i++)
		if (nonempty(values[i], direct[i]))
			return -1;
	if (nonempty(q.topic_arn, "topic_arn") || nonempty(q.group_id, "group_id"))
		return -1;
	rc = notify_result(&q, &alert);
	if (rc == 1) {
		put_stats(ctx, &st);
		return dw_nothing_to_do(ctx, "the result is not a failure (ok is true): no alert");
	}
	if (rc)
		return -1;
	if (!alert->child && !q.subject && !q.text) {
		cJSON_Delete(alert);
		return dw_invalid("result", "notify needs a failed result (result, result_file) or a subject or text");
	}
	for (size_t i = 0; direct[i]; i++) {
		if (values[i]) {
			cJSON_DeleteItemFromObjectCaseSensitive(alert, direct[i]);
			cJSON_AddStringToObject(alert, direct[i], values[i]);
		}
	}
	if (q.context)
		cJSON_AddItemToObject(alert, "context", cJSON_Duplicate(q.context, 1));
	dw_alert_finish(alert);
	st.incidents = 1;
	cJSON_AddStringToObject(ctx->result, "alert_id", dw_json_str(alert, "id"));
	cJSON_AddStringToObject(ctx->result, "subject", dw_json_str(alert, "subject"));
	cJSON_AddStringToObject(ctx->result, "severity", dw_json_str(alert, "severity"));
	if (q.dry_run) {
		cJSON_AddItemToObject(ctx->result, "alert", alert);
		put_stats(ctx, &st);
		return 0;
	}
	if (!(aws = dw_ctx_aws(ctx))) {
		cJSON_Delete(alert);
		return -1;
	}
	rc = dw_alert_publish(aws, q.topic_arn, alert, q.group_id, &msg_id);
	cJSON_Delete(alert);
	if (rc == 0) {
		st.published = 1;
		if (msg_id)
			cJSON_AddStringToObject(ctx->result, "message_id", msg_id);
	} else {
		st.failed = 1;
	}
	free(msg_id);
	put_stats(ctx, &st);
	return rc;
}

/* ---- scan --------------------------------------------------------------------- */

static int read_rule(const cJSON *r, size_t i, struct dw_alert_rule *out)
{
	char field[64];
	struct rule_req q;

	memset(out, 0, sizeof(*out));
	snprintf(field, sizeof(field), "rules[%zu]", i);
	if (dw_req_bind_at(r, rule_fields, field, &q))
		return -1;
	const char *contains = q.contains, *regex = q.regex, *jf = q.json_field, *eq = q.equals;
	int kinds = (contains != NULL) + (regex != NULL) + (jf != NULL);

	out->name = q.name;
	out->severity = q.severity;
	out->ignore_case = q.ignore_case;
	if (!*out->name || strlen(out->name) > 256)
		return dw_invalid(field, "%s.name must be 1 to 256 characters", field);
	if (kinds != 1)
		return dw_invalid(field, "%s needs exactly one of contains, regex, json_field", field);
	if ((jf != NULL) != (eq != NULL))
		return dw_invalid(field, "%s: json_field and equals go together", field);
	if ((contains && !*contains) || (regex && !*regex) || (jf && !*jf))
		return dw_invalid(field, "%s: the pattern must not be empty", field);
	out->kind = contains ? DW_RULE_CONTAINS : regex ? DW_RULE_REGEX : DW_RULE_JSON;
	out->pattern = contains ? contains : regex;
	out->json_field = jf;
	out->equals = eq;
	return 0;
}

static int do_scan(struct dw_ctx *ctx)
{
	struct alert_req q = { 0 };
	const cJSON *rules, *r;
	struct dw_scan_opts o;
	struct dw_alert_stats st = { 0 };
	struct dw_aws *aws;
	size_t n = 0;
	int rc = -1;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q) || nonempty(q.log_group, "log_group") ||
	    nonempty(q.topic_arn, "topic_arn") || nonempty(q.name, "name") ||
	    nonempty(q.checkpoint_parameter, "checkpoint_parameter") || check_table(q.table))
		return -1;
	rules = q.rules;
	if (cJSON_GetArraySize(rules) < 1 || cJSON_GetArraySize(rules) > MAX_RULES)
		return dw_invalid("rules", "rules must hold 1 to %d rules", MAX_RULES);
	o = (struct dw_scan_opts){
		.log_group = q.log_group, .topic_arn = q.topic_arn, .name = q.name, .table = q.table,
		.ssm_parameter = q.checkpoint_parameter, .dry_run = q.dry_run,
		.window_ms = q.window_s * 1000, .lookback_ms = q.lookback_s * 1000,
		.page_size = q.page_size, .samples = q.samples,
	};
	o.rules = dw_xcalloc((size_t)cJSON_GetArraySize(rules), sizeof(*o.rules));
	cJSON_ArrayForEach(r, rules) {
		if (read_rule(r, n, &o.rules[n]))
			goto out;
		n++;
	}
	o.nrules = n;
	if (dw_alert_rules_compile(o.rules, n) || !(aws = dw_ctx_aws(ctx)))
		goto out;
	rc = dw_alert_scan(aws, &o, &st, ctx->result);
	put_stats(ctx, &st);
	cJSON_AddBoolToObject(ctx->result, "dry_run", o.dry_run);
	if (rc == 0 && st.incidents == 0)
		rc = dw_nothing_to_do(ctx, st.events_read ? "no event matched a rule" : "no new log events");
out:
	dw_alert_rules_release(o.rules, n);
	free(o.rules);
	return rc;
}

/* ---- deliver ------------------------------------------------------------------ */

static int check_address_list(const cJSON *list, const char *where)
{
	const cJSON *v;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1 || cJSON_GetArraySize(list) > 50)
		return dw_invalid(where, "%s must be an array of 1 to 50 addresses", where);
	cJSON_ArrayForEach(v, list) {
		if (!cJSON_IsString(v) || !strchr(v->valuestring, '@') || strpbrk(v->valuestring, "\r\n,"))
			return dw_invalid(where, "%s must hold e-mail addresses", where);
	}
	return 0;
}

static int check_recipients(const cJSON *rcp)
{
	static const char *const maps[] = { "severity", "source", NULL };
	char where[300];
	const cJSON *m, *l;

	if (check_address_list(cJSON_GetObjectItemCaseSensitive(rcp, "default"), "recipients.default"))
		return -1;
	for (size_t i = 0; maps[i]; i++) {
		m = cJSON_GetObjectItemCaseSensitive(rcp, maps[i]);
		if (!m || cJSON_IsNull(m))
			continue;
		if (!cJSON_IsObject(m))
			return dw_invalid(maps[i], "recipients.%s must be an object of lists", maps[i]);
		cJSON_ArrayForEach(l, m) {
			snprintf(where, sizeof(where), "recipients.%s.%s", maps[i], l->string);
			if (i == 0 && !dw_alert_severity_valid(l->string))
				return dw_invalid(where, "%s: not a severity (info, warning, error, critical)", where);
			if (check_address_list(l, where))
				return -1;
		}
	}
	return 0;
}

static int do_deliver(struct dw_ctx *ctx)
{
	struct alert_req q = { 0 };
	struct dw_deliver_opts o;
	struct dw_alert_stats st = { 0 };
	struct dw_aws *aws;
	int rc;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q) || nonempty(q.queue_url, "queue_url") ||
	    nonempty(q.from, "from") || check_table(q.table) || check_recipients(q.recipients))
		return -1;
	/* The table allows 0 (absent: the account's rate); given, it is above 0. */
	if (dw_req_has(ctx->req, "send_rate") && !(q.send_rate > 0))
		return dw_invalid("send_rate", "send_rate must be above 0 and at most 1000 recipients per second");
	o = (struct dw_deliver_opts){
		.queue_url = q.queue_url, .from = q.from, .recipients = q.recipients, .table = q.table,
		.digest = q.digest, .subject_prefix = q.subject_prefix, .send_rate = q.send_rate,
		.dedup_window_ms = q.dedup_window_s * 1000, .max_messages = q.max_messages,
		.wait_s = q.wait_s, .visibility_s = q.visibility_s,
		/* A claim outlives the message's visibility: a redelivered
		 * message finds it busy, not free. */
		.claim_ms = q.visibility_s * 1000LL + 10000,
	};
	if (!(aws = dw_ctx_aws(ctx)))
		return -1;
	rc = dw_alert_deliver(aws, &o, &st, ctx->result);
	put_stats(ctx, &st);
	cJSON_AddBoolToObject(ctx->result, "digest", o.digest);
	if (rc == 0 && st.events_read == 0)
		return dw_nothing_to_do(ctx, "the queue held no alert");
	return rc;
}

/* ---- watch -------------------------------------------------------------------- */

static int do_watch(struct dw_ctx *ctx)
{
	struct alert_req q = { 0 };
	const cJSON *ids, *v;
	struct dw_watch_opts o;
	struct dw_common_req common;
	struct dw_alert_stats st = { 0 };
	const char **dag_ids = NULL;
	char *url;
	struct dw_aws *aws;
	int rc = -1;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q))
		return -1;
	if (nonempty(q.url, "url") || nonempty(q.topic_arn, "topic_arn") || check_table(q.table))
		goto fail;
	if (strncmp(q.url, "http://", 7) != 0 && strncmp(q.url, "https://", 8) != 0) {
		dw_invalid("url", "url must be an http:// or https:// URL");
		goto fail;
	}
	for (v = q.limits_s ? q.limits_s->child : NULL; v; v = v->next) {
		long long s;
		if (dw_json_int(v, &s) || s < 1 || s > 30 * MAX_DAY_S) {
			dw_invalid("limits_s", "limits_s.%s must be a number of seconds, 1 to 30 days", v->string);
			goto fail;
		}
	}
	if (q.password && !q.username) {
		dw_invalid("username", "a password needs its username");
		goto fail;
	}
	dw_req_common(ctx->req, &common);
	ids = q.dag_ids;
	o = (struct dw_watch_opts){
		.username = q.username, .topic_arn = q.topic_arn, .limits_s = q.limits_s,
		.table = q.table, .source = q.source, .dry_run = q.dry_run,
		.api_version = q.airflow_version == 2 ? 1 : 2, .password = q.password,
		.default_limit_ms = q.default_limit_s * 1000, .median_factor = q.median_factor,
		.median_runs = q.median_runs, .min_limit_ms = q.min_limit_s * 1000,
		.start_grace_ms = q.start_grace_s * 1000,
		/* Airflow's API: 30 s unless the request says (timeout_s). */
		.timeout_ms = (dw_req_has(ctx->req, "timeout_s") ? common.timeout_s : 30) * 1000L,
	};
	/* No slash at the end: paths are appended. */
	url = dw_xstrdup(q.url);
	for (size_t n = strlen(url); n > 0 && url[n - 1] == '/'; n--)
		url[n - 1] = '\0';
	o.url = url;
	if (ids) {
		size_t n = 0;
		dag_ids = dw_xcalloc((size_t)cJSON_GetArraySize(ids) + 1, sizeof(*dag_ids));
		cJSON_ArrayForEach(v, ids) {
			dag_ids[n++] = v->valuestring;
		}
		o.dag_ids = dag_ids;
		o.ndag_ids = n;
	}
	if ((aws = dw_ctx_aws(ctx)) != NULL) {
		rc = dw_alert_watch(aws, &o, &st, ctx->result);
		put_stats(ctx, &st);
		cJSON_AddBoolToObject(ctx->result, "dry_run", o.dry_run);
		if (rc == 0 && st.published == 0)
			rc = dw_nothing_to_do(ctx, st.incidents ? "every finding was alerted before"
								: "no run is late or running too long");
	}
	free(dag_ids);
	free(url);
fail:
	dw_req_release(ctx->action->fields, &q);
	return rc;
}

static int do_create_table(struct dw_ctx *ctx)
{
	struct alert_req q = { 0 };
	struct dw_aws *aws;
	int created = 0;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q) || check_table(q.table) ||
	    !(aws = dw_ctx_aws(ctx)) || dw_alert_create_table(aws, q.table, &created))
		return -1;
	cJSON_AddStringToObject(ctx->result, "table", q.table);
	cJSON_AddBoolToObject(ctx->result, "created", created);
	return 0;
}

static const struct dw_action actions[] = {
	{ "notify", "publish one alert to SNS, from a failed dwops result or from fields (attributes operator, code, severity, source)",
	  notify_fields, do_notify,
	  "{\"topic_arn\": \"arn:aws:sns:eu-west-1:123456789012:dwops-alerts\", \"source\": \"airflow\", "
	  "\"result\": {\"ok\": false, \"operator\": \"dw-etl\", \"action\": \"run\", \"error\": "
	  "{\"code\": \"SendFailed\", \"message\": \"3 messages not sent\", \"field\": null}}, "
	  "\"context\": {\"dag_id\": \"dwops_fanout\", \"task_id\": \"fanout\", \"run_id\": \"scheduled__2026-01-01\"}}" },
	{ "scan", "read a log group from the checkpoint, match rules, publish each incident once (exit 99: none)",
	  scan_fields, do_scan,
	  "{\"log_group\": \"/aws/lambda/ingest\", \"topic_arn\": \"arn:aws:sns:eu-west-1:123456789012:dwops-alerts\", "
	  "\"rules\": [{\"name\": \"Traceback\", \"contains\": \"Traceback\"}, "
	  "{\"name\": \"Timeout\", \"regex\": \"Task timed out after [0-9.]+ seconds\", \"severity\": \"critical\"}]}" },
	{ "deliver", "mail the alerts of an SQS queue subscribed to the topic with SES, each once (exit 99: queue empty)",
	  deliver_fields, do_deliver,
	  "{\"queue_url\": \"https://sqs.eu-west-1.amazonaws.com/123456789012/dwops-alerts-mail\", "
	  "\"from\": \"dwops@example.com\", \"recipients\": {\"default\": [\"data-eng@example.com\"], "
	  "\"severity\": {\"critical\": [\"oncall@example.com\"]}}}" },
	{ "watch", "alert on Airflow runs running past their limit and scheduled runs that did not start (exit 99: nothing new)",
	  watch_fields, do_watch,
	  "{\"url\": \"http://airflow:8080\", \"airflow_version\": 3, \"username\": \"dwops\", \"password_env\": "
	  "\"AIRFLOW_PASSWORD\", \"topic_arn\": \"arn:aws:sns:eu-west-1:123456789012:dwops-alerts\", "
	  "\"limits_s\": {\"dwops_fanout\": 3600}, \"median_factor\": 3}" },
	{ "create-table", "create the state table (on demand, key \"key\") unless it exists", table_fields,
	  do_create_table, "{\"table\": \"dwops-alerts\"}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator alert_op = {
	"dw-alert", "alerts: SNS notify, CloudWatch Logs scans, SES mail from SQS, Airflow run watch", actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&alert_op, argc, argv);
}
