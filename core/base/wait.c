/* wait.c - the one polling loop. */
#include "base/wait.h"
#include "base/error.h"
#include "base/log.h"
#include "base/timefmt.h"

#include <stdio.h>

static void say_pause(char *out, size_t len, long ms)
{
	if (ms >= 1000 && ms % 1000 == 0)
		snprintf(out, len, "%lds", ms / 1000);
	else
		snprintf(out, len, "%ld ms", ms);
}

int dw_wait_until(const struct dw_wait *w, dw_wait_fn poll, void *ud)
{
	time_t start = w->start ? w->start : time(NULL);
	long pause = w->interval_ms > 0 ? w->interval_ms : 1;
	const char *what = w->what ? w->what : "the wait";

	for (;;) {
		struct dw_wait_poll p = { .elapsed_s = (long)(time(NULL) - start),
					  .interval_ms = pause };
		enum dw_wait_state state = poll(ud, &p);
		char next[32];

		if (state != DW_WAIT_PENDING) {
			if (p.status[0])
				dw_info("%s: %s (%lds elapsed)", what, p.status, p.elapsed_s);
			return state == DW_WAIT_DONE ? 0 : -1;
		}
		long left_ms = (w->timeout_s - (long)(time(NULL) - start)) * 1000L;
		if (left_ms <= 0)
			return dw_raise(DW_TRANSIENT, "WaitTimeout", NULL,
					"%s is still %s after %lds%s", what,
					p.status[0] ? p.status : "not done",
					(long)(time(NULL) - start), w->timeout_hint ? w->timeout_hint : "");
		long sleep_ms = pause < left_ms ? pause : left_ms;
		say_pause(next, sizeof(next), sleep_ms);
		if (p.status[0])
			dw_info("%s is %s; checking again in %s (%lds elapsed)", what, p.status,
				next, p.elapsed_s);
		dw_sleep_ms(sleep_ms);
		if (w->max_interval_ms > pause)
			pause = pause * 2 > w->max_interval_ms ? w->max_interval_ms : pause * 2;
	}
}
