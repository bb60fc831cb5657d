/* alert.c - dw-alert's alerts, notify, scan and deliver (see ops/alert.h);
 * watch lives in alertwatch.c. */
#include "ops/alert.h"
#include "aws/aws.h"
#include "aws/dynamodb.h"
#include "aws/logs.h"
#include "aws/ses.h"
#include "aws/sigv4.h"
#include "aws/sns.h"
#include "aws/ssm.h"
#include "aws/sqs.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/redact.h"
#include "base/timefmt.h"
#include "base/wait.h"

#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* SNS subjects stop at 100 characters; mail subjects are cut at 200. */
#define SUBJECT_MAX 200
#define SNS_SUBJECT_MAX 100
/* An alert's text is cut at 64 KiB: SNS takes 256 KiB per message, and the
 * envelope, the partial result and HTML escaping need the rest. */
#define TEXT_MAX (64 * 1024)
/* The partial result kept in an alert, printed: at most 32 KiB. */
#define PARTIAL_MAX (32 * 1024)
#define TABLE_ACTIVE_TIMEOUT_MS 120000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dw_alert_severity_valid(const char *s)
{
	static const char *const sev[] = { "info", "warning", "error", "critical", NULL };

	for (size_t i = 0; s && sev[i]; i++)
		if (strcmp(s, sev[i]) == 0)
			return 1;
	return 0;
}

void dw_alert_stats_json(const struct dw_alert_stats *st, cJSON *result)
{
	dw_json_add_int(result, "events_read", st->events_read);
	dw_json_add_int(result, "incidents", st->incidents);
	dw_json_add_int(result, "published", st->published);
	dw_json_add_int(result, "suppressed", st->suppressed);
	dw_json_add_int(result, "mailed", st->mailed);
	dw_json_add_int(result, "failed", st->failed);
}

/* ---- alerts ----------------------------------------------------------------- */

static void set_str(cJSON *obj, const char *name, const char *value)
{
	if (!value)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
	cJSON_AddStringToObject(obj, name, value);
}

int dw_alert_from_result(const cJSON *r, const char *field, cJSON **out)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
	const cJSON *partial = cJSON_GetObjectItemCaseSensitive(r, "result");
	cJSON *a;

	*out = NULL;
	if (!cJSON_IsObject(r) || !cJSON_IsBool(ok))
		return dw_invalid(field, "%s is not a dwops result (an object with \"ok\")", field);
	if (cJSON_IsTrue(ok))
		return 1;
	a = cJSON_CreateObject();
	set_str(a, "operator", dw_json_str(r, "operator"));
	set_str(a, "action", dw_json_str(r, "action"));
	set_str(a, "code", dw_json_str(err, "code"));
	set_str(a, "message", dw_json_str(err, "message"));
	set_str(a, "field", dw_json_str(err, "field"));
	if (cJSON_IsObject(partial) && partial->child) {
		char *text = dw_json_print(partial);
		if (text && strlen(text) <= PARTIAL_MAX)
			cJSON_AddItemToObject(a, "partial", cJSON_Duplicate(partial, 1));
		else
			cJSON_AddStringToObject(a, "partial_omitted", "the partial result is larger than 32 KiB");
		cJSON_free(text);
	}
	*out = a;
	return 0;
}

/* Redact every string below v, in place (redaction only ever shrinks). */
static void redact_tree(cJSON *v)
{
	cJSON *c;

	if (cJSON_IsString(v) && v->valuestring)
		dw_redact(v->valuestring);
	cJSON_ArrayForEach(c, v) {
		redact_tree(c);
	}
}

/* Cut s to at most max bytes at a UTF-8 boundary, in place. */
static void cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}

static void cut_field(cJSON *a, const char *name, size_t max)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(a, name);

	if (cJSON_IsString(v) && v->valuestring)
		cut_utf8(v->valuestring, max);
}

static const char *str_or(const cJSON *a, const char *name, const char *def)
{
	const char *s = dw_json_str(a, name);

	return s && *s ? s : def;
}

/* The digest that names the failure: the same fields give the same id. */
static void alert_id(const cJSON *a, char out[33])
{
	static const char *const parts[] = { "source", "severity", "subject", "operator", "action",
					     "code", "message", "link", NULL };
	static const char *const ctx_parts[] = { "dag_id", "task_id", "run_id", "try_number",
						 "build_url", "stream", "first_event", NULL };
	const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(a, "context");
	struct dw_buf b;
	char hex[65];

	dw_buf_init(&b);
	for (size_t i = 0; parts[i]; i++)
		dw_buf_printf(&b, "%s=%s\n", parts[i], str_or(a, parts[i], ""));
	for (size_t i = 0; ctx_parts[i]; i++)
		dw_buf_printf(&b, "ctx.%s=%s\n", ctx_parts[i], str_or(ctx, ctx_parts[i], ""));
	if (!dw_json_str(a, "code"))
		dw_buf_printf(&b, "text=%s\n", str_or(a, "text", ""));
	dw_sha256_hex(b.data, b.len, hex);
	dw_buf_release(&b);
	memcpy(out, hex, 32);
	out[32] = '\0';
}

