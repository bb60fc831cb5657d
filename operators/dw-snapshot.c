/* dw-snapshot - private warehouse copies for data engineers: restore the
 * warehouse's newest automated snapshot (or clone its Aurora cluster) with
 * the engineer's own MySQL login, list, extend and destroy them.  The work is in core/copy.c. */
#include "ops/copy.h"
#include "proto/mysqlreq.h"
#include "proto/op.h"
#include "aws/secrets.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TTL_DAYS 21
#define DEFAULT_MAX_TTL_DAYS 30
#define DEFAULT_WAIT_S 3600
#define DEFAULT_POLL_S 30
/* Bounds of the integer fields, checked on the 64-bit value before it is
 * narrowed (4294967297 must not become 1). */
#define MAX_DAYS 2147483647LL
#define MAX_WAIT_S (7LL * 24 * 3600)
#define MAX_POLL_S 3600LL

/* obj[name] (def when absent) as an integer within [lo, hi]. */
static int bounded(const cJSON *obj, const char *name, const char *path, long long def,
		   long long lo, long long hi, long long *out)
{
	long long v = dw_req_int(obj, name, def);

	if (v < lo || v > hi)
		return dw_invalid(path, "%s must be between %lld and %lld, not %lld", path, lo, hi, v);
	*out = v;
	return 0;
}

static cJSON *text_or_null(const char *s)
{
	return s[0] ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *copy_json(const struct dw_copy *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "instance", c->instance);
	cJSON_AddStringToObject(o, "owner", c->owner);
	cJSON_AddStringToObject(o, "status", c->status);
	cJSON_AddStringToObject(o, "source", c->source);
	cJSON_AddStringToObject(o, "method", c->method[0] ? c->method : "snapshot");
	/* A clone is of no snapshot. */
	cJSON_AddItemToObject(o, "snapshot", text_or_null(c->snapshot));
	cJSON_AddItemToObject(o, "address", text_or_null(c->address));
	cJSON_AddItemToObject(o, "port", c->port ? dw_json_int_new(c->port) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "created_at", text_or_null(c->created_at));
	cJSON_AddItemToObject(o, "expires_at", text_or_null(c->expires_at));
	cJSON_AddBoolToObject(o, "expired", c->expires && c->expires <= time(NULL));
	if (c->instance_class[0])
		cJSON_AddStringToObject(o, "instance_class", c->instance_class);
	if (c->is_cluster) {
		cJSON_AddStringToObject(o, "cluster", c->cluster);
		cJSON_AddItemToObject(o, "writer_endpoint", text_or_null(c->address));
		cJSON_AddItemToObject(o, "reader_endpoint", text_or_null(c->reader_address));
		cJSON_AddItemToObject(o, "writer", text_or_null(c->writer));
		cJSON_AddItemToObject(o, "writer_status", text_or_null(c->writer_status));
	}
	return o;
}

/* obj[k] = v, replacing an earlier value of k. */
static void put(cJSON *obj, const char *k, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, k))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, k, v);
	else
		cJSON_AddItemToObject(obj, k, v);
}

/* The copy's fields into the result (each replacing what was there). */
static void set_copy(struct dw_ctx *ctx, const struct dw_copy *c)
{
	cJSON *o = copy_json(c);

	while (o->child) {
		cJSON *v = cJSON_DetachItemViaPointer(o, o->child);
		put(ctx->result, v->string, v);
	}
	cJSON_Delete(o);
}

/* The copy's name: instance_name, or the one derived from the owner. */
static int instance_of(const cJSON *req, char *out, size_t len)
{
	const char *name = dw_req_str(req, "instance_name", NULL);

	if (!name && !dw_req_str(req, "owner", NULL))
		return dw_invalid("owner", "give owner or instance_name");
	if (!name)
		return dw_copy_default_name(dw_req_str(req, "owner", ""), out, len);
	if (!dw_copy_valid_name(name))
		return dw_invalid("instance_name", "instance_name \"%s\" is not a valid RDS identifier",
				  name);
	snprintf(out, len, "%s", name);
	return 0;
}

