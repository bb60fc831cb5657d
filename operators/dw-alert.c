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

#define TABLE_FIELD \
	DW_FIELD("table", DW_T_STRING, 0, NULL, "DynamoDB state table (default dwops-alerts; key \"key\", a string)")

static const struct dw_field notify_fields[] = {
	DW_FIELD("topic_arn", DW_T_STRING, DW_REQUIRED, NULL, "the SNS topic (a .fifo topic gets a group and a de-duplication id)"),
	DW_FIELD("result", DW_T_ANY, 0, NULL, "the failed operator's result: its JSON object, or the text of its last stdout line"),
	DW_FIELD("result_file", DW_T_STRING, 0, NULL, "a file holding the failed operator's result: the whole file, or its last non-empty line"),
	DW_FIELD("source", DW_T_STRING, 0, NULL, "where it comes from: \"airflow\", \"jenkins\", ... (default dwops)"),
	DW_FIELD("severity", DW_T_STRING, 0, NULL, "info, warning, error (default) or critical"),
	DW_FIELD("subject", DW_T_STRING, 0, NULL, "one line (default: \"<operator> <action> failed: <code>\")"),
	DW_FIELD("text", DW_T_STRING, 0, NULL, "the alert's text"),
	DW_FIELD("link", DW_T_STRING, 0, NULL, "where to look: a log or build URL"),
	DW_FIELD("context", DW_T_MAP, 0, NULL, "names to values: dag_id, task_id, run_id, try_number, log_url, build_url, ..."),
	DW_FIELD("group_id", DW_T_STRING, 0, NULL, "FIFO topics: the message group (default: the source)"),
	DW_FIELD("dry_run", DW_T_BOOL, 0, NULL, "build the alert and show it, publish nothing"),
	DW_FIELDS_END
};

static const struct dw_field rule_fields[] = {
	DW_FIELD("name", DW_T_STRING, DW_REQUIRED, NULL, "the rule's name (the alert's code)"),
	DW_FIELD("contains", DW_T_STRING, 0, NULL, "match: the message holds this text"),
	DW_FIELD("regex", DW_T_STRING, 0, NULL, "match: a POSIX extended regular expression"),
	DW_FIELD("json_field", DW_T_STRING, 0, NULL, "match: this member (dotted path) of a JSON message ..."),
	DW_FIELD("equals", DW_T_STRING, 0, NULL, "... has this value (compared as text)"),
	DW_FIELD("ignore_case", DW_T_BOOL, 0, NULL, "compare without case (default false)"),
	DW_FIELD("severity", DW_T_STRING, 0, NULL, "the incidents' severity (default error)"),
	DW_FIELDS_END
};

static const struct dw_field scan_fields[] = {
	DW_FIELD("log_group", DW_T_STRING, DW_REQUIRED, NULL, "the CloudWatch Logs group"),
	DW_FIELD("topic_arn", DW_T_STRING, DW_REQUIRED, NULL, "the SNS topic incidents go to"),
	DW_FIELD("rules", DW_T_OBJECTS, DW_REQUIRED, rule_fields, "what to look for: 1 to 100 rules, exactly one of contains, regex, json_field+equals each"),
	DW_FIELD("name", DW_T_STRING, 0, NULL, "the checkpoint's name, for several scans of one group (default \"default\")"),
	DW_FIELD("checkpoint_parameter", DW_T_STRING, 0, NULL, "keep the checkpoint in this SSM parameter instead of the table"),
	TABLE_FIELD,
	DW_FIELD("window_s", DW_T_INT, 0, NULL, "matches of a rule in a stream within this many seconds of the first are one incident (default 300)"),
	DW_FIELD("lookback_s", DW_T_INT, 0, NULL, "first run (no checkpoint): read this far back (default 3600)"),
	DW_FIELD("page_size", DW_T_INT, 0, NULL, "events per FilterLogEvents page, 1..10000 (default: the service's)"),
	DW_FIELD("samples", DW_T_INT, 0, NULL, "lines quoted per incident, 0..50 (default 5)"),
	DW_FIELD("dry_run", DW_T_BOOL, 0, NULL, "find and count incidents, publish nothing, keep the checkpoint"),
	DW_FIELDS_END
};

