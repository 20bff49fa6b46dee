/* SPDX-License-Identifier: MIT */
/* Placeholder until the PostgreSQL collector lands (being written now). */
#include "collector.h"

static int start(const struct config *cfg)
{
	(void)cfg;
	return 0;
}

static void render(struct prom *p)
{
	(void)p;
}

static void stop(void)
{
}

const struct collector pgsql_collector = {
    .name = "pgsql",
    .start = start,
    .render = render,
    .stop = stop,
};
