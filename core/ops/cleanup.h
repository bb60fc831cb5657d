/* dw/cleanup.h - plan and carry out the clean-up of what the platform
 * leaves behind: expired or idle warehouse copies, stale S3 objects under
 * working prefixes, Glue tables that are old or whose data is gone, and
 * empty, unused SQS queues.
 *
 * A plan is computed in full (reads only) before anything is deleted;
 * applying it deletes exactly the listed items, each one independently, so
 * one failure does not stop the others. */
#ifndef DW_CLEANUP_H
#define DW_CLEANUP_H

#include "base/json.h"
#include <stddef.h>
#include <time.h>
#include "aws/aws.h"
#include "proto/req.h"

/* The policy: what to look for.  Strings are borrowed (from the request). */
struct dw_cleanup_copies {
	int enabled;          /* look at warehouse copies at all */
	long idle_hours;      /* > 0: also copies without connections this long */
	const char *owner;    /* only this owner's copies; NULL: everyone's */
};

struct dw_cleanup_s3_rule {
	const char *bucket;
	const char *prefix;   /* never empty: a rule never covers a whole bucket */
	long older_than_days;
	long keep_latest;     /* the newest N objects under the prefix are kept */
};

struct dw_cleanup_table_rule {
	const char *database;
	const char *pattern;  /* fnmatch glob over table names */
	long older_than_days; /* < 0: age is not a reason */
	int location_empty;   /* drop tables whose S3 location holds nothing */
};

struct dw_cleanup_queue_rule {
	const char *prefix;   /* queue name prefix, never empty */
	long unused_days;
};

struct dw_cleanup_policy {
	struct dw_cleanup_copies copies;
	struct dw_cleanup_s3_rule *s3;
	size_t ns3;
	struct dw_cleanup_table_rule *tables;
	size_t ntables;
	struct dw_cleanup_queue_rule *queues;
	size_t nqueues;
};

/* The sections' field tables (bound into the structs above); the
 * operator's request schema names them as the sections' sub-fields. */
extern const struct dw_field dw_cleanup_snapshot_fields[];
extern const struct dw_field dw_cleanup_s3_fields[];
extern const struct dw_field dw_cleanup_table_fields[];
extern const struct dw_field dw_cleanup_queue_fields[];

/* Read the policy from a request already checked against its field table
 * ("snapshots", "s3", "tables", "queues"), checking the values: raises
 * DW_INVALID naming the field ("s3[1].prefix") when one is unusable or
 * when no section is given.  Free with dw_cleanup_policy_release. */
int dw_cleanup_policy_read(struct dw_cleanup_policy *p, const cJSON *req);
void dw_cleanup_policy_release(struct dw_cleanup_policy *p);

enum dw_cleanup_kind {
	DW_CLEANUP_COPY,   /* a warehouse copy (RDS instance) */
	DW_CLEANUP_OBJECT, /* an S3 object */
	DW_CLEANUP_TABLE,  /* a Glue table */
	DW_CLEANUP_QUEUE,  /* an SQS queue */
};

enum dw_cleanup_status {
	DW_CLEANUP_PLANNED,
	DW_CLEANUP_DONE,
	DW_CLEANUP_FAILED,
};

struct dw_cleanup_item {
	enum dw_cleanup_kind kind;
	char *rule;    /* the policy part that listed it: "snapshots", "s3[0]" */
	char *scope;   /* bucket or database; NULL for copies and queues */
	char *name;    /* instance, key, table, or queue URL */
	char *reason;
	enum dw_cleanup_status status;
	char *error;   /* when failed */
};

struct dw_cleanup_plan {
	time_t now;    /* the clock every age is measured against */
	struct dw_cleanup_item *items;
	size_t n, cap;
};

void dw_cleanup_plan_init(struct dw_cleanup_plan *plan, time_t now);
void dw_cleanup_plan_release(struct dw_cleanup_plan *plan);

/* List everything the policy covers, reading only.  Fails, with the plan
 * partly filled, when something cannot be read. */
int dw_cleanup_plan_make(struct dw_aws *aws, const struct dw_cleanup_policy *policy,
			 struct dw_cleanup_plan *plan);

/* The deletion guard: raises DW_INVALID "TooManyDeletions" when the plan
 * holds more than max_deletions items. */
int dw_cleanup_guard(const struct dw_cleanup_plan *plan, size_t max_deletions);

/* The plan's fingerprint (issue 12 #16): SHA-256, in hex, of what it
 * deletes -- each item's kind and target, sorted, reasons left out -- so
 * that an apply can be held to the plan a reviewer saw. */
void dw_cleanup_plan_hash(const struct dw_cleanup_plan *plan, char out[65]);
/* Raises DW_INVALID "PlanChanged" (field expect_plan) unless the plan's
 * hash is expect (64 hex digits; a malformed one is InvalidRequest). */
int dw_cleanup_expect(const struct dw_cleanup_plan *plan, const char *expect);

/* Delete every planned item, logging each with its reason, and record
 * each outcome.  S3 objects go in DeleteObjects calls of at most 1000
 * keys.  Returns 0 when all were done, else -1 with DW_FAILED
 * "CleanupIncomplete" raised. */
int dw_cleanup_apply(struct dw_aws *aws, struct dw_cleanup_plan *plan);

size_t dw_cleanup_count(const struct dw_cleanup_plan *plan,
			enum dw_cleanup_status status);
/* "copy", "s3-object", "glue-table", "sqs-queue". */
const char *dw_cleanup_kind_name(enum dw_cleanup_kind kind);
/* "s3://bucket/key", "database.table", the instance or the queue URL, as a
 * new string. */
char *dw_cleanup_item_target(const struct dw_cleanup_item *item);
/* "planned", "done", "failed". */
const char *dw_cleanup_status_name(enum dw_cleanup_status status);

#endif
