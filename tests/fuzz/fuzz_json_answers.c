/* JSON-protocol answers as a hostile server may send them: the first byte
 * picks the reader, the rest is the body.
 *   0  DynamoDB items (GetItem's Item, Put/Update/Delete's Attributes,
 *      Query/Scan's Items) through the typed attribute readers;
 *   1  a Secrets Manager login (SecretString): the password is masked from
 *      then on, and no message quotes the secret's text;
 *   2  SQS ReceiveMessage: every message read has its ids and body;
 *   3  any answer (Glue, Athena, ...): every number read exactly, or
 *      refused; and the same bytes as a JSON-protocol error body. */
#include "fuzz.h"
#include "aws/aws.h"
#include "aws/dynamodb.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dw_http_response r;

	if (size < 1)
		return 0;
	dw_http_response_init(&r);
	r.status = 200;
	dw_buf_append(&r.body, data + 1, size - 1);
	switch (data[0] % 4) {
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
	default:
		r.status = 400;
		any(&r);
		break;
	}
	dw_http_response_release(&r);
	dw_error_clear();
	return 0;
}
