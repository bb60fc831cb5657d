/* extract.c - dw-extract: incremental extract over a (cursor, tiebreak)
 * keyset, the watermark moved only after the sink took a whole page. */
#include "ops/extract.h"
#include "aws/dynamodb.h"
#include "aws/firehose.h"
#include "aws/kinesis.h"
#include "aws/s3.h"
#include "aws/ssm.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Kinesis partition keys are 1 to 256 characters: a longer (or empty)
 * primary key is replaced by its hex SHA-256. */
#define MAX_PARTITION_KEY 256

void dw_extract_result_init(struct dw_extract_result *r)
{
	memset(r, 0, sizeof(*r));
	r->complete = 1;
}

void dw_extract_result_release(struct dw_extract_result *r)
{
	free(r->from_cursor);
	free(r->from_tiebreak);
	free(r->to_cursor);
	free(r->to_tiebreak);
	free(r->upper_bound);
	free(r->source_now);
	free(r->oldest_trx);
	free(r->index);
	dw_extract_result_init(r);
}

static cJSON *str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *watermark_json(const char *cursor, const char *tiebreak)
{
	cJSON *w;

	if (!cursor)
		return cJSON_CreateNull();
	w = cJSON_CreateObject();
	cJSON_AddStringToObject(w, "cursor", cursor);
	cJSON_AddItemToObject(w, "tiebreak", str_or_null(tiebreak));
	return w;
}

void dw_extract_result_json(const struct dw_extract_result *r, cJSON *obj, int run)
{
	if (r->run_id[0])
		cJSON_AddStringToObject(obj, "run_id", r->run_id);
	if (run) {
		dw_json_add_int(obj, "rows", r->rows);
		dw_json_add_int(obj, "pages", r->pages);
		dw_json_add_int(obj, "records_sent", r->records_sent);
		dw_json_add_int(obj, "record_retries", r->record_retries);
		dw_json_add_int(obj, "calls", r->calls);
		cJSON_AddItemToObject(obj, "watermark_from",
				      watermark_json(r->from_cursor, r->from_tiebreak));
	}
	cJSON_AddItemToObject(obj, run ? "watermark_to" : "watermark",
			      watermark_json(r->to_cursor, r->to_tiebreak));
	if (run || r->upper_bound) {
		cJSON_AddItemToObject(obj, "upper_bound", str_or_null(r->upper_bound));
		cJSON_AddBoolToObject(obj, "guarded_open_transactions", r->guarded);
		cJSON_AddItemToObject(obj, "oldest_open_transaction", str_or_null(r->oldest_trx));
	}
	if (r->source_now)
		cJSON_AddStringToObject(obj, "source_now", r->source_now);
	if (r->has_lag)
		dw_json_add_int(obj, "lag_s", r->lag_s);
	if (run) {
		dw_json_add_int(obj, "null_cursor_rows", r->null_cursor_rows);
		cJSON_AddBoolToObject(obj, "complete", r->complete);
		cJSON_AddItemToObject(obj, "index", str_or_null(r->index));
		if (r->fence)
			dw_json_add_int(obj, "fencing_token", r->fence);
	}
	dw_json_add_int(obj, "state_version", r->state_version);
}

/* ---- checks ---------------------------------------------------------------- */

int dw_extract_safe_ident(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '$')
			return 0;
	return 1;
}

static int split_table(const char *table, char *db, char *name)
{
	const char *dot = table ? strchr(table, '.') : NULL;

	if (!dot || (size_t)(dot - table) > 64 || strlen(dot + 1) > 64)
		return dw_invalid("table", "table must be database.table");
	memcpy(db, table, (size_t)(dot - table));
	db[dot - table] = '\0';
	snprintf(name, 65, "%s", dot + 1);
	if (!dw_extract_safe_ident(db) || !dw_extract_safe_ident(name))
		return dw_invalid("table", "table \"%s\": database and table names must be 1 to "
				  "64 letters, digits, _ or $ (other names are refused, not quoted)",
				  table);
	return 0;
}

/* "YYYY-MM-DD HH:MM:SS[.f{1,6}]" */
static int datetime_text(const char *s)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd";
	size_t i;

	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return 0;
	if (!s[i])
		return 1;
	if (s[i] != '.')
		return 0;
	size_t n = strspn(s + i + 1, "0123456789");
	return n >= 1 && n <= 6 && !s[i + 1 + n];
}

int dw_extract_check(const struct dw_extract_opts *o)
{
	char db[65], name[65];

	if (split_table(o->table, db, name))
		return -1;
	if (!o->cursor || !dw_extract_safe_ident(o->cursor))
		return dw_invalid("cursor.column", "cursor.column must be a column name of 1 to 64 "
				  "letters, digits, _ or $");
	if (o->tiebreak && !dw_extract_safe_ident(o->tiebreak))
		return dw_invalid("cursor.tiebreak", "cursor.tiebreak must be a column name of 1 to "
				  "64 letters, digits, _ or $");
	for (size_t i = 0; i < o->n_columns; i++)
		if (!dw_extract_safe_ident(o->columns[i]))
			return dw_invalid("columns", "columns[%zu] \"%s\" is not a name dwops quotes "
					  "(1 to 64 letters, digits, _ or $)", i, o->columns[i]);
	if (!o->state_name || !*o->state_name)
		return dw_invalid("state.name", "state.name is required");
	if (o->store == DW_EXTRACT_SSM && o->state_name[0] != '/')
		return dw_invalid("state.name", "an SSM parameter name starts with /");
	if (o->sink == DW_EXTRACT_S3 && (!o->bucket || !*o->bucket))
		return dw_invalid("sink.bucket", "the s3 sink needs a bucket");
	if (o->sink != DW_EXTRACT_S3 && (!o->stream || !*o->stream))
		return dw_invalid("sink.stream", "the %s sink needs a stream",
				  o->sink == DW_EXTRACT_KINESIS ? "kinesis" : "firehose");
	if (o->reset_cursor && !datetime_text(o->reset_cursor))
		return dw_invalid("cursor_value", "cursor_value must be \"YYYY-MM-DD HH:MM:SS[.ffffff]\" "
				  "(UTC)");
	if (o->reset_tiebreak && !o->reset_cursor)
		return dw_invalid("tiebreak_value", "tiebreak_value needs cursor_value");
	return 0;
}

/* ---- the stored watermark ---------------------------------------------------- */

