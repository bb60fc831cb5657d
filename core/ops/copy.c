/* copy.c - private warehouse copies: RDS instances restored for one
 * engineer, found by their tags, waited on, and deleted again. */
#include "ops/copy.h"
#include "base/log.h"
#include "aws/rds.h"
#include "base/timefmt.h"
#include "base/wait.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_POLL_S 30

/* ---- names ------------------------------------------------------------- */

int dw_copy_valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63 || !isalpha((unsigned char)name[0]) || name[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '-')
			return 0;
		if (c == '-' && name[i + 1] == '-')
			return 0;
	}
	return 1;
}

int dw_copy_default_name(const char *owner, char *out, size_t len)
{
	static const char prefix[] = "dw-snapshot-";
	size_t n = strlen(prefix), limit = len - 1 < 63 ? len - 1 : 63;

	if (len < sizeof(prefix) + 1)
		return dw_invalid("instance_name", "no room for a copy name");
	memcpy(out, prefix, n);
	/* Anything but a letter or digit becomes one hyphen: "Jane.Doe@x" ->
	 * "jane-doe-x". */
	for (const char *p = owner; *p && n < limit; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) && c < 0x80)
			out[n++] = (char)tolower(c);
		else if (out[n - 1] != '-')
			out[n++] = '-';
	}
	while (out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n <= sizeof(prefix) - 2)
		return dw_invalid("owner", "owner \"%s\" has no letters or digits to name a copy after; "
				  "give instance_name", owner);
	return 0;
}

/* ---- reading instances ------------------------------------------------- */

static void read_tag(struct dw_copy *c, const char *key, const char *value)
{
	if (strcmp(key, DW_TAG_MANAGED_BY) == 0)
		c->managed = strcmp(value, DW_MANAGED_BY) == 0;
	else if (strcmp(key, DW_TAG_OWNER) == 0) {
		/* An owner tag longer than launch allows (set by hand) is no one's:
		 * a truncated copy of it could match another owner. */
		if (strlen(value) < sizeof(c->owner))
			snprintf(c->owner, sizeof(c->owner), "%s", value);
	}
	else if (strcmp(key, DW_TAG_SOURCE) == 0)
		snprintf(c->source, sizeof(c->source), "%s", value);
	else if (strcmp(key, DW_TAG_SNAPSHOT) == 0)
		snprintf(c->snapshot, sizeof(c->snapshot), "%s", value);
	else if (strcmp(key, DW_TAG_METHOD) == 0 &&
		 (strcmp(value, "clone") == 0 || strcmp(value, "snapshot") == 0))
		snprintf(c->method, sizeof(c->method), "%s", value);
	else if (strcmp(key, DW_TAG_EXPIRES_AT) == 0) {
		snprintf(c->expires_at, sizeof(c->expires_at), "%s", value);
		time_t t = dw_time_parse_iso(value);
		c->expires = t > 0 ? t : 0;
	}
}

static void read_copy(const struct dw_rds_instance *in, struct dw_copy *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->instance, sizeof(c->instance), "%s", in->id);
	snprintf(c->arn, sizeof(c->arn), "%s", in->arn);
	snprintf(c->status, sizeof(c->status), "%s", in->status);
	snprintf(c->address, sizeof(c->address), "%s", in->address);
	c->port = in->port;
	snprintf(c->created_at, sizeof(c->created_at), "%s", in->created);
	snprintf(c->instance_class, sizeof(c->instance_class), "%s", in->instance_class);
	snprintf(c->member_of, sizeof(c->member_of), "%s", in->cluster);
	snprintf(c->method, sizeof(c->method), "snapshot");
	c->backup_retention = in->backup_retention;
	for (size_t i = 0; i < in->n_tags; i++)
		read_tag(c, in->tags[i].key, in->tags[i].value);
}

/* A cluster copy: named after its cluster, reached at the writer endpoint. */
static void read_cluster_copy(const struct dw_rds_cluster *cl, struct dw_copy *c)
{
	memset(c, 0, sizeof(*c));
	c->is_cluster = 1;
	snprintf(c->instance, sizeof(c->instance), "%s", cl->id);
	snprintf(c->cluster, sizeof(c->cluster), "%s", cl->id);
	snprintf(c->arn, sizeof(c->arn), "%s", cl->arn);
	snprintf(c->status, sizeof(c->status), "%s", cl->status);
	snprintf(c->engine, sizeof(c->engine), "%s", cl->engine);
	snprintf(c->address, sizeof(c->address), "%s", cl->endpoint);
	snprintf(c->reader_address, sizeof(c->reader_address), "%s", cl->reader_endpoint);
	c->port = cl->port;
	snprintf(c->created_at, sizeof(c->created_at), "%s", cl->created);
	snprintf(c->method, sizeof(c->method), "snapshot");
	c->backup_retention = cl->backup_retention;
	for (size_t i = 0; i < cl->n_members; i++) {
		snprintf(c->members[i], sizeof(c->members[i]), "%s", cl->members[i].id);
		if (cl->members[i].writer)
			snprintf(c->writer, sizeof(c->writer), "%s", cl->members[i].id);
	}
	c->n_members = cl->n_members;
	for (size_t i = 0; i < cl->n_tags; i++)
		read_tag(c, cl->tags[i].key, cl->tags[i].value);
}

/* The copies DescribeDBInstances / DescribeDBClusters find, managed or not
 * (filter != 0: only dwops's, and only owner's when owner is set). */
struct copy_list {
	struct dw_copy *items;
	size_t n, cap;
	int filter;
	const char *owner;
};

static int keep_copy(struct copy_list *l, const struct dw_copy *c)
{
	if (l->filter && (!c->managed ||
			  (l->owner && (!c->owner[0] || strcmp(c->owner, l->owner) != 0))))
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->items = dw_xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->n++] = *c;
	return 0;
}

static int take_copy(void *ud, const struct dw_rds_instance *in)
{
	struct dw_copy c;

	read_copy(in, &c);
	return keep_copy(ud, &c);
}

static int take_cluster(void *ud, const struct dw_rds_cluster *cl)
{
	struct dw_copy c;

	read_cluster_copy(cl, &c);
	return keep_copy(ud, &c);
}

/* The instance named so, and nothing else (a cluster's writer too). */
static int describe_instance(struct dw_aws *aws, const char *instance, struct dw_copy *out)
{
	struct copy_list l = { 0 };

	if (dw_rds_describe_instances(aws, instance, take_copy, &l)) {
		free(l.items);
		return -1;
	}
	if (l.n == 0) {
		free(l.items);
		return dw_fail("DBInstanceNotFound", "DB instance %s not found", instance);
	}
	*out = l.items[0];
	free(l.items);
	return 0;
}

static int cluster_missing(void)
{
	return dw_error_is("DBClusterNotFoundFault") || dw_error_is("DBClusterNotFound");
}

