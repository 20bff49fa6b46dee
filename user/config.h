/* SPDX-License-Identifier: MIT */
#ifndef REDSCOPE_CONFIG_H
#define REDSCOPE_CONFIG_H

#include <stdbool.h>
#include "log.h"
#include "hist.h"

#define REDSCOPE_VERSION "0.1.0"

/* Which tracepoints a collector reads sockets on (--http.hooks, --pgsql.hooks). */
enum hooks {
	HOOKS_AUTO = 0, /* socket where the kernel has them, else syscall */
	HOOKS_SOCKET,
	HOOKS_SYSCALL,
};

struct config {
	char listen_addr[256];	  /* --web.listen-address, default ":9433" */
	char telemetry_path[256]; /* --web.telemetry-path, default "/metrics" */
	enum log_level log_level; /* --log.level, default info */
	bool log_json;		  /* --log.format=json (default logfmt) */
	bool check;		  /* --check: load, attach, report, exit */

	bool http_enabled;	     /* --collector.http / --no-collector.http, default on */
	enum hooks http_hooks;	     /* --http.hooks */
	unsigned http_max_endpoints; /* --http.max-endpoints, default 100 */
	unsigned http_conn_slots;    /* --http.conn-slots, default 16384 */
	double http_duration_buckets[HIST_MAX_BOUNDS]; /* seconds, --http.duration-buckets */
	unsigned http_n_duration_buckets;
	double http_size_buckets[HIST_MAX_BOUNDS]; /* bytes, --http.size-buckets */
	unsigned http_n_size_buckets;

	bool pgsql_enabled;	       /* --collector.pgsql / --no-collector.pgsql, default on */
	enum hooks pgsql_hooks;	       /* --pgsql.hooks */
	unsigned pgsql_max_statements; /* --pgsql.max-statements, default 50 */
	double pgsql_duration_buckets[HIST_MAX_BOUNDS]; /* seconds, --pgsql.duration-buckets */
	unsigned pgsql_n_duration_buckets;
};

/*
 * Fills cfg from defaults and argv. Returns 0 to run, 1 when --help or
 * --version was printed (exit 0), -EINVAL after printing one clear line on
 * stderr (exit non-zero).
 */
int config__parse(struct config *cfg, int argc, char **argv);

/* "0.005,0.01,..." -> ascending, positive, at most HIST_MAX_BOUNDS. 0 or -EINVAL. */
int config__parse_buckets(const char *s, double *out, unsigned *n);

#endif