char *dw_extract_state_text(const char *cursor, const char *tiebreak, const char *table,
			    const char *run_id)
{
	cJSON *o = cJSON_CreateObject();
	char now[32];
	char *text;

	dw_time_format_iso(time(NULL), now);
	cJSON_AddItemToObject(o, "cursor", str_or_null(cursor));
	cJSON_AddItemToObject(o, "tiebreak", str_or_null(tiebreak));
	cJSON_AddStringToObject(o, "table", table);
	cJSON_AddItemToObject(o, "run_id", str_or_null(run_id));
	cJSON_AddStringToObject(o, "updated_at", now);
	text = dw_json_print(o);
	cJSON_Delete(o);
	return text;
}

int dw_extract_state_parse(const char *text, char **cursor, char **tiebreak)
{
	cJSON *o = NULL;
	const cJSON *c, *t;

	*cursor = *tiebreak = NULL;
	if (!text || dw_json_parse(text, strlen(text), "watermark", &o) || !cJSON_IsObject(o)) {
		dw_error_clear();
		cJSON_Delete(o);
		return dw_fail("WatermarkInvalid", "the stored watermark is not a JSON object");
	}
	c = cJSON_GetObjectItemCaseSensitive(o, "cursor");
	t = cJSON_GetObjectItemCaseSensitive(o, "tiebreak");
	if (!(cJSON_IsNull(c) || (cJSON_IsString(c) && datetime_text(c->valuestring))) ||
	    !(cJSON_IsNull(t) || cJSON_IsString(t)) || (cJSON_IsNull(c) && cJSON_IsString(t))) {
		cJSON_Delete(o);
		return dw_fail("WatermarkInvalid", "the stored watermark has no valid cursor "
			       "(\"YYYY-MM-DD HH:MM:SS[.ffffff]\" or null) and tiebreak");
	}
	if (cJSON_IsString(c))
		*cursor = dw_xstrdup(c->valuestring);
	if (cJSON_IsString(t))
		*tiebreak = dw_xstrdup(t->valuestring);
	cJSON_Delete(o);
	return 0;
}

/* ---- the table ----------------------------------------------------------------- */

/* information_schema.COLUMNS: name, data type, column type, nullable */
struct colinfo {
	char *name, *type;
	int is_unsigned, nullable;
};

/* information_schema.STATISTICS: index, non_unique, seq, column */
struct idxinfo {
	char *index, *column;
	long long non_unique, seq;
};

struct run {
	struct dw_aws *aws;
	const struct dw_extract_opts *o;
	struct dw_extract_result *r;
	struct dw_mysql_link link;
	char db[65], name[65];
	char **cols;                  /* the row's columns */
	size_t n_cols;
	const char *tiebreak;         /* resolved: the request's or the primary key */
	char *pk;                     /* the primary key column (one) */
	int tie_int, tie_unsigned, cursor_nullable;
	struct dw_mysql_stmt *page_stmt[3]; /* no watermark, cursor only, keyset */
	/* the watermark read, and its store's version */
	char *wm_cursor, *wm_tie;
	long long version;
	/* the lease */
	struct dw_lock_opts lk;
	struct dw_lock_lease lease;
	int leased;
	char *holder, *lease_id, *resource;
	/* a page */
	struct dw_buf lines, keys, head;
	char **col_keys;              /* ,"col": per column */
	size_t *rec;                  /* per record: line start, line end, key start */
	size_t n_rec, cap_rec;
	char *first_cursor, *first_tie;
	struct timespec started;
	/* the table's columns and indexes, while load_table runs */
	struct colinfo *ci;
	size_t n_ci;
	struct idxinfo *ii;
	size_t n_ii;
};

/* Run sql with params; each row goes to fn (return 0 to go on). */
typedef int (*row_fn)(struct run *x, const struct dw_mysql_value *row, size_t n);

static int query(struct run *x, const char *sql, const struct dw_mysql_param *p, size_t np,
		 row_fn fn)
{
	struct dw_mysql_stmt *st = NULL;
	const struct dw_mysql_value *row;
	int rc;

	if (dw_mysql_prepare(x->link.db, sql, &st))
		return -1;
	rc = dw_mysql_stmt_execute(st, p, np);
	while (rc == 0 && (rc = dw_mysql_stmt_fetch(st, &row)) == 1)
		rc = fn(x, row, dw_mysql_stmt_columns(st));
	if (rc == 1)
		rc = 0;
	dw_mysql_stmt_free(st);
	return rc < 0 ? -1 : 0;
}

static char *text_of(const struct dw_mysql_value *v)
{
	struct dw_buf b;

	if (v->type == DW_MYSQL_V_NULL)
		return NULL;
	dw_buf_init(&b);
	dw_mysql_value_text(v, &b);
	dw_buf_putc(&b, '\0');
	return dw_buf_detach(&b);
}


static int on_column(struct run *x, const struct dw_mysql_value *row, size_t n)
{
	if (n < 4 || row[0].type == DW_MYSQL_V_NULL || row[1].type == DW_MYSQL_V_NULL)
		return dw_fail("MySQLError", "information_schema.COLUMNS answered an odd row");
	x->ci = dw_xrealloc(x->ci, (x->n_ci + 1) * sizeof(*x->ci));
	x->ci[x->n_ci].name = text_of(&row[0]);
	x->ci[x->n_ci].type = text_of(&row[1]);
	char *ct = text_of(&row[2]);
	x->ci[x->n_ci].is_unsigned = ct && strstr(ct, "unsigned") != NULL;
	free(ct);
	char *nl = text_of(&row[3]);
	x->ci[x->n_ci].nullable = nl && strcmp(nl, "YES") == 0;
	free(nl);
	x->n_ci++;
	return 0;
}


static int on_index(struct run *x, const struct dw_mysql_value *row, size_t n)
{
	if (n < 4 || row[0].type == DW_MYSQL_V_NULL || row[3].type == DW_MYSQL_V_NULL)
		return dw_fail("MySQLError", "information_schema.STATISTICS answered an odd row");
	x->ii = dw_xrealloc(x->ii, (x->n_ii + 1) * sizeof(*x->ii));
	x->ii[x->n_ii].index = text_of(&row[0]);
	x->ii[x->n_ii].column = text_of(&row[3]);
	x->ii[x->n_ii].non_unique = row[1].i;
	x->ii[x->n_ii].seq = row[2].i;
	x->n_ii++;
	return 0;
}