static const struct dw_field recipient_fields[] = {
	DW_FIELD("default", DW_T_STRINGS, DW_REQUIRED, NULL, "who gets an alert no other list names"),
	DW_FIELD("severity", DW_T_ANY, 0, NULL, "{\"critical\": [addresses]}: by the alert's severity"),
	DW_FIELD("source", DW_T_ANY, 0, NULL, "{\"jenkins\": [addresses]}: by the alert's source"),
	DW_FIELDS_END
};

static const struct dw_field deliver_fields[] = {
	DW_FIELD("queue_url", DW_T_STRING, DW_REQUIRED, NULL, "the SQS queue subscribed to the topic (raw or not)"),
	DW_FIELD("from", DW_T_STRING, DW_REQUIRED, NULL, "the sender: an SES-verified identity"),
	DW_FIELD("recipients", DW_T_OBJECT, DW_REQUIRED, recipient_fields, "who gets what: source's and severity's lists, else default"),
	TABLE_FIELD,
	DW_FIELD("dedup_window_s", DW_T_INT, 0, NULL, "the same alert within this many seconds is mailed once (default 3600)"),
	DW_FIELD("max_messages", DW_T_INT, 0, NULL, "read at most this many messages per run, 1..10000 (default 100)"),
	DW_FIELD("wait_s", DW_T_INT, 0, NULL, "long-poll wait per receive, 0..20 (default 1); an empty receive ends the run"),
	DW_FIELD("visibility_s", DW_T_INT, 0, NULL, "messages being mailed stay hidden this long, 1..43200 (default 60)"),
	DW_FIELD("send_rate", DW_T_NUMBER, 0, NULL, "mails per second at most (default and cap: the account's MaxSendRate)"),
	DW_FIELD("digest", DW_T_BOOL, 0, NULL, "one mail per recipient list with every alert of the run (default false)"),
	DW_FIELD("subject_prefix", DW_T_STRING, 0, NULL, "in front of every mail's subject (default \"[dwops]\")"),
	DW_FIELDS_END
};

static const struct dw_field watch_fields[] = {
	DW_FIELD("url", DW_T_STRING, DW_REQUIRED, NULL, "the Airflow web server (2) or API server (3), e.g. http://airflow:8080"),
	DW_FIELD("airflow_version", DW_T_INT, DW_REQUIRED, NULL, "2 (/api/v1, basic auth) or 3 (/api/v2, a token from /auth/token)"),
	DW_FIELD("username", DW_T_STRING, 0, NULL, "the API user"),
	DW_FIELD("password", DW_T_SECRET, 0, NULL, "its password (or password_env)"),
	DW_FIELD("topic_arn", DW_T_STRING, DW_REQUIRED, NULL, "the SNS topic alerts go to"),
	DW_FIELD("limits_s", DW_T_MAP, 0, NULL, "{\"dag_id\": seconds}: a DAG's own run-time limit"),
	DW_FIELD("default_limit_s", DW_T_INT, 0, NULL, "the limit of DAGs with none of their own and no median (default none)"),
	DW_FIELD("median_factor", DW_T_NUMBER, 0, NULL, "> 0: a DAG without its own limit may run this many times its recent median"),
	DW_FIELD("median_runs", DW_T_INT, 0, NULL, "the median is of this many recent successful runs, 1..100 (default 10)"),
	DW_FIELD("min_limit_s", DW_T_INT, 0, NULL, "a median-based limit is at least this (default 300)"),
	DW_FIELD("start_grace_s", DW_T_INT, 0, NULL, "a scheduled run still queued this long after it was due is late (default 0: not checked)"),
	DW_FIELD("dag_ids", DW_T_STRINGS, 0, NULL, "watch only these DAGs (default: all)"),
	DW_FIELD("source", DW_T_STRING, 0, NULL, "the alerts' source (default airflow)"),
	TABLE_FIELD,
	DW_FIELD("dry_run", DW_T_BOOL, 0, NULL, "report findings, publish and mark nothing"),
	DW_FIELDS_END
};