/* The cluster named so: *found = 0 (nothing raised) when there is none. */
static int describe_cluster(struct dw_aws *aws, const char *cluster, struct dw_copy *out,
			    int *found)
{
	struct copy_list l = { 0 };

	*found = 0;
	if (dw_rds_describe_clusters(aws, cluster, take_cluster, &l)) {
		free(l.items);
		if (!cluster_missing())
			return -1;
		dw_error_clear();
		return 0;
	}
	if (l.n)
		*out = l.items[0];
	*found = l.n > 0;
	free(l.items);
	return 0;
}

/* The writer's class and state, into its cluster's copy. */
static void take_writer(struct dw_copy *c, const struct dw_copy *writer)
{
	snprintf(c->instance_class, sizeof(c->instance_class), "%s", writer->instance_class);
	snprintf(c->writer_status, sizeof(c->writer_status), "%s", writer->status);
}

static int describe_writer(struct dw_aws *aws, struct dw_copy *c)
{
	struct dw_copy w;

	if (!c->writer[0])
		return 0;
	if (describe_instance(aws, c->writer, &w)) {
		/* Being deleted, or not there yet: the cluster says enough. */
		if (!dw_error_is("DBInstanceNotFound"))
			return -1;
		dw_error_clear();
		return 0;
	}
	take_writer(c, &w);
	return 0;
}

int dw_copy_describe(struct dw_aws *aws, const char *instance,
		     struct dw_copy *out)
{
	int found;

	/* A cluster first: its writer carries the same name. */
	if (describe_cluster(aws, instance, out, &found))
		return -1;
	if (found)
		return describe_writer(aws, out);
	return describe_instance(aws, instance, out);
}

static int newest_first(const void *a, const void *b)
{
	const struct dw_copy *x = a, *y = b;
	time_t tx = dw_time_parse_iso(x->created_at), ty = dw_time_parse_iso(y->created_at);

	if (tx != ty)
		return tx < ty ? 1 : -1;
	return strcmp(x->instance, y->instance);
}

/* Clusters' members are no copies by themselves: each writer's class and
 * state go into its cluster's copy, then the members leave the list. */
static void fold_members(struct copy_list *l)
{
	size_t kept = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct dw_copy *m = &l->items[i];
		if (!m->member_of[0])
			continue;
		for (size_t j = 0; j < l->n; j++)
			if (l->items[j].is_cluster && strcmp(l->items[j].cluster, m->member_of) == 0 &&
			    strcmp(l->items[j].writer, m->instance) == 0)
				take_writer(&l->items[j], m);
	}
	for (size_t i = 0; i < l->n; i++)
		if (!l->items[i].member_of[0])
			l->items[kept++] = l->items[i];
	l->n = kept;
}

int dw_copy_list(struct dw_aws *aws, const char *owner, struct dw_copy **out,
		 size_t *n)
{
	struct copy_list l = { .filter = 1, .owner = owner };

	if (dw_rds_describe_instances(aws, NULL, take_copy, &l)) {
		free(l.items);
		return dw_error_context("listing DB instances");
	}
	if (dw_rds_describe_clusters(aws, NULL, take_cluster, &l)) {
		free(l.items);
		return dw_error_context("listing DB clusters");
	}
	fold_members(&l);
	if (l.n)
		qsort(l.items, l.n, sizeof(*l.items), newest_first);
	*out = l.items;
	*n = l.n;
	return 0;
}

/* ---- deleting ---------------------------------------------------------- */

int dw_copy_check_owner(const struct dw_copy *c, const char *owner, int as_admin)
{
	if (c->member_of[0])
		return dw_raise(DW_INVALID, "NotManaged", "instance",
				"%s is an instance of cluster %s, not a copy by itself; "
				"refusing to touch it", c->instance, c->member_of);
	if (!c->managed)
		return dw_raise(DW_INVALID, "NotManaged", "instance",
				"%s %s is not managed by dwops (no %s=%s tag); refusing to touch it",
				c->is_cluster ? "cluster" : "instance", c->instance,
				DW_TAG_MANAGED_BY, DW_MANAGED_BY);
	if (as_admin)
		return 0;
	if (!owner || !*owner || !c->owner[0] || strcmp(c->owner, owner) != 0)
		return dw_raise(DW_INVALID, "NotOwner", "owner",
				"%s belongs to \"%s\", not to \"%s\"; only its owner or an admin "
				"(as_admin) may change it", c->instance, c->owner, owner ? owner : "");
	return 0;
}

struct gone_poll {
	struct dw_aws *aws;
	const char *instance;
	int cluster;
};

static enum dw_wait_state poll_gone(void *ud, struct dw_wait_poll *p)
{
	struct gone_poll *g = ud;
	struct dw_copy c;
	int found = 1;

	if (g->cluster) {
		if (describe_cluster(g->aws, g->instance, &c, &found))
			return DW_WAIT_FAILED;
	} else if (describe_instance(g->aws, g->instance, &c)) {
		if (!dw_error_is("DBInstanceNotFound"))
			return DW_WAIT_FAILED;
		dw_error_clear();
		found = 0;
	}
	if (!found) {
		snprintf(p->status, sizeof(p->status), "gone");
		return DW_WAIT_DONE;
	}
	snprintf(p->status, sizeof(p->status), "%s", c.status);
	return DW_WAIT_PENDING;
}

static int wait_gone(struct dw_aws *aws, const char *instance, int cluster, long timeout_s,
		     long poll_s)
{
	struct gone_poll g = { aws, instance, cluster };
	struct dw_wait w = {
		.what = instance, .interval_ms = poll_s * 1000L, .timeout_s = timeout_s,
		.timeout_hint = "; it is being deleted, run destroy again to wait for it",
	};

	return dw_wait_until(&w, poll_gone, &g);
}

/* No final snapshot and no backups left behind: nothing keeps billing. */
static int delete_instance(struct dw_aws *aws, const char *instance)
{
	struct dw_rds_delete d = {
		.instance = instance, .skip_final_snapshot = 1, .delete_automated_backups = 1,
	};

	return dw_rds_delete_instance(aws, &d) ? dw_error_context("deleting %s", instance) : 0;
}

/* A cluster's member: its backups are the cluster's.  One being deleted
 * already (a destroy run again) or gone is what was wanted. */
static int delete_member(struct dw_aws *aws, const char *instance)
{
	struct dw_rds_delete d = { .instance = instance, .skip_final_snapshot = 1 };

	if (dw_rds_delete_instance(aws, &d) == 0)
		return 0;
	if (dw_error_is("DBInstanceNotFound") || dw_error_is("DBInstanceNotFoundFault") ||
	    dw_error_is("InvalidDBInstanceState") || dw_error_is("InvalidDBInstanceStateFault")) {
		dw_info("%s: %s; going on", instance, dw_error_last()->message);
		dw_error_clear();
		return 0;
	}
	return dw_error_context("deleting %s", instance);
}

