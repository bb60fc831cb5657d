/* ops/alert.h - dw-alert: failures reach people.
 *
 * An alert is a JSON object (what notify publishes to SNS and deliver mails):
 *   {"dwops_alert": 1, "id": "<32 hex>", "time": "<ISO>", "source", "severity",
 *    "subject", "text", "link", "operator", "action", "code", "message",
 *    "field", "context": {...}, "partial": {...}}
 * Every string in it has been through dwops' redaction before it leaves.  Its
 * id is a digest of what says which failure it is (source, severity,
 * subject, operator, action, code, message, the context's run): the same
 * failure published twice, or one message delivered twice, has one id, and
 * deliver mails an id once per dedup window.
 *
 * State (scan checkpoints, deliver's de-duplication claims, watch's
 * "already alerted" keys) lives in one DynamoDB table, key "key" (a string):
 *   scan#<group>#<name>   ts N, ids S (event ids at ts, comma-separated), ver N
 *                         (or an SSM parameter {"ts", "ids"}, checked by version)
 *   mail#<alert id>       state S (sending | sent), owner S, until N (epoch ms)
 *   watch#<dag>#<run>#<kind>  at N
 * Every write is conditional, so two runs never both act. */
#ifndef DW_ALERT_H
#define DW_ALERT_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct dw_aws;

#define DW_ALERT_TABLE_DEFAULT "dwops-alerts"
#define DW_ALERT_KEY "key"

struct dw_alert_stats {
	long events_read;   /* scan: log events; deliver: SQS messages; watch: runs */
	long incidents;     /* alerts found (scan incidents, watch findings) */
	long published;     /* to SNS */
	long suppressed;    /* duplicates not sent again */
	long mailed;        /* mails SES accepted */
	long failed;        /* alerts not sent (left in the queue for a re-run) */
	int transient;      /* a failure was a temporary one (exit 75) */
};

/* 1 when s is one of info, warning, error, critical. */
int dw_alert_severity_valid(const char *s);

/* ---- building and publishing alerts -------------------------------------- */

/* A new alert from a dwops result line (an object {"ok": false, "operator",
 * "action", "error": {"code", "message", "field"}, "result": {...}}).  0 with
 * *out, 1 when the result is not a failure (nothing made), -1 with
 * InvalidRequest (field) when it is not a dwops result. */
int dw_alert_from_result(const cJSON *result, const char *field, cJSON **out);
/* Fill what is missing (dwops_alert, time, severity "error", source "dwops",
 * a subject from the code and message), redact every string, cut the
 * subject to 200 characters and the text to 64 KiB, and set the id. */
void dw_alert_finish(cJSON *alert);

/* Publish to SNS: message attributes operator, code, severity, source; a
 * FIFO topic gets MessageGroupId group (NULL: the source) and the alert's id
 * as MessageDeduplicationId.  *message_id may be NULL. */
int dw_alert_publish(struct dw_aws *aws, const char *topic_arn, const cJSON *alert,
		     const char *group, char **message_id);

/* The mail for alerts (one, or a digest of n): subject, text and HTML into
 * new strings (caller frees).  Every value is HTML-escaped in the HTML part;
 * a link is a hyperlink only when it is http(s). */
void dw_alert_render(const cJSON *const *alerts, size_t n, const char *prefix,
		     char **subject, char **text, char **html);
/* Append s HTML-escaped (& < > " ') to b. */
struct dw_buf;
void dw_html_escape(struct dw_buf *b, const char *s);

/* The alert inside an SQS message from an SNS subscription: a non-raw
 * envelope ({"Type": "Notification", "Message": ..., "MessageAttributes"})
 * or raw delivery (the body is the message).  A message that is not a dwops
 * alert becomes one (its text the message).  Never fails: a new object. */
cJSON *dw_alert_from_sqs_body(const char *body);

/* ---- scan ----------------------------------------------------------------- */

enum dw_rule_kind { DW_RULE_CONTAINS, DW_RULE_REGEX, DW_RULE_JSON };

struct dw_alert_rule {
	const char *name;
	enum dw_rule_kind kind;
	const char *pattern;        /* the substring or the regular expression */
	const char *json_field;     /* JSON: "level" or "error.code" */
	const char *equals;         /* JSON: the value, compared as text */
	int ignore_case;
	const char *severity;       /* NULL: "error" */
	void *compiled;             /* regex_t, made by dw_alert_rules_compile */
};

/* Compile the regular expressions: -1 with InvalidRequest naming
 * rules[i].regex when one does not compile. */
int dw_alert_rules_compile(struct dw_alert_rule *rules, size_t n);
void dw_alert_rules_release(struct dw_alert_rule *rules, size_t n);
/* 1 when message matches rule. */
int dw_alert_rule_match(const struct dw_alert_rule *rule, const char *message);

