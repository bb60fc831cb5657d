/* dw/timefmt.h - ISO 8601 times as AWS and Airflow write them. */
#ifndef DW_TIMEFMT_H
#define DW_TIMEFMT_H

#include <time.h>

/* The one ISO 8601 parser, strict: a date "2019-06-01" (or "20190601"),
 * optionally followed by 'T' (or ' ') and "HH", "HH:MM" or "HH:MM:SS"
 * ("HHMMSS" after a basic date), a fraction of a second, and an offset
 * "Z", "+hh", "+hh:mm" or "+hhmm" (none: UTC).  Dates that do not exist
 * (2019-02-31, 2019-02-29, month 13), 24:00 and leap seconds are refused,
 * never moved to another day.  0 with *out in UTC seconds, or -1.
 * *inexact (may be NULL) is set when the fraction is not zero. */
int dw_time_parse(const char *text, time_t *out, int *inexact);
/* The same as a value: UTC seconds, or -1 when text is not a time. */
time_t dw_time_parse_iso(const char *iso);
/* "2019-06-01T15:04:05Z" into out. */
void dw_time_format_iso(time_t t, char out[32]);

/* Sleep for ms milliseconds, resuming after signals (waiters, backoff). */
void dw_sleep_ms(long ms);

#endif
