/* dw/wait.h - the one waiter: poll something until it is done, has failed
 * or the time is up, sleeping between polls and saying on stderr how it
 * goes.  Serves every polling loop (copy launch and destroy, export wait,
 * Glue crawls, Athena queries, lock waits and a locked command's
 * renewals). */
#ifndef DW_WAIT_H
#define DW_WAIT_H

#include <stddef.h>
#include <time.h>

enum dw_wait_state {
	DW_WAIT_PENDING, /* not yet: sleep, then poll again */
	DW_WAIT_DONE,    /* finished well */
	DW_WAIT_FAILED,  /* finished badly, or could not look: error raised */
};

/* What one poll sees and says. */
struct dw_wait_poll {
	long elapsed_s;   /* in: since the wait's start */
	long interval_ms; /* in: the pause before the next poll */
	char status[256]; /* out: the state for the progress line ("creating",
			     "IN_PROGRESS, 45%"); "" logs nothing */
};

typedef enum dw_wait_state (*dw_wait_fn)(void *ud, struct dw_wait_poll *p);

struct dw_wait {
	const char *what;         /* names it in progress lines and errors */
	long interval_ms;         /* between polls (at least 1) */
	long max_interval_ms;     /* > interval_ms: the pause doubles up to it
				     after each poll (Athena: 200 ms .. 5 s) */
	long timeout_s;           /* give up once this much has passed */
	time_t start;             /* when the time limit began; 0: now (a
				     launch's waits share one limit) */
	const char *timeout_hint; /* after the timeout message, e.g. "; wait
				     again later"; may be NULL */
	const char *timeout_field;/* the WaitTimeout's error field (the
				     request field that set the limit, e.g.
				     "wait_timeout_s"); may be NULL */
	int forever;              /* no time limit: only the poll ends the
				     wait (a command supervised under a lease) */
	int jitter;               /* each pause +-25% at random, so that many
				     waiters on one thing (a lock) spread out */
	long progress_every_s;    /* log a pending poll's status at most this
				     often (the first always); 0: every poll */
};

/* Poll until DONE (0) or FAILED (-1, the poll's error); a poll that is
 * PENDING when timeout_s has passed (measured in milliseconds on the
 * monotonic clock) raises DW_TRANSIENT WaitTimeout ("<what> is still
 * <status> after <n>s<hint>", field timeout_field).  The last pause is cut
 * to end at the time limit, so the final poll comes right at it.  Each
 * poll's status is logged: "<what> is <status>; checking again in ..."
 * while pending, "<what>: <status> (<n>s elapsed)" when it ended. */
int dw_wait_until(const struct dw_wait *w, dw_wait_fn poll, void *ud);

#endif
