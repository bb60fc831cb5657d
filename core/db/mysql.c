/* mysql.c - libmariadb connections, and quoting for MySQL statements. */
#include "db/mysql.h"
#include "base/log.h"
#include "base/redact.h"
#include "db/ssh.h"

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

unsigned dw_mysql_errno(struct dw_mysql *db)
{
	return db ? mysql_errno(db->conn) : 0;
}

/* ---- connecting by request ---------------------------------------------- */

int dw_mysql_endpoint_parse(const char *text, const char *field, char *host,
			    size_t host_len, int *port)
{
	const char *colon = strrchr(text, ':');
	char *end;
	long p;

	if (!colon || colon == text)
		return dw_invalid(field, "%s must be host:port", field);
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535)
		return dw_invalid(field, "%s has no valid port", field);
	size_t n = (size_t)(colon - text);
	if (text[0] == '[' && colon[-1] == ']') {
		text++;
		n -= 2;
	}
	if (n == 0 || n >= host_len)
		return dw_invalid(field, "%s has no valid host", field);
	memcpy(host, text, n);
	host[n] = '\0';
	*port = (int)p;
	return 0;
}

int dw_mysql_open(struct dw_mysql_link *l, const struct dw_mysql_target *t)
{
	char host[256];
	int port = t->port ? t->port : 3306;

	l->db = NULL;
	l->tunnel = NULL;
	snprintf(host, sizeof(host), "%s", t->host ? t->host : "");
	if (t->endpoint && dw_mysql_endpoint_parse(t->endpoint, "mysql.endpoint", host,
						   sizeof(host), &port))
		return -1;
	if (!host[0])
		return dw_invalid("mysql.host", "mysql needs host or endpoint");
	if (t->tunnel) {
		struct dw_ssh_tunnel_config tc = *t->tunnel;
		tc.target_host = host;
		tc.target_port = port;
		if (dw_ssh_tunnel_open(&l->tunnel, &tc))
			return -1;
		snprintf(host, sizeof(host), "127.0.0.1");
		port = dw_ssh_tunnel_port(l->tunnel);
	}
	struct dw_mysql_config cfg = {
		.host = host, .port = port, .user = t->user, .password = t->password,
		.tls = t->tls, .ca_file = t->ca_file, .timeout_s = t->timeout_s,
	};
	if (dw_mysql_connect(&l->db, &cfg)) {
		if (l->tunnel) {
			char why[512];
			dw_ssh_tunnel_error(l->tunnel, why, sizeof(why));
			if (why[0])
				dw_error_context("through the SSH tunnel (%s)", why);
		}
		dw_mysql_link_release(l);
		return -1;
	}
	return 0;
}

void dw_mysql_link_release(struct dw_mysql_link *l)
{
	dw_mysql_close(l->db);
	dw_ssh_tunnel_close(l->tunnel);
	l->db = NULL;
	l->tunnel = NULL;
}

/* ---- prepared statements ------------------------------------------------ */

struct column {
	enum dw_mysql_vtype type;
	enum enum_field_types ftype;
	unsigned decimals;
	char *name;
	char *buf;                 /* strings, decimals */
	unsigned long cap, length;
	long long i;
	double d;
	MYSQL_TIME t;
	my_bool is_null, error;
	char text[40];             /* a temporal value formatted */
};

struct dw_mysql_stmt {
	struct dw_mysql *db;
	MYSQL_STMT *st;
	MYSQL_BIND *out;
	struct column *cols;
	struct dw_mysql_value *row;
	size_t n;
	int bound, executed;
};

static int raise_stmt(struct dw_mysql_stmt *s, const char *doing)
{
	return dw_fail("MySQLError", "%s on %s: %s (MySQL error %u)", doing, s->db->where,
		       mysql_stmt_error(s->st), mysql_stmt_errno(s->st));
}

int dw_mysql_prepare(struct dw_mysql *db, const char *sql, struct dw_mysql_stmt **out)
{
	struct dw_mysql_stmt *s = dw_xcalloc(1, sizeof(*s));

	*out = NULL;
	s->db = db;
	s->st = mysql_stmt_init(db->conn);
	if (!s->st) {
		free(s);
		return raise_mysql(db, "preparing a statement");
	}
	if (mysql_stmt_prepare(s->st, sql, strlen(sql))) {
		raise_stmt(s, "preparing a statement");
		dw_mysql_stmt_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

static void free_columns(struct dw_mysql_stmt *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->cols[i].buf);
		free(s->cols[i].name);
	}
	free(s->cols);
	free(s->out);
	free(s->row);
	s->cols = NULL;
	s->out = NULL;
	s->row = NULL;
	s->n = 0;
	s->bound = 0;
}

void dw_mysql_stmt_free(struct dw_mysql_stmt *s)
{
	if (!s)
		return;
	if (s->st)
		mysql_stmt_close(s->st);
	free_columns(s);
	free(s);
}