static int delete_cluster(struct dw_aws *aws, const char *cluster)
{
	return dw_rds_delete_cluster(aws, cluster) ? dw_error_context("deleting cluster %s", cluster)
						   : 0;
}

/* The instances first: a cluster with members is refused by RDS. */
static int delete_cluster_copy(struct dw_aws *aws, const struct dw_copy *c)
{
	for (size_t i = 0; i < c->n_members; i++) {
		dw_info("deleting %s's instance %s", c->cluster, c->members[i]);
		if (delete_member(aws, c->members[i]))
			return -1;
	}
	dw_info("deleting cluster %s (owner %s, no final snapshot)", c->cluster, c->owner);
	return delete_cluster(aws, c->cluster);
}

int dw_copy_destroy(struct dw_aws *aws, const char *instance,
		    const struct dw_copy_destroy_opts *o)
{
	struct dw_copy c;

	if (dw_copy_describe(aws, instance, &c))
		return -1;
	if (dw_copy_check_owner(&c, o->owner, o->as_admin))
		return -1;
	if (strcmp(c.status, "deleting") != 0) {
		if (c.is_cluster) {
			if (delete_cluster_copy(aws, &c))
				return -1;
		} else {
			dw_info("deleting %s (owner %s)", instance, c.owner);
			if (delete_instance(aws, instance))
				return -1;
		}
	}
	if (o->wait_timeout_s <= 0)
		return 0;
	return wait_gone(aws, instance, c.is_cluster, o->wait_timeout_s,
			 o->poll_interval_s > 0 ? o->poll_interval_s : DEFAULT_POLL_S);
}

/* ---- waiting ----------------------------------------------------------- */

int dw_copy_status_failed(const char *status)
{
	static const char *const failed[] = {
		"failed", "incompatible-restore", "incompatible-parameters",
		"incompatible-network", "inaccessible-encryption-credentials",
		"deleting", "storage-full", NULL,
	};

	for (const char *const *f = failed; *f; f++)
		if (strcmp(status, *f) == 0)
			return 1;
	return 0;
}

/* One time limit for a whole launch, however many waits it takes. */
struct waiter {
	time_t start;
	long timeout_s;
	long poll_s;
};

int dw_copy_cluster_status_failed(const char *status)
{
	static const char *const failed[] = {
		"failed", "cloning-failed", "migration-failed",
		"inaccessible-encryption-credentials", "incompatible-parameters",
		"incompatible-network", "deleting", NULL,
	};

	for (const char *const *f = failed; *f; f++)
		if (strcmp(status, *f) == 0)
			return 1;
	return 0;
}

static int verdict(const char *what, const char *status, int failed, long elapsed,
		   long timeout_s, long poll_s)
{
	if (strcmp(status, "available") == 0)
		return 1;
	if (failed)
		return dw_fail("CopyFailed", "%s is %s: it will not become available",
			       what, status);
	if (elapsed + poll_s > timeout_s)
		return dw_raise(DW_TRANSIENT, "WaitTimeout", NULL,
				"%s is still %s after %lds (wait_timeout_s %ld)",
				what, status, elapsed, timeout_s);
	return 0;
}

int dw_copy_wait_verdict(const char *instance, const char *status, long elapsed,
			 long timeout_s, long poll_s)
{
	return verdict(instance, status, dw_copy_status_failed(status), elapsed, timeout_s,
		       poll_s);
}

int dw_copy_cluster_wait_verdict(const char *cluster, const char *status, long elapsed,
				 long timeout_s, long poll_s)
{
	char what[96];

	snprintf(what, sizeof(what), "cluster %s", cluster);
	return verdict(what, status, dw_copy_cluster_status_failed(status), elapsed, timeout_s,
		       poll_s);
}

struct available_poll {
	struct dw_aws *aws;
	const char *name;
	int cluster;
	const struct waiter *w;
	struct dw_copy *out;
};

static enum dw_wait_state poll_available(void *ud, struct dw_wait_poll *p)
{
	struct available_poll *a = ud;
	int v, found = 1;

	if (a->cluster) {
		if (describe_cluster(a->aws, a->name, a->out, &found))
			return DW_WAIT_FAILED;
		if (!found) {
			dw_fail("CopyFailed", "cluster %s is gone: it will not become available",
				a->name);
			return DW_WAIT_FAILED;
		}
	} else if (describe_instance(a->aws, a->name, a->out)) {
		return DW_WAIT_FAILED;
	}
	snprintf(p->status, sizeof(p->status), "%s", a->out->status);
	if (a->cluster)
		v = dw_copy_cluster_wait_verdict(a->name, a->out->status, p->elapsed_s,
						 a->w->timeout_s, a->w->poll_s);
	else
		v = dw_copy_wait_verdict(a->name, a->out->status, p->elapsed_s,
					 a->w->timeout_s, a->w->poll_s);
	switch (v) {
	case 0:
		return DW_WAIT_PENDING;
	case 1:
		return DW_WAIT_DONE;
	default:
		return DW_WAIT_FAILED;
	}
}

static int wait_for(struct dw_aws *aws, const char *name, int cluster,
		    const struct waiter *w, struct dw_copy *out)
{
	struct available_poll a = { aws, name, cluster, w, out };
	char what[96];
	struct dw_wait wait = {
		.what = what, .interval_ms = w->poll_s * 1000L,
		.timeout_s = w->timeout_s, .start = w->start,
	};

	snprintf(what, sizeof(what), "%s%s", cluster ? "cluster " : "", name);
	return dw_wait_until(&wait, poll_available, &a);
}

/* The verdict gives up before the waiter's own limit would (it does not
 * start a poll that would end past wait_timeout_s). */
static int wait_available(struct dw_aws *aws, const char *instance,
			  const struct waiter *w, struct dw_copy *out)
{
	return wait_for(aws, instance, 0, w, out);
}

static int wait_cluster_available(struct dw_aws *aws, const char *cluster,
				  const struct waiter *w, struct dw_copy *out)
{
	return wait_for(aws, cluster, 1, w, out);
}

/* ---- the engineer's login ---------------------------------------------- */

/* "host:port" or "[v6]:port" (db/mysql.c, shared with dw-extract). */
static int parse_endpoint(const char *text, char *host, size_t host_len, int *port)
{
	return dw_mysql_endpoint_parse(text, "endpoint_override", host, host_len, port);
}

/* 'user'@'%' */
static void quote_account(struct dw_mysql *db, struct dw_buf *sql, const char *user)
{
	dw_mysql_quote_string(db, sql, user, 0);
	dw_buf_puts(sql, "@'%'");
}