static void free_info(struct run *x)
{
	for (size_t i = 0; i < x->n_ci; i++) {
		free(x->ci[i].name);
		free(x->ci[i].type);
	}
	for (size_t i = 0; i < x->n_ii; i++) {
		free(x->ii[i].index);
		free(x->ii[i].column);
	}
	free(x->ci);
	free(x->ii);
	x->ci = NULL;
	x->ii = NULL;
	x->n_ci = x->n_ii = 0;
}

static const struct colinfo *find_col(const struct run *x, const char *name)
{
	for (size_t i = 0; i < x->n_ci; i++)
		if (strcasecmp(x->ci[i].name, name) == 0)
			return &x->ci[i];
	return NULL;
}

/* The columns of index name, in order, as "a,b" (no more than 2 needed). */
static size_t index_columns(const struct run *x, const char *index, const char **first, const char **second)
{
	size_t n = 0;

	*first = *second = NULL;
	for (size_t i = 0; i < x->n_ii; i++) {
		if (strcmp(x->ii[i].index, index) != 0)
			continue;
		n++;
		if (x->ii[i].seq == 1)
			*first = x->ii[i].column;
		else if (x->ii[i].seq == 2)
			*second = x->ii[i].column;
	}
	return n;
}

static int is_int_type(const char *t)
{
	static const char *const ints[] = { "tinyint", "smallint", "mediumint", "int", "bigint",
					    NULL };

	for (const char *const *p = ints; *p; p++)
		if (strcasecmp(t, *p) == 0)
			return 1;
	return 0;
}

static int is_key_string_type(const char *t)
{
	return strcasecmp(t, "char") == 0 || strcasecmp(t, "varchar") == 0;
}

/* The primary key (one column), the tiebreak (the key, or a column with a
 * one-column unique index), and the index that serves the keyset. */
static int resolve_keys(struct run *x)
{
	const char *a, *b;
	size_t n = index_columns(x, "PRIMARY", &a, &b);

	if (n > 1 && !x->o->tiebreak)
		return dw_invalid("cursor.tiebreak", "%s.%s has a primary key of %zu columns: give "
				  "cursor.tiebreak, a column with a unique index of its own",
				  x->db, x->name, n);
	if (n == 0)
		return dw_invalid("table", "%s.%s has no primary key: a table without one is "
				  "refused", x->db, x->name);
	x->pk = dw_xstrdup(n == 1 ? a : "");
	x->tiebreak = x->o->tiebreak ? x->o->tiebreak : x->pk;
	if (strcasecmp(x->tiebreak, x->pk) != 0) {
		int unique = 0;
		for (size_t i = 0; i < x->n_ii && !unique; i++)
			if (!x->ii[i].non_unique && index_columns(x, x->ii[i].index, &a, &b) == 1 &&
			    a && strcasecmp(a, x->tiebreak) == 0)
				unique = 1;
		if (!unique)
			return dw_invalid("cursor.tiebreak", "cursor.tiebreak %s has no unique index "
					  "of its own: rows sharing a cursor value could not be told "
					  "apart", x->tiebreak);
	}
	const struct colinfo *t = find_col(x, x->tiebreak);
	if (!t || !(is_int_type(t->type) || is_key_string_type(t->type)))
		return dw_invalid("cursor.tiebreak", "the tiebreak %s must be an integer, CHAR or "
				  "VARCHAR column", x->tiebreak);
	x->tie_int = is_int_type(t->type);
	x->tie_unsigned = t->is_unsigned;
	/* An index starting (cursor, tiebreak); or (cursor) when the tiebreak
	 * is the primary key, which InnoDB appends to every secondary index. */
	for (size_t i = 0; i < x->n_ii && !x->r->index; i++) {
		if (x->ii[i].seq != 1 || strcasecmp(x->ii[i].column, x->o->cursor) != 0)
			continue;
		index_columns(x, x->ii[i].index, &a, &b);
		if ((b && strcasecmp(b, x->tiebreak) == 0) ||
		    (!b && strcasecmp(x->tiebreak, x->pk) == 0))
			x->r->index = dw_xstrdup(x->ii[i].index);
	}
	if (!x->r->index)
		dw_warn("%s.%s has no index on (%s, %s): every page reads the table; "
			"CREATE INDEX ... (%s, %s)", x->db, x->name, x->o->cursor, x->tiebreak,
			x->o->cursor, x->tiebreak);
	return 0;
}

static int pick_columns(struct run *x)
{
	const struct colinfo *c = find_col(x, x->o->cursor);

	if (!c)
		return dw_invalid("cursor.column", "%s.%s has no column %s", x->db, x->name,
				  x->o->cursor);
	if (strcasecmp(c->type, "datetime") != 0 && strcasecmp(c->type, "timestamp") != 0)
		return dw_invalid("cursor.column", "the cursor %s is %s: it must be DATETIME or "
				  "TIMESTAMP", x->o->cursor, c->type);
	x->cursor_nullable = c->nullable;
	size_t n = x->o->columns ? x->o->n_columns : x->n_ci;
	x->cols = dw_xcalloc(n ? n : 1, sizeof(*x->cols));
	for (size_t i = 0; i < n; i++) {
		const char *name = x->o->columns ? x->o->columns[i] : x->ci[i].name;
		if (!find_col(x, name))
			return dw_invalid("columns", "%s.%s has no column %s", x->db, x->name, name);
		if (!dw_extract_safe_ident(name))
			return dw_invalid("columns", "%s.%s has a column whose name dwops does not "
					  "quote (letters, digits, _ and $ only): list the columns "
					  "to extract in columns", x->db, x->name);
		x->cols[x->n_cols++] = dw_xstrdup(name);
	}
	return 0;
}

static int load_table(struct run *x)
{
	struct dw_mysql_param p[2] = {
		{ .type = DW_MYSQL_P_STR, .s = x->db }, { .type = DW_MYSQL_P_STR, .s = x->name },
	};
	int rc;

	rc = query(x, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE FROM "
		   "information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? "
		   "ORDER BY ORDINAL_POSITION", p, 2, on_column);
	if (rc == 0 && x->n_ci == 0)
		rc = dw_invalid("table", "there is no table %s.%s (or the login may not see it)",
				x->db, x->name);
	if (rc == 0)
		rc = query(x, "SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME FROM "
			   "information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? "
			   "ORDER BY INDEX_NAME, SEQ_IN_INDEX", p, 2, on_index);
	if (rc == 0)
		rc = pick_columns(x);
	if (rc == 0)
		rc = resolve_keys(x);
	free_info(x);
	return rc;
}

