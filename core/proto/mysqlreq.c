/* mysqlreq.c - reading a MySQL connection from a request. */
#include "proto/mysqlreq.h"
#include "aws/secrets.h"
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct dw_field dw_mysql_tls_fields[] = {
	DW_FIELD("mode", DW_T_STRING, 0, NULL, "verify (default), required (no certificate check), disabled"),
	DW_FIELD("ca_file", DW_T_STRING, 0, NULL, "CA bundle for verify (default: the system CAs)"),
	DW_FIELDS_END
};

const struct dw_field dw_ssh_tunnel_fields[] = {
	DW_FIELD("host", DW_T_STRING, DW_REQUIRED, NULL, "SSH bastion"),
	DW_FIELD("port", DW_T_INT, 0, NULL, "its port (default 22)"),
	DW_FIELD("user", DW_T_STRING, DW_REQUIRED, NULL, "SSH user"),
	DW_FIELD("private_key_file", DW_T_STRING, DW_REQUIRED, NULL, "unencrypted private key"),
	DW_FIELD("known_hosts_file", DW_T_STRING, DW_REQUIRED, NULL, "must hold the bastion's host key"),
	DW_FIELDS_END
};

const struct dw_field dw_mysql_fields[] = {
	DW_FIELD("host", DW_T_STRING, 0, NULL, "the server (or endpoint)"),
	DW_FIELD("port", DW_T_INT, 0, NULL, "its port (default 3306)"),
	DW_FIELD("endpoint", DW_T_STRING, 0, NULL, "host:port instead of host and port"),
	DW_FIELD("user", DW_T_STRING, 0, NULL, "the login (or secret_id)"),
	DW_FIELD("password", DW_T_SECRET, 0, NULL, "its password"),
	DW_FIELD("secret_id", DW_T_STRING, 0, NULL, "or: a Secrets Manager secret with username and password"),
	DW_FIELD("tls", DW_T_OBJECT, 0, dw_mysql_tls_fields, "TLS to MySQL"),
	DW_FIELD("ssh_tunnel", DW_T_OBJECT, 0, dw_ssh_tunnel_fields, "reach MySQL through an SSH bastion"),
	DW_FIELD("timeout_s", DW_T_INT, 0, NULL, "connect, read and write timeout (default 30)"),
	DW_FIELDS_END
};

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
	const char *m = dw_req_str(tls, "mode", NULL);

	*mode = DW_MYSQL_TLS_VERIFY;
	*ca_file = dw_req_str(tls, "ca_file", NULL);
	if (m && dw_mysql_tls_from_string(m, mode))
		return -1;
	if (*ca_file && *mode != DW_MYSQL_TLS_VERIFY) {
		char field[128];
		snprintf(field, sizeof(field), "%s.ca_file", path);
		return dw_invalid(field, "%s.ca_file is only used with %s.mode verify", path, path);
	}
	return 0;
}

int dw_req_ssh_tunnel(const cJSON *t, const char *path, struct dw_ssh_tunnel_config *cfg)
{
	long long port = dw_req_int(t, "port", 22);
	char field[96];

	snprintf(field, sizeof(field), "%s.port", path);
	if (port < 1 || port > 65535)
		return dw_invalid(field, "%s must be between 1 and 65535, not %lld", field, port);
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = dw_req_str(t, "host", NULL);
	cfg->port = (int)port;
	cfg->user = dw_req_str(t, "user", NULL);
	cfg->private_key_file = dw_req_str(t, "private_key_file", NULL);
	cfg->known_hosts_file = dw_req_str(t, "known_hosts_file", NULL);
	return 0;
}

int dw_req_mysql(const cJSON *obj, const char *path, struct dw_mysql_req *m)
{
	const cJSON *tls = cJSON_GetObjectItemCaseSensitive(obj, "tls");
	const cJSON *tun = cJSON_GetObjectItemCaseSensitive(obj, "ssh_tunnel");
	long long port = dw_req_int(obj, "port", 3306), timeout = dw_req_int(obj, "timeout_s", 30);
	char tpath[96];

	memset(m, 0, sizeof(*m));
	if (port < 1 || port > 65535)
		return dw_invalid("mysql.port", "mysql.port must be between 1 and 65535");
	if (timeout < 1 || timeout > 3600)
		return dw_invalid("mysql.timeout_s", "mysql.timeout_s must be between 1 and 3600");
	m->target.host = dw_req_str(obj, "host", NULL);
	m->target.port = (int)port;
	m->target.endpoint = dw_req_str(obj, "endpoint", NULL);
	m->target.timeout_s = (unsigned)timeout;
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
	if (dw_req_mysql_tls(tls, tpath, &m->target.tls, &m->target.ca_file) ||
	    readable(m->target.ca_file, tpath, "ca_file"))
		return -1;
	if (tun) {
		snprintf(tpath, sizeof(tpath), "%s.ssh_tunnel", path);
		if (dw_req_ssh_tunnel(tun, tpath, &m->tunnel) ||
		    readable(m->tunnel.private_key_file, tpath, "private_key_file") ||
		    readable(m->tunnel.known_hosts_file, tpath, "known_hosts_file"))
			return -1;
		m->target.tunnel = &m->tunnel;
	}
	m->secret_id = dw_req_str(obj, "secret_id", NULL);
	int has_login = dw_req_str(obj, "user", NULL) ||
			cJSON_GetObjectItemCaseSensitive(obj, "password") ||
			cJSON_GetObjectItemCaseSensitive(obj, "password_env");
	if (m->secret_id && has_login)
		return dw_invalid("mysql.secret_id", "give mysql.secret_id, or mysql.user and "
				  "password, not both");
	if (m->secret_id)
		return 0;
	if (!dw_req_str(obj, "user", NULL))
		return dw_invalid("mysql.user", "mysql.user is required (or mysql.secret_id)");
	if (dw_req_secret(obj, "password", path, &m->password))
		return -1;
	if (!m->password)
		return dw_invalid("mysql.password", "mysql.password or mysql.password_env is "
				  "required");
	m->user = dw_xstrdup(dw_req_str(obj, "user", NULL));
	m->target.user = m->user;
	m->target.password = m->password;
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
