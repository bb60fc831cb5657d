/* lock.c - the dw-lock lease lock over DynamoDB (see ops/lock.h). */
#include "ops/lock.h"
#include "aws/aws.h"
#include "aws/dynamodb.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "base/wait.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Conflicting writes (another client changed the item between our read and
 * our write) are retried at once; after this many in a row something is
 * wrong (or the item is extremely hot). */
#define MAX_CONFLICTS 200
/* A waiting writer's slot lives this many polls unless refreshed, so a
 * writer that died stops blocking readers quickly. */
#define WAITER_POLLS 4
#define TABLE_ACTIVE_TIMEOUT_MS 120000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char b[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = -1;

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (fd >= 0) {
		got = read(fd, b, nbytes);
		close(fd);
	}
	for (size_t i = 0; i < nbytes; i++) {
		if (got != (ssize_t)nbytes)
			b[i] = (unsigned char)(random() & 0xff);
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	}
}

char *dw_lock_default_holder(void)
{
	char host[256] = "host", rnd[9];

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	random_hex(rnd, 4);
	return dw_xasprintf("%s:%ld:%s", host, (long)getpid(), rnd);
}

void dw_lock_opts_init(struct dw_lock_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->table = DW_LOCK_TABLE_DEFAULT;
	o->ttl_ms = DW_LOCK_TTL_S_DEFAULT * 1000LL;
	o->skew_ms = DW_LOCK_SKEW_MS_DEFAULT;
	o->fence = -1;
}

void dw_lock_lease_release(struct dw_lock_lease *l)
{
	free(l->resource);
	free(l->holder);
	free(l->lease_id);
	memset(l, 0, sizeof(*l));
}

static const char *table_of(const struct dw_lock_opts *o)
{
	return o->table ? o->table : DW_LOCK_TABLE_DEFAULT;
}

static const char *mode_name(int write)
{
	return write ? "write" : "read";
}

static void iso_ms(long long ms, char out[40])
{
	char iso[32];

	dw_time_format_iso((time_t)(ms / 1000), iso);
	iso[strcspn(iso, "Z")] = '\0';
	snprintf(out, 40, "%s.%03lldZ", iso, ms % 1000);
}

/* ---- state <-> item ------------------------------------------------------ */

int dw_lock_live(long long expires_ms, long long now, long long skew_ms)
{
	return expires_ms + skew_ms > now;
}

static void entry_release(struct dw_lock_entry *e)
{
	free(e->holder);
	free(e->lease);
}

void dw_lock_state_release(struct dw_lock_state *s)
{
	for (size_t i = 0; i < s->n; i++)
		entry_release(&s->e[i]);
	free(s->e);
	free(s->wid);
	free(s->waiter);
	memset(s, 0, sizeof(*s));
}

static struct dw_lock_entry *add_entry(struct dw_lock_state *s, const char *holder,
				       const char *lease, int write, long long granted,
				       long long expires)
{
	struct dw_lock_entry *e;

	s->e = dw_xrealloc(s->e, (s->n + 1) * sizeof(*s->e));
	e = &s->e[s->n++];
	e->holder = dw_xstrdup(holder);
	e->lease = dw_xstrdup(lease);
	e->write = write;
	e->granted_ms = granted;
	e->expires_ms = expires;
	return e;
}

static int read_entry(struct dw_lock_state *s, const cJSON *m, const char *holder, int write)
{
	const char *lease = dw_ddb_get_s(m, "lease");
	long long granted = 0, exp = 0;

	if (!holder || !lease || dw_ddb_get_n(m, "exp", &exp) || dw_ddb_get_n(m, "granted", &granted))
		return dw_fail("InvalidLockItem", "the lock item holds a %s lease without holder, lease, granted or exp",
			       mode_name(write));
	add_entry(s, holder, lease, write, granted, exp);
	return 0;
}

int dw_lock_state_read(struct dw_lock_state *s, const cJSON *item)
{
	const cJSON *w, *r, *wt, *h;

	memset(s, 0, sizeof(*s));
	if (!item)
		return 0;
	s->exists = 1;
	if (dw_ddb_get_n(item, "ver", &s->ver) || dw_ddb_get_n(item, "fence", &s->fence))
		return dw_fail("InvalidLockItem", "the lock item has no version or fencing token: "
			       "is the table used by something else than dw-lock?");
	if (dw_ddb_get_n(item, "updated", &s->updated_ms))
		s->updated_ms = 0;
	if (dw_ddb_get_s(item, "wid"))
		s->wid = dw_xstrdup(dw_ddb_get_s(item, "wid"));
	if ((w = dw_ddb_get_m(item, "writer")) && read_entry(s, w, dw_ddb_get_s(w, "holder"), 1))
		return -1;
	r = dw_ddb_get_m(item, "readers");
	cJSON_ArrayForEach(h, r) {
		const cJSON *m = dw_ddb_get_m(r, h->string);
		if (!m)
			return dw_fail("InvalidLockItem", "the lock item's reader %s is not a map", h->string);
		if (read_entry(s, m, h->string, 0))
			return -1;
	}
	if ((wt = dw_ddb_get_m(item, "waiter")) && dw_ddb_get_s(wt, "holder") &&
	    dw_ddb_get_n(wt, "exp", &s->waiter_exp) == 0) {
		s->waiter = dw_xstrdup(dw_ddb_get_s(wt, "holder"));
		s->waiter_prio = dw_ddb_get_bool(wt, "prio");
	}
	return 0;
}