static enum dw_mysql_vtype vtype_of(const MYSQL_FIELD *f)
{
	switch (f->type) {
	case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_INT24:
	case MYSQL_TYPE_LONG: case MYSQL_TYPE_LONGLONG: case MYSQL_TYPE_YEAR:
		return (f->flags & UNSIGNED_FLAG) ? DW_MYSQL_V_UINT : DW_MYSQL_V_INT;
	case MYSQL_TYPE_FLOAT: case MYSQL_TYPE_DOUBLE:
		return DW_MYSQL_V_DOUBLE;
	case MYSQL_TYPE_DECIMAL: case MYSQL_TYPE_NEWDECIMAL:
		return DW_MYSQL_V_DECIMAL;
	case MYSQL_TYPE_DATE: case MYSQL_TYPE_DATETIME: case MYSQL_TYPE_TIMESTAMP:
	case MYSQL_TYPE_TIME: case MYSQL_TYPE_NEWDATE:
		return DW_MYSQL_V_TEMPORAL;
	case MYSQL_TYPE_BIT: case MYSQL_TYPE_GEOMETRY:
		return DW_MYSQL_V_BINARY;
	default:
		/* character set 63 is "binary": BLOB, BINARY, VARBINARY */
		return f->charsetnr == 63 ? DW_MYSQL_V_BINARY : DW_MYSQL_V_TEXT;
	}
}

/* Text columns start with a buffer of their declared size up to 64 KiB
 * (wider values are read whole with mysql_stmt_fetch_column on truncation). */
#define INITIAL_CAP 65536UL

static int bind_results(struct dw_mysql_stmt *s)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(s->st);
	MYSQL_FIELD *f;

	free_columns(s);
	if (!meta)
		return 0;
	s->n = mysql_num_fields(meta);
	f = mysql_fetch_fields(meta);
	s->cols = dw_xcalloc(s->n ? s->n : 1, sizeof(*s->cols));
	s->out = dw_xcalloc(s->n ? s->n : 1, sizeof(*s->out));
	s->row = dw_xcalloc(s->n ? s->n : 1, sizeof(*s->row));
	for (size_t i = 0; i < s->n; i++) {
		struct column *c = &s->cols[i];
		MYSQL_BIND *b = &s->out[i];
		c->type = vtype_of(&f[i]);
		c->ftype = f[i].type;
		c->decimals = f[i].decimals > 6 ? 0 : f[i].decimals;
		c->name = dw_xstrdup(f[i].name);
		b->is_null = &c->is_null;
		b->error = &c->error;
		b->length = &c->length;
		switch (c->type) {
		case DW_MYSQL_V_INT: case DW_MYSQL_V_UINT:
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &c->i;
			b->is_unsigned = c->type == DW_MYSQL_V_UINT;
			break;
		case DW_MYSQL_V_DOUBLE:
			b->buffer_type = MYSQL_TYPE_DOUBLE;
			b->buffer = &c->d;
			break;
		case DW_MYSQL_V_TEMPORAL:
			b->buffer_type = c->ftype == MYSQL_TYPE_NEWDATE ? MYSQL_TYPE_DATE : c->ftype;
			b->buffer = &c->t;
			b->buffer_length = sizeof(c->t);
			break;
		default:
			c->cap = f[i].length && f[i].length < INITIAL_CAP ? f[i].length + 1 : INITIAL_CAP;
			c->buf = dw_xmalloc(c->cap);
			b->buffer_type = MYSQL_TYPE_STRING;
			b->buffer = c->buf;
			b->buffer_length = c->cap;
			break;
		}
	}
	mysql_free_result(meta);
	if (mysql_stmt_bind_result(s->st, s->out))
		return raise_stmt(s, "binding a result");
	s->bound = 1;
	return 0;
}