void dw_alert_finish(cJSON *a)
{
	char iso[32], id[33];

	if (!cJSON_GetObjectItemCaseSensitive(a, "dwops_alert"))
		cJSON_AddNumberToObject(a, "dwops_alert", 1);
	if (!dw_json_str(a, "time")) {
		dw_time_format_iso(time(NULL), iso);
		cJSON_AddStringToObject(a, "time", iso);
	}
	if (!dw_alert_severity_valid(dw_json_str(a, "severity")))
		set_str(a, "severity", "error");
	if (!str_or(a, "source", NULL))
		set_str(a, "source", "dwops");
	if (!str_or(a, "subject", NULL)) {
		char *s;
		if (str_or(a, "code", NULL))
			s = dw_xasprintf("%s%s%s failed: %s", str_or(a, "operator", "dwops"),
					 str_or(a, "action", NULL) ? " " : "", str_or(a, "action", ""),
					 str_or(a, "code", ""));
		else
			s = dw_xasprintf("%s alert", str_or(a, "source", "dwops"));
		set_str(a, "subject", s);
		free(s);
	}
	redact_tree(a);
	/* A subject is one line. */
	cJSON *subj = cJSON_GetObjectItemCaseSensitive(a, "subject");
	for (char *c = subj->valuestring; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	cut_field(a, "subject", SUBJECT_MAX);
	cut_field(a, "text", TEXT_MAX);
	cut_field(a, "message", TEXT_MAX);
	if (!str_or(a, "id", NULL)) {
		alert_id(a, id);
		set_str(a, "id", id);
	}
}

/* SNS subjects: printable ASCII only, at most 100 characters. */
static void sns_subject(const char *s, char out[SNS_SUBJECT_MAX + 1])
{
	size_t k = 0;

	for (; *s && k < SNS_SUBJECT_MAX; s++)
		out[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[k] = '\0';
}

int dw_alert_publish(struct dw_aws *aws, const char *topic_arn, const cJSON *a,
		     const char *group, char **message_id)
{
	char subject[SNS_SUBJECT_MAX + 1];
	struct dw_sns_attr attrs[] = {
		{ "operator", dw_json_str(a, "operator") },
		{ "code", dw_json_str(a, "code") },
		{ "severity", dw_json_str(a, "severity") },
		{ "source", dw_json_str(a, "source") },
	};
	struct dw_sns_publish p = {
		.topic_arn = topic_arn, .attrs = attrs, .nattrs = sizeof(attrs) / sizeof(attrs[0]),
	};
	char *body = dw_json_print(a);
	int rc;

	if (!body)
		return dw_fail("NoMemory", "cannot print the alert");
	sns_subject(str_or(a, "subject", "dwops alert"), subject);
	p.subject = subject;
	p.message = body;
	if (dw_sns_topic_is_fifo(topic_arn)) {
		p.group_id = group ? group : str_or(a, "source", "dwops");
		p.dedup_id = dw_json_str(a, "id");
	}
	rc = dw_sns_publish(aws, &p, message_id);
	cJSON_free(body);
	return rc;
}

/* ---- mail ------------------------------------------------------------------- */

void dw_html_escape(struct dw_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': dw_buf_puts(b, "&amp;"); break;
		case '<': dw_buf_puts(b, "&lt;"); break;
		case '>': dw_buf_puts(b, "&gt;"); break;
		case '"': dw_buf_puts(b, "&quot;"); break;
		case '\'': dw_buf_puts(b, "&#39;"); break;
		case '\n': dw_buf_puts(b, "<br>\n"); break;
		default: dw_buf_putc(b, *s);
		}
	}
}

static int is_http_link(const char *s)
{
	return s && (strncasecmp(s, "https://", 8) == 0 || strncasecmp(s, "http://", 7) == 0);
}

static void row(struct dw_buf *text, struct dw_buf *html, const char *label, const char *value)
{
	if (!value || !*value)
		return;
	dw_buf_printf(text, "%s: %s\n", label, value);
	dw_buf_puts(html, "<tr><th align=\"left\">");
	dw_html_escape(html, label);
	dw_buf_puts(html, "</th><td>");
	dw_html_escape(html, value);
	dw_buf_puts(html, "</td></tr>\n");
}

static void render_one(const cJSON *a, struct dw_buf *text, struct dw_buf *html)
{
	static const char *const fields[][2] = {
		{ "severity", "Severity" }, { "source", "Source" }, { "operator", "Operator" },
		{ "action", "Action" }, { "code", "Code" }, { "message", "Message" },
		{ "field", "Field" }, { "time", "Time" }, { "id", "Alert id" },
	};
	const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(a, "context"), *c;
	const char *link = dw_json_str(a, "link"), *body = dw_json_str(a, "text");

	dw_buf_printf(text, "%s\n\n", str_or(a, "subject", "dwops alert"));
	dw_buf_puts(html, "<h2>");
	dw_html_escape(html, str_or(a, "subject", "dwops alert"));
	dw_buf_puts(html, "</h2>\n<table>\n");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		row(text, html, fields[i][1], dw_json_str(a, fields[i][0]));
	cJSON_ArrayForEach(c, ctx) {
		char num[32];
		const char *v = NULL;
		if (cJSON_IsString(c))
			v = c->valuestring;
		else if (cJSON_IsNumber(c)) {
			snprintf(num, sizeof(num), "%.17g", c->valuedouble);
			v = num;
		}
		row(text, html, c->string, v);
	}
	if (link && *link) {
		dw_buf_printf(text, "Link: %s\n", link);
		dw_buf_puts(html, "<tr><th align=\"left\">Link</th><td>");
		if (is_http_link(link)) {
			dw_buf_puts(html, "<a href=\"");
			dw_html_escape(html, link);
			dw_buf_puts(html, "\">");
			dw_html_escape(html, link);
			dw_buf_puts(html, "</a>");
		} else {
			dw_html_escape(html, link);
		}
		dw_buf_puts(html, "</td></tr>\n");
	}
	dw_buf_puts(html, "</table>\n");
	if (body && *body) {
		dw_buf_printf(text, "\n%s\n", body);
		dw_buf_puts(html, "<pre>");
		dw_html_escape(html, body);
		dw_buf_puts(html, "</pre>\n");
	}
}

void dw_alert_render(const cJSON *const *alerts, size_t n, const char *prefix,
		     char **subject, char **text, char **html)
{
	struct dw_buf t, h;

	dw_buf_init(&t);
	dw_buf_init(&h);
	if (n == 1)
		*subject = dw_xasprintf("%s%s%s: %s", prefix ? prefix : "", prefix && *prefix ? " " : "",
					str_or(alerts[0], "severity", "error"),
					str_or(alerts[0], "subject", "dwops alert"));
	else
		*subject = dw_xasprintf("%s%s%zu alerts, first: %s", prefix ? prefix : "",
					prefix && *prefix ? " " : "", n,
					str_or(alerts[0], "subject", "dwops alert"));
	dw_buf_puts(&h, "<!DOCTYPE html>\n<html><body>\n");
	for (size_t i = 0; i < n; i++) {
		if (i) {
			dw_buf_puts(&t, "\n----\n\n");
			dw_buf_puts(&h, "<hr>\n");
		}
		render_one(alerts[i], &t, &h);
	}
	dw_buf_puts(&h, "</body></html>\n");
	/* The values were redacted when the alert was made; a mail is
	 * redacted again in case a secret was registered since. */
	*text = dw_buf_detach(&t);
	*html = dw_buf_detach(&h);
	dw_redact(*subject);
	dw_redact(*text);
	dw_redact(*html);
}