/* ---- the source's clock and the bound ---------------------------------------- */

static int on_clock(struct run *x, const struct dw_mysql_value *row, size_t n)
{
	if (n < 2 || row[0].type == DW_MYSQL_V_NULL || row[1].type == DW_MYSQL_V_NULL)
		return dw_fail("MySQLError", "the server answered no clock");
	free(x->r->source_now);
	free(x->r->upper_bound);
	x->r->source_now = text_of(&row[0]);
	x->r->upper_bound = text_of(&row[1]);
	return 0;
}

static int on_trx(struct run *x, const struct dw_mysql_value *row, size_t n)
{
	if (n >= 1 && row[0].type != DW_MYSQL_V_NULL) {
		free(x->r->oldest_trx);
		x->r->oldest_trx = text_of(&row[0]);
	}
	return 0;
}

/* MySQL errors that say the login may not read INNODB_TRX: 1227 (needs
 * PROCESS), 1142/1143 (no SELECT). */
static int access_denied(unsigned err)
{
	return err == 1227 || err == 1142 || err == 1143 || err == 1044;
}

static int upper_bound(struct run *x)
{
	struct dw_mysql_param lag = { .type = DW_MYSQL_P_INT, .i = x->o->lag_s };

	if (query(x, "SELECT CAST(UTC_TIMESTAMP(6) AS CHAR), "
		  "CAST(UTC_TIMESTAMP(6) - INTERVAL ? SECOND AS CHAR)", &lag, 1, on_clock))
		return dw_error_context("reading the source's clock");
	if (x->o->guard_trx == 0)
		return 0;
	/* trx_started is shown in the session's time zone (UTC here), in whole
	 * seconds, and InnoDB may register a transaction only at its first
	 * row, just after its statement took its timestamp: one second below
	 * it covers both.  Our own connection holds no transaction between
	 * statements. */
	if (query(x, "SELECT CAST(MIN(trx_started) - INTERVAL 1 SECOND AS CHAR) FROM "
		  "information_schema.INNODB_TRX "
		  "WHERE trx_mysql_thread_id <> CONNECTION_ID()", NULL, 0, on_trx)) {
		if (x->o->guard_trx == 1 || !access_denied(dw_mysql_errno(x->link.db)))
			return dw_error_context("reading the open transactions "
						"(guard_open_transactions)");
		dw_warn("the login may not read information_schema.INNODB_TRX (%s): the bound is "
			"only the clock minus lag_s", dw_error_last()->message);
		dw_error_clear();
		return 0;
	}
	x->r->guarded = 1;
	if (x->r->oldest_trx && strcmp(x->r->oldest_trx, x->r->upper_bound) < 0) {
		dw_info("an open transaction started at %s: the bound is kept below it",
			x->r->oldest_trx);
		free(x->r->upper_bound);
		x->r->upper_bound = dw_xstrdup(x->r->oldest_trx);
	} else {
		free(x->r->oldest_trx);
		x->r->oldest_trx = NULL;
	}
	return 0;
}

static int on_count(struct run *x, const struct dw_mysql_value *row, size_t n)
{
	if (n >= 1 && row[0].type != DW_MYSQL_V_NULL)
		x->r->null_cursor_rows = row[0].i;
	return 0;
}

static void quoted_table(const struct run *x, struct dw_buf *sql)
{
	dw_mysql_quote_ident(sql, x->db);
	dw_buf_putc(sql, '.');
	dw_mysql_quote_ident(sql, x->name);
}

/* Rows whose cursor is NULL never compare: they are counted and reported
 * (null_cursor_rows), never extracted. */
static int count_null_cursors(struct run *x)
{
	struct dw_buf sql;
	int rc;

	if (!x->cursor_nullable)
		return 0;
	dw_buf_init(&sql);
	dw_buf_puts(&sql, "SELECT COUNT(*) FROM ");
	quoted_table(x, &sql);
	dw_buf_puts(&sql, " WHERE ");
	dw_mysql_quote_ident(&sql, x->o->cursor);
	dw_buf_puts(&sql, " IS NULL");
	rc = query(x, sql.data, NULL, 0, on_count);
	dw_buf_release(&sql);
	if (rc == 0 && x->r->null_cursor_rows > 0)
		dw_warn("%lld rows of %s.%s have a NULL %s: they are never extracted",
			x->r->null_cursor_rows, x->db, x->name, x->o->cursor);
	return rc;
}

/* The three page queries: from the start, from a cursor value (a reset
 * without tiebreak), and the keyset after (cursor, tiebreak). */
static int prepare_pages(struct run *x)
{
	static const char *const where[3] = {
		"c < ?",
		"c >= ? AND c < ?",
		"((c = ? AND t > ?) OR c > ?) AND c < ?",
	};

	for (int k = 0; k < 3; k++) {
		struct dw_buf sql;
		dw_buf_init(&sql);
		dw_buf_puts(&sql, "SELECT ");
		dw_mysql_quote_ident(&sql, x->o->cursor);
		dw_buf_puts(&sql, ", ");
		dw_mysql_quote_ident(&sql, x->tiebreak);
		for (size_t i = 0; i < x->n_cols; i++) {
			dw_buf_puts(&sql, ", ");
			dw_mysql_quote_ident(&sql, x->cols[i]);
		}
		dw_buf_puts(&sql, " FROM ");
		quoted_table(x, &sql);
		dw_buf_puts(&sql, " WHERE ");
		for (const char *p = where[k]; *p; p++) {
			if (*p == 'c' || *p == 't')
				dw_mysql_quote_ident(&sql, *p == 'c' ? x->o->cursor : x->tiebreak);
			else
				dw_buf_putc(&sql, *p);
		}
		dw_buf_puts(&sql, " ORDER BY ");
		dw_mysql_quote_ident(&sql, x->o->cursor);
		dw_buf_puts(&sql, ", ");
		dw_mysql_quote_ident(&sql, x->tiebreak);
		dw_buf_puts(&sql, " LIMIT ?");
		int rc = dw_mysql_prepare(x->link.db, sql.data, &x->page_stmt[k]);
		dw_buf_release(&sql);
		if (rc)
			return dw_error_context("preparing the page query");
	}
	return 0;
}

