/* SPDX-License-Identifier: MIT */
#ifndef REDSCOPE_LOG_H
#define REDSCOPE_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

/* json=false gives logfmt: ts=... level=info msg="..." */
void log__setup(enum log_level min_level, bool json);
int log__parse_level(const char *s, enum log_level *out);
void log__printf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Routes libbpf's own messages into log__printf (debug output only at debug level). */
void log__hook_libbpf(void);

/* The level is checked before any argument is formatted. */
#define log_at(lvl, ...)                                                                           \
	do {                                                                                       \
		if ((lvl) >= log_min_level)                                                        \
			log__printf((lvl), __VA_ARGS__);                                           \
	} while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
