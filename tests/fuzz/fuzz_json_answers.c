/* JSON-protocol answers as a hostile server may send them: the first byte
 * picks the reader, the rest is the body.
 *   0  DynamoDB items (GetItem's Item, Put/Update/Delete's Attributes,
 *      Query/Scan's Items) through the typed attribute readers;
 *   1  a Secrets Manager login (SecretString): the password is masked from
 *      then on, and no message quotes the secret's text;
 *   2  SQS ReceiveMessage: every message read has its ids and body;
 *   3  any answer (Glue, Athena, ...): every number read exactly, or
 *      refused; and the same bytes as a JSON-protocol error body;
 *   4  Athena GetQueryExecution (dw_athena_read_state): a state and a
 *      reason, each inside its buffer;
 *   5  Glue GetCrawler (dw_glue_crawl_ended; the answer's own "Before",
 *      if any, stands for the last crawl's start before ours): a crawl
 *      that ended SUCCEEDED / COMPLETED is done, any other ending raises
 *      CrawlFailed or Canceled, a running one settles nothing;
 *   6  Glue GetTables (dw_glue_read_tables): every table handed over is
 *      a TableList item, a next token is never empty, and a refusal from
 *      the callback (after the second table) leaves no token;
 *   7  Glue GetTable (dw_glue_read_table): the Table, detached. */
#include "fuzz.h"
#include "aws/aws.h"
#include "aws/athena.h"
#include "aws/dynamodb.h"
#include "aws/glue.h"
#include "aws/secrets.h"
#include "aws/sqs.h"
#include "base/redact.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_QUIET();
	return 0;
}

static void ddb_item(const cJSON *item)
{
	const cJSON *a;
	long long n;

	if (!cJSON_IsObject(item))
		return;
	cJSON_ArrayForEach(a, item) {
		if (!a->string)
			abort();
		const char *s = dw_ddb_get_s(item, a->string);
		if (s)
			(void)strlen(s);
		(void)dw_ddb_get_n(item, a->string, &n);
		(void)dw_ddb_get_bool(item, a->string);
		const cJSON *m = dw_ddb_get_m(item, a->string);
		if (m && !cJSON_IsObject(m))
			abort();
	}
}

static void dynamodb(const struct dw_http_response *r)
{
	cJSON *ans = NULL;
	const cJSON *it;

	if (dw_aws_json_parse(r, &ans))
		return;
	ddb_item(cJSON_GetObjectItemCaseSensitive(ans, "Item"));
	ddb_item(cJSON_GetObjectItemCaseSensitive(ans, "Attributes"));
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(ans, "Items"))
		ddb_item(it);
	cJSON_Delete(ans);
}

static void secret(const char *text)
{
	char *user = NULL, *pass = NULL;

	if (dw_secrets_parse_login(text, "db/login", &user, &pass) == 0) {
		if (!user || !pass)
			abort();
		if (strlen(pass) >= 4) {
			/* masked wherever it shows up from now on */
			char *line = dw_xasprintf("password is %s.", pass);
			dw_redact(line);
			if (strstr(line, pass))
				abort();
			free(line);
		}
	} else if (user || pass ||
		   strcmp(dw_error_last()->message, "secret db/login is not JSON with string "
			  "\"username\" and \"password\"") != 0) {
		abort(); /* the message is only ever that: never the text */
	}
	free(user);
	free(pass);
	dw_redact_clear();
}

static void receive(const struct dw_http_response *r)
{
	struct dw_sqs_message *m = NULL;
	size_t n = 0;
	cJSON *ans = NULL;

	if (dw_aws_json_parse(r, &ans))
		return;
	if (dw_sqs_receive_parse(ans, &m, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!m[i].id || !m[i].receipt || !m[i].body)
				abort();
	} else if (m || n) {
		abort();
	}
	dw_sqs_messages_free(m, n);
	cJSON_Delete(ans);
}

static void numbers(const cJSON *v)
{
	long long x;

	for (; v; v = v->next) {
		if (cJSON_IsNumber(v) && dw_json_int(v, &x) == 0 &&
		    (x > (1LL << 53) || x < -(1LL << 53)))
			abort(); /* exact only up to 2^53 */
		numbers(v->child);
	}
}