/* The tiebreak value as a parameter of its column's type. */
static int tie_param(const struct run *x, const char *v, struct dw_mysql_param *p)
{
	char *end;

	if (!x->tie_int) {
		*p = (struct dw_mysql_param){ .type = DW_MYSQL_P_STR, .s = v };
		return 0;
	}
	errno = 0;
	if (x->tie_unsigned)
		p->i = (long long)strtoull(v, &end, 10);
	else
		p->i = strtoll(v, &end, 10);
	p->type = x->tie_unsigned ? DW_MYSQL_P_UINT : DW_MYSQL_P_INT;
	if (errno || !*v || *end || (x->tie_unsigned && *v == '-'))
		return dw_fail("WatermarkInvalid", "the watermark's tiebreak \"%s\" is not an "
			       "integer, and %s is", v, x->tiebreak);
	return 0;
}

/* ---- records ------------------------------------------------------------------ */

static void json_text(struct dw_buf *b, const char *s, size_t len)
{
	const char *run = s, *end = s + len;

	dw_buf_putc(b, '"');
	for (const char *p = s; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		dw_buf_append(b, run, (size_t)(p - run));
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			dw_buf_append(b, esc, 2);
		} else {
			dw_buf_printf(b, "\\u%04x", c);
		}
		run = p + 1;
	}
	dw_buf_append(b, run, (size_t)(end - run));
	dw_buf_putc(b, '"');
}

/* Decimal digits of v appended (snprintf per value was a third of the
 * client's CPU). */
static void put_u64(struct dw_buf *b, unsigned long long v, int neg)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		d[--i] = '-';
	dw_buf_append(b, d + i, sizeof(d) - i);
}

static void json_value(struct dw_buf *b, const struct dw_mysql_value *v)
{
	char num[32];

	switch (v->type) {
	case DW_MYSQL_V_NULL:
		dw_buf_append(b, "null", 4);
		break;
	case DW_MYSQL_V_INT:
		put_u64(b, v->i < 0 ? 0ULL - (unsigned long long)v->i : (unsigned long long)v->i,
			v->i < 0);
		break;
	case DW_MYSQL_V_UINT:
		put_u64(b, (unsigned long long)v->i, 0);
		break;
	case DW_MYSQL_V_DOUBLE:
		if (isfinite(v->d))
			dw_buf_append(b, num, (size_t)snprintf(num, sizeof(num), "%.17g", v->d));
		else
			dw_buf_append(b, "null", 4);
		break;
	case DW_MYSQL_V_BINARY:
		dw_records_b64(b, v->s, v->len);
		break;
	default:   /* decimals keep their digits, times their microseconds */
		json_text(b, v->s, v->len);
		break;
	}
}

/* The partition key: the tiebreak's text. */
static void key_text(struct dw_buf *b, const struct dw_mysql_value *v)
{
	if (v->type == DW_MYSQL_V_INT || v->type == DW_MYSQL_V_UINT)
		json_value(b, v);
	else
		dw_mysql_value_text(v, b);
}

/* The text every record of a run starts with, and each column's key,
 * made once: {"table":"db.t","run_id":"...","pk": and ,"col": */
static void record_parts(struct run *x)
{
	dw_buf_clear(&x->head);
	dw_buf_printf(&x->head, "{\"table\":\"%s.%s\",\"run_id\":\"%s\",\"pk\":", x->db,
		      x->name, x->r->run_id);
	x->col_keys = dw_xcalloc(x->n_cols ? x->n_cols : 1, sizeof(*x->col_keys));
	for (size_t i = 0; i < x->n_cols; i++)
		x->col_keys[i] = dw_xasprintf(i ? ",\"%s\":" : "\"%s\":", x->cols[i]);
}

static void record(struct run *x, const struct dw_mysql_value *row)
{
	struct dw_buf *b = &x->lines;
	size_t start = b->len, key = x->keys.len;

	dw_buf_append(b, x->head.data, x->head.len);
	json_value(b, &row[1]);
	dw_buf_append(b, ",\"cursor\":", 10);
	json_value(b, &row[0]);
	dw_buf_append(b, ",\"row\":{", 8);
	for (size_t i = 0; i < x->n_cols; i++) {
		dw_buf_puts(b, x->col_keys[i]);
		json_value(b, &row[2 + i]);
	}
	dw_buf_append(b, "}}\n", 3);
	key_text(&x->keys, &row[1]);
	dw_buf_putc(&x->keys, '\0');
	if (x->n_rec == x->cap_rec) {
		x->cap_rec = x->cap_rec ? 2 * x->cap_rec : 1024;
		x->rec = dw_xrealloc(x->rec, x->cap_rec * 3 * sizeof(*x->rec));
	}
	x->rec[3 * x->n_rec] = start;
	x->rec[3 * x->n_rec + 1] = b->len;
	x->rec[3 * x->n_rec + 2] = key;
	x->n_rec++;
}

static void page_clear(struct run *x)
{
	dw_buf_clear(&x->lines);
	dw_buf_clear(&x->keys);
	x->n_rec = 0;
	free(x->first_cursor);
	free(x->first_tie);
	x->first_cursor = x->first_tie = NULL;
}

/* Read one page after the watermark (wm_cursor, wm_tie): the rows become
 * records, the last row the page's end. */
