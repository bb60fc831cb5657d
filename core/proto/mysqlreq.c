/* mysqlreq.c - reading a MySQL connection from a request. */
#include "proto/mysqlreq.h"
#include "aws/secrets.h"
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct dw_field dw_mysql_tls_fields[] = {
	DW_CHOICE("mode", struct dw_mysql_tls_req, mode, 0, "verify", DW_CHOICES("verify", "required", "disabled"),
		  "verify the server's certificate, require TLS without checking it, or no TLS"),
	DW_STR("ca_file", struct dw_mysql_tls_req, ca_file, 0, NULL, "CA bundle for verify (default: the system CAs)"),
	DW_FIELDS_END
};

const struct dw_field dw_ssh_tunnel_fields[] = {
	DW_STR("host", struct dw_ssh_tunnel_config, host, DW_REQUIRED, NULL, "SSH bastion"),
	DW_INT("port", struct dw_ssh_tunnel_config, port, 0, 22, 1, 65535, "its port"),
	DW_STR("user", struct dw_ssh_tunnel_config, user, DW_REQUIRED, NULL, "SSH user"),
	DW_STR("private_key_file", struct dw_ssh_tunnel_config, private_key_file, DW_REQUIRED, NULL,
	       "unencrypted private key"),
	DW_STR("known_hosts_file", struct dw_ssh_tunnel_config, known_hosts_file, DW_REQUIRED, NULL,
	       "must hold the bastion's host key"),
	DW_FIELDS_END
};

#define M(kind, n, ...) DW_##kind(n, struct dw_mysql_req, __VA_ARGS__)
const struct dw_field dw_mysql_fields[] = {
	M(STR, "host", target.host, 0, NULL, "the server (or endpoint)"),
	M(INT, "port", target.port, 0, 3306, 1, 65535, "its port"),
	M(STR, "endpoint", target.endpoint, 0, NULL, "host:port instead of host and port"),
	M(STR, "user", given_user, 0, NULL, "the login (or secret_id)"),
	M(SECRET, "password", password, 0, "its password"),
	M(STR, "secret_id", secret_id, 0, NULL, "or: a Secrets Manager secret with username and password"),
	M(OBJ, "tls", tls, 0, dw_mysql_tls_fields, "TLS to MySQL"),
	M(OBJ, "ssh_tunnel", ssh_tunnel, 0, dw_ssh_tunnel_fields, "reach MySQL through an SSH bastion"),
	M(INT, "timeout_s", target.timeout_s, 0, 30, 1, 3600, "connect, read and write timeout"),
	DW_FIELDS_END
};
#undef M

static int readable(const char *file, const char *path, const char *name)
{
	char field[128];

	snprintf(field, sizeof(field), "%s.%s", path, name);
	if (file && access(file, R_OK) != 0)
		return dw_invalid(field, "%s: cannot read %s", field, file);
	return 0;
}

int dw_req_mysql_tls(const cJSON *tls, const char *path, enum dw_mysql_tls *mode,
		     const char **ca_file)
{
	struct dw_mysql_tls_req t = { .mode = DW_MYSQL_TLS_VERIFY };

	if (tls && !cJSON_IsNull(tls) && dw_req_bind_at(tls, dw_mysql_tls_fields, path, &t))
		return -1;
	/* The choices' order is the enum's. */
	*mode = (enum dw_mysql_tls)t.mode;
	*ca_file = t.ca_file;
	if (*ca_file && *mode != DW_MYSQL_TLS_VERIFY) {
		char field[128];
		snprintf(field, sizeof(field), "%s.ca_file", path);
		return dw_invalid(field, "%s.ca_file is only used with %s.mode verify", path, path);
	}
	return 0;
}

int dw_req_ssh_tunnel(const cJSON *t, const char *path, struct dw_ssh_tunnel_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	return dw_req_bind_at(t, dw_ssh_tunnel_fields, path, cfg);
}

/* What the bind cannot say: host or endpoint, readable files, and one
 * login (secret_id, or user and password). */
static int check_mysql(const char *path, struct dw_mysql_req *m)
{
	char tpath[96];

	if (!!m->target.host == !!m->target.endpoint)
		return dw_invalid("mysql.host", "give mysql.host (and port) or mysql.endpoint");
	if (m->target.endpoint) {
		char host[256];
		int p;
		if (dw_mysql_endpoint_parse(m->target.endpoint, "mysql.endpoint", host,
					    sizeof(host), &p))
			return -1;
	}
	snprintf(tpath, sizeof(tpath), "%s.tls", path);
	if (dw_req_mysql_tls(m->tls, tpath, &m->target.tls, &m->target.ca_file) ||
	    readable(m->target.ca_file, tpath, "ca_file"))
		return -1;
	if (m->ssh_tunnel) {
		snprintf(tpath, sizeof(tpath), "%s.ssh_tunnel", path);
		if (dw_req_ssh_tunnel(m->ssh_tunnel, tpath, &m->tunnel) ||
		    readable(m->tunnel.private_key_file, tpath, "private_key_file") ||
		    readable(m->tunnel.known_hosts_file, tpath, "known_hosts_file"))
			return -1;
		m->target.tunnel = &m->tunnel;
	}
	if (m->secret_id && (m->given_user || m->password))
		return dw_invalid("mysql.secret_id", "give mysql.secret_id, or mysql.user and "
				  "password, not both");
	if (m->secret_id)
		return 0;
	if (!m->given_user)
		return dw_invalid("mysql.user", "mysql.user is required (or mysql.secret_id)");
	if (!m->password)
		return dw_invalid("mysql.password", "mysql.password or mysql.password_env is "
				  "required");
	m->user = dw_xstrdup(m->given_user);
	m->target.user = m->user;
	m->target.password = m->password;
	return 0;
}

int dw_req_mysql(const cJSON *obj, const char *path, struct dw_mysql_req *m)
{
	memset(m, 0, sizeof(*m));
	if (dw_req_bind_at(obj, dw_mysql_fields, path, m))
		return -1;
	if (check_mysql(path, m)) {
		dw_mysql_req_release(m);
		return -1;
	}
	return 0;
}

int dw_req_mysql_login(struct dw_aws *aws, struct dw_mysql_req *m)
{
	if (!m->secret_id)
		return 0;
	if (dw_secrets_get_login(aws, m->secret_id, &m->user, &m->password))
		return -1;
	m->target.user = m->user;
	m->target.password = m->password;
	return 0;
}

void dw_mysql_req_release(struct dw_mysql_req *m)
{
	free(m->user);
	free(m->password);
	m->user = m->password = NULL;
}