static void add_entry_members(cJSON *m, const struct dw_lock_entry *e)
{
	dw_ddb_add(m, "lease", dw_ddb_s(e->lease));
	dw_ddb_add(m, "granted", dw_ddb_n(e->granted_ms));
	dw_ddb_add(m, "exp", dw_ddb_n(e->expires_ms));
}

cJSON *dw_lock_state_item(const struct dw_lock_state *s, const char *resource)
{
	cJSON *item = cJSON_CreateObject(), *readers;

	dw_ddb_add(item, DW_LOCK_KEY, dw_ddb_s(resource));
	dw_ddb_add(item, "ver", dw_ddb_n(s->ver));
	dw_ddb_add(item, "fence", dw_ddb_n(s->fence));
	dw_ddb_add(item, "updated", dw_ddb_n(s->updated_ms));
	if (s->wid)
		dw_ddb_add(item, "wid", dw_ddb_s(s->wid));
	readers = dw_ddb_add_map(item, "readers");
	for (size_t i = 0; i < s->n; i++) {
		const struct dw_lock_entry *e = &s->e[i];
		cJSON *m;
		if (e->write) {
			m = dw_ddb_add_map(item, "writer");
			dw_ddb_add(m, "holder", dw_ddb_s(e->holder));
		} else {
			m = dw_ddb_add_map(readers, e->holder);
		}
		add_entry_members(m, e);
	}
	if (s->waiter) {
		cJSON *m = dw_ddb_add_map(item, "waiter");
		dw_ddb_add(m, "holder", dw_ddb_s(s->waiter));
		dw_ddb_add(m, "exp", dw_ddb_n(s->waiter_exp));
		dw_ddb_add(m, "prio", dw_ddb_bool(s->waiter_prio));
	}
	return item;
}

struct dw_lock_entry *dw_lock_state_find(const struct dw_lock_state *s, const char *holder)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].holder, holder) == 0)
			return &s->e[i];
	return NULL;
}

int dw_lock_may_grant(const struct dw_lock_state *s, const char *holder, int write,
		      long long now, long long skew_ms, char *why, size_t why_len)
{
	char until[40];
	size_t readers = 0;
	const char *first = NULL;

	for (size_t i = 0; i < s->n; i++) {
		const struct dw_lock_entry *e = &s->e[i];
		if (strcmp(e->holder, holder) == 0 || !dw_lock_live(e->expires_ms, now, skew_ms))
			continue;
		if (e->write) {
			iso_ms(e->expires_ms, until);
			snprintf(why, why_len, "writer %s holds it (lease until %s)", e->holder, until);
			return 0;
		}
		if (!first)
			first = e->holder;
		readers++;
	}
	if (write && readers) {
		snprintf(why, why_len, "%zu reader%s hold%s it (%s%s)", readers, readers == 1 ? "" : "s",
			 readers == 1 ? "s" : "", first, readers > 1 ? ", ..." : "");
		return 0;
	}
	if (!write && s->waiter && s->waiter_prio && strcmp(s->waiter, holder) != 0 &&
	    dw_lock_live(s->waiter_exp, now, skew_ms)) {
		snprintf(why, why_len, "writer %s is waiting with writer_priority", s->waiter);
		return 0;
	}
	why[0] = '\0';
	return 1;
}

int dw_lock_state_remove(struct dw_lock_state *s, const char *holder)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->e[i].holder, holder) != 0)
			continue;
		entry_release(&s->e[i]);
		memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(*s->e));
		s->n--;
		return 1;
	}
	return 0;
}

static void prune(struct dw_lock_state *s, long long now, long long skew_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (dw_lock_live(s->e[i].expires_ms, now, skew_ms))
			s->e[k++] = s->e[i];
		else
			entry_release(&s->e[i]);
	}
	s->n = k;
	if (s->waiter && !dw_lock_live(s->waiter_exp, now, skew_ms)) {
		free(s->waiter);
		s->waiter = NULL;
	}
}

void dw_lock_state_grant(struct dw_lock_state *s, const char *holder, const char *lease,
			 int write, long long now, long long ttl_ms, long long skew_ms)
{
	dw_lock_state_remove(s, holder);
	prune(s, now, skew_ms);
	add_entry(s, holder, lease, write, now, now + ttl_ms);
	if (write)
		s->fence++;
	if (s->waiter && strcmp(s->waiter, holder) == 0) {
		free(s->waiter);
		s->waiter = NULL;
	}
}

/* ---- reads and writes ------------------------------------------------------ */

static cJSON *key_of(const char *resource)
{
	cJSON *key = cJSON_CreateObject();

	dw_ddb_add(key, DW_LOCK_KEY, dw_ddb_s(resource));
	return key;
}

static int read_state(struct dw_aws *aws, const struct dw_lock_opts *o,
		      struct dw_lock_state *s)
{
	cJSON *key = key_of(o->resource), *item = NULL;
	int rc = dw_ddb_get_item(aws, table_of(o), key, 1, &item);

	cJSON_Delete(key);
	memset(s, 0, sizeof(*s));
	if (rc == 0 && dw_lock_state_read(s, item)) {
		dw_lock_state_release(s);
		rc = dw_error_context("resource %s in table %s", o->resource, table_of(o));
	}
	cJSON_Delete(item);
	return rc;
}