static int read_page(struct run *x, long long limit, char **last_c, char **last_t)
{
	struct dw_mysql_param p[5];
	const struct dw_mysql_value *row;
	struct dw_mysql_stmt *st;
	size_t np = 0;
	int rc, k = x->wm_cursor ? (x->wm_tie ? 2 : 1) : 0;

	page_clear(x);
	st = x->page_stmt[k];
	if (k == 2) {
		p[np++] = (struct dw_mysql_param){ .type = DW_MYSQL_P_STR, .s = x->wm_cursor };
		if (tie_param(x, x->wm_tie, &p[np++]))
			return -1;
	}
	if (k >= 1)
		p[np++] = (struct dw_mysql_param){ .type = DW_MYSQL_P_STR, .s = x->wm_cursor };
	p[np++] = (struct dw_mysql_param){ .type = DW_MYSQL_P_STR, .s = x->r->upper_bound };
	p[np++] = (struct dw_mysql_param){ .type = DW_MYSQL_P_INT, .i = limit };
	rc = dw_mysql_stmt_execute(st, p, np);
	char cursor[64] = "";
	while (rc == 0 && (rc = dw_mysql_stmt_fetch(st, &row)) == 1) {
		rc = 0;
		if (row[0].type != DW_MYSQL_V_TEMPORAL || row[1].type == DW_MYSQL_V_NULL)
			continue;  /* cannot be: the keyset compares both */
		if (x->n_rec == 0) {
			x->first_cursor = text_of(&row[0]);
			x->first_tie = text_of(&row[1]);
		}
		record(x, row);
		/* the page's end: its cursor here, its tiebreak the last key */
		snprintf(cursor, sizeof(cursor), "%.*s", (int)row[0].len, row[0].s);
	}
	dw_mysql_stmt_finish(st);
	if (rc >= 0 && x->n_rec > 0) {
		free(*last_c);
		free(*last_t);
		*last_c = dw_xstrdup(cursor);
		*last_t = dw_xstrdup(x->keys.data + x->rec[3 * (x->n_rec - 1) + 2]);
	}
	if (rc < 0)
		return dw_error_context("reading a page of %s.%s", x->db, x->name);
	return 0;
}

/* ---- sinks ---------------------------------------------------------------------- */

static void hex_sha256(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int send_stream(struct run *x)
{
	struct dw_record *recs = dw_xcalloc(x->n_rec ? x->n_rec : 1, sizeof(*recs));
	char (*hashed)[65] = NULL;
	unsigned long calls = 0, retried = 0;
	int rc;

	for (size_t i = 0; i < x->n_rec; i++) {
		recs[i].data = x->lines.data + x->rec[3 * i];
		recs[i].len = x->rec[3 * i + 1] - x->rec[3 * i];
		const char *key = x->keys.data + x->rec[3 * i + 2];
		size_t klen = strlen(key);
		if (klen == 0 || klen > MAX_PARTITION_KEY) {
			if (!hashed)
				hashed = dw_xcalloc(x->n_rec, sizeof(*hashed));
			hex_sha256(key, hashed[i]);
			key = hashed[i];
		}
		recs[i].key = key;
	}
	if (x->o->sink == DW_EXTRACT_KINESIS)
		rc = dw_kinesis_put_records(x->aws, x->o->stream, recs, x->n_rec, &calls, &retried);
	else
		rc = dw_firehose_put_batch(x->aws, x->o->stream, recs, x->n_rec, &calls, &retried);
	x->r->calls += (long long)calls;
	x->r->record_retries += (long long)retried;
	free(recs);
	free(hashed);
	return rc;
}

static int gzip_page(const struct dw_buf *in, struct dw_buf *out)
{
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	/* Level 1: compression was two thirds of the client's CPU at level 6, for
	 * objects 8% smaller. */
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return dw_fail("NoMemory", "cannot start gzip");
	size_t cap = deflateBound(&z, in->len) + 32;
	out->data = dw_xrealloc(out->data, cap);
	out->cap = cap;
	z.next_in = (unsigned char *)in->data;
	z.avail_in = (uInt)in->len;
	z.next_out = (unsigned char *)out->data;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	out->len = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END)
		return dw_fail("InternalError", "gzip did not finish a page (%d)", rc);
	return 0;
}

/* prefix/db.table/20240102T030405.123456Z-<hash of the first key>.json.gz:
 * named by the page's first row, so a re-run after a crash (which reads the
 * same page again) writes the same object over. */
static char *page_key(const struct run *x)
{
	char hash[65], when[40];
	size_t j = 0;

	hex_sha256(x->first_tie, hash);
	for (const char *p = x->first_cursor; *p && j + 2 < sizeof(when); p++)
		if (isdigit((unsigned char)*p) || *p == '.')
			when[j++] = *p;
		else if (*p == ' ')
			when[j++] = 'T';
	when[j++] = 'Z';
	when[j] = '\0';
	hash[16] = '\0';
	const char *prefix = x->o->prefix ? x->o->prefix : "";
	size_t pl = strlen(prefix);
	while (pl > 0 && prefix[pl - 1] == '/')
		pl--;
	return dw_xasprintf("%.*s%s%s.%s/%s-%s.json.gz", (int)pl, prefix, pl ? "/" : "", x->db,
			    x->name, when, hash);
}

static int send_s3(struct run *x)
{
	struct dw_buf gz;
	char *key = page_key(x);
	int rc;

	dw_buf_init(&gz);
	rc = gzip_page(&x->lines, &gz);
	if (rc == 0)
		rc = dw_s3_put_object(x->aws, x->o->bucket, key, gz.data, gz.len, "application/gzip");
	x->r->calls++;
	if (rc == 0)
		dw_debug("page of %zu rows in s3://%s/%s", x->n_rec, x->o->bucket, key);
	dw_buf_release(&gz);
	free(key);
	return rc;
}

static int send_page(struct run *x)
{
	int rc = x->o->sink == DW_EXTRACT_S3 ? send_s3(x) : send_stream(x);

	if (rc)
		return dw_error_context("sending a page of %zu rows (the watermark stays at the "
					"last page the sink took)", x->n_rec);
	x->r->records_sent += (long long)x->n_rec;
	return 0;
}

/* ---- the state store ------------------------------------------------------------ */

static const char *state_table(const struct dw_extract_opts *o)
{
	return o->state_table ? o->state_table : DW_EXTRACT_STATE_TABLE;
}

static cJSON *state_key(const struct dw_extract_opts *o)
{
	cJSON *k = cJSON_CreateObject();

	dw_ddb_add(k, "name", dw_ddb_s(o->state_name));
	return k;
}

/* The watermark and its version (0: none stored yet). */
static int read_state(struct dw_aws *aws, const struct dw_extract_opts *o, char **cursor,
		      char **tie, long long *version)
{
	char *text = NULL;
	int rc;

	*cursor = *tie = NULL;
	*version = 0;
	if (o->store == DW_EXTRACT_SSM) {
		rc = dw_ssm_get_parameter(aws, o->state_name, &text, version);
	} else {
		cJSON *key = state_key(o), *item = NULL;
		rc = dw_ddb_get_item(aws, state_table(o), key, 1, &item);
		cJSON_Delete(key);
		if (rc == 0 && !item)
			rc = 1;
		if (rc == 0) {
			const char *v = dw_ddb_get_s(item, "value");
			if (!v || dw_ddb_get_n(item, "ver", version))
				rc = dw_fail("WatermarkInvalid", "the state item %s has no value "
					     "and ver", o->state_name);
			else
				text = dw_xstrdup(v);
		}
		cJSON_Delete(item);
	}
	if (rc < 0)
		return dw_error_context("reading the watermark");
	if (rc == 1)
		return 0;
	rc = dw_extract_state_parse(text, cursor, tie);
	free(text);
	return rc ? dw_error_context("in %s", o->state_name) : 0;
}

