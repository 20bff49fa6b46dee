// SPDX-License-Identifier: MIT
/* Levelled logging in logfmt or JSON on stderr; libbpf's messages go through it too. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "log.h"

enum log_level log_min_level = LOG_INFO;
static bool log_json;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log__setup(enum log_level min_level, bool json)
{
	log_min_level = min_level;
	log_json = json;
}

int log__parse_level(const char *s, enum log_level *out)
{
	unsigned i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Writes s quoted for logfmt/JSON (both accept \" \\ \n \t escapes). */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void vlog(enum log_level level, const char *fmt, va_list ap)
{
	char msg[1024], ts[96];
	struct timespec now;
	struct tm tm;
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n') /* libbpf ends its lines with one */
		msg[--len] = 0;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);

	flockfile(stderr);
	if (log_json) {
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[level]);
		put_quoted(stderr, msg);
		fputs("}\n", stderr);
	} else {
		fprintf(stderr, "ts=%s level=%s msg=", ts, level_names[level]);
		put_quoted(stderr, msg);
		fputc('\n', stderr);
	}
	funlockfile(stderr);
}

void log__printf(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level < log_min_level)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf warns about what we report ourselves, one line per program
	 * (a failed attach), so all of its output is debug detail to us. */
	(void)level;
	if (LOG_DEBUG < log_min_level)
		return 0;
	vlog(LOG_DEBUG, fmt, ap);
	return 0;
}

void log__hook_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
