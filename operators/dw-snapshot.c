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
/* Bounds of the integer fields (the table checks them on the 64-bit value
 * before it is narrowed: 4294967297 must not become 1). */
#define MAX_DAYS 2147483647LL
#define MAX_WAIT_S (7LL * 24 * 3600)
#define MAX_POLL_S 3600LL

/* Every action's request (each action's table binds the fields it has). */
struct user_req {
	const char *name;
	char *password;
};
struct master_req {
	const char *user, *secret_id;
	char *password;
};
struct snapshot_req {
	const char *source_instance, *snapshot, *source_cluster, *method, *owner, *database;
	const char *instance_name, *instance_class, *subnet_group, *parameter_group;
	const char *endpoint_override;
	const cJSON *master, *security_group_ids, *tls;
	struct user_req user;
	struct dw_ssh_tunnel_config tunnel;
	struct dw_rds_serverless serverless;
	int ttl_days, max_ttl_days;
	long wait_timeout_s, poll_interval_s;
	int keep_on_failure, dry_run, as_admin;
};

/* ---- the request schema ------------------------------------------------ */

#define F(kind, n, ...) DW_##kind(n, struct snapshot_req, __VA_ARGS__)
static const struct dw_field user_fields[] = {
	DW_STR("name", struct user_req, name, DW_REQUIRED, NULL, "MySQL login to create ([A-Za-z0-9_], at most 32)"),
	DW_SECRET("password", struct user_req, password, 0, "its password"),
	DW_FIELDS_END
};
static const struct dw_field master_fields[] = {
	DW_STR("user", struct master_req, user, 0, NULL, "the copy's master user"),
	DW_SECRET("password", struct master_req, password, 0, "its password"),
	DW_STR("secret_id", struct master_req, secret_id, 0, NULL,
	       "or: a Secrets Manager secret with username and password"),
	DW_FIELDS_END
};
/* The ACU steps and the auto-pause rules are the core's
 * (dw_copy_launch_check). */
