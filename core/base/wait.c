/* wait.c - the one polling loop. */
#include "base/wait.h"
#include "base/error.h"
#include "base/log.h"
#include "base/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void say_pause(char *out, size_t len, long ms)
{
	if (ms >= 1000 && ms % 1000 == 0)
		snprintf(out, len, "%lds", ms / 1000);
	else
		snprintf(out, len, "%ld ms", ms);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pause +-25% at random. */
static long jittered(long pause)
{
	long spread = pause / 2;

	return spread > 0 ? pause - pause / 4 + (long)(random() % (spread + 1)) : pause;
}

int dw_wait_until(const struct dw_wait *w, dw_wait_fn poll, void *ud)
{
	/* A limit that began earlier (w->start: a launch's waits share one)
	 * has that much spent already. */
	long long t0 = mono_ms() - (w->start ? (long long)(time(NULL) - w->start) * 1000 : 0);
	long long limit_ms = (long long)w->timeout_s * 1000, logged_ms = -1;
	long pause = w->interval_ms > 0 ? w->interval_ms : 1;
	const char *what = w->what ? w->what : "the wait";

	for (;;) {
		struct dw_wait_poll p = { .elapsed_s = (long)((mono_ms() - t0) / 1000),
					  .interval_ms = pause };
		enum dw_wait_state state = poll(ud, &p);
		long long now = mono_ms();
		char next[32];

		if (state != DW_WAIT_PENDING) {
			if (p.status[0])
				dw_info("%s: %s (%lds elapsed)", what, p.status, p.elapsed_s);
			return state == DW_WAIT_DONE ? 0 : -1;
		}
		long long left_ms = w->forever ? pause : limit_ms - (now - t0);
		if (left_ms <= 0)
			return dw_raise(DW_TRANSIENT, "WaitTimeout", w->timeout_field,
					"%s is still %s after %llds%s", what,
					p.status[0] ? p.status : "not done",
					(now - t0) / 1000, w->timeout_hint ? w->timeout_hint : "");
		long sleep_ms = w->jitter ? jittered(pause) : pause;
		if (sleep_ms > left_ms)
			sleep_ms = (long)left_ms;
		say_pause(next, sizeof(next), sleep_ms);
		if (p.status[0] && (logged_ms < 0 || w->progress_every_s <= 0 ||
				    now - logged_ms >= w->progress_every_s * 1000LL)) {
			dw_info("%s is %s; checking again in %s (%lds elapsed)", what, p.status,
				next, p.elapsed_s);
			logged_ms = now;
		}
		dw_sleep_ms(sleep_ms);
		if (w->max_interval_ms > pause)
			pause = pause * 2 > w->max_interval_ms ? w->max_interval_ms : pause * 2;
	}
}