/* ---- SQS envelopes ---------------------------------------------------------- */

/* A message that is not a dwops alert, as one. */
static cJSON *foreign_alert(const char *message, const char *subject, const cJSON *attrs)
{
	cJSON *a = cJSON_CreateObject();
	const char *sev = dw_json_str(cJSON_GetObjectItemCaseSensitive(attrs, "severity"), "Value");
	const char *src = dw_json_str(cJSON_GetObjectItemCaseSensitive(attrs, "source"), "Value");
	char first[SUBJECT_MAX + 1];

	snprintf(first, sizeof(first), "%s", message);
	first[strcspn(first, "\r\n")] = '\0';
	set_str(a, "source", src ? src : "sns");
	set_str(a, "severity", dw_alert_severity_valid(sev) ? sev : "error");
	set_str(a, "subject", subject && *subject ? subject : (*first ? first : "message without text"));
	set_str(a, "text", message);
	dw_alert_finish(a);
	return a;
}

static cJSON *alert_of_message(const char *message, const char *subject, const cJSON *attrs)
{
	cJSON *a = cJSON_Parse(message);

	if (cJSON_IsObject(a) && cJSON_GetObjectItemCaseSensitive(a, "dwops_alert")) {
		dw_alert_finish(a);
		return a;
	}
	cJSON_Delete(a);
	return foreign_alert(message, subject, attrs);
}

cJSON *dw_alert_from_sqs_body(const char *body)
{
	cJSON *env = cJSON_Parse(body), *a;
	const char *type = dw_json_str(env, "Type"), *msg = dw_json_str(env, "Message");

	if (cJSON_IsObject(env) && type && strcmp(type, "Notification") == 0 && msg &&
	    dw_json_str(env, "TopicArn")) {
		a = alert_of_message(msg, dw_json_str(env, "Subject"),
				     cJSON_GetObjectItemCaseSensitive(env, "MessageAttributes"));
		cJSON_Delete(env);
		return a;
	}
	cJSON_Delete(env);
	return alert_of_message(body, NULL, NULL);
}

/* ---- the state table ---------------------------------------------------------- */

static cJSON *state_key(const char *key)
{
	cJSON *k = cJSON_CreateObject();

	dw_ddb_add(k, DW_ALERT_KEY, dw_ddb_s(key));
	return k;
}

struct table_wait {
	struct dw_aws *aws;
	const char *table;
};

static enum dw_wait_state table_poll(void *ud, struct dw_wait_poll *p)
{
	struct table_wait *w = ud;
	char *status = NULL;
	int rc = dw_ddb_table_status(w->aws, w->table, &status);

	if (rc < 0)
		return DW_WAIT_FAILED;
	snprintf(p->status, sizeof(p->status), "%s", status ? status : "absent");
	rc = status && strcmp(status, "ACTIVE") == 0;
	free(status);
	return rc ? DW_WAIT_DONE : DW_WAIT_PENDING;
}

int dw_alert_create_table(struct dw_aws *aws, const char *table, int *created)
{
	struct table_wait w = { aws, table };
	struct dw_wait wait = { .what = "the alert state table", .interval_ms = 1000,
				.timeout_s = TABLE_ACTIVE_TIMEOUT_MS / 1000 };
	int rc = dw_ddb_create_table(aws, table, DW_ALERT_KEY);

	*created = rc == 0;
	if (rc < 0)
		return -1;
	return dw_wait_until(&wait, table_poll, &w);
}

/* ---- scan: rules ------------------------------------------------------------- */

int dw_alert_rules_compile(struct dw_alert_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char field[64], why[256];
		regex_t *re;
		int rc;
		if (rules[i].kind != DW_RULE_REGEX)
			continue;
		re = dw_xcalloc(1, sizeof(*re));
		rc = regcomp(re, rules[i].pattern,
			     REG_EXTENDED | REG_NOSUB | (rules[i].ignore_case ? REG_ICASE : 0));
		if (rc != 0) {
			regerror(rc, re, why, sizeof(why));
			free(re);
			snprintf(field, sizeof(field), "rules[%zu].regex", i);
			return dw_invalid(field, "rule %s: the regular expression does not compile: %s",
					  rules[i].name, why);
		}
		rules[i].compiled = re;
	}
	return 0;
}

void dw_alert_rules_release(struct dw_alert_rule *rules, size_t n)
{
	for (size_t i = 0; rules && i < n; i++) {
		if (rules[i].compiled) {
			regfree(rules[i].compiled);
			free(rules[i].compiled);
			rules[i].compiled = NULL;
		}
	}
}

/* The member at a dotted path ("error.code") of a JSON object. */
static const cJSON *json_path(const cJSON *v, const char *path)
{
	char name[256];

	while (v && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof(name))
			return NULL;
		memcpy(name, path, n);
		name[n] = '\0';
		v = cJSON_GetObjectItemCaseSensitive(v, name);
		path += n + (path[n] == '.');
	}
	return v;
}

static int json_rule_match(const struct dw_alert_rule *r, const char *message)
{
	const char *start = strchr(message, '{');
	cJSON *doc = start ? cJSON_Parse(start) : NULL;
	const cJSON *v = json_path(doc, r->json_field);
	char num[64];
	const char *text = NULL;
	int hit = 0;

	if (cJSON_IsString(v))
		text = v->valuestring;
	else if (cJSON_IsNumber(v)) {
		long long i;
		if (dw_json_int(v, &i) == 0)
			snprintf(num, sizeof(num), "%lld", i);
		else
			snprintf(num, sizeof(num), "%.17g", v->valuedouble);
		text = num;
	} else if (cJSON_IsBool(v))
		text = cJSON_IsTrue(v) ? "true" : "false";
	if (text)
		hit = r->ignore_case ? strcasecmp(text, r->equals) == 0 : strcmp(text, r->equals) == 0;
	cJSON_Delete(doc);
	return hit;
}

int dw_alert_rule_match(const struct dw_alert_rule *r, const char *message)
{
	switch (r->kind) {
	case DW_RULE_CONTAINS:
		return (r->ignore_case ? strcasestr(message, r->pattern) : strstr(message, r->pattern)) != NULL;
	case DW_RULE_REGEX:
		return r->compiled && regexec(r->compiled, message, 0, NULL, 0) == 0;
	case DW_RULE_JSON:
		return json_rule_match(r, message);
	}
	return 0;
}