/* In GRANT, "_" and "%" in a database name are wildcards: "a_b" would also
 * grant on "axb".  Escaped, the grant is for this one database. */
static void quote_grant_database(struct dw_buf *sql, const char *database)
{
	struct dw_buf escaped;

	dw_buf_init(&escaped);
	for (const char *p = database; *p; p++) {
		if (*p == '_' || *p == '%')
			dw_buf_putc(&escaped, '\\');
		dw_buf_putc(&escaped, *p);
	}
	dw_mysql_quote_ident(sql, escaped.data);
	dw_buf_release(&escaped);
}

static int run_sql(struct dw_mysql *db, struct dw_buf *sql, const char *what)
{
	int rc = dw_mysql_exec(db, sql->data);

	dw_buf_clear(sql);
	if (rc)
		return dw_error_context("%s", what);
	return 0;
}

static int grant_login(struct dw_mysql *db, const struct dw_copy_login *login)
{
	struct dw_buf sql;

	dw_buf_init(&sql);
	dw_buf_puts(&sql, "CREATE USER IF NOT EXISTS ");
	quote_account(db, &sql, login->user);
	dw_buf_puts(&sql, " IDENTIFIED BY ");
	dw_mysql_quote_string(db, &sql, login->password, 1);
	if (run_sql(db, &sql, "creating the login"))
		goto fail;
	/* The login may be there from an earlier launch: the password given
	 * now is the one that must work. */
	dw_buf_puts(&sql, "ALTER USER ");
	quote_account(db, &sql, login->user);
	dw_buf_puts(&sql, " IDENTIFIED BY ");
	dw_mysql_quote_string(db, &sql, login->password, 1);
	if (run_sql(db, &sql, "setting the login's password"))
		goto fail;
	dw_buf_puts(&sql, "GRANT ALL PRIVILEGES ON ");
	quote_grant_database(&sql, login->database);
	dw_buf_puts(&sql, ".* TO ");
	quote_account(db, &sql, login->user);
	dw_buf_puts(&sql, " WITH GRANT OPTION");
	if (run_sql(db, &sql, "granting the login its rights"))
		goto fail;
	dw_buf_release(&sql);
	return 0;
fail:
	dw_buf_release(&sql);
	return -1;
}

static int connect_as(const char *host, int port, const char *user, const char *password,
		      const struct dw_copy_login *login, struct dw_mysql **out)
{
	struct dw_mysql_config cfg = {
		.host = host, .port = port, .user = user, .password = password,
		.tls = login->tls, .ca_file = login->ca_file,
	};

	return dw_mysql_connect(out, &cfg);
}

/* Make the login with the master login, then log in with it. */
static int login_at(const char *host, int port, const struct dw_copy_login *login)
{
	struct dw_mysql *db = NULL;

	if (connect_as(host, port, login->master_user, login->master_password, login, &db))
		return dw_error_context("logging in as the master user");
	int rc = grant_login(db, login);
	dw_mysql_close(db);
	if (rc)
		return -1;
	if (connect_as(host, port, login->user, login->password, login, &db))
		return dw_error_context("checking the new login");
	dw_mysql_close(db);
	dw_info("login %s works and has every right on %s", login->user, login->database);
	return 0;
}

int dw_copy_make_login(const struct dw_copy *c, const struct dw_copy_login *login)
{
	char host[256];
	int port = c->port;
	struct dw_ssh_tunnel *tunnel = NULL;

	snprintf(host, sizeof(host), "%s", c->address);
	if (login->endpoint_override &&
	    parse_endpoint(login->endpoint_override, host, sizeof(host), &port))
		return -1;
	if (!host[0] || port <= 0)
		return dw_fail("NoEndpoint", "%s has no endpoint to connect to", c->instance);
	if (login->tunnel) {
		struct dw_ssh_tunnel_config tc = *login->tunnel;
		tc.target_host = host;
		tc.target_port = port;
		if (dw_ssh_tunnel_open(&tunnel, &tc))
			return -1;
		snprintf(host, sizeof(host), "127.0.0.1");
		port = dw_ssh_tunnel_port(tunnel);
	}
	int rc = login_at(host, port, login);
	if (rc && tunnel) {
		char why[512];
		dw_ssh_tunnel_error(tunnel, why, sizeof(why));
		if (why[0])
			dw_error_context("through the SSH tunnel (%s)", why);
	}
	dw_ssh_tunnel_close(tunnel);
	return rc;
}

/* ---- launching --------------------------------------------------------- */

static int readable(const char *path, const char *field)
{
	if (path && access(path, R_OK) != 0)
		return dw_invalid(field, "%s: cannot read %s", field, path);
	return 0;
}

/* Resetting the password of one of these would take the copy away from
 * dwops (the master) or break RDS's own management. */
static int reserved_user(const char *user, const char *master)
{
	static const char *const reserved[] = { "root", "rdsadmin", "rdsrepladmin",
						"rds_superuser_role", NULL };

	if (strcasecmp(user, master) == 0)
		return 1;
	for (const char *const *r = reserved; *r; r++)
		if (strcasecmp(user, *r) == 0)
			return 1;
	return 0;
}

static int validate_login(const struct dw_copy_login *login, int master_pending)
{
	char host[256];
	int port;

	if (!login->database || !dw_mysql_safe_name(login->database, 64))
		return dw_invalid("database", "database must be 1 to 64 letters, digits or "
				  "underscores");
	if (!login->user || !dw_mysql_safe_name(login->user, 32))
		return dw_invalid("user.name", "user.name must be 1 to 32 letters, digits or "
				  "underscores");
	if (!login->password || !*login->password)
		return dw_invalid("user.password", "user.password is required");
	if (!master_pending &&
	    (!login->master_user || !*login->master_user || !login->master_password))
		return dw_invalid("master", "master needs user and password, or secret_id");
	if (reserved_user(login->user, login->master_user ? login->master_user : ""))
		return dw_invalid("user.name", "user.name \"%s\" is the master login or one RDS "
				  "keeps for itself; choose another", login->user);
	if (login->endpoint_override &&
	    parse_endpoint(login->endpoint_override, host, sizeof(host), &port))
		return -1;
	if (readable(login->ca_file, "tls.ca_file"))
		return -1;
	if (login->tunnel) {
		const struct dw_ssh_tunnel_config *t = login->tunnel;
		if (!t->host || !*t->host || !t->user || !*t->user)
			return dw_invalid("ssh_tunnel", "ssh_tunnel needs host and user");
		if (!t->private_key_file || !t->known_hosts_file)
			return dw_invalid("ssh_tunnel", "ssh_tunnel needs private_key_file and "
					  "known_hosts_file");
		if (readable(t->private_key_file, "ssh_tunnel.private_key_file") ||
		    readable(t->known_hosts_file, "ssh_tunnel.known_hosts_file"))
			return -1;
	}
	return 0;
}

