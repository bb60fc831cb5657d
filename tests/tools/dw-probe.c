/* dw-probe - a test tool that drives the core's AWS protocols one call at a
 * time, so integration tests can check each against moto.  It speaks the
 * operator protocol like every bin/dw-* tool. */
#include "aws/aws.h"
#include "aws/creds.h"
#include "aws/glue.h"
#include "proto/op.h"
#include "aws/rds.h"
#include "aws/s3.h"
#include "aws/sqs.h"
#include "base/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count_object(void *ud, const struct dw_s3_object *o)
{
	cJSON *keys = ud;

	cJSON_AddItemToArray(keys, cJSON_CreateString(o->key));
	return 0;
}

static int s3_list(struct dw_ctx *ctx)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);
	cJSON *keys = cJSON_CreateArray();
	struct dw_s3_list l = {
		.bucket = dw_req_str(ctx->req, "bucket", NULL),
		.prefix = dw_req_str(ctx->req, "prefix", NULL),
		.page_size = (int)dw_req_int(ctx->req, "page_size", 0),
		.on_object = count_object, .ud = keys,
	};

	if (!aws || dw_s3_list_objects(aws, &l)) {
		cJSON_Delete(keys);
		return -1;
	}
	dw_json_add_int(ctx->result, "count", cJSON_GetArraySize(keys));
	dw_json_add_int(ctx->result, "pages", (long long)l.pages);
	cJSON_AddItemToObject(ctx->result, "keys", keys);
	return 0;
}

static int sqs_send(struct dw_ctx *ctx)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);
	cJSON *in, *out = NULL;
	char *secret = NULL;

	if (dw_req_secret(ctx->req, "password", "", &secret))
		return -1;
	free(secret);
	if (!aws)
		return -1;
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "QueueUrl", dw_req_str(ctx->req, "queue_url", ""));
	cJSON_AddStringToObject(in, "MessageBody", dw_req_str(ctx->req, "body", ""));
	int rc = dw_sqs_call(aws, "SendMessage", in, &out);
	cJSON_Delete(in);
	if (rc == 0 && dw_json_str(out, "MessageId"))
		cJSON_AddStringToObject(ctx->result, "message_id", dw_json_str(out, "MessageId"));
	cJSON_Delete(out);
	return rc;
}

struct pool_tally {
	int ok, failed;
	char last_error[256];
};

static void on_sent(void *ud, const struct dw_http_response *resp,
		    const struct dw_error *err)
{
	struct pool_tally *t = ud;

	(void)resp;
	if (err) {
		t->failed++;
		snprintf(t->last_error, sizeof(t->last_error), "%s", err->code);
	} else {
		t->ok++;
	}
}

static int sqs_pool(struct dw_ctx *ctx)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);
	struct pool_tally t = { 0 };
	long long n = dw_req_int(ctx->req, "count", 10);
	long long conc = dw_req_int(ctx->req, "concurrency", 8);
	char body[32];

	if (n < 0 || n > 1000000)
		return dw_invalid("count", "count must be between 0 and 1000000");
	if (conc < 1 || conc > 256)
		return dw_invalid("concurrency", "concurrency must be between 1 and 256");
	if (!aws)
		return -1;
	struct dw_aws_pool *pool = dw_aws_pool_new(aws, (int)conc);
	for (long long i = 0; i < n; i++) {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "QueueUrl", dw_req_str(ctx->req, "queue_url", ""));
		snprintf(body, sizeof(body), "message-%lld", i);
		cJSON_AddStringToObject(in, "MessageBody", body);
		dw_aws_pool_submit(pool, dw_aws_json_request("sqs", "1.0", "AmazonSQS.SendMessage", in),
				   on_sent, &t);
		cJSON_Delete(in);
		dw_aws_pool_wait(pool, 32);
	}
	dw_aws_pool_wait(pool, 0);
	dw_aws_pool_free(pool);
	dw_json_add_int(ctx->result, "sent", t.ok);
	dw_json_add_int(ctx->result, "failed", t.failed);
	dw_json_add_int(ctx->result, "requests", (long long)dw_aws_stats(aws)->requests);
	if (t.failed)
		return dw_raise_passthrough(dw_error_last()->kind == DW_TRANSIENT ? DW_TRANSIENT : DW_FAILED,
				t.last_error, NULL, "%d of %lld messages failed", t.failed, n);
	return 0;
}

static int rds_snapshot(struct dw_ctx *ctx)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);
	struct dw_rds_snapshot s;

	if (!aws || dw_rds_latest_automated_snapshot(aws, dw_req_str(ctx->req, "source", ""),
						     dw_req_bool(ctx->req, "cluster", 0), &s))
		return -1;
	cJSON_AddStringToObject(ctx->result, "snapshot", s.id);
	cJSON_AddStringToObject(ctx->result, "created", s.created);
	return 0;
}