/* ---- launch ------------------------------------------------------------ */

/* What launch allocates while reading the request. */
struct launch_owned {
	char *password, *master_user, *master_password;
	const char **security_groups;
};

static void launch_owned_release(struct launch_owned *s)
{
	free(s->password);
	free(s->master_user);
	free(s->master_password);
	free(s->security_groups);
}

static int read_master(const cJSON *master, struct launch_owned *s)
{
	const char *secret_id = dw_req_str(master, "secret_id", NULL);
	int has_login = cJSON_GetObjectItemCaseSensitive(master, "user") ||
			cJSON_GetObjectItemCaseSensitive(master, "password") ||
			cJSON_GetObjectItemCaseSensitive(master, "password_env");

	if (secret_id && has_login)
		return dw_invalid("master", "give master.secret_id, or master.user and password, "
				  "not both");
	if (!secret_id) {
		if (!dw_req_str(master, "user", NULL))
			return dw_invalid("master.user", "master.user is required (or master.secret_id)");
		s->master_user = dw_xstrdup(dw_req_str(master, "user", NULL));
		if (dw_req_secret(master, "password", "master", &s->master_password))
			return -1;
		if (!s->master_password)
			return dw_invalid("master.password", "master.password or "
					  "master.password_env is required");
		return 0;
	}
	return 0; /* from Secrets Manager: fetch_master, once the rest is checked */
}

static int fetch_master(struct dw_ctx *ctx, const char *secret_id, struct launch_owned *s)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);

	if (!aws)
		return -1;
	return dw_secrets_get_login(aws, secret_id, &s->master_user, &s->master_password);
}

static int read_tls(const cJSON *tls, struct dw_copy_login *login)
{
	return dw_req_mysql_tls(tls, "tls", &login->tls, &login->ca_file);
}

static int read_tunnel(const cJSON *t, struct dw_ssh_tunnel_config *cfg)
{
	return dw_req_ssh_tunnel(t, "ssh_tunnel", cfg);
}

static const char **string_array(const cJSON *a, size_t *n)
{
	const char **out;
	const cJSON *v;
	size_t i = 0;

	*n = cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
	if (*n == 0)
		return NULL;
	out = dw_xcalloc(*n, sizeof(*out));
	cJSON_ArrayForEach(v, a)
		out[i++] = cJSON_GetStringValue(v);
	return out;
}

/* serverless: {min_acu, max_acu, seconds_until_auto_pause}; the ranges
 * are checked by the core (dw_copy_launch_check). */
static int read_serverless(const cJSON *sv, struct dw_rds_serverless *out)
{
	const cJSON *min = cJSON_GetObjectItemCaseSensitive(sv, "min_acu");
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(sv, "max_acu");
	long long pause;

	if (!cJSON_IsNumber(min))
		return dw_invalid("serverless.min_acu", "serverless.min_acu is required");
	if (!cJSON_IsNumber(max))
		return dw_invalid("serverless.max_acu", "serverless.max_acu is required");
	if (bounded(sv, "seconds_until_auto_pause", "serverless.seconds_until_auto_pause", 0, 0,
		    86400, &pause))
		return -1;
	out->min_acu = min->valuedouble;
	out->max_acu = max->valuedouble;
	out->seconds_until_auto_pause = (long)pause;
	return 0;
}