/* 1 when the copy is a cluster restored from a snapshot, not a clone. */
static int cluster_from_snapshot(const struct dw_copy_launch *l)
{
	return l->source_cluster && l->method && strcmp(l->method, "snapshot") == 0;
}

/* Aurora Serverless v2: 0 to 256 ACUs in steps of 0.5, at least 1 at the
 * most; auto-pause after 300 s to 24 h (only with a minimum of 0). */
static int validate_serverless(const struct dw_rds_serverless *s)
{
	if (s->min_acu < 0 || s->min_acu > 256 || s->min_acu * 2 != (double)(long)(s->min_acu * 2))
		return dw_invalid("serverless.min_acu", "serverless.min_acu must be 0 to 256 in "
				  "steps of 0.5");
	if (s->max_acu < 1 || s->max_acu > 256 || s->max_acu * 2 != (double)(long)(s->max_acu * 2))
		return dw_invalid("serverless.max_acu", "serverless.max_acu must be 1 to 256 in "
				  "steps of 0.5");
	if (s->max_acu < s->min_acu)
		return dw_invalid("serverless.max_acu", "serverless.max_acu must not be less than "
				  "min_acu");
	if (s->seconds_until_auto_pause &&
	    (s->seconds_until_auto_pause < 300 || s->seconds_until_auto_pause > 86400))
		return dw_invalid("serverless.seconds_until_auto_pause",
				  "serverless.seconds_until_auto_pause must be 300 to 86400");
	if (s->seconds_until_auto_pause && s->min_acu != 0)
		return dw_invalid("serverless.seconds_until_auto_pause",
				  "serverless.seconds_until_auto_pause needs min_acu 0 (only an "
				  "idle writer at 0 ACUs pauses)");
	return 0;
}

static int validate_cluster_fields(const struct dw_copy_launch *l)
{
	if (l->method && strcmp(l->method, "clone") != 0 && strcmp(l->method, "snapshot") != 0)
		return dw_invalid("method", "method must be clone or snapshot");
	if (!l->source_cluster) {
		if (l->method && strcmp(l->method, "clone") == 0)
			return dw_invalid("method", "method clone needs source_cluster (an Aurora "
					  "cluster); an RDS instance is copied from a snapshot");
		if (l->serverless)
			return dw_invalid("serverless", "serverless needs source_cluster");
		return 0;
	}
	if (l->serverless) {
		if (l->instance_class && strcmp(l->instance_class, "db.serverless") != 0)
			return dw_invalid("instance_class", "instance_class must be db.serverless "
					  "(or left out) with serverless");
		return validate_serverless(l->serverless);
	}
	return 0;
}

static int validate_launch(const struct dw_copy_launch *l, char *name, size_t len,
			   int master_pending)
{
	if (!l->owner || !*l->owner || strlen(l->owner) > DW_OWNER_MAX)
		return dw_invalid("owner", "owner must be 1 to %d characters", DW_OWNER_MAX);
	if (!!l->source_instance + !!l->snapshot + !!l->source_cluster != 1)
		return dw_invalid("source_instance", "give source_instance, snapshot or "
				  "source_cluster (one of them)");
	if (validate_cluster_fields(l))
		return -1;
	if (l->instance) {
		if (!dw_copy_valid_name(l->instance))
			return dw_invalid("instance_name", "instance_name \"%s\" is not a valid RDS "
					  "identifier (a letter, then letters, digits and single "
					  "hyphens, at most 63)", l->instance);
		snprintf(name, len, "%s", l->instance);
	} else if (dw_copy_default_name(l->owner, name, len)) {
		return -1;
	}
	if (l->ttl_days < 1)
		return dw_invalid("ttl_days", "ttl_days must be at least 1");
	/* The same cap as extend: a copy that never expires is never cleaned
	 * up (issue 12 #3). */
	if (l->max_ttl_days < 1)
		return dw_invalid("max_ttl_days", "max_ttl_days must be at least 1");
	if (l->ttl_days > l->max_ttl_days)
		return dw_invalid("ttl_days", "ttl_days %d is more than max_ttl_days (%d)",
				  l->ttl_days, l->max_ttl_days);
	if (l->wait_timeout_s < 1)
		return dw_invalid("wait_timeout_s", "wait_timeout_s must be at least 1");
	if (l->poll_interval_s < 0)
		return dw_invalid("poll_interval_s", "poll_interval_s must not be negative");
	return validate_login(&l->login, master_pending);
}

int dw_copy_launch_check(const struct dw_copy_launch *l, int master_pending)
{
	char name[64];

	return validate_launch(l, name, sizeof(name), master_pending);
}

static int pick_snapshot(struct dw_aws *aws, const struct dw_copy_launch *l,
			 struct dw_rds_snapshot *snap)
{
	if (l->source_instance)
		return dw_rds_latest_automated_snapshot(aws, l->source_instance, 0, snap);
	if (dw_rds_describe_snapshot(aws, l->snapshot, snap))
		return -1;
	if (strcmp(snap->status, "available") != 0)
		return dw_fail("SnapshotNotAvailable", "snapshot %s is %s, not available",
			       snap->id, snap->status);
	return 0;
}

static void set_tag(struct dw_rds_tag *t, const char *key, const char *value)
{
	snprintf(t->key, sizeof(t->key), "%s", key);
	snprintf(t->value, sizeof(t->value), "%s", value);
}

static int restore(struct dw_aws *aws, const struct dw_copy_launch *l, const char *name,
		   const struct dw_rds_snapshot *snap)
{
	struct dw_rds_tag tags[5];
	char expires[32];

	dw_time_format_iso(time(NULL) + (time_t)l->ttl_days * 86400, expires);
	set_tag(&tags[0], DW_TAG_MANAGED_BY, DW_MANAGED_BY);
	set_tag(&tags[1], DW_TAG_OWNER, l->owner);
	set_tag(&tags[2], DW_TAG_SOURCE, snap->source);
	set_tag(&tags[3], DW_TAG_SNAPSHOT, snap->id);
	set_tag(&tags[4], DW_TAG_EXPIRES_AT, expires);
	struct dw_rds_restore in = {
		.instance = name, .snapshot = snap->id,
		.instance_class = l->instance_class, .subnet_group = l->subnet_group,
		.parameter_group = l->parameter_group,
		.security_group_ids = l->security_group_ids,
		.n_security_group_ids = l->n_security_group_ids,
		.publicly_accessible = 0, .multi_az = 0, .deletion_protection = 0,
		.tags = tags, .n_tags = sizeof(tags) / sizeof(tags[0]),
	};
	dw_info("restoring %s from %s for %s (expires %s)", name, snap->id, l->owner, expires);
	if (dw_rds_restore_instance(aws, &in))
		return dw_error_context("restoring %s from %s", name, snap->id);
	return 0;
}