/* Write s (read at version old_ver, or absent) as the item's next version,
 * tagged with a new write id (left in s->wid).  0 written, 1 the item
 * changed meanwhile (or our write was applied and its answer lost: the
 * caller re-reads to tell), -1 failed (the write may still have been
 * applied). */
static int write_state(struct dw_aws *aws, const struct dw_lock_opts *o,
		       struct dw_lock_state *s, int existed, long long old_ver)
{
	char wid[33];
	cJSON *item, *names = cJSON_CreateObject(), *values = NULL;
	struct dw_ddb_write w = { .table = table_of(o), .names = names };
	int rc;

	random_hex(wid, 16);
	free(s->wid);
	s->wid = dw_xstrdup(wid);
	s->ver = old_ver + 1;
	s->updated_ms = now_ms();
	item = dw_lock_state_item(s, o->resource);
	w.item = item;
	if (existed) {
		values = cJSON_CreateObject();
		cJSON_AddStringToObject(names, "#v", "ver");
		dw_ddb_add(values, ":v", dw_ddb_n(old_ver));
		w.condition = "#v = :v";
		w.values = values;
	} else {
		cJSON_AddStringToObject(names, "#k", DW_LOCK_KEY);
		w.condition = "attribute_not_exists(#k)";
	}
	rc = dw_ddb_put_item(aws, &w, NULL);
	cJSON_Delete(item);
	cJSON_Delete(names);
	cJSON_Delete(values);
	return rc;
}

static void fill_lease(struct dw_lock_lease *l, const struct dw_lock_opts *o,
		       const struct dw_lock_state *s, const struct dw_lock_entry *e)
{
	free(l->resource);
	free(l->holder);
	free(l->lease_id);
	l->resource = dw_xstrdup(o->resource);
	l->holder = dw_xstrdup(e->holder);
	l->lease_id = dw_xstrdup(e->lease);
	l->write = e->write;
	l->fence = s->fence;
	l->granted_ms = e->granted_ms;
	l->expires_ms = e->expires_ms;
}

/* After a write that failed or lost the race: is our lease (holder with
 * lease id) in the item now?  1 yes (the lease is filled), 0 no, -1 the
 * item cannot be read. */
static int find_own(struct dw_aws *aws, const struct dw_lock_opts *o, const char *holder,
		    const char *lease_id, struct dw_lock_lease *l)
{
	struct dw_lock_state s;
	const struct dw_lock_entry *e;
	int found = 0;

	if (read_state(aws, o, &s))
		return -1;
	e = dw_lock_state_find(&s, holder);
	if (e && strcmp(e->lease, lease_id) == 0) {
		fill_lease(l, o, &s, e);
		found = 1;
	}
	dw_lock_state_release(&s);
	return found;
}

/* ---- acquire ---------------------------------------------------------------- */

static long long poll_ms(const struct dw_lock_opts *o)
{
	long long p = o->ttl_ms / 4;

	if (p > 1000)
		p = 1000;
	if (p < 100)
		p = 100;
	return p;
}

/* A waiting writer takes the waiter slot (when it is free, dead or its own
 * and getting old), so that status shows it and, with writer_priority, new
 * readers hold back.  Losing the race for it is fine: it is advisory. */
static int claim_waiter(struct dw_aws *aws, const struct dw_lock_opts *o,
			struct dw_lock_state *s, const char *holder, long long now)
{
	long long p = poll_ms(o);

	if (s->waiter && strcmp(s->waiter, holder) != 0 && dw_lock_live(s->waiter_exp, now, o->skew_ms))
		return 0;
	if (s->waiter && strcmp(s->waiter, holder) == 0 && s->waiter_prio == o->writer_priority &&
	    s->waiter_exp - now > 2 * p)
		return 0;
	free(s->waiter);
	s->waiter = dw_xstrdup(holder);
	s->waiter_exp = now + WAITER_POLLS * p;
	s->waiter_prio = o->writer_priority;
	if (write_state(aws, o, s, s->exists, s->ver) < 0) {
		dw_warn("could not mark %s as the waiting writer (%s); waiting anyway",
			holder, dw_error_last()->message);
		dw_error_clear();
	}
	return 0;
}

/* Give the waiter slot back when we stop waiting (best effort). */
static void drop_waiter(struct dw_aws *aws, const struct dw_lock_opts *o, const char *holder)
{
	struct dw_lock_state s;
	struct dw_error saved;

	dw_error_save(&saved);
	if (read_state(aws, o, &s) == 0) {
		if (s.waiter && strcmp(s.waiter, holder) == 0) {
			free(s.waiter);
			s.waiter = NULL;
			(void)write_state(aws, o, &s, s.exists, s.ver);
		}
		dw_lock_state_release(&s);
	}
	dw_error_restore(&saved);
}

/* One try: 0 granted, 1 blocked (why filled), 2 lost a race (try again),
 * -1 failed. */