static void any(const struct dw_http_response *r)
{
	cJSON *ans = NULL;
	char code[96], msg[200];

	if (dw_aws_json_parse(r, &ans) == 0)
		numbers(ans);
	cJSON_Delete(ans);
	dw_aws_error_parse(DW_PROTO_JSON, r, code, sizeof(code), msg, sizeof(msg));
	if (strlen(code) >= sizeof(code) || strlen(msg) >= sizeof(msg))
		abort();
}

static void athena(const struct dw_http_response *r)
{
	cJSON *ans = NULL;
	struct dw_athena_result res = { "q", "" };
	char reason[64];

	if (dw_aws_json_parse(r, &ans) == 0) {
		dw_athena_read_state(ans, &res, reason, sizeof(reason));
		if (strnlen(res.state, sizeof(res.state)) >= sizeof(res.state) ||
		    strnlen(reason, sizeof(reason)) >= sizeof(reason) || !*reason)
			abort();
	}
	cJSON_Delete(ans);
}

static void crawler(const struct dw_http_response *r)
{
	cJSON *ans = NULL;

	if (dw_aws_json_parse(r, &ans) == 0) {
		struct dw_glue_crawl out = { "", 0 };
		int rc = 7;
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(ans, "Crawler");
		int ended = dw_glue_crawl_ended("c", c,
			cJSON_GetObjectItemCaseSensitive(ans, "Before"), &rc, &out);
		if (strnlen(out.status, sizeof(out.status)) >= sizeof(out.status))
			abort();
		if (!ended && (rc != 7 || *out.status))
			abort();
		if (ended && rc == 0 && strcmp(out.status, "SUCCEEDED") != 0 &&
		    strcmp(out.status, "COMPLETED") != 0)
			abort();
		if (ended && rc != 0 && (rc != -1 ||
		    !(dw_error_is("CrawlFailed") || dw_error_is("Canceled"))))
			abort();
	}
	cJSON_Delete(ans);
}

struct seen {
	const cJSON *list;
	int n;
};

static int on_table(void *ud, const cJSON *table)
{
	struct seen *s = ud;
	const cJSON *t;
	int mine = 0;

	cJSON_ArrayForEach(t, s->list)
		mine |= t == table;
	if (!mine)
		abort();
	return ++s->n >= 2 ? dw_fail("InvalidResponse", "two tables are enough") : 0;
}

static void glue_tables(const struct dw_http_response *r)
{
	cJSON *ans = NULL;

	if (dw_aws_json_parse(r, &ans) == 0) {
		struct seen s = { cJSON_GetObjectItemCaseSensitive(ans, "TableList"), 0 };
		char *token = (char *)"unset";
		int rc = dw_glue_read_tables(ans, on_table, &s, &token);
		if ((token && !*token) || (rc && (token || !dw_error_is("InvalidResponse"))))
			abort();
		free(token);
	}
	cJSON_Delete(ans);
}

static void glue_table(const struct dw_http_response *r)
{
	cJSON *ans = NULL;

	if (dw_aws_json_parse(r, &ans) == 0) {
		int had = cJSON_GetObjectItemCaseSensitive(ans, "Table") != NULL;
		cJSON *t = dw_glue_read_table(ans);
		if (had != (t != NULL))
			abort();
		cJSON_Delete(t);
	}
	cJSON_Delete(ans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dw_http_response r;

	if (size < 1)
		return 0;
	dw_http_response_init(&r);
	r.status = 200;
	dw_buf_append(&r.body, data + 1, size - 1);
	switch (data[0] % 8) {
	case 0:
		dynamodb(&r);
		break;
	case 1: {
		char *text = fuzz_cstr(data + 1, size - 1);
		secret(text);
		free(text);
		break;
	}
	case 2:
		receive(&r);
		break;
	case 3:
		r.status = 400;
		any(&r);
		break;
	case 4:
		athena(&r);
		break;
	case 5:
		crawler(&r);
		break;
	case 6:
		glue_tables(&r);
		break;
	default:
		glue_table(&r);
		break;
	}
	dw_http_response_release(&r);
	dw_error_clear();
	return 0;
}