struct dw_scan_opts {
	const char *log_group;
	const char *name;           /* the checkpoint's name (default "default") */
	const char *table;
	const char *ssm_parameter;  /* the checkpoint in this SSM parameter
				     * instead of the table */
	const char *topic_arn;
	struct dw_alert_rule *rules;
	size_t nrules;
	long long window_ms;        /* events of one rule and stream this close
				     * to an incident's first are the incident */
	long long lookback_ms;      /* first run (no checkpoint): how far back */
	int page_size;              /* FilterLogEvents limit; 0: the service's */
	int samples;                /* lines quoted per incident */
	int dry_run;                /* find and count, publish nothing, keep
				     * the checkpoint */
};

int dw_alert_scan(struct dw_aws *aws, const struct dw_scan_opts *o,
		  struct dw_alert_stats *st, cJSON *result);

/* ---- deliver -------------------------------------------------------------- */

struct dw_deliver_opts {
	const char *queue_url;
	const char *from;
	const cJSON *recipients;    /* {"default": [...], "severity": {sev: [...]},
				     * "source": {src: [...]}} */
	const char *table;
	long long dedup_window_ms;
	long long claim_ms;         /* a claim being sent is held this long */
	int max_messages;
	int wait_s;
	int visibility_s;
	double send_rate;           /* recipients per second at most, lowering
				     * the quota's MaxSendRate (0: the quota's) */
	int digest;                 /* one mail per recipient list for the run */
	const char *subject_prefix;
};

/* The send rate a run keeps to: the account's MaxSendRate (quota_rate; 1
 * when it is not above 0), or requested when that is above 0 and lower. */
double dw_alert_send_rate(double quota_rate, double requested);

/* Send-rate pacing.  SES counts every recipient of a mail against its
 * MaxSendRate (its quotas are of recipients, not messages): a mail to n
 * recipients spends n / rate seconds of the budget, and SES takes it when
 * the budget is not overspent, then refuses until it has built up again.
 * The pacer holds when the spent budget allows the next mail. */
struct dw_alert_pacer {
	double rate;                /* recipients per second, above 0 */
	long long origin_ms;        /* the schedule's start ... */
	double spent;               /* ... and the recipients sent since: the
				     * next mail may go at origin + spent / rate */
};
void dw_alert_pacer_init(struct dw_alert_pacer *p, double rate);
/* How many ms to wait, at now_ms, before a mail to n recipients may go
 * (the wait rounded up to whole ms, never early); the mail is counted as
 * gone at its time in the schedule.  A caller idle for a ms or more past
 * that time starts a new schedule: no budget is saved up for a burst.  The
 * clock is the caller's (any that starts at 0 or later and does not go
 * back), so the arithmetic is tested without sleeping. */
long dw_alert_pace(struct dw_alert_pacer *p, long long now_ms, size_t n);

/* The recipients for an alert: the source's list and the severity's
 * (both, without repeats), else the default (a new array). */
cJSON *dw_alert_recipients(const cJSON *recipients, const cJSON *alert);

int dw_alert_deliver(struct dw_aws *aws, const struct dw_deliver_opts *o,
		     struct dw_alert_stats *st, cJSON *result);

/* ---- watch ---------------------------------------------------------------- */

struct dw_watch_opts {
	const char *url;            /* the Airflow web/API server's base URL */
	int api_version;            /* 1 (Airflow 2, /api/v1, basic auth) or
				     * 2 (Airflow 3, /api/v2, JWT from /auth/token) */
	const char *username;
	const char *password;       /* a secret (redacted) */
	const cJSON *limits_s;      /* {"dag_id": seconds} */
	long long default_limit_ms; /* 0: none */
	double median_factor;       /* > 0: limit = factor x median of recent runs */
	int median_runs;            /* how many recent successful runs */
	long long min_limit_ms;     /* a median-based limit is at least this */
	long long start_grace_ms;   /* queued runs older than this: late; 0 off */
	const char *const *dag_ids; /* only these (NULL: every DAG) */
	size_t ndag_ids;
	const char *table;
	const char *topic_arn;
	const char *source;         /* the alerts' source (default "airflow") */
	long timeout_ms;
	int dry_run;
};

int dw_alert_watch(struct dw_aws *aws, const struct dw_watch_opts *o,
		   struct dw_alert_stats *st, cJSON *result);

/* Create the state table (on demand, key "key") unless it exists and wait
 * until it is ACTIVE; *created 1 when it was made now. */
int dw_alert_create_table(struct dw_aws *aws, const char *table, int *created);

/* The stats into a result object: events_read, incidents, published,
 * suppressed, mailed, failed. */
void dw_alert_stats_json(const struct dw_alert_stats *st, cJSON *result);

#endif