static int try_acquire(struct dw_aws *aws, const struct dw_lock_opts *o, const char *holder,
		       const char *lease_id, struct dw_lock_lease *l, int may_wait)
{
	struct dw_lock_state s;
	long long now = now_ms();
	int rc;

	if (read_state(aws, o, &s))
		return -1;
	if (!dw_lock_may_grant(&s, holder, o->write, now, o->skew_ms, l->blocked, sizeof(l->blocked))) {
		rc = 1;
		if (may_wait && o->write && claim_waiter(aws, o, &s, holder, now))
			rc = -1;
		dw_lock_state_release(&s);
		return rc;
	}
	long long old_ver = s.ver;
	dw_lock_state_grant(&s, holder, lease_id, o->write, now, o->ttl_ms, o->skew_ms);
	rc = write_state(aws, o, &s, s.exists, old_ver);
	if (rc == 0)
		fill_lease(l, o, &s, dw_lock_state_find(&s, holder));
	dw_lock_state_release(&s);
	if (rc == 0)
		return 0;
	/* Lost the race, or no answer: was it ours after all?  (A retry of a
	 * put that was applied meets its own new version and fails.) */
	struct dw_error saved;
	dw_error_save(&saved);
	int own = find_own(aws, o, holder, lease_id, l);
	if (own == 1) {
		l->recovered = 1;
		dw_info("lease %s of %s on %s: the write's answer was lost, the re-read shows it granted",
			lease_id, holder, o->resource);
		return 0;
	}
	if (rc < 0 || own < 0) {
		dw_error_restore(&saved);
		return -1;
	}
	return 2;
}

/* try_acquire until it is not a lost race: 0 granted, 1 blocked, -1 failed
 * (LockContention after MAX_CONFLICTS races in a row). */
static int try_settled(struct dw_aws *aws, const struct dw_lock_opts *o, const char *holder,
		       const char *lease_id, struct dw_lock_lease *l)
{
	int conflicts = 0, rc;

	while ((rc = try_acquire(aws, o, holder, lease_id, l, o->wait)) == 2) {
		if (++conflicts >= MAX_CONFLICTS)
			return dw_raise(DW_TRANSIENT, "LockContention", NULL,
					"%d conflicting writes in a row on %s", conflicts, o->resource);
		if (conflicts > 3)
			dw_sleep_ms(5 + random() % (10 * conflicts));
	}
	return rc;
}

struct acquire_wait {
	struct dw_aws *aws;
	const struct dw_lock_opts *o;
	const char *holder, *lease_id;
	struct dw_lock_lease *l;
};

static enum dw_wait_state poll_acquire(void *ud, struct dw_wait_poll *p)
{
	struct acquire_wait *a = ud;
	int rc = try_settled(a->aws, a->o, a->holder, a->lease_id, a->l);

	if (rc == 1)
		snprintf(p->status, sizeof(p->status), "not granted: %s", a->l->blocked);
	return rc == 0 ? DW_WAIT_DONE : rc < 0 ? DW_WAIT_FAILED : DW_WAIT_PENDING;
}

int dw_lock_acquire(struct dw_aws *aws, const struct dw_lock_opts *o,
		    struct dw_lock_lease *l)
{
	char lease_id[33], what[1100];
	char *holder = o->holder ? dw_xstrdup(o->holder) : dw_lock_default_holder();
	long long start = now_ms();
	struct acquire_wait a = { aws, o, holder, lease_id, NULL };
	/* Polls every ttl/4 (0.1 to 1 s), spread by jitter so that waiters do
	 * not meet on the item; the progress line once a minute. */
	struct dw_wait w = {
		.what = what, .interval_ms = (long)poll_ms(o),
		.timeout_s = (long)((o->wait_timeout_ms + 999) / 1000),
		.timeout_field = "wait_timeout_s", .jitter = 1, .progress_every_s = 60,
	};
	int rc;

	memset(l, 0, sizeof(*l));
	a.l = l;
	random_hex(lease_id, 16);
	snprintf(what, sizeof(what), "the %s lock on %s", mode_name(o->write), o->resource);
	if (o->wait)
		rc = dw_wait_until(&w, poll_acquire, &a);
	else
		rc = try_settled(aws, o, holder, lease_id, l);
	if (rc != 0 && o->wait && o->write)
		drop_waiter(aws, o, holder);
	if (rc == 1 && !l->holder)
		l->holder = dw_xstrdup(holder);
	l->waited_ms = now_ms() - start;
	free(holder);
	if (rc == 0)
		dw_info("%s lock on %s granted to %s (lease %s, fencing token %lld, %lld s)",
			mode_name(l->write), o->resource, l->holder, l->lease_id, l->fence,
			o->ttl_ms / 1000);
	return rc;
}

/* ---- renew, release, check, break ---------------------------------------- */

static int lease_lost(const struct dw_lock_opts *o, const char *holder, const char *why)
{
	return dw_raise(DW_FAILED, "LeaseLost", NULL, "the lease of %s on %s is lost: %s",
			holder, o->resource, why);
}

/* The holder's current entry (lease id o->lease_id when given), read now. */
static int own_entry(struct dw_aws *aws, const struct dw_lock_opts *o,
		     struct dw_lock_state *s, const struct dw_lock_entry **e)
{
	if (read_state(aws, o, s))
		return -1;
	*e = dw_lock_state_find(s, o->holder);
	if (*e && o->lease_id && strcmp((*e)->lease, o->lease_id) != 0)
		*e = NULL;
	return 0;
}

/* UpdateItem on the holder's entry only (renewals of other holders never
 * conflict with it), conditioned on its lease id.  remove: drop the entry,
 * else set its expiry to exp.  0 done (*attrs the new item when asked), 1
 * the entry is not there with that lease, -1 failed. */
