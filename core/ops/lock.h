/* ops/lock.h - a soft multi-reader / single-writer lease lock over
 * DynamoDB (dw-lock; dw-extract and dw-etl compact hold it from C).
 *
 * One item per resource; every change is a conditional write on the item's
 * version, so two clients never both win.  Leases expire by dwops' own
 * clock (DynamoDB's TTL deletes late and moto never does): a lease is dead
 * to others clock_skew_ms after its expiry, to its holder at its expiry.
 * A read lease is granted when no live writer holds the resource (and, when
 * a writer waits with writer_priority, not even then); a write lease when
 * no live writer and no live reader does.  Every write grant raises the
 * resource's fencing token.  A write whose answer is lost (the connection
 * dropped after DynamoDB applied it) is resolved by re-reading the item and
 * recognising one's own lease id in it.
 *
 * Item (table key "resource", a string):
 *   resource S, ver N (every write +1), fence N (every write grant +1),
 *   wid S (random id of the last write), updated N (epoch ms),
 *   writer M {holder S, lease S, granted N, exp N}            (absent: none)
 *   readers M {<holder>: M {lease S, granted N, exp N}, ...}
 *   waiter M {holder S, exp N, prio BOOL}  (a writer waiting; absent: none)
 * Items are never deleted: the fencing token must survive idle periods. */
#ifndef DW_LOCK_H
#define DW_LOCK_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct dw_aws;

#define DW_LOCK_TABLE_DEFAULT "dwops-locks"
#define DW_LOCK_KEY "resource"
#define DW_LOCK_TTL_S_DEFAULT 120
#define DW_LOCK_SKEW_MS_DEFAULT 2000
#define DW_LOCK_GRACE_S_DEFAULT 30

struct dw_lock_opts {
	const char *table;          /* NULL: DW_LOCK_TABLE_DEFAULT */
	const char *resource;
	int write;                  /* mode: 1 write, 0 read */
	const char *holder;         /* NULL: dw_lock_default_holder() */
	long long ttl_ms;           /* lease length */
	int wait;                   /* acquire: wait until granted */
	long long wait_timeout_ms;  /* acquire with wait: give up after this */
	int writer_priority;        /* a waiting writer blocks new readers */
	long long skew_ms;          /* clock skew margin */
	const char *lease_id;       /* renew/release/check: NULL any lease of holder */
	long long fence;            /* check (write leases): -1 not checked */
	int join;                   /* exec: run under the holder's existing lease
				     * (renewed, not released at the end) */
};

struct dw_lock_lease {
	char *resource, *holder, *lease_id;
	int write;
	long long fence;            /* fencing token (of this grant, for writers) */
	long long granted_ms, expires_ms;
	long long waited_ms;        /* acquire: time spent waiting */
	int recovered;              /* the grant was recognised after a lost answer */
	char blocked[512];          /* acquire not granted: by whom */
};

/* Fill o with the defaults (mode read, ttl, skew, fence -1). */
void dw_lock_opts_init(struct dw_lock_opts *o);
void dw_lock_lease_release(struct dw_lock_lease *l);

/* "host:pid:random": unique per process (a new string). */
char *dw_lock_default_holder(void);

/* Acquire: 0 granted (*lease filled), 1 not granted with wait off
 * (lease->blocked says by whom; nothing raised), -1 failed: WaitTimeout
 * (DW_TRANSIENT) when waiting ran past wait_timeout_ms, else the error. */
int dw_lock_acquire(struct dw_aws *aws, const struct dw_lock_opts *o,
		    struct dw_lock_lease *lease);
/* Renew the holder's lease (o->lease_id or the one it holds) for another
 * ttl_ms: 0 with lease filled, -1 with LeaseLost (DW_FAILED) when the lease
 * is gone, ran out or was taken, or another error. */
int dw_lock_renew(struct dw_aws *aws, const struct dw_lock_opts *o,
		  struct dw_lock_lease *lease);
/* Release: 0, *released 1 when a lease was removed, 0 when the holder held
 * none (already released, expired and taken, or broken). */
int dw_lock_release(struct dw_aws *aws, const struct dw_lock_opts *o,
		    int *released);
/* Check: 0 when the holder's lease (o->lease_id when given) is live by the
 * holder's clock and, for a writer with o->fence >= 0, the resource's
 * fencing token is still o->fence; else -1 with LeaseLost. */