/* A throwaway copy must not spend hours backing up: retention 0.  Restore
 * cannot set it, so it is changed once the copy is available. */
static int stop_backups(struct dw_aws *aws, const struct waiter *w, struct dw_copy *c)
{
	struct dw_rds_modify m = {
		.instance = c->instance, .backup_retention = 0, .apply_immediately = 1,
	};

	if (c->backup_retention == 0)
		return 0;
	dw_info("%s: turning automated backups off", c->instance);
	if (dw_rds_modify_instance(aws, &m))
		return dw_error_context("turning backups off on %s", c->instance);
	return wait_available(aws, c->instance, w, c);
}

static int finish_new(struct dw_aws *aws, const struct dw_copy_launch *l,
		      const struct waiter *w, const char *name, struct dw_copy *out)
{
	if (wait_available(aws, name, w, out) || stop_backups(aws, w, out))
		return -1;
	return dw_copy_make_login(out, &l->login);
}

/* A launch failed after the copy was made: delete it so nothing is left
 * billing, and say so in the error (which keeps its kind and code). */
static int roll_back(struct dw_aws *aws, const struct dw_copy_launch *l, const char *name)
{
	struct dw_error e, cleanup;

	dw_error_save(&e);
	if (l->keep_on_failure)
		return dw_raise_passthrough(e.kind, e.code, e.field[0] ? e.field : NULL,
				"%s; %s was kept (keep_on_failure): destroy it when done",
				e.message, name);
	/* Made by this launch a moment ago: no ownership check to make, and
	 * one call less that could fail. */
	dw_warn("launch failed; deleting %s", name);
	if (delete_instance(aws, name) == 0)
		return dw_raise_passthrough(e.kind, e.code, e.field[0] ? e.field : NULL,
				"%s; %s was deleted, nothing is left billing", e.message, name);
	dw_error_save(&cleanup);
	return dw_raise_passthrough(e.kind, e.code, e.field[0] ? e.field : NULL,
			"%s; deleting %s failed too (%s): delete it by hand", e.message, name,
			cleanup.message);
}

static int plan(const struct dw_copy_launch *l, const char *name,
		const struct dw_rds_snapshot *snap, struct dw_copy *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->instance, sizeof(out->instance), "%s", name);
	snprintf(out->owner, sizeof(out->owner), "%s", l->owner);
	snprintf(out->source, sizeof(out->source), "%s", snap->source);
	snprintf(out->snapshot, sizeof(out->snapshot), "%s", snap->id);
	snprintf(out->status, sizeof(out->status), "dry-run");
	out->expires = time(NULL) + (time_t)l->ttl_days * 86400;
	dw_time_format_iso(out->expires, out->expires_at);
	out->managed = 1;
	dw_info("dry run: would restore %s from %s for %s", name, snap->id, l->owner);
	return 0;
}

/* A copy stopped to save money (by hand, or by dw-cleanup when idle) is
 * started again by a relaunch. */
static int start_instance(struct dw_aws *aws, const char *instance)
{
	dw_info("%s is stopped: starting it", instance);
	return dw_rds_start_instance(aws, instance) ? dw_error_context("starting %s", instance) : 0;
}

static int check_reusable(const struct dw_copy_launch *l, const struct dw_copy *c)
{
	if (c->member_of[0])
		return dw_raise(DW_INVALID, "NotManaged", "instance_name",
				"an instance named %s exists in cluster %s; choose another "
				"instance_name", c->instance, c->member_of);
	if (!c->managed)
		return dw_raise(DW_INVALID, "NotManaged", "instance_name",
				"%s named %s exists and is not managed by dwops; "
				"choose another instance_name", c->is_cluster ? "a cluster" : "an instance",
				c->instance);
	if (strcmp(c->owner, l->owner) != 0)
		return dw_raise(DW_INVALID, "NotOwner", "instance_name",
				"%s belongs to \"%s\"; choose another instance_name",
				c->instance, c->owner);
	if (c->is_cluster != !!l->source_cluster ||
	    (c->is_cluster && strcmp(c->method, cluster_from_snapshot(l) ? "snapshot" : "clone")))
		return dw_raise(DW_INVALID, "CopyExists", "instance_name",
				"your copy %s exists already and is %s; destroy it first, or "
				"choose another instance_name", c->instance,
				!c->is_cluster ? "an RDS instance restored from a snapshot" :
				strcmp(c->method, "clone") == 0 ? "an Aurora clone" :
				"an Aurora cluster restored from a snapshot");
	return 0;
}

/* The owner's copy is there already: use it. */
static int reuse(struct dw_aws *aws, const struct dw_copy_launch *l,
		 const struct waiter *w, struct dw_copy *c)
{
	if (check_reusable(l, c))
		return -1;
	dw_info("%s exists already (%s): reusing it", c->instance, c->status);
	if (strcmp(c->status, "stopped") == 0 && start_instance(aws, c->instance))
		return -1;
	if (wait_available(aws, c->instance, w, c))
		return -1;
	return dw_copy_make_login(c, &l->login);
}

/* ---- Aurora cluster copies --------------------------------------------- */

/* What a cluster launch made, so that a failure undoes exactly that. */
struct made {
	int cluster, instance;
};

struct source_info {
	char engine[64];
	char writer_class[64]; /* the source writer's */
	struct dw_rds_serverless serverless;
	int n_members;
	char status[48];
	int found;
};

static int take_source(void *ud, const struct dw_rds_cluster *cl)
{
	struct source_info *s = ud;

	s->found = 1;
	snprintf(s->engine, sizeof(s->engine), "%s", cl->engine);
	snprintf(s->status, sizeof(s->status), "%s", cl->status);
	s->serverless = cl->serverless;
	s->n_members = (int)cl->n_members;
	for (size_t i = 0; i < cl->n_members; i++)
		if (cl->members[i].writer || !s->writer_class[0])
			snprintf(s->writer_class, sizeof(s->writer_class), "%s", cl->members[i].id);
	return 0;
}

/* The source cluster, which must be available with an instance; its
 * writer's class (writer_class holds the writer's id until then). */
static int read_source(struct dw_aws *aws, const char *source, struct source_info *s)
{
	struct dw_copy w;

	memset(s, 0, sizeof(*s));
	if (dw_rds_describe_clusters(aws, source, take_source, s))
		return dw_error_context("looking at source cluster %s", source);
	if (!s->found)
		return dw_fail("SourceNotAvailable", "source cluster %s not found", source);
	if (strcmp(s->status, "available") != 0)
		return dw_fail("SourceNotAvailable", "source cluster %s is %s, not available",
			       source, s->status);
	if (s->n_members < 1)
		return dw_fail("SourceNotAvailable", "source cluster %s has no instance: a clone "
			       "of it could not be read (Aurora needs one to clone from)", source);
	if (describe_instance(aws, s->writer_class, &w))
		return dw_error_context("looking at %s's writer", source);
	snprintf(s->writer_class, sizeof(s->writer_class), "%s", w.instance_class);
	return 0;
}