static int update_entry(struct dw_aws *aws, const struct dw_lock_opts *o, const char *holder,
			const char *lease_id, int write, int remove, long long exp, cJSON **attrs)
{
	char wid[33];
	cJSON *names = cJSON_CreateObject(), *values = cJSON_CreateObject();
	struct dw_ddb_write w = { .table = table_of(o), .names = names, .values = values };
	cJSON *key = key_of(o->resource);
	int rc;

	random_hex(wid, 16);
	w.key = key;
	cJSON_AddStringToObject(names, "#v", "ver");
	cJSON_AddStringToObject(names, "#wid", "wid");
	cJSON_AddStringToObject(names, "#u", "updated");
	cJSON_AddStringToObject(names, "#l", "lease");
	dw_ddb_add(values, ":one", dw_ddb_n(1));
	dw_ddb_add(values, ":wid", dw_ddb_s(wid));
	dw_ddb_add(values, ":now", dw_ddb_n(now_ms()));
	dw_ddb_add(values, ":l", dw_ddb_s(lease_id));
	if (!remove) {
		cJSON_AddStringToObject(names, "#x", "exp");
		dw_ddb_add(values, ":x", dw_ddb_n(exp));
	}
	if (write) {
		cJSON_AddStringToObject(names, "#w", "writer");
		cJSON_AddStringToObject(names, "#hol", "holder");
		dw_ddb_add(values, ":h", dw_ddb_s(holder));
		w.condition = "#w.#hol = :h AND #w.#l = :l";
		w.update = remove ? "REMOVE #w SET #v = #v + :one, #wid = :wid, #u = :now"
				  : "SET #w.#x = :x, #v = #v + :one, #wid = :wid, #u = :now";
	} else {
		cJSON_AddStringToObject(names, "#rd", "readers");
		cJSON_AddStringToObject(names, "#h", holder);
		w.condition = "#rd.#h.#l = :l";
		w.update = remove ? "REMOVE #rd.#h SET #v = #v + :one, #wid = :wid, #u = :now"
				  : "SET #rd.#h.#x = :x, #v = #v + :one, #wid = :wid, #u = :now";
	}
	w.return_values = attrs ? "ALL_NEW" : NULL;
	rc = dw_ddb_update_item(aws, &w, attrs);
	cJSON_Delete(key);
	cJSON_Delete(names);
	cJSON_Delete(values);
	return rc;
}

/* Renew a lease we know (exec, and renew after reading): 0 renewed, -1
 * LeaseLost or another error (then the lease may still be ours: retry). */
static int renew_known(struct dw_aws *aws, const struct dw_lock_opts *o, struct dw_lock_lease *l)
{
	long long now = now_ms(), exp = now + o->ttl_ms;
	cJSON *attrs = NULL;
	int rc;

	if (now >= l->expires_ms)
		return lease_lost(o, l->holder, "it ran out before it could be renewed");
	rc = update_entry(aws, o, l->holder, l->lease_id, l->write, 0, exp, &attrs);
	if (rc == 0) {
		struct dw_lock_state s;
		const struct dw_lock_entry *e = NULL;
		if (dw_lock_state_read(&s, attrs) == 0)
			e = dw_lock_state_find(&s, l->holder);
		if (e)
			fill_lease(l, o, &s, e);
		else
			l->expires_ms = exp;
		dw_lock_state_release(&s);
		cJSON_Delete(attrs);
		return 0;
	}
	cJSON_Delete(attrs);
	if (rc == 1) {
		/* The entry is gone or holds another lease: an admin broke it,
		 * or it ran out and someone took the resource. */
		return lease_lost(o, l->holder, "it is no longer in the lock item (broken, or expired and taken)");
	}
	/* No answer: the update may have been applied (it is idempotent, so
	 * the caller's retry is safe), or not. */
	return -1;
}

int dw_lock_renew(struct dw_aws *aws, const struct dw_lock_opts *o, struct dw_lock_lease *l)
{
	struct dw_lock_state s;
	const struct dw_lock_entry *e;
	int rc;

	memset(l, 0, sizeof(*l));
	if (own_entry(aws, o, &s, &e))
		return -1;
	if (!e) {
		dw_lock_state_release(&s);
		return lease_lost(o, o->holder, o->lease_id ? "no lease with that id in the lock item"
							    : "it holds no lease on the resource");
	}
	fill_lease(l, o, &s, e);
	dw_lock_state_release(&s);
	rc = renew_known(aws, o, l);
	if (rc == 0)
		dw_info("%s lease of %s on %s renewed for %lld s", mode_name(l->write), l->holder,
			o->resource, o->ttl_ms / 1000);
	return rc;
}