int dw_mysql_stmt_execute(struct dw_mysql_stmt *s, const struct dw_mysql_param *p, size_t n)
{
	MYSQL_BIND *in;
	int rc = 0;

	dw_mysql_stmt_finish(s);
	if (n != mysql_stmt_param_count(s->st))
		return dw_fail("InternalError", "a statement with %lu parameters was given %zu",
			       mysql_stmt_param_count(s->st), n);
	in = dw_xcalloc(n ? n : 1, sizeof(*in));
	for (size_t i = 0; i < n; i++) {
		switch (p[i].type) {
		case DW_MYSQL_P_NULL:
			in[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		case DW_MYSQL_P_INT: case DW_MYSQL_P_UINT:
			in[i].buffer_type = MYSQL_TYPE_LONGLONG;
			in[i].buffer = (void *)&p[i].i;
			in[i].is_unsigned = p[i].type == DW_MYSQL_P_UINT;
			break;
		case DW_MYSQL_P_STR:
			in[i].buffer_type = MYSQL_TYPE_STRING;
			in[i].buffer = (void *)p[i].s;
			in[i].buffer_length = strlen(p[i].s);
			break;
		}
	}
	if (n && mysql_stmt_bind_param(s->st, in))
		rc = raise_stmt(s, "binding parameters");
	if (rc == 0 && mysql_stmt_execute(s->st))
		rc = raise_stmt(s, "running a query");
	free(in);
	if (rc == 0 && !s->bound)
		rc = bind_results(s);
	if (rc == 0)
		s->executed = 1;
	return rc;
}

size_t dw_mysql_stmt_columns(const struct dw_mysql_stmt *s)
{
	return s->n;
}

const char *dw_mysql_stmt_column_name(const struct dw_mysql_stmt *s, size_t i)
{
	return i < s->n ? s->cols[i].name : NULL;
}

/* n digits of v at p (zero-padded); returns p + n. */
static char *digits(char *p, unsigned long v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/* "YYYY-MM-DD", "[-]HH:MM:SS" or "YYYY-MM-DD HH:MM:SS", then the column's
 * fractional digits (snprintf per value was a tenth of an extract's CPU). */
static void format_time(struct column *c)
{
	const MYSQL_TIME *t = &c->t;
	char *p = c->text;

	if (c->ftype == MYSQL_TYPE_TIME) {
		unsigned long h = t->hour + 24UL * t->day;
		if (t->neg)
			*p++ = '-';
		p = digits(p, h, h > 99 ? (h > 999 ? 4 : 3) : 2);
	} else {
		p = digits(p, t->year % 10000, 4);
		*p++ = '-';
		p = digits(p, t->month % 100, 2);
		*p++ = '-';
		p = digits(p, t->day % 100, 2);
		if (c->ftype == MYSQL_TYPE_DATE || c->ftype == MYSQL_TYPE_NEWDATE) {
			*p = '\0';
			return;
		}
		*p++ = ' ';
		p = digits(p, t->hour % 100, 2);
	}
	*p++ = ':';
	p = digits(p, t->minute % 100, 2);
	*p++ = ':';
	p = digits(p, t->second % 100, 2);
	if (c->decimals > 0) {
		char frac[6];
		digits(frac, t->second_part % 1000000UL, 6);
		*p++ = '.';
		memcpy(p, frac, c->decimals);
		p += c->decimals;
	}
	*p = '\0';
}

/* A value wider than its buffer: grow the buffer and read it whole. */
static int fetch_whole(struct dw_mysql_stmt *s, size_t i)
{
	struct column *c = &s->cols[i];
	MYSQL_BIND *b = &s->out[i];

	c->cap = c->length + 1;
	c->buf = dw_xrealloc(c->buf, c->cap);
	b->buffer = c->buf;
	b->buffer_length = c->cap;
	if (mysql_stmt_fetch_column(s->st, b, (unsigned)i, 0))
		return raise_stmt(s, "reading a wide value");
	/* the next rows use the grown buffer */
	return mysql_stmt_bind_result(s->st, s->out) ? raise_stmt(s, "binding a result") : 0;
}

int dw_mysql_stmt_fetch(struct dw_mysql_stmt *s, const struct dw_mysql_value **row)
{
	int rc;

	*row = NULL;
	if (!s->executed)
		return 0;
	rc = mysql_stmt_fetch(s->st);
	if (rc == MYSQL_NO_DATA) {
		s->executed = 0;
		return 0;
	}
	if (rc == 1) {
		s->executed = 0;
		return raise_stmt(s, "reading a row");
	}
	for (size_t i = 0; i < s->n; i++) {
		struct column *c = &s->cols[i];
		struct dw_mysql_value *v = &s->row[i];
		if (c->is_null) {
			v->type = DW_MYSQL_V_NULL;
			continue;
		}
		v->type = c->type;
		switch (c->type) {
		case DW_MYSQL_V_INT: case DW_MYSQL_V_UINT:
			v->i = c->i;
			break;
		case DW_MYSQL_V_DOUBLE:
			v->d = c->d;
			break;
		case DW_MYSQL_V_TEMPORAL:
			format_time(c);
			v->s = c->text;
			v->len = strlen(c->text);
			break;
		default:
			if (c->length >= c->cap && fetch_whole(s, i)) {
				s->executed = 0;
				return -1;
			}
			c->buf[c->length] = '\0';
			v->s = c->buf;
			v->len = c->length;
			break;
		}
	}
	*row = s->row;
	return 1;
}

void dw_mysql_stmt_finish(struct dw_mysql_stmt *s)
{
	if (s->executed)
		mysql_stmt_free_result(s->st);
	s->executed = 0;
}

void dw_mysql_value_text(const struct dw_mysql_value *v, struct dw_buf *out)
{
	switch (v->type) {
	case DW_MYSQL_V_NULL:
		break;
	case DW_MYSQL_V_INT:
		dw_buf_printf(out, "%lld", v->i);
		break;
	case DW_MYSQL_V_UINT:
		dw_buf_printf(out, "%llu", (unsigned long long)v->i);
		break;
	case DW_MYSQL_V_DOUBLE:
		dw_buf_printf(out, "%.17g", v->d);
		break;
	default:
		dw_buf_append(out, v->s, v->len);
		break;
	}
}
