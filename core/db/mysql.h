/* dw/mysql.h - a MySQL/MariaDB connection (libmariadb) and the quoting
 * every statement built from request values goes through.
 *
 * TLS modes:
 *   DW_MYSQL_TLS_VERIFY    (default) TLS required; the server certificate
 *                          must chain to ca_file (or the system CAs) and
 *                          name the host connected to.
 *   DW_MYSQL_TLS_REQUIRED  TLS required, certificate not checked: for a
 *                          tunnel or proxy, where the host connected to can
 *                          never match the certificate.
 *   DW_MYSQL_TLS_DISABLED  no TLS: a local server, or a link already
 *                          encrypted by an SSH tunnel. */
#ifndef DW_MYSQL_H
#define DW_MYSQL_H

#include "base/buf.h"

enum dw_mysql_tls { DW_MYSQL_TLS_VERIFY, DW_MYSQL_TLS_REQUIRED, DW_MYSQL_TLS_DISABLED };

struct dw_mysql_config {
	const char *host;
	int port;
	const char *user;
	const char *password;
	enum dw_mysql_tls tls;
	const char *ca_file;    /* NULL: the system CAs */
	unsigned timeout_s;     /* connect, read and write; 0: 30 */
};

struct dw_mysql;

/* Connect with utf8mb4.  Server errors are raised redacted. */
int dw_mysql_connect(struct dw_mysql **out, const struct dw_mysql_config *cfg);
void dw_mysql_close(struct dw_mysql *db);

/* Run a statement and discard any result.  The statement text is never
 * logged (it may hold a password). */
int dw_mysql_exec(struct dw_mysql *db, const char *sql);

/* `name` with backticks doubled. */
void dw_mysql_quote_ident(struct dw_buf *out, const char *name);
/* 'text' escaped for the connection's character set.  The quoted form is
 * registered for redaction when secret is set. */
void dw_mysql_quote_string(struct dw_mysql *db, struct dw_buf *out,
			   const char *text, int secret);

/* 1 when name is 1..max_len characters of [A-Za-z0-9_] (what dwops agrees
 * to put in a user or database name). */
int dw_mysql_safe_name(const char *name, size_t max_len);

/* ---- connecting by request: host/port or endpoint, optional tunnel ---- */

struct dw_ssh_tunnel_config;
struct dw_ssh_tunnel;

/* Where and how to connect (the "mysql" object of dw-extract's request,
 * dw-snapshot's login): host and port, or endpoint "host:port"; through an
 * SSH bastion when tunnel is set (its target is filled in here). */
struct dw_mysql_target {
	const char *host;
	int port;                  /* 0: 3306 */
	const char *endpoint;      /* "host:port" or "[v6]:port" instead of host/port */
	const char *user;
	const char *password;
	enum dw_mysql_tls tls;
	const char *ca_file;
	const struct dw_ssh_tunnel_config *tunnel;
	unsigned timeout_s;
};

/* A connection and the tunnel it goes through (or NULL). */
struct dw_mysql_link {
	struct dw_mysql *db;
	struct dw_ssh_tunnel *tunnel;
};

/* "host:port" or "[v6]:port" (field names the request field in errors). */
int dw_mysql_endpoint_parse(const char *text, const char *field, char *host,
			    size_t host_len, int *port);
/* Open the tunnel (if any) and connect; on failure nothing is left open and
 * the tunnel's own error is added to the message. */
int dw_mysql_open(struct dw_mysql_link *l, const struct dw_mysql_target *t);
void dw_mysql_link_release(struct dw_mysql_link *l);

/* ---- prepared statements: values always reach the server as bound
 * parameters, results are read row by row (unbuffered: a page of any size
 * streams through the client's fixed column buffers). ---- */

struct dw_mysql_stmt;

enum dw_mysql_ptype { DW_MYSQL_P_NULL, DW_MYSQL_P_INT, DW_MYSQL_P_UINT, DW_MYSQL_P_STR };
struct dw_mysql_param {
	enum dw_mysql_ptype type;
	long long i;               /* P_INT; P_UINT as unsigned */
	const char *s;             /* P_STR */
};

enum dw_mysql_vtype {
	DW_MYSQL_V_NULL,
	DW_MYSQL_V_INT,            /* i */
	DW_MYSQL_V_UINT,           /* (unsigned long long)i */
	DW_MYSQL_V_DOUBLE,         /* d */
	DW_MYSQL_V_DECIMAL,        /* s: the exact digits */
	DW_MYSQL_V_TEMPORAL,       /* s: "2024-01-02 03:04:05.123456" (the column's decimals) */
	DW_MYSQL_V_TEXT,           /* s, len: utf8mb4 */
	DW_MYSQL_V_BINARY,         /* s, len: bytes */
};

struct dw_mysql_value {
	enum dw_mysql_vtype type;
	long long i;
	double d;
	const char *s;
	size_t len;
};

int dw_mysql_prepare(struct dw_mysql *db, const char *sql, struct dw_mysql_stmt **out);
void dw_mysql_stmt_free(struct dw_mysql_stmt *st);
/* Bind n parameters and execute; the rows are then read with fetch. */
int dw_mysql_stmt_execute(struct dw_mysql_stmt *st, const struct dw_mysql_param *p, size_t n);
size_t dw_mysql_stmt_columns(const struct dw_mysql_stmt *st);
const char *dw_mysql_stmt_column_name(const struct dw_mysql_stmt *st, size_t i);
/* The next row: 1 with *row (n columns, valid until the next fetch), 0 at
 * the end, -1 failed. */
int dw_mysql_stmt_fetch(struct dw_mysql_stmt *st, const struct dw_mysql_value **row);
/* Read the rest of the result away (before executing again). */
void dw_mysql_stmt_finish(struct dw_mysql_stmt *st);
/* A value as text ("" for NULL; integers and doubles printed), into out. */
void dw_mysql_value_text(const struct dw_mysql_value *v, struct dw_buf *out);
/* The server error number of the last failure on db (0: none). */
unsigned dw_mysql_errno(struct dw_mysql *db);

#endif