int dw_lock_release(struct dw_aws *aws, const struct dw_lock_opts *o, int *released)
{
	struct dw_lock_state s;
	const struct dw_lock_entry *e;
	char *lease_id;
	int write, rc;

	*released = 0;
	if (own_entry(aws, o, &s, &e))
		return -1;
	if (!e) {
		dw_lock_state_release(&s);
		dw_warn("%s holds no lease on %s%s: nothing to release", o->holder, o->resource,
			o->lease_id ? " with that lease id" : "");
		return 0;
	}
	lease_id = dw_xstrdup(e->lease);
	write = e->write;
	dw_lock_state_release(&s);
	rc = update_entry(aws, o, o->holder, lease_id, write, 1, 0, NULL);
	if (rc != 0) {
		/* Condition failed or no answer: is the lease still there? */
		struct dw_error saved;
		struct dw_lock_lease l = { 0 };
		dw_error_save(&saved);
		int own = find_own(aws, o, o->holder, lease_id, &l);
		dw_lock_lease_release(&l);
		if (own == 0)
			rc = 0; /* gone: our release, or it was broken meanwhile */
		else if (own == 1 && rc == 1)
			rc = dw_fail("InternalError", "release of %s on %s: the condition failed with the lease in place",
				     o->holder, o->resource);
		else
			dw_error_restore(&saved);
	}
	if (rc == 0) {
		*released = 1;
		dw_info("%s lease of %s on %s released", mode_name(write), o->holder, o->resource);
	}
	free(lease_id);
	return rc;
}

int dw_lock_check(struct dw_aws *aws, const struct dw_lock_opts *o, struct dw_lock_lease *l)
{
	struct dw_lock_state s;
	const struct dw_lock_entry *e;
	char why[256];
	int rc = 0;

	memset(l, 0, sizeof(*l));
	if (own_entry(aws, o, &s, &e))
		return -1;
	if (!e)
		rc = lease_lost(o, o->holder, o->lease_id ? "no lease with that id in the lock item"
							  : "it holds no lease on the resource");
	else if (now_ms() >= e->expires_ms)
		rc = lease_lost(o, o->holder, "it has expired");
	else if (e->write && o->fence >= 0 && s.fence != o->fence) {
		snprintf(why, sizeof(why), "the fencing token is %lld now, not %lld", s.fence, o->fence);
		rc = lease_lost(o, o->holder, why);
	}
	if (e)
		fill_lease(l, o, &s, e);
	dw_lock_state_release(&s);
	return rc;
}

int dw_lock_break(struct dw_aws *aws, const struct dw_lock_opts *o, const char *reason,
		  int *broken)
{
	*broken = 0;
	for (int tries = 0; tries < MAX_CONFLICTS; tries++) {
		struct dw_lock_state s;
		struct dw_lock_entry *e;
		char until[40];

		if (read_state(aws, o, &s))
			return -1;
		e = dw_lock_state_find(&s, o->holder);
		if (!e || (o->lease_id && strcmp(e->lease, o->lease_id) != 0)) {
			dw_lock_state_release(&s);
			dw_warn("break: %s holds no lease on %s%s", o->holder, o->resource,
				o->lease_id ? " with that lease id" : "");
			return 0;
		}
		iso_ms(e->expires_ms, until);
		dw_warn("break: removing the %s lease %s of %s on %s (until %s); reason: %s",
			mode_name(e->write), e->lease, o->holder, o->resource, until, reason);
		dw_lock_state_remove(&s, o->holder);
		int rc = write_state(aws, o, &s, 1, s.ver);
		dw_lock_state_release(&s);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			*broken = 1;
			return 0;
		}
	}
	return dw_raise(DW_TRANSIENT, "LockContention", NULL, "break: too many conflicting writes on %s",
			o->resource);
}

/* ---- status ------------------------------------------------------------------- */

static void add_time(cJSON *obj, const char *name, long long ms)
{
	char iso[40];

	iso_ms(ms, iso);
	cJSON_AddStringToObject(obj, name, iso);
}

int dw_lock_status(struct dw_aws *aws, const struct dw_lock_opts *o, cJSON **out)
{
	struct dw_lock_state s;
	long long now = now_ms();
	char why[512];
	cJSON *st, *holders;

	if (read_state(aws, o, &s))
		return -1;
	st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "resource", o->resource);
	cJSON_AddStringToObject(st, "table", table_of(o));
	cJSON_AddBoolToObject(st, "exists", s.exists);
	cJSON_AddNumberToObject(st, "fencing_token", (double)s.fence);
	cJSON_AddNumberToObject(st, "version", (double)s.ver);
	holders = cJSON_AddArrayToObject(st, "holders");
	for (size_t i = 0; i < s.n; i++) {
		const struct dw_lock_entry *e = &s.e[i];
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "holder", e->holder);
		cJSON_AddStringToObject(h, "mode", mode_name(e->write));
		cJSON_AddStringToObject(h, "lease_id", e->lease);
		add_time(h, "granted_at", e->granted_ms);
		add_time(h, "expires_at", e->expires_ms);
		cJSON_AddNumberToObject(h, "expires_in_ms", (double)(e->expires_ms - now));
		cJSON_AddBoolToObject(h, "live", dw_lock_live(e->expires_ms, now, o->skew_ms));
		cJSON_AddItemToArray(holders, h);
	}
	if (s.waiter) {
		cJSON *w = cJSON_AddObjectToObject(st, "waiting_writer");
		cJSON_AddStringToObject(w, "holder", s.waiter);
		cJSON_AddBoolToObject(w, "writer_priority", s.waiter_prio);
		add_time(w, "expires_at", s.waiter_exp);
		cJSON_AddBoolToObject(w, "live", dw_lock_live(s.waiter_exp, now, o->skew_ms));
	} else {
		cJSON_AddNullToObject(st, "waiting_writer");
	}
	/* As a newcomer would see it. */
	cJSON_AddBoolToObject(st, "free_for_read", dw_lock_may_grant(&s, "", 0, now, o->skew_ms, why, sizeof(why)));
	cJSON_AddBoolToObject(st, "free_for_write", dw_lock_may_grant(&s, "", 1, now, o->skew_ms, why, sizeof(why)));
	if (s.updated_ms)
		add_time(st, "updated_at", s.updated_ms);
	dw_lock_state_release(&s);
	*out = st;
	return 0;
}