static int conflict(const struct dw_extract_opts *o, long long expected, long long got)
{
	return dw_fail("WatermarkConflict", "the watermark %s was changed by someone else: "
		       "version %lld written where %lld was expected (is another run, or a "
		       "reset, not holding the lease?)", o->state_name, got, expected);
}

/* Write the watermark; *version must be the one read: it becomes the new one. */
static int write_state(struct dw_aws *aws, const struct dw_extract_opts *o, const char *cursor,
		       const char *tie, const char *run_id, long long *version)
{
	char *text = dw_extract_state_text(cursor, tie, o->table, run_id);
	long long got = 0;
	int rc;

	if (o->store == DW_EXTRACT_SSM) {
		/* No conditional write in SSM: the version says whether anyone
		 * wrote in between. */
		rc = dw_ssm_put_parameter(aws, o->state_name, text, *version > 0, &got);
		if (rc == 1)
			rc = conflict(o, 1, -1);
		else if (rc == 0 && got != *version + 1)
			rc = conflict(o, *version + 1, got);
	} else {
		cJSON *item = state_key(o), *values = cJSON_CreateObject();
		struct dw_ddb_write w = { .table = state_table(o), .item = item, .values = values };
		dw_ddb_add(item, "value", dw_ddb_s(text));
		dw_ddb_add(item, "ver", dw_ddb_n(*version + 1));
		if (*version > 0) {
			w.condition = "ver = :v";
			dw_ddb_add(values, ":v", dw_ddb_n(*version));
		} else {
			w.condition = "attribute_not_exists(ver)";
			w.values = NULL;
		}
		rc = dw_ddb_put_item(aws, &w, NULL);
		got = *version + 1;
		if (rc == 1)
			rc = dw_fail("WatermarkConflict", "the watermark item %s is no longer at "
				     "version %lld: someone else wrote it", o->state_name, *version);
		cJSON_Delete(item);
		cJSON_Delete(values);
	}
	free(text);
	if (rc)
		return dw_error_context("writing the watermark");
	*version = got;
	return 0;
}

/* ---- the lease -------------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int take_lease(struct run *x)
{
	int rc;

	x->lk = x->o->lock;
	x->lk.write = 1;
	x->resource = x->lk.resource ? dw_xstrdup(x->lk.resource)
				     : dw_xasprintf("dw-extract/%s", x->o->table);
	x->lk.resource = x->resource;
	x->lk.wait = x->lk.wait_timeout_ms > 0;
	rc = dw_lock_acquire(x->aws, &x->lk, &x->lease);
	if (rc == 1) {
		rc = dw_raise(DW_TRANSIENT, "Locked", "", "another run holds the write lease on %s "
			      "(%s); run again later", x->resource, x->lease.blocked);
	}
	if (rc)
		return dw_error_context("taking the write lease on %s", x->resource);
	x->leased = 1;
	x->lk.holder = x->holder = dw_xstrdup(x->lease.holder);
	x->lk.lease_id = x->lease_id = dw_xstrdup(x->lease.lease_id);
	x->lk.fence = x->lease.fence;
	x->r->fence = x->lease.fence;
	return 0;
}

/* Before a watermark write: renew when a third of the lease is gone, and
 * check it is still ours with the same fencing token. */
static int keep_lease(struct run *x)
{
	struct dw_lock_lease l;
	int rc;

	if (!x->leased)
		return 0;
	if (now_ms() >= x->lease.expires_ms - 2 * x->lk.ttl_ms / 3) {
		dw_lock_lease_release(&x->lease);
		if (dw_lock_renew(x->aws, &x->lk, &x->lease))
			return dw_error_context("renewing the write lease on %s", x->resource);
		return 0;
	}
	memset(&l, 0, sizeof(l));
	rc = dw_lock_check(x->aws, &x->lk, &l);
	dw_lock_lease_release(&l);
	return rc ? dw_error_context("the watermark is not moved") : 0;
}

static void drop_lease(struct run *x)
{
	struct dw_error saved;
	int released = 0;

	if (!x->leased)
		return;
	dw_error_save(&saved);
	if (dw_lock_release(x->aws, &x->lk, &released))
		dw_warn("releasing the write lease on %s failed (%s); it runs out by itself",
			x->resource, dw_error_last()->message);
	dw_error_restore(&saved);
	x->leased = 0;
}

/* ---- run, status, reset ------------------------------------------------------------- */

static void run_id(char out[33])
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, b, sizeof(b)) : -1;

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(b)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		srandom((unsigned)(ts.tv_nsec ^ getpid()));
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(random() & 0xff);
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void run_release(struct run *x)
{
	drop_lease(x);
	for (int k = 0; k < 3; k++)
		dw_mysql_stmt_free(x->page_stmt[k]);
	dw_mysql_link_release(&x->link);
	for (size_t i = 0; i < x->n_cols; i++)
		free(x->cols[i]);
	free(x->cols);
	free(x->pk);
	free(x->wm_cursor);
	free(x->wm_tie);
	free(x->holder);
	free(x->lease_id);
	free(x->resource);
	dw_lock_lease_release(&x->lease);
	page_clear(x);
	dw_buf_release(&x->lines);
	dw_buf_release(&x->keys);
	dw_buf_release(&x->head);
	for (size_t i = 0; x->col_keys && i < x->n_cols; i++)
		free(x->col_keys[i]);
	free(x->col_keys);
	free(x->rec);
}

static int open_source(struct run *x)
{
	if (split_table(x->o->table, x->db, x->name) || dw_mysql_open(&x->link, &x->o->mysql))
		return -1;
	/* TIMESTAMP columns, the clock and INNODB_TRX all read in UTC. */
	if (dw_mysql_exec(x->link.db, "SET time_zone = '+00:00'"))
		return dw_error_context("setting the session's time zone to UTC");
	return 0;
}

static double elapsed_s(const struct run *x)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - x->started.tv_sec) +
	       (double)(now.tv_nsec - x->started.tv_nsec) / 1e9;
}

