/* timefmt.c - ISO 8601 parsing and formatting in UTC. */
#include "base/timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_fraction(const char *p)
{
	if (*p == '.' || *p == ',') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

/* "Z", "+hh:mm", "+hhmm", "-hh" or nothing (UTC); seconds east of UTC. */
static int parse_offset(const char *p, long *offset)
{
	int sign, hh = 0, mm = 0;

	*offset = 0;
	if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0'))
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p == '-' ? -1 : 1;
	p++;
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	hh = (p[0] - '0') * 10 + (p[1] - '0');
	p += 2;
	if (*p == ':')
		p++;
	if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
		mm = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
	}
	if (*p || hh > 23 || mm > 59)
		return -1;
	*offset = sign * (hh * 3600L + mm * 60L);
	return 0;
}

time_t dw_time_parse_iso(const char *iso)
{
	struct tm tm = { 0 };
	const char *p;
	long offset;

	if (!iso)
		return (time_t)-1;
	p = strptime(iso, "%Y-%m-%d", &tm);
	if (!p)
		return (time_t)-1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		const char *q = strptime(p + 1, "%H:%M:%S", &tm);
		if (!q)
			return (time_t)-1;
		p = skip_fraction(q);
	}
	if (parse_offset(p, &offset))
		return (time_t)-1;
	return timegm(&tm) - offset;
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