struct table_wait {
	struct dw_aws *aws;
	const char *table;
};

static enum dw_wait_state poll_table(void *ud, struct dw_wait_poll *p)
{
	struct table_wait *t = ud;
	char *status = NULL;
	int rc = dw_ddb_table_status(t->aws, t->table, &status);

	if (rc < 0)
		return DW_WAIT_FAILED;
	snprintf(p->status, sizeof(p->status), "%s", rc == 0 ? status : "not found yet");
	rc = rc == 0 && strcmp(status, "ACTIVE") == 0;
	free(status);
	return rc ? DW_WAIT_DONE : DW_WAIT_PENDING;
}

int dw_lock_create_table(struct dw_aws *aws, const char *table, int *created)
{
	char what[300];
	struct table_wait t = { aws, table };
	struct dw_wait w = { .what = what, .interval_ms = 2000,
			     .timeout_s = TABLE_ACTIVE_TIMEOUT_MS / 1000 };
	int rc = dw_ddb_create_table(aws, table, DW_LOCK_KEY);

	if (rc < 0)
		return -1;
	*created = rc == 0;
	snprintf(what, sizeof(what), "table %s", table);
	return dw_wait_until(&w, poll_table, &t);
}

cJSON *dw_lock_lease_json(const struct dw_lock_lease *l)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "resource", l->resource ? l->resource : "");
	cJSON_AddStringToObject(j, "holder", l->holder ? l->holder : "");
	cJSON_AddStringToObject(j, "mode", mode_name(l->write));
	cJSON_AddStringToObject(j, "lease_id", l->lease_id ? l->lease_id : "");
	cJSON_AddNumberToObject(j, "fencing_token", (double)l->fence);
	add_time(j, "granted_at", l->granted_ms);
	add_time(j, "expires_at", l->expires_ms);
	cJSON_AddNumberToObject(j, "granted_ms", (double)l->granted_ms);
	cJSON_AddNumberToObject(j, "expires_ms", (double)l->expires_ms);
	return j;
}

/* ---- exec -------------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* What the command learns of its lease, to check it before committing
 * (dw-lock check) or to put the fencing token on what it writes. */
static void export_lease(const struct dw_lock_lease *l, const char *table)
{
	char token[32];

	snprintf(token, sizeof(token), "%lld", l->fence);
	setenv("DW_LOCK_RESOURCE", l->resource, 1);
	setenv("DW_LOCK_TABLE", table, 1);
	setenv("DW_LOCK_HOLDER", l->holder, 1);
	setenv("DW_LOCK_LEASE_ID", l->lease_id, 1);
	setenv("DW_LOCK_MODE", mode_name(l->write), 1);
	setenv("DW_LOCK_FENCING_TOKEN", token, 1);
}

static pid_t start_command(char *const *argv, const struct dw_lock_lease *l,
			   const char *table)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0) {
		if (pid > 0)
			setpgid(pid, pid);
		return pid;
	}
	/* Its own process group, so a stop reaches the whole tree; and it
	 * dies with dw-lock, so it never runs on without the lease renewed. */
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	export_lease(l, table);
	execvp(argv[0], argv);
	fprintf(stderr, "dw-lock: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int reap(pid_t pid, int *status)
{
	pid_t got = waitpid(pid, status, WNOHANG);

	return got == pid;
}

struct reap_wait {
	pid_t pid;
	int *status;
};

static enum dw_wait_state poll_reaped(void *ud, struct dw_wait_poll *p)
{
	struct reap_wait *r = ud;

	(void)p;
	return reap(r->pid, r->status) ? DW_WAIT_DONE : DW_WAIT_PENDING;
}

/* Stop the command: sig to its group, then SIGKILL after grace_ms (looked
 * at every 50 ms). */
static void stop_command(pid_t pid, int sig, long long grace_ms, int *status)
{
	struct reap_wait r = { pid, status };
	struct dw_wait w = { .what = "the command", .interval_ms = 50,
			     .timeout_s = (long)((grace_ms + 999) / 1000) };
	struct dw_error saved;

	dw_error_save(&saved);
	kill(-pid, sig);
	if (dw_wait_until(&w, poll_reaped, &r)) {
		dw_warn("the command did not stop within %lld s of %s: SIGKILL", grace_ms / 1000,
			strsignal(sig));
		kill(-pid, SIGKILL);
		waitpid(pid, status, 0);
	}
	dw_error_restore(&saved);
	kill(-pid, SIGKILL); /* what is left of its group */
}

static void install(struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &old[0]);
	sigaction(SIGINT, &sa, &old[1]);
	sigaction(SIGHUP, &sa, &old[2]);
}

static void uninstall(const struct sigaction *old)
{
	sigaction(SIGTERM, &old[0], NULL);
	sigaction(SIGINT, &old[1], NULL);
	sigaction(SIGHUP, &old[2], NULL);
}