/* The writer's class: asked for, db.serverless, or the source writer's. */
static const char *writer_class(const struct dw_copy_launch *l, const struct source_info *s)
{
	if (l->instance_class)
		return l->instance_class;
	if (l->serverless)
		return "db.serverless";
	return s->writer_class;
}

static void cluster_tags(const struct dw_copy_launch *l, const char *snapshot, int writer,
			 struct dw_rds_tag *tags, size_t *n)
{
	char expires[32];

	*n = 0;
	set_tag(&tags[(*n)++], DW_TAG_MANAGED_BY, DW_MANAGED_BY);
	set_tag(&tags[(*n)++], DW_TAG_OWNER, l->owner);
	set_tag(&tags[(*n)++], DW_TAG_SOURCE, l->source_cluster);
	set_tag(&tags[(*n)++], DW_TAG_METHOD, snapshot ? "snapshot" : "clone");
	if (snapshot)
		set_tag(&tags[(*n)++], DW_TAG_SNAPSHOT, snapshot);
	/* The expiry lives on the cluster only: extend moves one tag. */
	if (!writer) {
		dw_time_format_iso(time(NULL) + (time_t)l->ttl_days * 86400, expires);
		set_tag(&tags[(*n)++], DW_TAG_EXPIRES_AT, expires);
	}
}

static int restore_cluster(struct dw_aws *aws, const struct dw_copy_launch *l,
			   const char *name, const struct dw_rds_snapshot *snap)
{
	struct dw_rds_tag tags[6];
	size_t n;
	int from_snapshot = cluster_from_snapshot(l);

	cluster_tags(l, from_snapshot ? snap->id : NULL, 0, tags, &n);
	struct dw_rds_cluster_restore in = {
		.cluster = name,
		.source_cluster = from_snapshot ? NULL : l->source_cluster,
		.snapshot = from_snapshot ? snap->id : NULL,
		.engine = snap->engine,
		.subnet_group = l->subnet_group,
		.security_group_ids = l->security_group_ids,
		.n_security_group_ids = l->n_security_group_ids,
		.backup_retention = DW_COPY_CLUSTER_BACKUP_DAYS,
		.deletion_protection = 0,
		.engine_lifecycle_support = DW_COPY_ENGINE_LIFECYCLE,
		.serverless = l->serverless,
		.tags = tags, .n_tags = n,
	};
	if (from_snapshot)
		dw_info("restoring cluster %s from %s for %s", name, snap->id, l->owner);
	else
		dw_info("cloning cluster %s as %s (copy-on-write, latest restorable time) for %s",
			l->source_cluster, name, l->owner);
	if (dw_rds_restore_cluster(aws, &in))
		return dw_error_context("restoring cluster %s", name);
	return 0;
}

static int create_writer(struct dw_aws *aws, const struct dw_copy_launch *l,
			 const struct dw_copy *c, const char *class)
{
	struct dw_rds_tag tags[6];
	size_t n;

	cluster_tags(l, c->snapshot[0] ? c->snapshot : NULL, 1, tags, &n);
	struct dw_rds_create_instance in = {
		.instance = c->cluster, .cluster = c->cluster, .engine = c->engine,
		.instance_class = class, .parameter_group = l->parameter_group,
		.tags = tags, .n_tags = n,
	};
	dw_info("creating %s's writer %s (%s)", c->cluster, c->cluster, class);
	if (dw_rds_create_cluster_instance(aws, &in))
		return dw_error_context("creating the writer of %s", c->cluster);
	return 0;
}

/* The restore asks for 1 day of backups; a clone that has more (an
 * endpoint that kept the source's) is brought down to it, as instance
 * copies are to 0. */
static int cluster_backups(struct dw_aws *aws, const struct waiter *w, struct dw_copy *c)
{
	if (c->backup_retention <= DW_COPY_CLUSTER_BACKUP_DAYS)
		return 0;
	dw_info("cluster %s keeps %d days of backups: down to %d", c->cluster,
		c->backup_retention, DW_COPY_CLUSTER_BACKUP_DAYS);
	if (dw_rds_modify_cluster_backups(aws, c->cluster, DW_COPY_CLUSTER_BACKUP_DAYS))
		return dw_error_context("setting the backups of %s", c->cluster);
	return wait_cluster_available(aws, c->cluster, w, c);
}

/* Cluster available; its writer made when missing (m->instance then set),
 * and available; the login made. */
static int finish_cluster(struct dw_aws *aws, const struct dw_copy_launch *l,
			  const struct waiter *w, const char *name, const char *class,
			  struct dw_copy *out, struct made *m)
{
	struct dw_copy writer = { 0 };
	struct source_info src;

	if (wait_cluster_available(aws, name, w, out) || cluster_backups(aws, w, out))
		return -1;
	if (!out->writer[0]) {
		if (!class) {
			if (read_source(aws, out->source, &src))
				return -1;
			class = writer_class(l, &src);
		}
		if (create_writer(aws, l, out, class))
			return -1;
		m->instance = 1;
	}
	if (wait_available(aws, out->writer[0] ? out->writer : name, w, &writer))
		return -1;
	if (dw_copy_describe(aws, name, out))
		return -1;
	return dw_copy_make_login(out, &l->login);
}

static int keep_error(const struct dw_error *e, const char *fmt, const char *name,
		      const char *more)
{
	char msg[sizeof(e->message)];

	snprintf(msg, sizeof(msg), fmt, name, more);
	return dw_raise_passthrough(e->kind, e->code, e->field[0] ? e->field : NULL, "%s; %s",
				    e->message, msg);
}

/* A cluster launch failed: delete what it made, the writer first (a
 * cluster with members cannot be deleted), never what was there before. */
static int roll_back_cluster(struct dw_aws *aws, const struct dw_copy_launch *l,
			     const char *name, const struct made *m)
{
	struct dw_error e, cleanup;

	dw_error_save(&e);
	if (!m->cluster && !m->instance)
		return dw_raise_passthrough(e.kind, e.code, e.field[0] ? e.field : NULL, "%s",
					    e.message);
	if (l->keep_on_failure)
		return keep_error(&e, "%s was kept (keep_on_failure): destroy it when done%s",
				  name, "");
	dw_warn("launch failed; deleting %s%s", m->instance ? "the writer and " : "",
		m->cluster ? "the cluster" : "");
	if (m->instance && delete_member(aws, name))
		goto failed;
	if (m->cluster && delete_cluster(aws, name))
		goto failed;
	return keep_error(&e, "%s was deleted%s, nothing is left billing", name,
			  m->cluster ? " (writer and cluster)" : " (its new writer)");
failed:
	dw_error_save(&cleanup);
	return keep_error(&e, "deleting %s failed too (%s): delete it by hand", name,
			  cleanup.message);
}