/* ---- scan: checkpoint, incidents ---------------------------------------------- */

struct checkpoint {
	int exists;
	long long ts, ver;
	char *ids;                  /* event ids at ts, ",a,b," */
};

static void checkpoint_release(struct checkpoint *c)
{
	free(c->ids);
	memset(c, 0, sizeof(*c));
}

static char *checkpoint_key(const struct dw_scan_opts *o)
{
	return dw_xasprintf("scan#%s#%s", o->log_group, o->name ? o->name : "default");
}

/* The checkpoint in an SSM parameter: {"ts": N, "ids": ",a,b,"}; its
 * version stands in for the conditional write DynamoDB has. */
static int checkpoint_read_ssm(struct dw_aws *aws, const struct dw_scan_opts *o, struct checkpoint *c)
{
	char *value = NULL;
	long long version = 0;
	int rc = dw_ssm_get_parameter(aws, o->ssm_parameter, &value, &version);
	cJSON *doc;

	memset(c, 0, sizeof(*c));
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	doc = cJSON_Parse(value);
	free(value);
	c->exists = 1;
	c->ver = version;
	if (!cJSON_IsObject(doc) || dw_json_int(cJSON_GetObjectItemCaseSensitive(doc, "ts"), &c->ts) ||
	    !dw_json_str(doc, "ids")) {
		cJSON_Delete(doc);
		return dw_fail("InvalidStateItem", "the SSM parameter %s is not a dw-alert checkpoint "
			       "({\"ts\", \"ids\"})", o->ssm_parameter);
	}
	c->ids = dw_xstrdup(dw_json_str(doc, "ids"));
	cJSON_Delete(doc);
	return 0;
}

static int checkpoint_write_ssm(struct dw_aws *aws, const struct dw_scan_opts *o,
				const struct checkpoint *old, long long ts, const char *ids)
{
	cJSON *doc = cJSON_CreateObject();
	long long version = 0;
	char *text;
	int rc;

	dw_json_add_int(doc, "ts", ts);
	cJSON_AddStringToObject(doc, "ids", ids);
	text = dw_json_print(doc);
	cJSON_Delete(doc);
	rc = dw_ssm_put_parameter(aws, o->ssm_parameter, text ? text : "{}", old->exists, &version);
	cJSON_free(text);
	if (rc < 0)
		return -1;
	/* Overwrite always wins: a version other than ours + 1 means
	 * another scan wrote in between. */
	if (rc == 1 || (old->exists && version != old->ver + 1))
		return dw_fail("CheckpointConflict", "another scan of %s moved the checkpoint %s while "
			       "this one ran; its incidents were published, run again", o->log_group,
			       o->ssm_parameter);
	return 0;
}

static int checkpoint_read(struct dw_aws *aws, const struct dw_scan_opts *o, struct checkpoint *c)
{
	if (o->ssm_parameter)
		return checkpoint_read_ssm(aws, o, c);
	char *key = checkpoint_key(o);
	cJSON *k = state_key(key), *item = NULL;
	int rc = dw_ddb_get_item(aws, o->table, k, 1, &item);

	memset(c, 0, sizeof(*c));
	if (rc == 0 && item) {
		const char *ids = dw_ddb_get_s(item, "ids");
		c->exists = 1;
		if (dw_ddb_get_n(item, "ts", &c->ts) || dw_ddb_get_n(item, "ver", &c->ver))
			rc = dw_fail("InvalidStateItem", "the checkpoint %s in table %s has no ts or ver: "
				     "is the table used by something else than dw-alert?", key, o->table);
		c->ids = dw_xstrdup(ids ? ids : ",");
	}
	free(key);
	cJSON_Delete(k);
	cJSON_Delete(item);
	return rc;
}

/* Write the checkpoint as the next version of what was read: 0, or -1
 * with CheckpointConflict when another scan moved it meanwhile. */
static int checkpoint_write(struct dw_aws *aws, const struct dw_scan_opts *o,
			    const struct checkpoint *old, long long ts, const char *ids)
{
	if (o->ssm_parameter)
		return checkpoint_write_ssm(aws, o, old, ts, ids);
	char *key = checkpoint_key(o);
	cJSON *item = state_key(key), *names = cJSON_CreateObject(), *values = cJSON_CreateObject();
	struct dw_ddb_write w = { .table = o->table, .item = item, .names = names };
	int rc;

	dw_ddb_add(item, "ts", dw_ddb_n(ts));
	dw_ddb_add(item, "ids", dw_ddb_s(ids));
	dw_ddb_add(item, "ver", dw_ddb_n(old->ver + 1));
	dw_ddb_add(item, "updated", dw_ddb_n(now_ms()));
	if (old->exists) {
		cJSON_AddStringToObject(names, "#v", "ver");
		dw_ddb_add(values, ":v", dw_ddb_n(old->ver));
		w.condition = "#v = :v";
		w.values = values;
	} else {
		cJSON_AddStringToObject(names, "#k", DW_ALERT_KEY);
		w.condition = "attribute_not_exists(#k)";
	}
	rc = dw_ddb_put_item(aws, &w, NULL);
	cJSON_Delete(item);
	cJSON_Delete(names);
	cJSON_Delete(values);
	if (rc == 1)
		rc = dw_fail("CheckpointConflict", "another scan of %s (checkpoint %s) moved the checkpoint "
			     "while this one ran; its incidents were published, run again", o->log_group, key);
	free(key);
	return rc;
}

struct incident {
	size_t rule;
	char *stream, *first_id;
	long long first_ts, last_ts;
	long count;
	struct dw_buf samples;
	int nsamples;
};

struct scan {
	const struct dw_scan_opts *o;
	const struct checkpoint *cp;
	struct incident *inc;
	size_t n, cap;
	long long max_ts;
	struct dw_buf max_ids;      /* ",id,id," of events at max_ts */
	long events;
};