int dw_lock_check(struct dw_aws *aws, const struct dw_lock_opts *o,
		  struct dw_lock_lease *lease);
/* Break (admin): remove holder's lease (o->holder), logged with reason.
 * *broken 1 when there was one. */
int dw_lock_break(struct dw_aws *aws, const struct dw_lock_opts *o,
		  const char *reason, int *broken);
/* Status as a JSON object (caller deletes): resource, exists, fencing_token,
 * version, holders [{holder, mode, lease_id, granted_at, expires_at,
 * expires_in_ms, live}], waiting_writer {holder, writer_priority,
 * expires_at, live} or null, free_for_read, free_for_write. */
int dw_lock_status(struct dw_aws *aws, const struct dw_lock_opts *o, cJSON **out);
/* Create the table (on-demand billing, key "resource") unless it exists and
 * wait until it is ACTIVE; *created 1 when it was made now. */
int dw_lock_create_table(struct dw_aws *aws, const char *table, int *created);

/* exec: acquire, run argv (in its own process group; it dies with dw-lock;
 * DW_LOCK_RESOURCE, _TABLE, _HOLDER, _LEASE_ID, _MODE, _FENCING_TOKEN in its
 * environment),
 * renew every ttl/3, release when it exits.  Termination signals received
 * are passed to the command.  When a renewal fails the command gets SIGTERM
 * and, grace_ms later, SIGKILL; the result is then -1 with LeaseLost.
 * Returns 0 when the command ran (r->exit_code its exit code, 128+N for a
 * signal), 1 not granted (wait off), -1 failed.  With o->join the lease
 * is the holder's existing one (LeaseLost when it holds none), renewed while
 * the command runs and left held when it exits (a later task releases it). */
struct dw_lock_exec_result {
	struct dw_lock_lease lease;
	int ran;
	int exit_code;
	int term_signal;            /* the signal that ended the command, or 0 */
	long renewals;
	int lost;                   /* the lease was lost while it ran */
	int released;
	long long ran_ms;
};
int dw_lock_exec(struct dw_aws *aws, const struct dw_lock_opts *o,
		 char *const *argv, long long grace_ms,
		 struct dw_lock_exec_result *r);

/* A lease as JSON: resource, holder, mode, lease_id, fencing_token,
 * granted_at, expires_at, expires_ms, ttl_s... (a new object). */
cJSON *dw_lock_lease_json(const struct dw_lock_lease *l);

/* ---- the item's state and the grant rules (pure; unit-tested) ---------- */

struct dw_lock_entry {
	char *holder, *lease;
	int write;
	long long granted_ms, expires_ms;
};

struct dw_lock_state {
	int exists;                 /* the item exists */
	long long ver, fence, updated_ms;
	char *wid;
	struct dw_lock_entry *e;    /* the writer (at most one) and the readers */
	size_t n;
	char *waiter;               /* a waiting writer, or NULL */
	long long waiter_exp;
	int waiter_prio;
};

/* From an item (NULL: no item yet).  -1 with InvalidLockItem raised when
 * the item is not one dw-lock wrote. */
int dw_lock_state_read(struct dw_lock_state *s, const cJSON *item);
void dw_lock_state_release(struct dw_lock_state *s);
/* The item for s (a new object). */
cJSON *dw_lock_state_item(const struct dw_lock_state *s, const char *resource);
/* The holder's entry, or NULL. */
struct dw_lock_entry *dw_lock_state_find(const struct dw_lock_state *s, const char *holder);
/* Live to others: expires_ms + skew_ms > now. */
int dw_lock_live(long long expires_ms, long long now, long long skew_ms);
/* 1 when holder may get the mode now; else 0 with why (who blocks). */
int dw_lock_may_grant(const struct dw_lock_state *s, const char *holder, int write,
		      long long now, long long skew_ms, char *why, size_t why_len);
/* Grant: drop dead entries and the holder's own, add the holder's lease,
 * raise the fencing token for a writer, free the waiter slot if it is the
 * holder's, and bump the version. */
void dw_lock_state_grant(struct dw_lock_state *s, const char *holder, const char *lease,
			 int write, long long now, long long ttl_ms, long long skew_ms);
/* Remove the holder's entry; 1 when there was one. */
int dw_lock_state_remove(struct dw_lock_state *s, const char *holder);

#endif
