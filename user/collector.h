/* SPDX-License-Identifier: MIT */
/* What main.c needs from each collector (http.c, pgsql.c, ...). */
#ifndef REDSCOPE_COLLECTOR_H
#define REDSCOPE_COLLECTOR_H

#include "config.h"
#include "prom.h"

struct collector {
	const char *name;
	/* Open, load and attach. Registers its programs, maps and drops with
	 * self__*(). Returns 0 or -errno after logging why; the agent keeps
	 * running the other collectors. */
	int (*start)(const struct config *cfg);
	/* Appends this collector's metric families. May run in several scrape
	 * threads at once: the collector serialises its own userspace state. */
	void (*render)(struct prom *p);
	/* Housekeeping, about once a second from the main thread (may be NULL). */
	void (*tick)(void);
	/* Detach and free; safe after a failed start. */
	void (*stop)(void);
};

extern const struct collector http_collector;
extern const struct collector pgsql_collector;

#endif