static struct incident *open_incident(struct scan *s, size_t rule, const struct dw_logs_event *e)
{
	for (size_t i = s->n; i-- > 0;) {
		struct incident *x = &s->inc[i];
		if (x->rule == rule && strcmp(x->stream, e->stream) == 0 &&
		    e->timestamp_ms >= x->first_ts && e->timestamp_ms - x->first_ts <= s->o->window_ms)
			return x;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->inc = dw_xrealloc(s->inc, s->cap * sizeof(*s->inc));
	}
	struct incident *x = &s->inc[s->n++];
	memset(x, 0, sizeof(*x));
	x->rule = rule;
	x->stream = dw_xstrdup(e->stream);
	x->first_id = dw_xstrdup(e->id);
	x->first_ts = e->timestamp_ms;
	dw_buf_init(&x->samples);
	return x;
}

static int id_listed(const char *list, const char *id)
{
	size_t n = strlen(id);

	for (const char *p = list ? strstr(list, id) : NULL; p; p = strstr(p + 1, id))
		if (p > list && p[-1] == ',' && p[n] == ',')
			return 1;
	return 0;
}

static int on_event(void *ud, const struct dw_logs_event *e)
{
	struct scan *s = ud;

	/* startTime is inclusive: the checkpoint's own millisecond comes
	 * again, and its events already seen are skipped by id. */
	if (s->cp->exists && (e->timestamp_ms < s->cp->ts ||
			      (e->timestamp_ms == s->cp->ts && id_listed(s->cp->ids, e->id))))
		return 0;
	s->events++;
	if (e->timestamp_ms > s->max_ts) {
		s->max_ts = e->timestamp_ms;
		dw_buf_clear(&s->max_ids);
		dw_buf_putc(&s->max_ids, ',');
	}
	if (e->timestamp_ms == s->max_ts)
		dw_buf_printf(&s->max_ids, "%s,", e->id);
	for (size_t r = 0; r < s->o->nrules; r++) {
		if (!dw_alert_rule_match(&s->o->rules[r], e->message))
			continue;
		struct incident *x = open_incident(s, r, e);
		x->count++;
		if (e->timestamp_ms > x->last_ts)
			x->last_ts = e->timestamp_ms;
		if (x->nsamples < s->o->samples) {
			char line[1024];
			snprintf(line, sizeof(line), "%s", e->message);
			line[strcspn(line, "\r\n")] = '\0';
			dw_buf_printf(&x->samples, "%s\n", line);
			x->nsamples++;
		}
	}
	return 0;
}

static void scan_release(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->inc[i].stream);
		free(s->inc[i].first_id);
		dw_buf_release(&s->inc[i].samples);
	}
	free(s->inc);
	dw_buf_release(&s->max_ids);
}

static cJSON *incident_alert(const struct scan *s, const struct incident *x)
{
	const struct dw_alert_rule *r = &s->o->rules[x->rule];
	cJSON *a = cJSON_CreateObject(), *ctx;
	char first[32], last[32], *subject, *source;

	dw_time_format_iso((time_t)(x->first_ts / 1000), first);
	dw_time_format_iso((time_t)(x->last_ts / 1000), last);
	subject = dw_xasprintf("%s in %s: %ld event%s", r->name, x->stream, x->count,
			       x->count == 1 ? "" : "s");
	source = dw_xasprintf("logs:%s", s->o->log_group);
	set_str(a, "source", source);
	set_str(a, "severity", r->severity ? r->severity : "error");
	set_str(a, "operator", "dw-alert");
	set_str(a, "action", "scan");
	set_str(a, "code", r->name);
	set_str(a, "subject", subject);
	set_str(a, "text", x->samples.data ? x->samples.data : "");
	ctx = cJSON_AddObjectToObject(a, "context");
	cJSON_AddStringToObject(ctx, "log_group", s->o->log_group);
	cJSON_AddStringToObject(ctx, "stream", x->stream);
	cJSON_AddStringToObject(ctx, "first_event", x->first_id);
	cJSON_AddStringToObject(ctx, "first_at", first);
	cJSON_AddStringToObject(ctx, "last_at", last);
	dw_json_add_int(ctx, "events", x->count);
	free(subject);
	free(source);
	dw_alert_finish(a);
	return a;
}

int dw_alert_scan(struct dw_aws *aws, const struct dw_scan_opts *o,
		  struct dw_alert_stats *st, cJSON *result)
{
	struct checkpoint cp;
	struct scan s = { .o = o, .cp = &cp };
	long long now = now_ms();
	struct dw_logs_filter f = { .group = o->log_group, .end_ms = now, .page_size = o->page_size };
	cJSON *list = cJSON_AddArrayToObject(result, "incidents_found");
	long pages = 0;
	int rc;

	if (checkpoint_read(aws, o, &cp))
		return -1;
	f.start_ms = cp.exists ? cp.ts : (now - o->lookback_ms > 1 ? now - o->lookback_ms : 1);
	s.max_ts = cp.exists ? cp.ts : 0;
	dw_buf_init(&s.max_ids);
	dw_buf_puts(&s.max_ids, cp.exists ? cp.ids : ",");
	rc = dw_logs_filter_events(aws, &f, on_event, &s, &pages);
	st->events_read = s.events;
	st->incidents = (long)s.n;
	dw_json_add_int(result, "pages", pages);
	for (size_t i = 0; rc == 0 && i < s.n; i++) {
		cJSON *a = incident_alert(&s, &s.inc[i]);
		cJSON *brief = cJSON_CreateObject();
		cJSON_AddStringToObject(brief, "id", dw_json_str(a, "id"));
		cJSON_AddStringToObject(brief, "subject", dw_json_str(a, "subject"));
		cJSON_AddItemToArray(list, brief);
		if (!o->dry_run) {
			if (dw_alert_publish(aws, o->topic_arn, a, NULL, NULL)) {
				/* The checkpoint stays: a re-run publishes these
				 * incidents again, with the same ids (deliver mails
				 * each once). */
				st->failed = (long)(s.n - i);
				st->transient = dw_error_last()->kind == DW_TRANSIENT;
				rc = -1;
			} else {
				st->published++;
			}
		}
		cJSON_Delete(a);
	}
	if (rc == 0 && !o->dry_run && s.events > 0)
		rc = checkpoint_write(aws, o, &cp, s.max_ts, s.max_ids.data);
	if (s.max_ts > 0) {
		char iso[32];
		dw_time_format_iso((time_t)(s.max_ts / 1000), iso);
		cJSON_AddStringToObject(result, "checkpoint", iso);
	}
	scan_release(&s);
	checkpoint_release(&cp);
	return rc;
}

/* ---- deliver ---------------------------------------------------------------- */

