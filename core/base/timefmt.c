/* timefmt.c - ISO 8601 parsing (the one parser of the code base, strict)
 * and formatting in UTC. */
#include "base/timefmt.h"

#include <ctype.h>
#include <errno.h>

/* Exactly n digits at *p. */
static int take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* "Z", "+hh", "+hh:mm", "+hhmm" or nothing (UTC); seconds east of UTC. */
static int take_offset(const char *p, long *offset)
{
	int sign, hh, mm = 0;

	*offset = 0;
	if (*p == '\0')
		return 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (take_digits(&p, 2, &hh))
		return -1;
	if (*p == ':')
		p++;
	if (*p && take_digits(&p, 2, &mm))
		return -1;
	if (*p || hh > 23 || mm > 59)
		return -1;
	*offset = sign * (hh * 3600L + mm * 60L);
	return 0;
}

/* The time of day after the date: "HH", "HH:MM", "HH:MM:SS" (or the basic
 * "HHMMSS"), an optional fraction, then the offset.  24:00 and leap
 * seconds are refused. */
static int take_time(const char *p, int basic, struct tm *tm, long *offset,
		     int *inexact)
{
	if (take_digits(&p, 2, &tm->tm_hour))
		return -1;
	if ((basic && isdigit((unsigned char)*p)) || (!basic && *p == ':')) {
		p += !basic;
		if (take_digits(&p, 2, &tm->tm_min))
			return -1;
		if ((basic && isdigit((unsigned char)*p)) || (!basic && *p == ':')) {
			p += !basic;
			if (take_digits(&p, 2, &tm->tm_sec))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				for (; isdigit((unsigned char)*p); p++)
					*inexact |= *p != '0';
			}
		}
	}
	if (tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 59)
		return -1;
	return take_offset(p, offset);
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int dw_time_parse(const char *text, time_t *out, int *inexact)
{
	struct tm tm = { 0 };
	const char *p = text;
	int year, month, day, basic, frac = 0;
	long offset = 0;

	if (!p || take_digits(&p, 4, &year))
		return -1;
	basic = *p != '-';
	p += !basic;
	if (take_digits(&p, 2, &month) || (!basic && *p++ != '-') || take_digits(&p, 2, &day))
		return -1;
	/* Checked here, not left to timegm, which reads 2019-02-31 as March 3. */
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (take_time(p + 1, basic, &tm, &offset, &frac))
			return -1;
	} else if (take_offset(p, &offset)) {
		return -1;
	}
	*out = timegm(&tm) - offset;
	if (inexact)
		*inexact = frac;
	return 0;
}

time_t dw_time_parse_iso(const char *iso)
{
	time_t t;

	return dw_time_parse(iso, &t, NULL) ? (time_t)-1 : t;
}

void dw_time_format_iso(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void dw_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
