/* mysql.c - libmariadb connections, and quoting for MySQL statements. */
#include "db/mysql.h"
#include "base/log.h"
#include "base/redact.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dw_mysql {
	MYSQL *conn;
	char where[300]; /* "user@host:port", for messages */
};

/* The server's message goes through dw_raise, so registered secrets that a
 * server echoes ("near '...'") are masked. */
static int raise_mysql(struct dw_mysql *db, const char *doing)
{
	return dw_fail("MySQLError", "%s on %s: %s (MySQL error %u)", doing, db->where,
		       mysql_error(db->conn), mysql_errno(db->conn));
}

static void set_tls(MYSQL *conn, const struct dw_mysql_config *cfg)
{
	my_bool on = 1, off = 0;

	if (cfg->tls == DW_MYSQL_TLS_DISABLED)
		return;
	mysql_optionsv(conn, MYSQL_OPT_SSL_ENFORCE, &on);
	if (cfg->ca_file)
		mysql_optionsv(conn, MYSQL_OPT_SSL_CA, cfg->ca_file);
	mysql_optionsv(conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
		       cfg->tls == DW_MYSQL_TLS_VERIFY ? &on : &off);
}

int dw_mysql_connect(struct dw_mysql **out, const struct dw_mysql_config *cfg)
{
	struct dw_mysql *db = dw_xcalloc(1, sizeof(*db));
	unsigned timeout = cfg->timeout_s ? cfg->timeout_s : 30;

	*out = NULL;
	snprintf(db->where, sizeof(db->where), "%s@%s:%d", cfg->user, cfg->host, cfg->port);
	db->conn = mysql_init(NULL);
	if (!db->conn) {
		free(db);
		return dw_fail("MySQLError", "cannot initialise the MySQL client");
	}
	mysql_optionsv(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_optionsv(db->conn, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_optionsv(db->conn, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_optionsv(db->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	set_tls(db->conn, cfg);
	if (!mysql_real_connect(db->conn, cfg->host, cfg->user, cfg->password, NULL,
				(unsigned)cfg->port, NULL, 0)) {
		raise_mysql(db, "connecting");
		dw_mysql_close(db);
		return -1;
	}
	dw_info("connected to MySQL %s as %s (%s)", mysql_get_server_info(db->conn), db->where,
		mysql_get_ssl_cipher(db->conn) ? "TLS" : "no TLS");
	*out = db;
	return 0;
}

void dw_mysql_close(struct dw_mysql *db)
{
	if (!db)
		return;
	mysql_close(db->conn);
	free(db);
}

int dw_mysql_exec(struct dw_mysql *db, const char *sql)
{
	if (mysql_real_query(db->conn, sql, strlen(sql)))
		return raise_mysql(db, "running a statement");
	MYSQL_RES *res = mysql_store_result(db->conn);
	if (res)
		mysql_free_result(res);
	else if (mysql_field_count(db->conn) != 0)
		return raise_mysql(db, "reading a result");
	return 0;
}

void dw_mysql_quote_ident(struct dw_buf *out, const char *name)
{
	dw_buf_putc(out, '`');
	for (const char *p = name; *p; p++) {
		if (*p == '`')
			dw_buf_putc(out, '`');
		dw_buf_putc(out, *p);
	}
	dw_buf_putc(out, '`');
}

void dw_mysql_quote_string(struct dw_mysql *db, struct dw_buf *out,
			   const char *text, int secret)
{
	size_t len = strlen(text);
	char *escaped = dw_xmalloc(2 * len + 1);

	mysql_real_escape_string(db->conn, escaped, text, (unsigned long)len);
	if (secret)
		dw_redact_secret(escaped);
	dw_buf_putc(out, '\'');
	dw_buf_puts(out, escaped);
	dw_buf_putc(out, '\'');
	free(escaped);
}

int dw_mysql_safe_name(const char *name, size_t max_len)
{
	size_t len = strlen(name);

	if (len == 0 || len > max_len)
		return 0;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

int dw_mysql_tls_from_string(const char *s, enum dw_mysql_tls *out)
{
	static const char *const names[] = { "verify", "required", "disabled" };

	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum dw_mysql_tls)i;
			return 0;
		}
	return dw_invalid("tls.mode", "tls.mode must be one of: verify, required, disabled");
}