static void add_unique(cJSON *to, const cJSON *list)
{
	const cJSON *v, *have;

	cJSON_ArrayForEach(v, list) {
		int dup = 0;
		if (!cJSON_IsString(v))
			continue;
		cJSON_ArrayForEach(have, to) {
			dup |= strcmp(have->valuestring, v->valuestring) == 0;
		}
		if (!dup)
			cJSON_AddItemToArray(to, cJSON_CreateString(v->valuestring));
	}
}

cJSON *dw_alert_recipients(const cJSON *recipients, const cJSON *alert)
{
	cJSON *to = cJSON_CreateArray();
	const char *src = dw_json_str(alert, "source"), *sev = dw_json_str(alert, "severity");

	if (src)
		add_unique(to, cJSON_GetObjectItemCaseSensitive(
				       cJSON_GetObjectItemCaseSensitive(recipients, "source"), src));
	if (sev)
		add_unique(to, cJSON_GetObjectItemCaseSensitive(
				       cJSON_GetObjectItemCaseSensitive(recipients, "severity"), sev));
	if (cJSON_GetArraySize(to) == 0)
		add_unique(to, cJSON_GetObjectItemCaseSensitive(recipients, "default"));
	return to;
}

/* A random owner for claims: a run's claims are its own. */
static void random_owner(char out[33])
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = -1;

	if (fd >= 0) {
		got = read(fd, b, sizeof(b));
		close(fd);
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		if (got != (ssize_t)sizeof(b))
			b[i] = (unsigned char)(random() & 0xff);
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	}
}

enum claim { CLAIMED, ALREADY_SENT, BUSY };

/* Claim the alert's key for sending: a conditional write that succeeds when
 * no claim or sent mark lives.  -1 failed. */
static int claim(struct dw_aws *aws, const struct dw_deliver_opts *o, const char *owner,
		 const char *id, enum claim *out)
{
	char *key = dw_xasprintf("mail#%s", id);
	cJSON *item = state_key(key), *names = cJSON_CreateObject(), *values = cJSON_CreateObject();
	struct dw_ddb_write w = { .table = o->table, .item = item, .names = names, .values = values,
				  .condition = "attribute_not_exists(#k) OR #u < :now" };
	long long now = now_ms();
	int rc;

	dw_ddb_add(item, "state", dw_ddb_s("sending"));
	dw_ddb_add(item, "owner", dw_ddb_s(owner));
	dw_ddb_add(item, "until", dw_ddb_n(now + o->claim_ms));
	cJSON_AddStringToObject(names, "#k", DW_ALERT_KEY);
	cJSON_AddStringToObject(names, "#u", "until");
	dw_ddb_add(values, ":now", dw_ddb_n(now));
	rc = dw_ddb_put_item(aws, &w, NULL);
	cJSON_Delete(item);
	cJSON_Delete(names);
	cJSON_Delete(values);
	*out = CLAIMED;
	if (rc == 1) {
		cJSON *k = state_key(key), *cur = NULL;
		rc = dw_ddb_get_item(aws, o->table, k, 1, &cur);
		cJSON_Delete(k);
		const char *state = dw_ddb_get_s(cur, "state");
		*out = state && strcmp(state, "sent") == 0 ? ALREADY_SENT : BUSY;
		cJSON_Delete(cur);
	}
	free(key);
	return rc;
}

/* After SES accepted: the key is sent for the dedup window.  After SES
 * refused: the claim is given back (only ours). */
static int claim_end(struct dw_aws *aws, const struct dw_deliver_opts *o, const char *owner,
		     const char *id, int sent)
{
	char *key = dw_xasprintf("mail#%s", id);
	cJSON *names = cJSON_CreateObject(), *values = cJSON_CreateObject();
	struct dw_ddb_write w = { .table = o->table, .names = names, .values = values };
	cJSON *item = NULL, *k = NULL;
	int rc;

	cJSON_AddStringToObject(names, "#o", "owner");
	dw_ddb_add(values, ":o", dw_ddb_s(owner));
	w.condition = "#o = :o";
	if (sent) {
		item = state_key(key);
		dw_ddb_add(item, "state", dw_ddb_s("sent"));
		dw_ddb_add(item, "owner", dw_ddb_s(owner));
		dw_ddb_add(item, "until", dw_ddb_n(now_ms() + o->dedup_window_ms));
		w.item = item;
		/* Sent is sent: written whoever holds the key now. */
		w.condition = NULL;
		cJSON_Delete(values);
		values = NULL;
		w.values = NULL;
		cJSON_Delete(names);
		names = NULL;
		w.names = NULL;
		rc = dw_ddb_put_item(aws, &w, NULL);
	} else {
		k = state_key(key);
		w.key = k;
		rc = dw_ddb_delete_item(aws, &w, NULL);
	}
	cJSON_Delete(item);
	cJSON_Delete(k);
	cJSON_Delete(names);
	cJSON_Delete(values);
	free(key);
	return rc < 0 ? -1 : 0;
}

struct pending {
	cJSON *alert;
	char *receipt;
	long receive_count;         /* the message's ApproximateReceiveCount */
	cJSON *to;
	int claimed;
};

struct deliver {
	struct dw_aws *aws;
	const struct dw_deliver_opts *o;
	struct dw_alert_stats *st;
	char owner[33];
	struct dw_alert_pacer pacer;
	struct pending *p;          /* digest: the run's alerts */
	size_t n, cap;
	cJSON *result;
	cJSON *mailed_ids, *failed_ids;
	struct dw_error refused;    /* SES's first refusal of the run */
	int nrefused;
	int redrive_checked;
};

double dw_alert_send_rate(double quota_rate, double requested)
{
	double rate = quota_rate > 0 ? quota_rate : 1;

	if (requested > 0 && requested < rate)
		rate = requested;
	return rate;
}

void dw_alert_pacer_init(struct dw_alert_pacer *p, double rate)
{
	p->rate = rate > 0 ? rate : 1;
	p->origin_ms = 0;
	p->spent = 0;
}

