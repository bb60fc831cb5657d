/* dynamodb.c - Amazon DynamoDB over the JSON 1.0 protocol. */
#include "aws/dynamodb.h"
#include "aws/aws.h"
#include "base/buf.h"
#include "base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONDITION_FAILED "ConditionalCheckFailedException"
#define NO_SUCH_TABLE "ResourceNotFoundException"

static int parse_answer(const struct dw_http_response *resp, const char *operation,
			cJSON **out)
{
	if (resp->body.len == 0) {
		*out = cJSON_CreateObject();
		return 0;
	}
	*out = cJSON_ParseWithLength(resp->body.data, resp->body.len);
	if (!*out || !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return dw_fail("InvalidResponse", "DynamoDB %s answered with something that is not a JSON object",
			       operation);
	}
	return 0;
}

int dw_ddb_call(struct dw_aws *aws, const char *operation, const cJSON *in,
		cJSON **out)
{
	char target[96];
	char *text = cJSON_PrintUnformatted(in);
	struct dw_aws_request *req;
	struct dw_http_response resp;
	int rc;

	*out = NULL;
	if (!text)
		return dw_fail("NoMemory", "DynamoDB %s: cannot print the request", operation);
	snprintf(target, sizeof(target), "DynamoDB_20120810.%s", operation);
	req = dw_aws_json_request_text("dynamodb", "1.0", target, text, strlen(text));
	cJSON_free(text);
	dw_http_response_init(&resp);
	rc = dw_aws_send(aws, req, &resp);
	if (rc == 0)
		rc = parse_answer(&resp, operation, out);
	dw_http_response_release(&resp);
	dw_aws_request_free(req);
	return rc;
}

static cJSON *dup(const cJSON *v)
{
	return cJSON_Duplicate(v, 1);
}

int dw_ddb_get_item(struct dw_aws *aws, const char *table, const cJSON *key,
		    int consistent, cJSON **item)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	*item = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON_AddItemToObject(in, "Key", dup(key));
	cJSON_AddBoolToObject(in, "ConsistentRead", consistent != 0);
	rc = dw_ddb_call(aws, "GetItem", in, &out);
	cJSON_Delete(in);
	if (rc == 0) {
		cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(out, "Item");
		if (it && !cJSON_IsObject(it)) {
			cJSON_Delete(it);
			it = NULL;
			rc = dw_fail("InvalidResponse", "DynamoDB GetItem answered an Item that is not an object");
		}
		*item = it;
	}
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("reading item of table %s", table);
	return 0;
}

static int write_call(struct dw_aws *aws, const char *operation,
		      const struct dw_ddb_write *w, cJSON **attrs)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	if (attrs)
		*attrs = NULL;
	cJSON_AddStringToObject(in, "TableName", w->table);
	if (w->item)
		cJSON_AddItemToObject(in, "Item", dup(w->item));
	if (w->key)
		cJSON_AddItemToObject(in, "Key", dup(w->key));
	if (w->update)
		cJSON_AddStringToObject(in, "UpdateExpression", w->update);
	if (w->condition)
		cJSON_AddStringToObject(in, "ConditionExpression", w->condition);
	if (w->names)
		cJSON_AddItemToObject(in, "ExpressionAttributeNames", dup(w->names));
	if (w->values)
		cJSON_AddItemToObject(in, "ExpressionAttributeValues", dup(w->values));
	if (w->return_values)
		cJSON_AddStringToObject(in, "ReturnValues", w->return_values);
	rc = dw_ddb_call(aws, operation, in, &out);
	cJSON_Delete(in);
	if (rc && dw_error_is(CONDITION_FAILED)) {
		/* The verdict of a conditional write: the caller decides. */
		dw_error_clear();
		return 1;
	}
	if (rc == 0 && attrs)
		*attrs = cJSON_DetachItemFromObjectCaseSensitive(out, "Attributes");
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("writing to table %s", w->table);
	return 0;
}

int dw_ddb_put_item(struct dw_aws *aws, const struct dw_ddb_write *w, cJSON **attrs)
{
	return write_call(aws, "PutItem", w, attrs);
}