/* How many rows the next page may read: 0 when max_rows or the time
 * budget says stop. */
static long long next_limit(const struct run *x)
{
	const struct dw_extract_opts *o = x->o;
	long long limit = o->page_rows > 0 ? o->page_rows : DW_EXTRACT_PAGE_ROWS;

	if (o->max_rows > 0 && x->r->rows + limit > o->max_rows)
		limit = o->max_rows - x->r->rows;
	if (o->time_budget_s > 0 && x->r->pages > 0 && elapsed_s(x) >= (double)o->time_budget_s)
		limit = 0;
	return limit;
}

static int pages(struct run *x)
{
	char *last_c = NULL, *last_t = NULL;
	int rc = 0, full = 0;
	long long limit;

	while ((limit = next_limit(x)) > 0) {
		if ((rc = read_page(x, limit, &last_c, &last_t)))
			break;
		full = (long long)x->n_rec == limit;
		if (x->n_rec == 0)
			break;
		if (!x->o->dry_run &&
		    ((rc = send_page(x)) || (rc = keep_lease(x)) ||
		     (rc = write_state(x->aws, x->o, last_c, last_t, x->r->run_id, &x->version))))
			break;
		free(x->wm_cursor);
		free(x->wm_tie);
		x->wm_cursor = dw_xstrdup(last_c);
		x->wm_tie = dw_xstrdup(last_t);
		x->r->pages++;
		x->r->rows += (long long)x->n_rec;
		dw_info("page %lld: %zu rows, watermark (%s, %s)%s", x->r->pages, x->n_rec,
			last_c, last_t, x->o->dry_run ? " (dry run: not stored)" : "");
		if (!full)
			break;
	}
	/* A full last page when max_rows or the time budget stopped the run:
	 * rows may remain below the bound for the next run. */
	x->r->complete = rc == 0 && !full;
	free(last_c);
	free(last_t);
	return rc;
}

int dw_extract_run(struct dw_aws *aws, const struct dw_extract_opts *o,
		   struct dw_extract_result *r)
{
	struct run x;
	int rc;

	memset(&x, 0, sizeof(x));
	x.aws = aws;
	x.o = o;
	x.r = r;
	dw_buf_init(&x.lines);
	dw_buf_init(&x.keys);
	dw_buf_init(&x.head);
	clock_gettime(CLOCK_MONOTONIC, &x.started);
	run_id(r->run_id);
	rc = open_source(&x);
	if (rc == 0)
		rc = load_table(&x);
	if (rc == 0 && !o->dry_run)
		rc = take_lease(&x);
	if (rc == 0)
		rc = read_state(aws, o, &x.wm_cursor, &x.wm_tie, &x.version);
	if (rc == 0) {
		r->from_cursor = x.wm_cursor ? dw_xstrdup(x.wm_cursor) : NULL;
		r->from_tiebreak = x.wm_tie ? dw_xstrdup(x.wm_tie) : NULL;
		rc = upper_bound(&x);
	}
	if (rc == 0)
		rc = count_null_cursors(&x);
	if (rc == 0)
		rc = prepare_pages(&x);
	if (rc == 0) {
		record_parts(&x);
		rc = pages(&x);
	}
	/* progress is reported also when a page failed: up to the last one
	 * the sink took */
	r->to_cursor = x.wm_cursor ? dw_xstrdup(x.wm_cursor) : NULL;
	r->to_tiebreak = x.wm_tie ? dw_xstrdup(x.wm_tie) : NULL;
	r->state_version = x.version;
	run_release(&x);
	return rc;
}

static int on_lag(struct run *x, const struct dw_mysql_value *row, size_t n)
{
	if (n >= 2 && row[1].type != DW_MYSQL_V_NULL) {
		x->r->lag_s = row[1].i;
		x->r->has_lag = 1;
	}
	if (n >= 1 && row[0].type != DW_MYSQL_V_NULL) {
		free(x->r->source_now);
		x->r->source_now = text_of(&row[0]);
	}
	return 0;
}

int dw_extract_status(struct dw_aws *aws, const struct dw_extract_opts *o,
		      struct dw_extract_result *r)
{
	struct run x;
	int rc;

	memset(&x, 0, sizeof(x));
	x.aws = aws;
	x.o = o;
	x.r = r;
	dw_buf_init(&x.lines);
	dw_buf_init(&x.keys);
	dw_buf_init(&x.head);
	rc = read_state(aws, o, &r->to_cursor, &r->to_tiebreak, &r->state_version);
	if (rc == 0 && o->mysql.user)
		rc = open_source(&x);
	if (rc == 0 && x.link.db) {
		struct dw_mysql_param p = { .type = r->to_cursor ? DW_MYSQL_P_STR : DW_MYSQL_P_NULL,
					    .s = r->to_cursor };
		rc = query(&x, "SELECT CAST(UTC_TIMESTAMP(6) AS CHAR), "
			   "TIMESTAMPDIFF(SECOND, CAST(? AS DATETIME(6)), UTC_TIMESTAMP(6))",
			   &p, 1, on_lag);
	}
	run_release(&x);
	return rc;
}

int dw_extract_set_watermark(struct dw_aws *aws, const struct dw_extract_opts *o,
		     struct dw_extract_result *r)
{
	struct run x;
	int rc;

	memset(&x, 0, sizeof(x));
	x.aws = aws;
	x.o = o;
	x.r = r;
	dw_buf_init(&x.lines);
	dw_buf_init(&x.keys);
	dw_buf_init(&x.head);
	run_id(r->run_id);
	rc = read_state(aws, o, &r->from_cursor, &r->from_tiebreak, &x.version);
	if (rc == 0 && !o->dry_run) {
		struct dw_extract_opts no_wait = *o;
		no_wait.lock.wait_timeout_ms = 0;
		x.o = &no_wait;
		rc = take_lease(&x);
		x.o = o;
		if (rc == 0)
			rc = write_state(aws, o, o->reset_cursor, o->reset_tiebreak, r->run_id,
					 &x.version);
	}
	if (rc == 0) {
		r->to_cursor = o->reset_cursor ? dw_xstrdup(o->reset_cursor) : NULL;
		r->to_tiebreak = o->reset_tiebreak ? dw_xstrdup(o->reset_tiebreak) : NULL;
	}
	r->state_version = x.version;
	run_release(&x);
	return rc;
}