long dw_alert_pace(struct dw_alert_pacer *p, long long now, size_t n)
{
	/* One product per mail, not a sum of intervals: no drift. */
	double next = (double)p->origin_ms + p->spent * 1000.0 / p->rate;
	long wait = 0;

	if (next > (double)now) {
		wait = (long)ceil(next - (double)now - 1e-6);
	} else if ((double)now - next >= 1) {
		/* Idle: a new schedule from now.  Late by less than a ms (the
		 * waits are whole ms) keeps the schedule. */
		p->origin_ms = now;
		p->spent = 0;
	}
	p->spent += (double)(n ? n : 1);
	return wait;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pace(struct deliver *d, size_t recipients)
{
	long wait = dw_alert_pace(&d->pacer, mono_ms(), recipients);

	if (wait > 0)
		dw_sleep_ms(wait);
}

static int send_mail(struct deliver *d, const cJSON *const *alerts, size_t n, const cJSON *to)
{
	const char **addr = dw_xcalloc((size_t)cJSON_GetArraySize(to) + 1, sizeof(*addr));
	struct dw_ses_mail m = { .from = d->o->from, .to = addr };
	char *subject, *text, *html;
	const cJSON *v;
	int rc;

	cJSON_ArrayForEach(v, to) {
		addr[m.nto++] = v->valuestring;
	}
	dw_alert_render(alerts, n, d->o->subject_prefix, &subject, &text, &html);
	m.subject = subject;
	m.text = text;
	m.html = html;
	pace(d, m.nto);
	rc = dw_ses_send_email(d->aws, &m, NULL);
	free(subject);
	free(text);
	free(html);
	free(addr);
	return rc;
}

static int delete_message(struct deliver *d, const char *receipt)
{
	int ok = 0;

	if (dw_sqs_delete_batch(d->aws, d->o->queue_url, &receipt, 1, &ok))
		return -1;
	if (!ok)
		dw_warn("SQS did not delete a mailed message (its receipt expired?): the next run "
			"finds it sent and drops it");
	return 0;
}

/* Make a message visible again now, so that the next run retries it. */
static void give_back(struct deliver *d, const char *receipt)
{
	struct dw_error saved;

	dw_error_save(&saved);
	if (dw_sqs_visibility_batch(d->aws, d->o->queue_url, &receipt, 1, 0, NULL))
		dw_warn("could not make a message visible again: it returns after its visibility "
			"timeout (%s)", dw_error_last()->message);
	dw_error_restore(&saved);
}

/* The queue's redrive policy, read once a run has an alert SES refused:
 * where the alert ends up (result dead_letter_queue, max_receive_count), or
 * a warning that it comes back for ever. */
static void note_redrive(struct deliver *d)
{
	struct dw_error saved;
	cJSON *attrs = NULL, *rp = NULL;
	const char *redrive, *dlq;
	long long max = 0;

	if (d->redrive_checked)
		return;
	d->redrive_checked = 1;
	dw_error_save(&saved);
	if (dw_sqs_queue_attributes(d->aws, d->o->queue_url, &attrs)) {
		dw_warn("could not read the queue's redrive policy: %s", dw_error_last()->message);
		dw_error_restore(&saved);
		return;
	}
	redrive = dw_json_str(attrs, "RedrivePolicy");
	rp = redrive && *redrive ? cJSON_Parse(redrive) : NULL;
	dlq = dw_json_str(rp, "deadLetterTargetArn");
	if (dlq) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(rp, "maxReceiveCount");
		if (cJSON_IsString(n))
			max = atoll(n->valuestring);
		else if (dw_json_int(n, &max))
			max = 0;
		cJSON_AddStringToObject(d->result, "dead_letter_queue", dlq);
		if (max > 0)
			dw_json_add_int(d->result, "max_receive_count", max);
	} else {
		dw_warn("queue %s has no redrive policy: an alert SES refuses comes back every "
			"visibility_s (%d s) for ever; give the queue a dead-letter queue "
			"(RedrivePolicy with maxReceiveCount)", d->o->queue_url, d->o->visibility_s);
		cJSON_AddStringToObject(d->result, "warning", "the queue has no redrive policy (no "
					"dead-letter queue): an alert SES refuses comes back for ever");
	}
	cJSON_Delete(rp);
	cJSON_Delete(attrs);
	dw_error_restore(&saved);
}

/* After a failed send (or one not tried, sent 0): count it and give the
 * claim back.  A temporary failure (throttling, SES unreachable) or a mail
 * not tried gives the message back now, for the next run.  A refusal (SES
 * answered no: MessageRejected, an unverified address, ...) leaves the
 * message hidden for visibility_s: this run goes on with the others instead
 * of receiving it again, later runs try it again, and the queue's redrive
 * policy moves it to the dead-letter queue after maxReceiveCount receives.
 * Either way the run's result counts it failed and names it (failed_ids). */
static void send_failed(struct deliver *d, struct pending *x, int sent)
{
	struct dw_error saved;
	const char *id = dw_json_str(x->alert, "id");
	int refused;

	dw_error_save(&saved);
	refused = sent && saved.kind != DW_TRANSIENT;
	if (refused) {
		dw_warn("alert %s not mailed, SES refused it (delivery %ld of the message): %s; "
			"left in the queue, it returns in %d s", id, x->receive_count, saved.message,
			d->o->visibility_s);
		if (d->nrefused++ == 0)
			d->refused = saved;
	} else {
		dw_warn("alert %s not mailed: %s", id, saved.message);
	}
	if (sent && saved.kind == DW_TRANSIENT)
		d->st->transient = 1;
	d->st->failed++;
	cJSON_AddItemToArray(d->failed_ids, cJSON_CreateString(id));
	if (x->claimed && claim_end(d->aws, d->o, d->owner, id, 0))
		dw_warn("could not release the claim on alert %s: it is retried once the claim "
			"runs out", id);
	x->claimed = 0;
	if (refused)
		note_redrive(d);
	else
		give_back(d, x->receipt);
	dw_error_restore(&saved);
}

static void pending_release(struct pending *x)
{
	cJSON_Delete(x->alert);
	cJSON_Delete(x->to);
	free(x->receipt);
	memset(x, 0, sizeof(*x));
}

static int has_string(const cJSON *list, const char *s)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, list) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0)
			return 1;
	}
	return 0;
}

/* One message: claim it, and mail it now (or keep it for the digest).
 * -1 only when the run must stop (the state table or SQS failed, or SES
 * is throttling). */
