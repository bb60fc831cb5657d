/* dw/timefmt.h - ISO 8601 times as AWS and Airflow write them. */
#ifndef DW_TIMEFMT_H
#define DW_TIMEFMT_H

#include <time.h>

/* "2019-06-01T15:04:05Z", with optional fraction and "+hh:mm" offset, or a
 * bare date "2019-06-01"; UTC seconds, or -1 when it is none of those. */
time_t dw_time_parse_iso(const char *iso);
/* "2019-06-01T15:04:05Z" into out. */
void dw_time_format_iso(time_t t, char out[32]);

/* Sleep for ms milliseconds, resuming after signals (waiters, backoff). */
void dw_sleep_ms(long ms);

#endif
