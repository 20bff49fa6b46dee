/* SPDX-License-Identifier: MIT */
#ifndef REDSCOPE_WEB_H
#define REDSCOPE_WEB_H

#include "config.h"
#include "prom.h"

/* Renders /metrics: every collector plus self metrics (defined in main.c). */
void metrics__render(struct prom *p);

/* Starts the HTTP server on cfg->listen_addr. Returns 0 or -errno after
 * logging one clear line (e.g. port already in use). */
int web__start(const struct config *cfg);
void web__stop(void);

#endif