static int one_message(struct deliver *d, const struct dw_sqs_message *m)
{
	struct pending x = { .alert = dw_alert_from_sqs_body(m->body), .receipt = dw_xstrdup(m->receipt),
			     .receive_count = m->receive_count };
	const char *id = dw_json_str(x.alert, "id");
	enum claim c;
	int rc = 0;

	if (has_string(d->failed_ids, id)) {
		/* Back within the run (a run longer than visibility_s): SES
		 * refused it already, it is tried once a run. */
		dw_info("alert %s was refused earlier in this run: left for a later run", id);
		pending_release(&x);
		return 0;
	}
	x.to = dw_alert_recipients(d->o->recipients, x.alert);
	if (claim(d->aws, d->o, d->owner, id, &c)) {
		pending_release(&x);
		return -1;
	}
	if (c == ALREADY_SENT) {
		d->st->suppressed++;
		dw_info("alert %s was mailed within the dedup window: not again", id);
		rc = delete_message(d, x.receipt);
	} else if (c == BUSY) {
		dw_info("alert %s is being mailed by another run: left to it", id);
	} else if (d->o->digest) {
		x.claimed = 1;
		if (d->n == d->cap) {
			d->cap = d->cap ? 2 * d->cap : 16;
			d->p = dw_xrealloc(d->p, d->cap * sizeof(*d->p));
		}
		d->p[d->n++] = x;
		return 0;
	} else {
		const cJSON *one = x.alert;
		x.claimed = 1;
		if (send_mail(d, &one, 1, x.to)) {
			send_failed(d, &x, 1);
			rc = d->st->transient ? -1 : 0;
		} else {
			d->st->mailed++;
			cJSON_AddItemToArray(d->mailed_ids, cJSON_CreateString(id));
			rc = claim_end(d->aws, d->o, d->owner, id, 1) || delete_message(d, x.receipt) ? -1 : 0;
		}
	}
	pending_release(&x);
	return rc;
}

static int same_list(const cJSON *a, const cJSON *b)
{
	char *x = dw_json_print(a), *y = dw_json_print(b);
	int same = x && y && strcmp(x, y) == 0;

	cJSON_free(x);
	cJSON_free(y);
	return same;
}

/* Digest: one mail per recipient list, for every claimed alert. */
static int send_digests(struct deliver *d)
{
	int rc = 0;

	for (size_t i = 0; i < d->n; i++) {
		const cJSON **group;
		size_t k = 0, bytes = d->n * sizeof(const cJSON *);
		if (!d->p[i].claimed)
			continue;
		group = dw_xmalloc(bytes);
		for (size_t j = i; j < d->n; j++)
			if (d->p[j].claimed && same_list(d->p[i].to, d->p[j].to))
				group[k++] = d->p[j].alert;
		int tried = rc == 0, failed = !tried || send_mail(d, group, k, d->p[i].to);
		const cJSON *to = cJSON_Duplicate(d->p[i].to, 1);
		for (size_t j = i; j < d->n; j++) {
			struct pending *x = &d->p[j];
			if (!x->claimed || !same_list(to, x->to))
				continue;
			if (failed) {
				send_failed(d, x, tried);
				continue;
			}
			x->claimed = 0;
			d->st->mailed++;
			cJSON_AddItemToArray(d->mailed_ids, cJSON_CreateString(dw_json_str(x->alert, "id")));
			if (claim_end(d->aws, d->o, d->owner, dw_json_str(x->alert, "id"), 1) ||
			    delete_message(d, x->receipt))
				rc = -1;
		}
		if (failed && d->st->transient)
			rc = -1;
		cJSON_Delete((cJSON *)to);
		free(group);
	}
	return rc;
}

static int receive_all(struct deliver *d)
{
	int left = d->o->max_messages;

	while (left > 0) {
		struct dw_sqs_message *m = NULL;
		size_t n = 0;
		int rc = dw_sqs_receive(d->aws, d->o->queue_url, left < 10 ? left : 10, d->o->wait_s,
					d->o->visibility_s, &m, &n);
		if (rc) {
			dw_sqs_messages_free(m, n);
			return -1;
		}
		if (n == 0) {
			dw_sqs_messages_free(m, n);
			break;
		}
		d->st->events_read += (long)n;
		left -= (int)n;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			rc = one_message(d, &m[i]);
			if (rc && i + 1 < n) {
				/* Stopping: the rest of the batch is retried by the
				 * next run. */
				for (size_t j = i + 1; j < n; j++)
					give_back(d, m[j].receipt);
			}
		}
		dw_sqs_messages_free(m, n);
		if (rc)
			return -1;
	}
	return 0;
}

int dw_alert_deliver(struct dw_aws *aws, const struct dw_deliver_opts *o,
		     struct dw_alert_stats *st, cJSON *result)
{
	struct deliver d = { .aws = aws, .o = o, .st = st, .result = result };
	struct dw_ses_quota q;
	double rate;
	int rc;

	if (dw_ses_send_quota(aws, &q))
		return -1;
	rate = dw_alert_send_rate(q.max_send_rate, o->send_rate);
	dw_alert_pacer_init(&d.pacer, rate);
	random_owner(d.owner);
	d.mailed_ids = cJSON_AddArrayToObject(result, "mailed_ids");
	d.failed_ids = cJSON_AddArrayToObject(result, "failed_ids");
	cJSON_AddNumberToObject(result, "send_rate", rate);
	rc = receive_all(&d);
	if (o->digest && d.n) {
		if (rc) {
			for (size_t i = 0; i < d.n; i++)
				if (d.p[i].claimed)
					send_failed(&d, &d.p[i], 0);
		} else {
			rc = send_digests(&d);
		}
	}
	for (size_t i = 0; i < d.n; i++)
		pending_release(&d.p[i]);
	free(d.p);
	if (rc == 0 && st->failed && st->transient)
		rc = dw_raise(DW_TRANSIENT, "AlertsNotSent", NULL,
			      "%ld alert%s not mailed (SES is throttling or unreachable); they stay in "
			      "the queue for the next run", st->failed, st->failed == 1 ? "" : "s");
	else if (rc == 0 && st->failed)
		rc = dw_fail("AlertsNotSent",
			     "%ld alert%s not mailed, refused by SES (%s: %s); left in the queue, each "
			     "comes back after visibility_s and goes to the queue's dead-letter queue "
			     "after its maxReceiveCount", st->failed, st->failed == 1 ? "" : "s",
			     d.nrefused ? d.refused.code : "?", d.nrefused ? d.refused.message : "?");
	return rc;
}