int dw_ddb_update_item(struct dw_aws *aws, const struct dw_ddb_write *w, cJSON **attrs)
{
	return write_call(aws, "UpdateItem", w, attrs);
}

int dw_ddb_delete_item(struct dw_aws *aws, const struct dw_ddb_write *w, cJSON **attrs)
{
	return write_call(aws, "DeleteItem", w, attrs);
}

int dw_ddb_table_status(struct dw_aws *aws, const char *table, char **status)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	int rc;

	*status = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	rc = dw_ddb_call(aws, "DescribeTable", in, &out);
	cJSON_Delete(in);
	if (rc && dw_error_is(NO_SUCH_TABLE)) {
		dw_error_clear();
		return 1;
	}
	if (rc == 0) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(out, "Table");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "TableStatus");
		if (cJSON_IsString(s))
			*status = dw_xstrdup(s->valuestring);
		else
			rc = dw_fail("InvalidResponse", "DescribeTable answered without a TableStatus");
	}
	cJSON_Delete(out);
	if (rc)
		return dw_error_context("describing table %s", table);
	return 0;
}

int dw_ddb_create_table(struct dw_aws *aws, const char *table, const char *hash_key)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL, *def, *key;
	int rc;

	cJSON_AddStringToObject(in, "TableName", table);
	def = cJSON_AddArrayToObject(in, "AttributeDefinitions");
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "AttributeName", hash_key);
	cJSON_AddStringToObject(a, "AttributeType", "S");
	cJSON_AddItemToArray(def, a);
	key = cJSON_AddArrayToObject(in, "KeySchema");
	cJSON *k = cJSON_CreateObject();
	cJSON_AddStringToObject(k, "AttributeName", hash_key);
	cJSON_AddStringToObject(k, "KeyType", "HASH");
	cJSON_AddItemToArray(key, k);
	cJSON_AddStringToObject(in, "BillingMode", "PAY_PER_REQUEST");
	rc = dw_ddb_call(aws, "CreateTable", in, &out);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc && dw_error_is("ResourceInUseException")) {
		dw_error_clear();
		return 1;
	}
	if (rc)
		return dw_error_context("creating table %s", table);
	return 0;
}

/* ---- attribute values ---------------------------------------------------- */

cJSON *dw_ddb_s(const char *s)
{
	cJSON *v = cJSON_CreateObject();

	cJSON_AddStringToObject(v, "S", s);
	return v;
}

cJSON *dw_ddb_n(long long n)
{
	char text[32];
	cJSON *v = cJSON_CreateObject();

	snprintf(text, sizeof(text), "%lld", n);
	cJSON_AddStringToObject(v, "N", text);
	return v;
}

cJSON *dw_ddb_bool(int b)
{
	cJSON *v = cJSON_CreateObject();

	cJSON_AddBoolToObject(v, "BOOL", b != 0);
	return v;
}

cJSON *dw_ddb_add(cJSON *obj, const char *name, cJSON *value)
{
	cJSON_AddItemToObject(obj, name, value);
	return value;
}

cJSON *dw_ddb_add_map(cJSON *obj, const char *name)
{
	cJSON *v = cJSON_CreateObject();

	cJSON_AddItemToObject(obj, name, v);
	return cJSON_AddObjectToObject(v, "M");
}

static const cJSON *typed(const cJSON *obj, const char *name, const char *type)
{
	const cJSON *attr = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_GetObjectItemCaseSensitive(attr, type);
}

const char *dw_ddb_get_s(const cJSON *obj, const char *name)
{
	const cJSON *s = typed(obj, name, "S");

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

int dw_ddb_get_n(const cJSON *obj, const char *name, long long *out)
{
	const cJSON *n = typed(obj, name, "N");
	char *end;

	if (!cJSON_IsString(n) || !n->valuestring[0])
		return -1;
	errno = 0;
	long long v = strtoll(n->valuestring, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int dw_ddb_get_bool(const cJSON *obj, const char *name)
{
	return cJSON_IsTrue(typed(obj, name, "BOOL"));
}

const cJSON *dw_ddb_get_m(const cJSON *obj, const char *name)
{
	const cJSON *m = typed(obj, name, "M");

	return cJSON_IsObject(m) ? m : NULL;
}