struct supervision {
	struct dw_aws *aws;
	const struct dw_lock_opts *o;
	pid_t pid;
	long long grace_ms, every, retry, next;
	struct dw_lock_exec_result *r;
	int status;
};

/* A renewal that failed: LeaseLost, or it ran out meanwhile, stops the
 * command (1); anything else is tried again in a moment (0). */
static int renewal_failed(struct supervision *s)
{
	struct dw_error lost_error;

	if (!dw_error_is("LeaseLost") && now_ms() < s->r->lease.expires_ms) {
		dw_warn("renewal failed (%s: %s); trying again in %lld ms", dw_error_last()->code,
			dw_error_last()->message, s->retry);
		s->next = now_ms() + s->retry;
		return 0;
	}
	if (!dw_error_is("LeaseLost"))
		lease_lost(s->o, s->r->lease.holder, "it could not be renewed before it ran out");
	dw_error_save(&lost_error);
	s->r->lost = 1;
	dw_err("%s: stopping the command (SIGTERM, SIGKILL after %lld s)",
	       lost_error.message, s->grace_ms / 1000);
	stop_command(s->pid, SIGTERM, s->grace_ms, &s->status);
	dw_error_restore(&lost_error);
	return 1;
}

/* Every 100 ms: has the command ended, was a stop signal received, is a
 * renewal due?  Ends (DONE) when the command has ended or was stopped. */
static enum dw_wait_state poll_command(void *ud, struct dw_wait_poll *p)
{
	struct supervision *s = ud;

	(void)p;
	if (reap(s->pid, &s->status))
		return DW_WAIT_DONE;
	if (stop_signal) {
		int sig = stop_signal;
		dw_warn("%s received: passing it to the command", strsignal(sig));
		stop_command(s->pid, sig, s->grace_ms, &s->status);
		return DW_WAIT_DONE;
	}
	if (now_ms() < s->next)
		return DW_WAIT_PENDING;
	if (renew_known(s->aws, s->o, &s->r->lease) == 0) {
		s->r->renewals++;
		s->next = now_ms() + s->every;
		dw_debug("lease renewed until %lld", s->r->lease.expires_ms);
		return DW_WAIT_PENDING;
	}
	return renewal_failed(s) ? DW_WAIT_DONE : DW_WAIT_PENDING;
}

/* Run the command to its end, renewing every ttl/3 (a failed renewal again
 * after ttl/10, 50 ms to 1 s); returns its wait status. */
static int supervise(struct dw_aws *aws, const struct dw_lock_opts *o, pid_t pid,
		     long long grace_ms, struct dw_lock_exec_result *r)
{
	struct supervision s = {
		.aws = aws, .o = o, .pid = pid, .grace_ms = grace_ms, .r = r,
		.every = o->ttl_ms / 3,
		.retry = o->ttl_ms / 10 < 1000 ? (o->ttl_ms / 10 > 50 ? o->ttl_ms / 10 : 50) : 1000,
	};
	struct dw_wait w = { .what = "the command", .interval_ms = 100, .forever = 1 };

	s.next = now_ms() + s.every;
	/* The poll never fails and there is no time limit: it ends when the
	 * command does. */
	(void)dw_wait_until(&w, poll_command, &s);
	return s.status;
}

int dw_lock_exec(struct dw_aws *aws, const struct dw_lock_opts *o,
		 char *const *argv, long long grace_ms, struct dw_lock_exec_result *r)
{
	struct sigaction old[3];
	struct dw_lock_opts own = *o;
	long long started;
	int rc, status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	rc = o->join ? dw_lock_renew(aws, o, &r->lease) : dw_lock_acquire(aws, o, &r->lease);
	if (rc != 0)
		return rc;
	/* Copies: renewals refill r->lease. */
	char *holder = dw_xstrdup(r->lease.holder), *lease_id = dw_xstrdup(r->lease.lease_id);
	own.holder = holder;
	own.lease_id = lease_id;
	stop_signal = 0;
	install(old);
	fflush(stdout);
	fflush(stderr);
	started = now_ms();
	pid = start_command(argv, &r->lease, table_of(o));
	if (pid < 0) {
		rc = dw_fail("ExecFailed", "cannot start %s: %s", argv[0], strerror(errno));
	} else {
		r->ran = 1;
		dw_info("running %s under the %s lease on %s", argv[0], mode_name(r->lease.write), o->resource);
		status = supervise(aws, &own, pid, grace_ms, r);
		r->ran_ms = now_ms() - started;
		if (WIFEXITED(status)) {
			r->exit_code = WEXITSTATUS(status);
		} else if (WIFSIGNALED(status)) {
			r->term_signal = WTERMSIG(status);
			r->exit_code = 128 + r->term_signal;
		}
		dw_info("%s exited with %d after %lld ms (%ld renewals)", argv[0], r->exit_code,
			r->ran_ms, r->renewals);
	}
	uninstall(old);
	if (!r->lost && !o->join) {
		struct dw_error saved;
		dw_error_save(&saved);
		if (dw_lock_release(aws, &own, &r->released))
			dw_warn("release failed (%s); the lease runs out by itself at its expiry",
				dw_error_last()->message);
		dw_error_restore(&saved);
	}
	free(holder);
	free(lease_id);
	if (r->lost)
		return -1;
	return rc;
}
