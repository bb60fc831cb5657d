/* aws/dynamodb.h - Amazon DynamoDB over the JSON 1.0 protocol (target
 * DynamoDB_20120810): the item calls a lease lock needs, typed, and table
 * set-up.
 *
 * A conditional write whose condition does not hold (the service answers
 * ConditionalCheckFailedException) is a verdict, not an error: the write
 * calls return 1 for it, with nothing raised.  Every other failure returns
 * -1 with the AWS error raised (DW_TRANSIENT after retries ran out on a
 * throttle, a 5xx or a dropped connection).
 *
 * Items and keys are cJSON objects in DynamoDB's attribute-value form:
 * {"resource": {"S": "lake/events"}, "ver": {"N": "7"}}. */
#ifndef DW_DYNAMODB_H
#define DW_DYNAMODB_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct dw_aws;

/* Any operation ("GetItem", ...): in is borrowed; *out is the parsed answer
 * (an empty object for an empty one), the caller deletes it. */
int dw_ddb_call(struct dw_aws *aws, const char *operation, const cJSON *in,
		cJSON **out);

/* GetItem.  consistent: a strongly consistent read (what a lock must use).
 * 0 with *item the item (caller deletes) or NULL when there is none. */
int dw_ddb_get_item(struct dw_aws *aws, const char *table, const cJSON *key,
		    int consistent, cJSON **item);

/* One conditional write.  Every pointer but table may be NULL. */
struct dw_ddb_write {
	const char *table;
	const cJSON *item;          /* PutItem: the whole item */
	const cJSON *key;           /* UpdateItem, DeleteItem */
	const char *update;         /* UpdateItem: the UpdateExpression */
	const char *condition;      /* ConditionExpression */
	const cJSON *names;         /* ExpressionAttributeNames {"#h": "x"} */
	const cJSON *values;        /* ExpressionAttributeValues {":v": {"N": "1"}} */
	const char *return_values;  /* "ALL_OLD", "ALL_NEW", ...; NULL: NONE */
};

/* 0 written (*attrs, when attrs is not NULL, gets the answer's Attributes
 * or NULL), 1 the condition did not hold (nothing written, nothing
 * raised), -1 failed with the error raised. */
int dw_ddb_put_item(struct dw_aws *aws, const struct dw_ddb_write *w, cJSON **attrs);
int dw_ddb_update_item(struct dw_aws *aws, const struct dw_ddb_write *w, cJSON **attrs);
int dw_ddb_delete_item(struct dw_aws *aws, const struct dw_ddb_write *w, cJSON **attrs);

/* DescribeTable: 0 with *status ("ACTIVE", "CREATING", ...; caller frees),
 * 1 when there is no such table (nothing raised), -1 failed. */
int dw_ddb_table_status(struct dw_aws *aws, const char *table, char **status);
/* CreateTable with one string hash key, billed per request.  0 created,
 * 1 it exists already (nothing raised), -1 failed. */
int dw_ddb_create_table(struct dw_aws *aws, const char *table, const char *hash_key);

/* Attribute values. */
cJSON *dw_ddb_s(const char *s);          /* {"S": s} */
cJSON *dw_ddb_n(long long v);            /* {"N": "v"} */
cJSON *dw_ddb_bool(int v);               /* {"BOOL": v} */
/* obj[name] = value (obj an item, a map's members or a values object);
 * returns value. */
cJSON *dw_ddb_add(cJSON *obj, const char *name, cJSON *value);
/* obj[name] = {"M": {}}; returns the new map's members object. */
cJSON *dw_ddb_add_map(cJSON *obj, const char *name);

/* Readers of an item or a map's members: NULL / -1 when the attribute is
 * absent or of another type. */
const char *dw_ddb_get_s(const cJSON *obj, const char *name);
int dw_ddb_get_n(const cJSON *obj, const char *name, long long *out);
int dw_ddb_get_bool(const cJSON *obj, const char *name);  /* 0 when absent */
const cJSON *dw_ddb_get_m(const cJSON *obj, const char *name); /* members */

#endif