static int glue_database(struct dw_ctx *ctx)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);
	cJSON *in, *out = NULL;

	if (!aws)
		return -1;
	char *secret = NULL;
	if (dw_req_secret(ctx->req, "password", "", &secret))
		return -1;
	free(secret);
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "Name", dw_req_str(ctx->req, "name", ""));
	int rc = dw_glue_call(aws, "GetDatabase", in, &out);
	cJSON_Delete(in);
	if (rc == 0) {
		cJSON *db = cJSON_DetachItemFromObjectCaseSensitive(out, "Database");
		if (db)
			cJSON_AddItemToObject(ctx->result, "database", db);
	}
	cJSON_Delete(out);
	return rc;
}

/* STS GetCallerIdentity: only this probe asks it, so it lives here. */
struct sts_identity {
	char account[32];
	char arn[512];
};

static int caller_identity(struct dw_aws *aws, struct sts_identity *out)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr r;

	if (dw_aws_query(aws, "sts", "2011-06-15", "GetCallerIdentity", NULL, &doc))
		return -1;
	r = dw_xml_find(xmlDocGetRootElement(doc), "GetCallerIdentityResult");
	dw_xml_textbuf(r, "Account", out->account, sizeof(out->account));
	dw_xml_textbuf(r, "Arn", out->arn, sizeof(out->arn));
	xmlFreeDoc(doc);
	return 0;
}

static int whoami(struct dw_ctx *ctx)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);
	struct sts_identity id;

	if (!aws || caller_identity(aws, &id))
		return -1;
	cJSON_AddStringToObject(ctx->result, "account", id.account);
	cJSON_AddStringToObject(ctx->result, "arn", id.arn);
	cJSON_AddStringToObject(ctx->result, "region", dw_aws_region(aws));
	cJSON_AddStringToObject(ctx->result, "credentials", dw_aws_credentials_source(aws));
	return 0;
}

static const struct dw_field s3_list_fields[] = {
	DW_FIELD("bucket", DW_T_STRING, DW_REQUIRED, NULL, "bucket"),
	DW_FIELD("prefix", DW_T_STRING, 0, NULL, "key prefix"),
	DW_FIELD("page_size", DW_T_INT, 0, NULL, "keys per page"),
	DW_FIELDS_END
};
static const struct dw_field sqs_send_fields[] = {
	DW_FIELD("queue_url", DW_T_STRING, DW_REQUIRED, NULL, "queue"),
	DW_FIELD("body", DW_T_STRING, DW_REQUIRED, NULL, "message body"),
	DW_FIELD("password", DW_T_SECRET, 0, NULL, "a secret, to test redaction"),
	DW_FIELDS_END
};
static const struct dw_field sqs_pool_fields[] = {
	DW_FIELD("queue_url", DW_T_STRING, DW_REQUIRED, NULL, "queue"),
	DW_FIELD("count", DW_T_INT, 0, NULL, "messages to send"),
	DW_FIELD("concurrency", DW_T_INT, 0, NULL, "requests in flight"),
	DW_FIELDS_END
};
static const struct dw_field rds_fields[] = {
	DW_FIELD("source", DW_T_STRING, DW_REQUIRED, NULL, "instance or cluster id"),
	DW_FIELD("cluster", DW_T_BOOL, 0, NULL, "source is a cluster"),
	DW_FIELDS_END
};
static const struct dw_field glue_fields[] = {
	DW_FIELD("name", DW_T_STRING, DW_REQUIRED, NULL, "database name"),
	DW_FIELD("password", DW_T_SECRET, 0, NULL, "a secret, to test redaction"),
	DW_FIELDS_END
};

static const struct dw_action actions[] = {
	{ "s3-list", "list a bucket (REST-XML, every page)", s3_list_fields, s3_list, NULL },
	{ "sqs-send", "send one message (JSON 1.0)", sqs_send_fields, sqs_send, NULL },
	{ "sqs-pool", "send many messages through the multi pool", sqs_pool_fields, sqs_pool, NULL },
	{ "rds-snapshot", "newest automated snapshot (query/XML)", rds_fields, rds_snapshot, NULL },
	{ "glue-database", "GetDatabase (JSON 1.1)", glue_fields, glue_database, NULL },
	{ "whoami", "STS GetCallerIdentity with the resolved credentials", NULL, whoami, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator probe = {
	"dw-probe", "test tool: one core AWS call per action", actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&probe, argc, argv);
}
