/* log.c - timestamped log lines on stderr, each redacted (base/redact.h)
 * before it is written. */
#include "base/log.h"
#include "base/redact.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static enum dw_level threshold(void)
{
	static int level = -1;

	if (level < 0) {
		const char *v = getenv("DW_LOG_LEVEL");
		level = DW_LOG_INFO;
		if (v && strcasecmp(v, "debug") == 0)
			level = DW_LOG_DEBUG;
		else if (v && strcasecmp(v, "warn") == 0)
			level = DW_LOG_WARN;
		else if (v && strcasecmp(v, "error") == 0)
			level = DW_LOG_ERROR;
	}
	return (enum dw_level)level;
}

void dw_log(enum dw_level level, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	char line[4096];
	char stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (level < threshold())
		return;
	va_start(ap, fmt);
	dw_redact_vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One line each: a multi-line text would break log parsers. */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, (long)(tv.tv_usec / 1000),
		names[level], line);
}