static int reuse_cluster(struct dw_aws *aws, const struct dw_copy_launch *l,
			 const struct waiter *w, struct dw_copy *c)
{
	struct made m = { 0 };
	char name[64];

	if (check_reusable(l, c))
		return -1;
	snprintf(name, sizeof(name), "%s", c->cluster);
	dw_info("cluster %s exists already (%s): reusing it", name, c->status);
	if (strcmp(c->status, "stopped") == 0) {
		dw_info("cluster %s is stopped: starting it", name);
		if (dw_rds_start_cluster(aws, name))
			return dw_error_context("starting cluster %s", name);
	}
	if (finish_cluster(aws, l, w, name, NULL, c, &m))
		return roll_back_cluster(aws, l, name, &m);
	return 0;
}

static int plan_cluster(const struct dw_copy_launch *l, const char *name,
			const struct dw_rds_snapshot *snap, const char *class,
			struct dw_copy *out)
{
	memset(out, 0, sizeof(*out));
	out->is_cluster = 1;
	snprintf(out->instance, sizeof(out->instance), "%s", name);
	snprintf(out->cluster, sizeof(out->cluster), "%s", name);
	snprintf(out->owner, sizeof(out->owner), "%s", l->owner);
	snprintf(out->source, sizeof(out->source), "%s", l->source_cluster);
	snprintf(out->snapshot, sizeof(out->snapshot), "%s", snap->id);
	snprintf(out->method, sizeof(out->method), "%s",
		 cluster_from_snapshot(l) ? "snapshot" : "clone");
	snprintf(out->instance_class, sizeof(out->instance_class), "%s", class);
	snprintf(out->status, sizeof(out->status), "dry-run");
	out->expires = time(NULL) + (time_t)l->ttl_days * 86400;
	dw_time_format_iso(out->expires, out->expires_at);
	out->managed = 1;
	dw_info("dry run: would %s %s as %s for %s",
		snap->id[0] ? "restore the snapshot" : "clone", snap->id[0] ? snap->id :
		l->source_cluster, name, l->owner);
	return 0;
}

static int launch_cluster(struct dw_aws *aws, const struct dw_copy_launch *l,
			  const struct waiter *w, const char *name, struct dw_copy *out,
			  int *created)
{
	struct dw_rds_snapshot snap = { 0 };
	struct source_info src;
	struct made m = { 0 };

	if (read_source(aws, l->source_cluster, &src))
		return -1;
	snprintf(snap.engine, sizeof(snap.engine), "%s", src.engine);
	if (cluster_from_snapshot(l) &&
	    dw_rds_latest_automated_snapshot(aws, l->source_cluster, 1, &snap))
		return -1;
	if (l->dry_run)
		return plan_cluster(l, name, &snap, writer_class(l, &src), out);
	if (restore_cluster(aws, l, name, &snap)) {
		/* A launch for the same owner raced this one: share its copy. */
		if (!dw_error_is("DBClusterAlreadyExistsFault") || dw_copy_describe(aws, name, out))
			return -1;
		return reuse_cluster(aws, l, w, out);
	}
	*created = 1;
	m.cluster = 1;
	if (finish_cluster(aws, l, w, name, writer_class(l, &src), out, &m))
		return roll_back_cluster(aws, l, name, &m);
	return 0;
}

int dw_copy_launch(struct dw_aws *aws, const struct dw_copy_launch *l,
		   struct dw_copy *out, int *created)
{
	struct dw_rds_snapshot snap;
	struct waiter w = {
		time(NULL), l->wait_timeout_s,
		l->poll_interval_s > 0 ? l->poll_interval_s : DEFAULT_POLL_S,
	};
	char name[64];

	*created = 0;
	if (validate_launch(l, name, sizeof(name), 0))
		return -1;
	/* Described before anything is restored: a restore over an existing
	 * id is refused by RDS, but not by every endpoint (moto replaces the
	 * cluster). */
	if (dw_copy_describe(aws, name, out) == 0) {
		if (l->dry_run)
			return check_reusable(l, out);
		return out->is_cluster ? reuse_cluster(aws, l, &w, out) : reuse(aws, l, &w, out);
	}
	if (!dw_error_is("DBInstanceNotFound"))
		return -1;
	dw_error_clear();
	if (l->source_cluster)
		return launch_cluster(aws, l, &w, name, out, created);
	if (pick_snapshot(aws, l, &snap))
		return -1;
	if (l->dry_run)
		return plan(l, name, &snap, out);
	if (restore(aws, l, name, &snap)) {
		/* A launch for the same owner raced this one: share its copy. */
		if (!dw_error_is("DBInstanceAlreadyExists") || dw_copy_describe(aws, name, out))
			return -1;
		return reuse(aws, l, &w, out);
	}
	*created = 1;
	if (finish_new(aws, l, &w, name, out))
		return roll_back(aws, l, name);
	return 0;
}

/* ---- extending --------------------------------------------------------- */

static int set_expiry(struct dw_aws *aws, const struct dw_copy *c, const char *expires)
{
	struct dw_rds_tag tag = { "", "" };

	set_tag(&tag, DW_TAG_EXPIRES_AT, expires);
	return dw_rds_add_tags(aws, c->arn, &tag, 1) ? dw_error_context("tagging %s", c->instance)
						     : 0;
}

int dw_copy_extend(struct dw_aws *aws, const char *instance,
		   const struct dw_copy_extend_opts *o, struct dw_copy *out, int *changed)
{
	time_t now = time(NULL), base, target, cap;

	*changed = 0;
	if (o->ttl_days < 1)
		return dw_invalid("ttl_days", "ttl_days must be at least 1");
	if (o->max_ttl_days < 1)
		return dw_invalid("max_ttl_days", "max_ttl_days must be at least 1");
	if (dw_copy_describe(aws, instance, out) || dw_copy_check_owner(out, o->owner, o->as_admin))
		return -1;
	base = out->expires > now ? out->expires : now;
	target = base + (time_t)o->ttl_days * 86400;
	cap = now + (time_t)o->max_ttl_days * 86400;
	if (target > cap)
		target = cap;
	if (out->expires && target <= out->expires) {
		dw_info("%s expires at %s already, the most max_ttl_days allows", instance,
			out->expires_at);
		return 0;
	}
	dw_time_format_iso(target, out->expires_at);
	out->expires = target;
	dw_info("%s now expires at %s", instance, out->expires_at);
	if (set_expiry(aws, out, out->expires_at))
		return -1;
	*changed = 1;
	return 0;
}