static int launch(struct dw_ctx *ctx)
{
	const cJSON *r = ctx->req, *user = cJSON_GetObjectItemCaseSensitive(r, "user");
	long long ttl_days, max_ttl_days, wait_s, poll_s;
	struct launch_owned s = { 0 };
	struct dw_ssh_tunnel_config tunnel = { 0 };
	struct dw_rds_serverless serverless = { 0 };
	struct dw_copy c;
	int created = 0, rc = -1;
	struct dw_copy_launch l = {
		.source_instance = dw_req_str(r, "source_instance", NULL),
		.snapshot = dw_req_str(r, "snapshot", NULL),
		.source_cluster = dw_req_str(r, "source_cluster", NULL),
		.method = dw_req_str(r, "method", NULL),
		.owner = dw_req_str(r, "owner", NULL),
		.instance = dw_req_str(r, "instance_name", NULL),
		.instance_class = dw_req_str(r, "instance_class", NULL),
		.subnet_group = dw_req_str(r, "subnet_group", NULL),
		.parameter_group = dw_req_str(r, "parameter_group", NULL),
		.keep_on_failure = dw_req_bool(r, "keep_on_failure", 0),
		.dry_run = dw_req_bool(r, "dry_run", 0),
		.login = {
			.database = dw_req_str(r, "database", NULL),
			.user = dw_req_str(user, "name", NULL),
			.endpoint_override = dw_req_str(r, "endpoint_override", NULL),
		},
	};

	if (bounded(r, "ttl_days", "ttl_days", DEFAULT_TTL_DAYS, 1, MAX_DAYS, &ttl_days) ||
	    bounded(r, "max_ttl_days", "max_ttl_days", DEFAULT_MAX_TTL_DAYS, 1, MAX_DAYS,
		    &max_ttl_days) ||
	    bounded(r, "wait_timeout_s", "wait_timeout_s", DEFAULT_WAIT_S, 1, MAX_WAIT_S, &wait_s) ||
	    bounded(r, "poll_interval_s", "poll_interval_s", DEFAULT_POLL_S, 1, MAX_POLL_S, &poll_s))
		return -1;
	l.ttl_days = (int)ttl_days;
	l.max_ttl_days = (int)max_ttl_days;
	l.wait_timeout_s = (long)wait_s;
	l.poll_interval_s = (long)poll_s;
	if (cJSON_GetObjectItemCaseSensitive(r, "serverless")) {
		if (read_serverless(cJSON_GetObjectItemCaseSensitive(r, "serverless"), &serverless))
			return -1;
		l.serverless = &serverless;
	}
	if (cJSON_GetObjectItemCaseSensitive(r, "ssh_tunnel")) {
		if (read_tunnel(cJSON_GetObjectItemCaseSensitive(r, "ssh_tunnel"), &tunnel))
			return -1;
		l.login.tunnel = &tunnel;
	}
	if (read_tls(cJSON_GetObjectItemCaseSensitive(r, "tls"), &l.login) ||
	    dw_req_secret(user, "password", "user", &s.password))
		goto out;
	if (!s.password) {
		dw_invalid("user.password", "user.password or user.password_env is required");
		goto out;
	}
	l.login.password = s.password;
	l.security_group_ids = s.security_groups =
		string_array(cJSON_GetObjectItemCaseSensitive(r, "security_group_ids"),
			     &l.n_security_group_ids);
	if (read_master(cJSON_GetObjectItemCaseSensitive(r, "master"), &s))
		goto out;
	/* Everything is checked before Secrets Manager is asked: a bad request
	 * is rejected (2) even when AWS is down (issue 12 #14). */
	const char *secret_id = dw_req_str(cJSON_GetObjectItemCaseSensitive(r, "master"),
					   "secret_id", NULL);
	l.login.master_user = s.master_user;
	l.login.master_password = s.master_password;
	if (dw_copy_launch_check(&l, secret_id != NULL))
		goto out;
	if (secret_id && fetch_master(ctx, secret_id, &s))
		goto out;
	l.login.master_user = s.master_user;
	l.login.master_password = s.master_password;
	if (!dw_ctx_aws(ctx) || dw_copy_launch(ctx->aws, &l, &c, &created))
		goto out;
	set_copy(ctx, &c);
	put(ctx->result, "user", cJSON_CreateString(l.login.user));
	put(ctx->result, "database", cJSON_CreateString(l.login.database));
	/* "created" says whether this launch made the copy ("created_at" is
	 * when the instance was made, in every action's result). */
	put(ctx->result, "created", cJSON_CreateBool(created));
	if (l.dry_run)
		put(ctx->result, "dry_run", cJSON_CreateTrue());
	rc = 0;
out:
	launch_owned_release(&s);
	return rc;
}