static const struct dw_field serverless_fields[] = {
	DW_NUM("min_acu", struct dw_rds_serverless, min_acu, DW_REQUIRED, 0, 0, 256,
	       "least capacity in ACUs, in steps of 0.5 (0: an idle clone costs no compute)"),
	DW_NUM("max_acu", struct dw_rds_serverless, max_acu, DW_REQUIRED, 0, 1, 256, "most capacity in ACUs"),
	DW_INT("seconds_until_auto_pause", struct dw_rds_serverless, seconds_until_auto_pause,
	       DW_NODEFAULT, 0, 0, 86400,
	       "with min_acu 0: pause after this long idle (from 300; default Aurora's, 300)"),
	DW_FIELDS_END
};
static const struct dw_field launch_fields[] = {
	F(STR, "source_instance", source_instance, 0, NULL, "the warehouse's RDS instance (its newest automated snapshot is used)"),
	F(STR, "snapshot", snapshot, 0, NULL, "or: an explicit snapshot id"),
	F(STR, "source_cluster", source_cluster, 0, NULL, "or: the warehouse's Aurora MySQL cluster (cloned copy-on-write)"),
	F(CHOICE, "method", method, 0, NULL, DW_CHOICES("clone", "snapshot"),
	  "with source_cluster: clone (the default; data up to the latest restorable time) or snapshot (its newest automated cluster snapshot)"),
	F(STRUCT, "serverless", serverless, 0, serverless_fields, "with source_cluster: a db.serverless writer scaling between these"),
	F(STR, "owner", owner, DW_REQUIRED, NULL, "the engineer (in Jenkins: who started the build)"),
	F(STR, "database", database, DW_REQUIRED, NULL, "database the login gets every right on"),
	F(STRUCT, "user", user, DW_REQUIRED, user_fields, "the engineer's MySQL login"),
	F(OBJ, "master", master, DW_REQUIRED, master_fields, "the copy's master login"),
	F(STR, "instance_name", instance_name, 0, NULL, "default dw-snapshot-<owner>"),
	F(STR, "instance_class", instance_class, 0, NULL, "default: the snapshot's (source_cluster: the source writer's; db.serverless with serverless)"),
	F(STR, "subnet_group", subnet_group, 0, NULL, "DB subnet group"),
	F(STRINGS, "security_group_ids", security_group_ids, 0, "VPC security groups"),
	F(STR, "parameter_group", parameter_group, 0, NULL, "DB parameter group (source_cluster: the writer's)"),
	F(INT, "ttl_days", ttl_days, 0, DEFAULT_TTL_DAYS, 1, MAX_DAYS, "days until the copy expires"),
	F(INT, "max_ttl_days", max_ttl_days, 0, DEFAULT_MAX_TTL_DAYS, 1, MAX_DAYS, "ttl_days may not be more (as for extend)"),
	F(INT, "wait_timeout_s", wait_timeout_s, 0, DEFAULT_WAIT_S, 1, MAX_WAIT_S, "give up waiting after this (exit 75)"),
	F(INT, "poll_interval_s", poll_interval_s, 0, DEFAULT_POLL_S, 1, MAX_POLL_S, "seconds between status polls"),
	F(STR, "endpoint_override", endpoint_override, 0, NULL, "host:port to connect to instead of the instance endpoint"),
	F(STRUCT, "ssh_tunnel", tunnel, 0, dw_ssh_tunnel_fields, "reach the copy through an SSH bastion"),
	F(OBJ, "tls", tls, 0, dw_mysql_tls_fields, "TLS to MySQL"),
	F(BOOL, "keep_on_failure", keep_on_failure, 0, 0, "keep the copy when a step after the restore fails"),
	F(BOOL, "dry_run", dry_run, 0, 0, "check and pick the snapshot; change nothing"),
	DW_FIELDS_END
};
static const struct dw_field destroy_fields[] = {
	F(STR, "owner", owner, DW_REQUIRED, NULL, "the engineer (in Jenkins: who started the build)"),
	F(STR, "instance_name", instance_name, 0, NULL, "default dw-snapshot-<owner>"),
	F(BOOL, "as_admin", as_admin, 0, 0, "destroy another owner's copy (admin jobs)"),
	F(INT, "wait_timeout_s", wait_timeout_s, 0, DEFAULT_WAIT_S, 0, MAX_WAIT_S, "wait until gone (0: do not wait)"),
	F(INT, "poll_interval_s", poll_interval_s, 0, DEFAULT_POLL_S, 1, MAX_POLL_S, "seconds between status polls"),
	F(BOOL, "dry_run", dry_run, 0, 0, "check only; change nothing"),
	DW_FIELDS_END
};
static const struct dw_field list_fields[] = {
	F(STR, "owner", owner, 0, NULL, "only this owner's copies"),
	DW_FIELDS_END
};
static const struct dw_field extend_fields[] = {
	F(STR, "owner", owner, DW_REQUIRED, NULL, "the engineer"),
	F(STR, "instance_name", instance_name, 0, NULL, "default dw-snapshot-<owner>"),
	F(INT, "ttl_days", ttl_days, 0, DEFAULT_TTL_DAYS, 1, MAX_DAYS, "days to add"),
	F(INT, "max_ttl_days", max_ttl_days, 0, DEFAULT_MAX_TTL_DAYS, 1, MAX_DAYS, "never more than this many days from now"),
	F(BOOL, "as_admin", as_admin, 0, 0, "extend another owner's copy (admin jobs)"),
	DW_FIELDS_END
};
static const struct dw_field status_fields[] = {
	F(STR, "owner", owner, 0, NULL, "the engineer (names the copy when instance_name is not given)"),
	F(STR, "instance_name", instance_name, 0, NULL, "default dw-snapshot-<owner>"),
	DW_FIELDS_END
};
#undef F

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
static int instance_of(const struct snapshot_req *q, char *out, size_t len)
{
	const char *name = q->instance_name;

	if (!name && !q->owner)
		return dw_invalid("owner", "give owner or instance_name");
	if (!name)
		return dw_copy_default_name(q->owner, out, len);
	if (!dw_copy_valid_name(name))
		return dw_invalid("instance_name", "instance_name \"%s\" is not a valid RDS identifier",
				  name);
	snprintf(out, len, "%s", name);
	return 0;
}

/* ---- launch ------------------------------------------------------------ */

/* What launch allocates while reading the request. */
struct launch_owned {
	char *master_user, *master_password;
	struct master_req master;   /* bound from the request's master */
	const char **security_groups;
};

static void launch_owned_release(struct launch_owned *s)
{
	free(s->master_user);
	free(s->master_password);
	free(s->security_groups);
}

/* master: a login, or a Secrets Manager secret (read by fetch_master, once
 * the rest is checked).  Its password is read only once the two are known
 * not to be mixed. */
