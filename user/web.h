/* SPDX-License-Identifier: MIT */
#ifndef REDSCOPE_WEB_H
#define REDSCOPE_WEB_H

#include "config.h"
#include "prom.h"

/* Starts the HTTP server on cfg->listen_addr; render fills /metrics (every
 * collector plus self metrics). Returns 0 or -errno after logging one clear
 * line (e.g. port already in use). */
int web__start(const struct config *cfg, void (*render)(struct prom *p));
void web__stop(void);

#endif