/* ---- destroy, list, extend, status ------------------------------------- */

static int destroy(struct dw_ctx *ctx)
{
	const cJSON *r = ctx->req;
	struct dw_aws *aws = dw_ctx_aws(ctx);
	struct dw_copy c;
	char name[64];
	long long wait, poll_s;
	int as_admin = dw_req_bool(r, "as_admin", 0);
	const char *owner = dw_req_str(r, "owner", NULL);

	if (instance_of(r, name, sizeof(name)) || !aws)
		return -1;
	if (bounded(r, "wait_timeout_s", "wait_timeout_s", DEFAULT_WAIT_S, 0, MAX_WAIT_S, &wait) ||
	    bounded(r, "poll_interval_s", "poll_interval_s", DEFAULT_POLL_S, 1, MAX_POLL_S, &poll_s))
		return -1;
	if (dw_copy_describe(aws, name, &c)) {
		if (!dw_error_is("DBInstanceNotFound"))
			return -1;
		put(ctx->result, "instance", cJSON_CreateString(name));
		return dw_nothing_to_do(ctx, "there is no such copy");
	}
	if (dw_req_bool(r, "dry_run", 0)) {
		if (dw_copy_check_owner(&c, owner, as_admin))
			return -1;
		set_copy(ctx, &c);
		put(ctx->result, "dry_run", cJSON_CreateTrue());
		return 0;
	}
	struct dw_copy_destroy_opts o = {
		.owner = owner, .as_admin = as_admin, .wait_timeout_s = (long)wait,
		.poll_interval_s = (long)poll_s,
	};
	if (dw_copy_destroy(aws, name, &o))
		return -1;
	set_copy(ctx, &c);
	put(ctx->result, "status", cJSON_CreateString(wait > 0 ? "deleted" : "deleting"));
	return 0;
}

static int list(struct dw_ctx *ctx)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);
	struct dw_copy *copies = NULL;
	size_t n = 0;

	if (!aws || dw_copy_list(aws, dw_req_str(ctx->req, "owner", NULL), &copies, &n))
		return -1;
	cJSON *items = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(items, copy_json(&copies[i]));
	free(copies);
	dw_json_add_int(ctx->result, "count", (long long)n);
	cJSON_AddItemToObject(ctx->result, "copies", items);
	return 0;
}

static int extend(struct dw_ctx *ctx)
{
	const cJSON *r = ctx->req;
	struct dw_aws *aws = dw_ctx_aws(ctx);
	struct dw_copy c;
	char name[64];
	int changed = 0;
	long long ttl_days, max_ttl_days;

	if (bounded(r, "ttl_days", "ttl_days", DEFAULT_TTL_DAYS, 1, MAX_DAYS, &ttl_days) ||
	    bounded(r, "max_ttl_days", "max_ttl_days", DEFAULT_MAX_TTL_DAYS, 1, MAX_DAYS,
		    &max_ttl_days) ||
	    instance_of(r, name, sizeof(name)) || !aws)
		return -1;
	struct dw_copy_extend_opts o = {
		.owner = dw_req_str(r, "owner", NULL), .as_admin = dw_req_bool(r, "as_admin", 0),
		.ttl_days = (int)ttl_days, .max_ttl_days = (int)max_ttl_days,
	};
	if (dw_copy_extend(aws, name, &o, &c, &changed))
		return -1;
	set_copy(ctx, &c);
	if (!changed)
		return dw_nothing_to_do(ctx, "the copy already expires as late as max_ttl_days allows");
	return 0;
}

static int status(struct dw_ctx *ctx)
{
	struct dw_aws *aws = dw_ctx_aws(ctx);
	struct dw_copy c;
	char name[64];

	if (instance_of(ctx->req, name, sizeof(name)) || !aws || dw_copy_describe(aws, name, &c))
		return -1;
	if (!c.managed)
		return dw_raise(DW_INVALID, "NotManaged", "instance_name",
				"%s is not a dwops copy", name);
	set_copy(ctx, &c);
	return 0;
}