static int read_master(const cJSON *master, struct launch_owned *s)
{
	int has_login = dw_req_has(master, "user") || dw_req_has(master, "password") ||
			dw_req_has(master, "password_env");

	if (dw_req_has(master, "secret_id") && has_login)
		return dw_invalid("master", "give master.secret_id, or master.user and password, "
				  "not both");
	if (dw_req_bind_at(master, master_fields, "master", &s->master))
		return -1;
	if (s->master.secret_id)
		return 0;
	if (!s->master.user)
		return dw_invalid("master.user", "master.user is required (or master.secret_id)");
	if (!s->master.password)
		return dw_invalid("master.password", "master.password or "
				  "master.password_env is required");
	/* Ours to free: fetch_master fills the same two. */
	s->master_user = dw_xstrdup(s->master.user);
	s->master_password = s->master.password;
	s->master.password = NULL;
	return 0;
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

static int launch(struct dw_ctx *ctx)
{
	struct snapshot_req q = { 0 };
	struct launch_owned s = { 0 };
	struct dw_copy c;
	struct dw_copy_launch l;
	int created = 0, rc = -1;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q))
		return -1;
	l = (struct dw_copy_launch){
		.source_instance = q.source_instance, .snapshot = q.snapshot,
		.source_cluster = q.source_cluster, .method = q.method, .owner = q.owner,
		.instance = q.instance_name, .instance_class = q.instance_class,
		.subnet_group = q.subnet_group, .parameter_group = q.parameter_group,
		.keep_on_failure = q.keep_on_failure, .dry_run = q.dry_run,
		.ttl_days = q.ttl_days, .max_ttl_days = q.max_ttl_days,
		.wait_timeout_s = q.wait_timeout_s, .poll_interval_s = q.poll_interval_s,
		.serverless = dw_req_has(ctx->req, "serverless") ? &q.serverless : NULL,
		.login = {
			.database = q.database, .user = q.user.name,
			.endpoint_override = q.endpoint_override,
			.tunnel = dw_req_has(ctx->req, "ssh_tunnel") ? &q.tunnel : NULL,
			.password = q.user.password,
		},
	};
	if (read_tls(q.tls, &l.login))
		goto out;
	if (!q.user.password) {
		dw_invalid("user.password", "user.password or user.password_env is required");
		goto out;
	}
	l.security_group_ids = s.security_groups =
		string_array(q.security_group_ids, &l.n_security_group_ids);
	if (read_master(q.master, &s))
		goto out;
	/* Everything is checked before Secrets Manager is asked: a bad request
	 * is rejected (2) even when AWS is down (issue 12 #14). */
	const char *secret_id = s.master.secret_id;
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
	dw_req_release(master_fields, &s.master);
	dw_req_release(ctx->action->fields, &q);
	return rc;
}

/* ---- destroy, list, extend, status ------------------------------------- */

static int destroy(struct dw_ctx *ctx)
{
	struct snapshot_req q = { 0 };
	struct dw_aws *aws;
	struct dw_copy c;
	char name[64];

	if (dw_req_bind(ctx->req, ctx->action->fields, &q) || instance_of(&q, name, sizeof(name)) ||
	    !(aws = dw_ctx_aws(ctx)))
		return -1;
	if (dw_copy_describe(aws, name, &c)) {
		if (!dw_error_is("DBInstanceNotFound"))
			return -1;
		put(ctx->result, "instance", cJSON_CreateString(name));
		return dw_nothing_to_do(ctx, "there is no such copy");
	}
	if (q.dry_run) {
		if (dw_copy_check_owner(&c, q.owner, q.as_admin))
			return -1;
		set_copy(ctx, &c);
		put(ctx->result, "dry_run", cJSON_CreateTrue());
		return 0;
	}
	struct dw_copy_destroy_opts o = {
		.owner = q.owner, .as_admin = q.as_admin, .wait_timeout_s = q.wait_timeout_s,
		.poll_interval_s = q.poll_interval_s,
	};
	if (dw_copy_destroy(aws, name, &o))
		return -1;
	set_copy(ctx, &c);
	put(ctx->result, "status", cJSON_CreateString(q.wait_timeout_s > 0 ? "deleted" : "deleting"));
	return 0;
}

static int list(struct dw_ctx *ctx)
{
	struct snapshot_req q = { 0 };
	struct dw_aws *aws;
	struct dw_copy *copies = NULL;
	size_t n = 0;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q) || !(aws = dw_ctx_aws(ctx)) ||
	    dw_copy_list(aws, q.owner, &copies, &n))
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
	struct snapshot_req q = { 0 };
	struct dw_aws *aws;
	struct dw_copy c;
	char name[64];
	int changed = 0;

	if (dw_req_bind(ctx->req, ctx->action->fields, &q) || instance_of(&q, name, sizeof(name)) ||
	    !(aws = dw_ctx_aws(ctx)))
		return -1;
	struct dw_copy_extend_opts o = {
		.owner = q.owner, .as_admin = q.as_admin,
		.ttl_days = q.ttl_days, .max_ttl_days = q.max_ttl_days,
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
	struct snapshot_req q = { 0 };
	struct dw_aws *aws;
	struct dw_copy c;
	char name[64];

	if (dw_req_bind(ctx->req, ctx->action->fields, &q) || instance_of(&q, name, sizeof(name)) ||
	    !(aws = dw_ctx_aws(ctx)) || dw_copy_describe(aws, name, &c))
		return -1;
	if (!c.managed)
		return dw_raise(DW_INVALID, "NotManaged", "instance_name",
				"%s is not a dwops copy", name);
	set_copy(ctx, &c);
	return 0;
}

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
