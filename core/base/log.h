/* dw/log.h - timestamped logging on stderr, with secrets redacted
 * (base/redact.h). */
#ifndef DW_LOG_H
#define DW_LOG_H

#include <stddef.h>
#include "base/error.h"

enum dw_level { DW_LOG_DEBUG, DW_LOG_INFO, DW_LOG_WARN, DW_LOG_ERROR };

/* DW_LOG_LEVEL=debug|info|warn|error in the environment sets the threshold. */
void dw_log(enum dw_level level, const char *fmt, ...) DW_PRINTF(2, 3);
#define dw_debug(...) dw_log(DW_LOG_DEBUG, __VA_ARGS__)
#define dw_info(...) dw_log(DW_LOG_INFO, __VA_ARGS__)
#define dw_warn(...) dw_log(DW_LOG_WARN, __VA_ARGS__)
#define dw_err(...) dw_log(DW_LOG_ERROR, __VA_ARGS__)

#endif