/* ---- the request schema ------------------------------------------------ */

static const struct dw_field user_fields[] = {
	DW_FIELD("name", DW_T_STRING, DW_REQUIRED, NULL, "MySQL login to create ([A-Za-z0-9_], at most 32)"),
	DW_FIELD("password", DW_T_SECRET, 0, NULL, "its password"),
	DW_FIELDS_END
};
static const struct dw_field master_fields[] = {
	DW_FIELD("user", DW_T_STRING, 0, NULL, "the copy's master user"),
	DW_FIELD("password", DW_T_SECRET, 0, NULL, "its password"),
	DW_FIELD("secret_id", DW_T_STRING, 0, NULL, "or: a Secrets Manager secret with username and password"),
	DW_FIELDS_END
};
static const struct dw_field serverless_fields[] = {
	DW_FIELD("min_acu", DW_T_NUMBER, DW_REQUIRED, NULL, "least capacity, 0 to 256 ACUs in steps of 0.5 (0: an idle clone costs no compute)"),
	DW_FIELD("max_acu", DW_T_NUMBER, DW_REQUIRED, NULL, "most capacity, 1 to 256 ACUs"),
	DW_FIELD("seconds_until_auto_pause", DW_T_INT, 0, NULL, "with min_acu 0: pause after this long idle (300 to 86400; default Aurora's, 300)"),
	DW_FIELDS_END
};
static const struct dw_field launch_fields[] = {
	DW_FIELD("source_instance", DW_T_STRING, 0, NULL, "the warehouse's RDS instance (its newest automated snapshot is used)"),
	DW_FIELD("snapshot", DW_T_STRING, 0, NULL, "or: an explicit snapshot id"),
	DW_FIELD("source_cluster", DW_T_STRING, 0, NULL, "or: the warehouse's Aurora MySQL cluster (cloned copy-on-write)"),
	DW_FIELD("method", DW_T_STRING, 0, NULL, "with source_cluster: clone (default; data up to the latest restorable time) or snapshot (its newest automated cluster snapshot)"),
	DW_FIELD("serverless", DW_T_OBJECT, 0, serverless_fields, "with source_cluster: a db.serverless writer scaling between these"),
	DW_FIELD("owner", DW_T_STRING, DW_REQUIRED, NULL, "the engineer (in Jenkins: who started the build)"),
	DW_FIELD("database", DW_T_STRING, DW_REQUIRED, NULL, "database the login gets every right on"),
	DW_FIELD("user", DW_T_OBJECT, DW_REQUIRED, user_fields, "the engineer's MySQL login"),
	DW_FIELD("master", DW_T_OBJECT, DW_REQUIRED, master_fields, "the copy's master login"),
	DW_FIELD("instance_name", DW_T_STRING, 0, NULL, "default dw-snapshot-<owner>"),
	DW_FIELD("instance_class", DW_T_STRING, 0, NULL, "default: the snapshot's (source_cluster: the source writer's; db.serverless with serverless)"),
	DW_FIELD("subnet_group", DW_T_STRING, 0, NULL, "DB subnet group"),
	DW_FIELD("security_group_ids", DW_T_STRINGS, 0, NULL, "VPC security groups"),
	DW_FIELD("parameter_group", DW_T_STRING, 0, NULL, "DB parameter group (source_cluster: the writer's)"),
	DW_FIELD("ttl_days", DW_T_INT, 0, NULL, "days until the copy expires (default 21)"),
	DW_FIELD("max_ttl_days", DW_T_INT, 0, NULL, "ttl_days may not be more (default 30, as for extend)"),
	DW_FIELD("wait_timeout_s", DW_T_INT, 0, NULL, "give up waiting after this (default 3600; exit 75)"),
	DW_FIELD("poll_interval_s", DW_T_INT, 0, NULL, "seconds between status polls (default 30)"),
	DW_FIELD("endpoint_override", DW_T_STRING, 0, NULL, "host:port to connect to instead of the instance endpoint"),
	DW_FIELD("ssh_tunnel", DW_T_OBJECT, 0, dw_ssh_tunnel_fields, "reach the copy through an SSH bastion"),
	DW_FIELD("tls", DW_T_OBJECT, 0, dw_mysql_tls_fields, "TLS to MySQL"),
	DW_FIELD("keep_on_failure", DW_T_BOOL, 0, NULL, "keep the copy when a step after the restore fails"),
	DW_FIELD("dry_run", DW_T_BOOL, 0, NULL, "check and pick the snapshot; change nothing"),
	DW_FIELDS_END
};
static const struct dw_field destroy_fields[] = {
	DW_FIELD("owner", DW_T_STRING, DW_REQUIRED, NULL, "the engineer (in Jenkins: who started the build)"),
	DW_FIELD("instance_name", DW_T_STRING, 0, NULL, "default dw-snapshot-<owner>"),
	DW_FIELD("as_admin", DW_T_BOOL, 0, NULL, "destroy another owner's copy (admin jobs)"),
	DW_FIELD("wait_timeout_s", DW_T_INT, 0, NULL, "wait until gone (default 3600; 0: do not wait)"),
	DW_FIELD("poll_interval_s", DW_T_INT, 0, NULL, "seconds between status polls (default 30)"),
	DW_FIELD("dry_run", DW_T_BOOL, 0, NULL, "check only; change nothing"),
	DW_FIELDS_END
};
static const struct dw_field list_fields[] = {
	DW_FIELD("owner", DW_T_STRING, 0, NULL, "only this owner's copies"),
	DW_FIELDS_END
};
static const struct dw_field extend_fields[] = {
	DW_FIELD("owner", DW_T_STRING, DW_REQUIRED, NULL, "the engineer"),
	DW_FIELD("instance_name", DW_T_STRING, 0, NULL, "default dw-snapshot-<owner>"),
	DW_FIELD("ttl_days", DW_T_INT, 0, NULL, "days to add (default 21)"),
	DW_FIELD("max_ttl_days", DW_T_INT, 0, NULL, "never more than this many days from now (default 30)"),
	DW_FIELD("as_admin", DW_T_BOOL, 0, NULL, "extend another owner's copy (admin jobs)"),
	DW_FIELDS_END
};
static const struct dw_field status_fields[] = {
	DW_FIELD("owner", DW_T_STRING, 0, NULL, "the engineer (names the copy when instance_name is not given)"),
	DW_FIELD("instance_name", DW_T_STRING, 0, NULL, "default dw-snapshot-<owner>"),
	DW_FIELDS_END
};

static const struct dw_action actions[] = {
	{ "launch", "restore a private copy of the warehouse with the engineer's login",
	  launch_fields, launch,
	  "{\"source_instance\":\"warehouse\",\"owner\":\"jane\",\"database\":\"analytics\","
	  "\"user\":{\"name\":\"jane\",\"password_env\":\"DW_USER_PASSWORD\"},"
	  "\"master\":{\"secret_id\":\"warehouse/master\"}}" },
	{ "destroy", "delete the owner's copy and wait until it is gone", destroy_fields, destroy,
	  "{\"owner\":\"jane\"}" },
	{ "list", "the dwops copies, newest first", list_fields, list, "{\"owner\":\"jane\"}" },
	{ "extend", "move the copy's expiry forward", extend_fields, extend,
	  "{\"owner\":\"jane\",\"ttl_days\":21}" },
	{ "status", "one copy's details", status_fields, status, "{\"owner\":\"jane\"}" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct dw_operator snapshot_op = {
	"dw-snapshot", "private warehouse copies restored from the newest automated snapshot, or Aurora copy-on-write clones",
	actions,
};

int main(int argc, char **argv)
{
	return dw_op_main(&snapshot_op, argc, argv);
}