static const struct dw_field table_fields[] = {
	TABLE_FIELD,
	DW_FIELDS_END
};

static int int_field(const cJSON *req, const char *name, long long def, long long min,
		     long long max, long long *out)
{
	*out = dw_req_int(req, name, def);
	if (*out < min || *out > max)
		return dw_invalid(name, "%s must be between %lld and %lld, not %lld", name, min, max, *out);
	return 0;
}

static int nonempty(const cJSON *req, const char *name)
{
	const char *v = dw_req_str(req, name, NULL);

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

static const char *table_of(const cJSON *req)
{
	return dw_req_str(req, "table", DW_ALERT_TABLE_DEFAULT);
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

static int notify_result(const cJSON *req, cJSON **alert)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(req, "result");
	const char *file = dw_req_str(req, "result_file", NULL);
	cJSON *parsed = NULL;
	int rc;

	*alert = NULL;
	if (r && !cJSON_IsNull(r) && file)
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
	} else if (r && !cJSON_IsNull(r) && !cJSON_IsObject(r)) {
		return dw_invalid("result", "result must be a dwops result: an object or its JSON text");
	}
	if (!r || cJSON_IsNull(r)) {
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
	const cJSON *req = ctx->req, *ctxmap = cJSON_GetObjectItemCaseSensitive(req, "context");
	const char *topic = dw_req_str(req, "topic_arn", NULL);
	struct dw_alert_stats st = { 0 };
	cJSON *alert = NULL;
	char *msg_id = NULL;
	struct dw_aws *aws;
	int rc;

	for (size_t i = 0; direct[i]; i++)
		if (nonempty(req, direct[i]))
			return -1;
	if (nonempty(req, "topic_arn") || nonempty(req, "group_id"))
		return -1;
	if (dw_req_str(req, "severity", NULL) && !dw_alert_severity_valid(dw_req_str(req, "severity", NULL)))
		return dw_invalid("severity", "severity must be info, warning, error or critical");
	rc = notify_result(req, &alert);
	if (rc == 1) {
		put_stats(ctx, &st);
		return dw_nothing_to_do(ctx, "the result is not a failure (ok is true): no alert");
	}
	if (rc)
		return -1;
	if (!alert->child && !dw_req_str(req, "subject", NULL) && !dw_req_str(req, "text", NULL)) {
		cJSON_Delete(alert);
		return dw_invalid("result", "notify needs a failed result (result, result_file) or a subject or text");
	}
	for (size_t i = 0; direct[i]; i++) {
		const char *v = dw_req_str(req, direct[i], NULL);
		if (v) {
			cJSON_DeleteItemFromObjectCaseSensitive(alert, direct[i]);
			cJSON_AddStringToObject(alert, direct[i], v);
		}
	}
	if (ctxmap)
		cJSON_AddItemToObject(alert, "context", cJSON_Duplicate(ctxmap, 1));
	dw_alert_finish(alert);
	st.incidents = 1;
	cJSON_AddStringToObject(ctx->result, "alert_id", dw_json_str(alert, "id"));
	cJSON_AddStringToObject(ctx->result, "subject", dw_json_str(alert, "subject"));
	cJSON_AddStringToObject(ctx->result, "severity", dw_json_str(alert, "severity"));
	if (dw_req_bool(req, "dry_run", 0)) {
		cJSON_AddItemToObject(ctx->result, "alert", alert);
		put_stats(ctx, &st);
		return 0;
	}
	if (!(aws = dw_ctx_aws(ctx))) {
		cJSON_Delete(alert);
		return -1;
	}
	rc = dw_alert_publish(aws, topic, alert, dw_req_str(req, "group_id", NULL), &msg_id);
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
	const char *contains = dw_req_str(r, "contains", NULL), *regex = dw_req_str(r, "regex", NULL);
	const char *jf = dw_req_str(r, "json_field", NULL), *eq = dw_req_str(r, "equals", NULL);
	int kinds = (contains != NULL) + (regex != NULL) + (jf != NULL);

	memset(out, 0, sizeof(*out));
	out->name = dw_req_str(r, "name", NULL);
	out->severity = dw_req_str(r, "severity", "error");
	out->ignore_case = dw_req_bool(r, "ignore_case", 0);
	snprintf(field, sizeof(field), "rules[%zu]", i);
	if (!*out->name || strlen(out->name) > 256)
		return dw_invalid(field, "%s.name must be 1 to 256 characters", field);
	if (kinds != 1)
		return dw_invalid(field, "%s needs exactly one of contains, regex, json_field", field);
	if ((jf != NULL) != (eq != NULL))
		return dw_invalid(field, "%s: json_field and equals go together", field);
	if ((contains && !*contains) || (regex && !*regex) || (jf && !*jf))
		return dw_invalid(field, "%s: the pattern must not be empty", field);
	if (!dw_alert_severity_valid(out->severity))
		return dw_invalid(field, "%s.severity must be info, warning, error or critical", field);
	out->kind = contains ? DW_RULE_CONTAINS : regex ? DW_RULE_REGEX : DW_RULE_JSON;
	out->pattern = contains ? contains : regex;
	out->json_field = jf;
	out->equals = eq;
	return 0;
}

static int do_scan(struct dw_ctx *ctx)
{
	const cJSON *req = ctx->req, *rules = cJSON_GetObjectItemCaseSensitive(req, "rules"), *r;
	struct dw_scan_opts o = { .log_group = dw_req_str(req, "log_group", NULL),
				  .topic_arn = dw_req_str(req, "topic_arn", NULL),
				  .name = dw_req_str(req, "name", "default"), .table = table_of(req),
				  .ssm_parameter = dw_req_str(req, "checkpoint_parameter", NULL),
				  .dry_run = dw_req_bool(req, "dry_run", 0) };
	struct dw_alert_stats st = { 0 };
	long long window, lookback, page, samples;
	struct dw_aws *aws;
	size_t n = 0;
	int rc = -1;

	if (nonempty(req, "log_group") || nonempty(req, "topic_arn") || nonempty(req, "name") ||
	    nonempty(req, "checkpoint_parameter") ||
	    check_table(o.table) ||
	    int_field(req, "window_s", 300, 0, MAX_DAY_S, &window) ||
	    int_field(req, "lookback_s", 3600, 1, 14 * MAX_DAY_S, &lookback) ||
	    int_field(req, "page_size", 0, 0, 10000, &page) ||
	    int_field(req, "samples", 5, 0, 50, &samples))
		return -1;
	if (cJSON_GetArraySize(rules) < 1 || cJSON_GetArraySize(rules) > MAX_RULES)
		return dw_invalid("rules", "rules must hold 1 to %d rules", MAX_RULES);
	o.window_ms = window * 1000;
	o.lookback_ms = lookback * 1000;
	o.page_size = (int)page;
	o.samples = (int)samples;
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
	const cJSON *req = ctx->req, *rate = cJSON_GetObjectItemCaseSensitive(req, "send_rate");
	struct dw_deliver_opts o = { .queue_url = dw_req_str(req, "queue_url", NULL),
				     .from = dw_req_str(req, "from", NULL),
				     .recipients = cJSON_GetObjectItemCaseSensitive(req, "recipients"),
				     .table = table_of(req), .digest = dw_req_bool(req, "digest", 0),
				     .subject_prefix = dw_req_str(req, "subject_prefix", "[dwops]") };
	struct dw_alert_stats st = { 0 };
	long long window, max, wait, vis;
	struct dw_aws *aws;
	int rc;

	if (nonempty(req, "queue_url") || nonempty(req, "from") || check_table(o.table) ||
	    check_recipients(o.recipients) ||
	    int_field(req, "dedup_window_s", 3600, 0, MAX_WEEK_S, &window) ||
	    int_field(req, "max_messages", 100, 1, 10000, &max) ||
	    int_field(req, "wait_s", 1, 0, 20, &wait) ||
	    int_field(req, "visibility_s", 60, 1, 43200, &vis))
		return -1;
	if (rate && cJSON_IsNumber(rate) && !(rate->valuedouble > 0 && rate->valuedouble <= 1000))
		return dw_invalid("send_rate", "send_rate must be above 0 and at most 1000 mails per second");
	o.send_rate = rate && cJSON_IsNumber(rate) ? rate->valuedouble : 0;
	o.dedup_window_ms = window * 1000;
	o.max_messages = (int)max;
	o.wait_s = (int)wait;
	o.visibility_s = (int)vis;
	/* A claim outlives the message's visibility: a redelivered message
	 * finds it busy, not free. */
	o.claim_ms = vis * 1000 + 10000;
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
	const cJSON *req = ctx->req, *ids = cJSON_GetObjectItemCaseSensitive(req, "dag_ids"), *v;
	const cJSON *factor = cJSON_GetObjectItemCaseSensitive(req, "median_factor");
	struct dw_watch_opts o = { .url = dw_req_str(req, "url", NULL),
				   .username = dw_req_str(req, "username", NULL),
				   .topic_arn = dw_req_str(req, "topic_arn", NULL),
				   .limits_s = cJSON_GetObjectItemCaseSensitive(req, "limits_s"),
				   .table = table_of(req), .source = dw_req_str(req, "source", "airflow"),
				   .dry_run = dw_req_bool(req, "dry_run", 0) };
	struct dw_alert_stats st = { 0 };
	long long version, def, runs, min, grace;
	const char **dag_ids = NULL;
	char *password = NULL, *url;
	struct dw_aws *aws;
	int rc = -1;

	if (nonempty(req, "url") || nonempty(req, "topic_arn") || check_table(o.table) ||
	    int_field(req, "airflow_version", 2, 2, 3, &version) ||
	    int_field(req, "default_limit_s", 0, 0, 30 * MAX_DAY_S, &def) ||
	    int_field(req, "median_runs", 10, 1, 100, &runs) ||
	    int_field(req, "min_limit_s", 300, 0, 30 * MAX_DAY_S, &min) ||
	    int_field(req, "start_grace_s", 0, 0, 30 * MAX_DAY_S, &grace))
		return -1;
	if (strncmp(o.url, "http://", 7) != 0 && strncmp(o.url, "https://", 8) != 0)
		return dw_invalid("url", "url must be an http:// or https:// URL");
	if (factor && cJSON_IsNumber(factor) && !(factor->valuedouble >= 1 && factor->valuedouble <= 1000))
		return dw_invalid("median_factor", "median_factor must be between 1 and 1000");
	for (v = o.limits_s ? o.limits_s->child : NULL; v; v = v->next) {
		long long s;
		if (dw_json_int(v, &s) || s < 1 || s > 30 * MAX_DAY_S)
			return dw_invalid("limits_s", "limits_s.%s must be a number of seconds, 1 to 30 days", v->string);
	}
	if (dw_req_secret(req, "password", "password", &password))
		return -1;
	if (password && !o.username) {
		free(password);
		return dw_invalid("username", "a password needs its username");
	}
	/* No slash at the end: paths are appended. */
	url = dw_xstrdup(o.url);
	for (size_t n = strlen(url); n > 0 && url[n - 1] == '/'; n--)
		url[n - 1] = '\0';
	o.url = url;
	o.api_version = version == 2 ? 1 : 2;
	o.password = password;
	o.default_limit_ms = def * 1000;
	o.median_factor = factor && cJSON_IsNumber(factor) ? factor->valuedouble : 0;
	o.median_runs = (int)runs;
	o.min_limit_ms = min * 1000;
	o.start_grace_ms = grace * 1000;
	o.timeout_ms = (long)dw_req_int(req, "timeout_s", 30) * 1000;
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
	free(password);
	return rc;
}

static int do_create_table(struct dw_ctx *ctx)
{
	const char *table = table_of(ctx->req);
	struct dw_aws *aws;
	int created = 0;

	if (check_table(table) || !(aws = dw_ctx_aws(ctx)) || dw_alert_create_table(aws, table, &created))
		return -1;
	cJSON_AddStringToObject(ctx->result, "table", table);
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
