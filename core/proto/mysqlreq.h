/* proto/mysqlreq.h - the request fields of a MySQL connection, shared by
 * the operators that connect to one (dw-snapshot's login, dw-extract's
 * source): TLS modes, an SSH tunnel, and for dw-extract the whole "mysql"
 * object (host/port or endpoint, user, password/password_env or secret_id). */
#ifndef DW_MYSQLREQ_H
#define DW_MYSQLREQ_H

#include "proto/req.h"
#include "db/mysql.h"
#include "db/ssh.h"

struct dw_aws;

/* tls {mode, ca_file}, bound by dw_mysql_tls_fields. */
struct dw_mysql_tls_req {
	int mode;                   /* the choices' index: enum dw_mysql_tls */
	const char *ca_file;
};

/* Bound tables: tls into struct dw_mysql_tls_req, ssh_tunnel into struct
 * dw_ssh_tunnel_config, the mysql object into struct dw_mysql_req (its tls
 * and ssh_tunnel objects are bound in turn by dw_req_mysql). */
extern const struct dw_field dw_mysql_tls_fields[];
extern const struct dw_field dw_ssh_tunnel_fields[];
extern const struct dw_field dw_mysql_fields[];

/* tls {mode, ca_file} (NULL: verify with the system CAs); path names the
 * object in errors ("tls", "mysql.tls"). */
int dw_req_mysql_tls(const cJSON *tls, const char *path, enum dw_mysql_tls *mode,
		     const char **ca_file);
/* ssh_tunnel {host, port, user, private_key_file, known_hosts_file}; the
 * files must be readable. */
int dw_req_ssh_tunnel(const cJSON *t, const char *path, struct dw_ssh_tunnel_config *cfg);

/* A "mysql" object read (dw_mysql_fields).  Strings are borrowed from the
 * request, user and password owned (password registered for redaction). */
struct dw_mysql_req {
	struct dw_mysql_target target;
	struct dw_ssh_tunnel_config tunnel;
	const char *secret_id;
	const char *given_user;        /* borrowed from the request */
	const cJSON *tls, *ssh_tunnel; /* borrowed; read by dw_req_mysql */
	char *user, *password;         /* the login (owned) */
};

/* Everything but the secret (so a bad request is rejected before AWS is
 * asked): 0, or -1 with DW_INVALID naming the field. */
int dw_req_mysql(const cJSON *obj, const char *path, struct dw_mysql_req *m);
/* The login from Secrets Manager when secret_id was given. */
int dw_req_mysql_login(struct dw_aws *aws, struct dw_mysql_req *m);
void dw_mysql_req_release(struct dw_mysql_req *m);

#endif
