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

/* Parse "verify", "required" or "disabled". */
int dw_mysql_tls_from_string(const char *s, enum dw_mysql_tls *out);

#endif
