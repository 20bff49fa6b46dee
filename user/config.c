// SPDX-License-Identifier: MIT
/* Command line: Prometheus exporter conventions (--web.*, --log.*, --collector.*). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const double default_duration[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double default_sizes[] = {100, 1000, 10000, 100000, 1e6, 1e7};

enum {
	OPT_LISTEN = 256,
	OPT_PATH,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_CHECK,
	OPT_HELP,
	OPT_VERSION,
	OPT_HTTP,
	OPT_NO_HTTP,
	OPT_PGSQL,
	OPT_NO_PGSQL,
	OPT_HTTP_MAX_EP,
	OPT_HTTP_CONN_SLOTS,
	OPT_HTTP_HOOKS,
	OPT_HTTP_DUR,
	OPT_HTTP_SIZE,
	OPT_PG_MAX_STMT,
	OPT_PG_HOOKS,
	OPT_PG_DUR,
};

static const struct option options[] = {
    {"web.listen-address", required_argument, NULL, OPT_LISTEN},
    {"web.telemetry-path", required_argument, NULL, OPT_PATH},
    {"log.level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log.format", required_argument, NULL, OPT_LOG_FORMAT},
    {"check", no_argument, NULL, OPT_CHECK},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"collector.http", no_argument, NULL, OPT_HTTP},
    {"no-collector.http", no_argument, NULL, OPT_NO_HTTP},
    {"collector.pgsql", no_argument, NULL, OPT_PGSQL},
    {"no-collector.pgsql", no_argument, NULL, OPT_NO_PGSQL},
    {"http.max-endpoints", required_argument, NULL, OPT_HTTP_MAX_EP},
    {"http.conn-slots", required_argument, NULL, OPT_HTTP_CONN_SLOTS},
    {"http.hooks", required_argument, NULL, OPT_HTTP_HOOKS},
    {"http.duration-buckets", required_argument, NULL, OPT_HTTP_DUR},
    {"http.size-buckets", required_argument, NULL, OPT_HTTP_SIZE},
    {"pgsql.max-statements", required_argument, NULL, OPT_PG_MAX_STMT},
    {"pgsql.hooks", required_argument, NULL, OPT_PG_HOOKS},
    {"pgsql.duration-buckets", required_argument, NULL, OPT_PG_DUR},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf(
	    "Usage: redscope [flags]\n"
	    "\n"
	    "Kernel-level HTTP and PostgreSQL metrics for every process on this host,\n"
	    "served in Prometheus text format.\n"
	    "\n"
	    "Flags:\n"
	    "  --web.listen-address=ADDR     address to serve on, [host]:port (default \":9433\")\n"
	    "  --web.telemetry-path=PATH     path of the metrics (default \"/metrics\")\n"
	    "  --log.level=LEVEL             debug, info, warn or error (default info)\n"
	    "  --log.format=FORMAT           logfmt or json (default logfmt)\n"
	    "  --check                       load and attach everything, report, exit 0 if all\n"
	    "                                attached, 1 otherwise\n"
	    "  --[no-]collector.http         HTTP/1.x server metrics (default on)\n"
	    "  --[no-]collector.pgsql        PostgreSQL metrics (default on)\n"
	    "  --http.max-endpoints=N        endpoints kept per service, 1..10000; the rest\n"
	    "                                count under endpoint=\"_other\" (default 100)\n"
	    "  --http.conn-slots=N           TCP connections the socket hooks keep in their\n"
	    "                                fast table: 0 or a power of 2 up to 262144\n"
	    "                                (default 16384); the rest keep their state in\n"
	    "                                socket storage, slower but counted the same\n"
	    "  --http.hooks=HOOKS            socket (socket tracepoints, Linux 6.5+), syscall\n"
	    "                                (syscall tracepoints, any kernel) or auto:\n"
	    "                                socket where the kernel has them (default)\n"
	    "  --http.duration-buckets=LIST  seconds, ascending, at most %d\n"
	    "                                (default .005,.01,.025,.05,.1,.25,.5,1,2.5,5,10)\n"
	    "  --http.size-buckets=LIST      bytes, for request and response sizes\n"
	    "                                (default 100,1000,10000,100000,1e6,1e7)\n"
	    "  --pgsql.max-statements=N      statements with their own histogram, 1..10000\n"
	    "                                (default 50)\n"
	    "  --pgsql.duration-buckets=LIST seconds (default as for HTTP)\n"
	    "  --pgsql.hooks=HOOKS           as --http.hooks (socket: Linux 6.3+); the\n"
	    "                                syscall hooks slow every syscall on the host\n"
	    "  --help                        show this and exit\n"
	    "  --version                     show the version and exit\n",
	    HIST_MAX_BOUNDS);
}

int config__parse_buckets(const char *s, double *out, unsigned *n)
{
	double v, prev = 0;
	const char *p = s;
	unsigned k = 0;
	char *end;

	if (!*s)
		return -EINVAL;
	for (;;) {
		if (k == HIST_MAX_BOUNDS)
			return -EINVAL;
		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno || !isfinite(v) || v <= 0 || (k && v <= prev))
			return -EINVAL;
		out[k++] = prev = v;
		if (!*end)
			break;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
	*n = k;
	return 0;
}

static int parse_hooks(const char *s, enum hooks *out)
{
	if (!strcmp(s, "auto"))
		*out = HOOKS_AUTO;
	else if (!strcmp(s, "socket"))
		*out = HOOKS_SOCKET;
	else if (!strcmp(s, "syscall"))
		*out = HOOKS_SYSCALL;
	else
		return -EINVAL;
	return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static void defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), ":9433");
	snprintf(cfg->telemetry_path, sizeof(cfg->telemetry_path), "/metrics");
	cfg->log_level = LOG_INFO;
	cfg->http_enabled = true;
	cfg->http_max_endpoints = 100;
	cfg->http_conn_slots = 16384;
	memcpy(cfg->http_duration_buckets, default_duration, sizeof(default_duration));
	cfg->http_n_duration_buckets = sizeof(default_duration) / sizeof(default_duration[0]);
	memcpy(cfg->http_size_buckets, default_sizes, sizeof(default_sizes));
	cfg->http_n_size_buckets = sizeof(default_sizes) / sizeof(default_sizes[0]);
	cfg->pgsql_enabled = true;
	cfg->pgsql_max_statements = 50;
	memcpy(cfg->pgsql_duration_buckets, default_duration, sizeof(default_duration));
	cfg->pgsql_n_duration_buckets = cfg->http_n_duration_buckets;
}

static int bad(const char *flag, const char *value, const char *why)
{
	fprintf(stderr, "redscope: invalid value \"%s\" for --%s: %s\n", value, flag, why);
	return -EINVAL;
}

int config__parse(struct config *cfg, int argc, char **argv)
{
	const char *buckets_why = "want ascending positive numbers separated by commas, at most 20";
	int opt, idx;

	defaults(cfg);
	opterr = 0; /* our own one-line messages */
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", options, &idx)) != -1) {
		const char *name = opt >= OPT_LISTEN ? options[opt - OPT_LISTEN].name : "";

		switch (opt) {
		case OPT_LISTEN:
			if (!*optarg || !strchr(optarg, ':') ||
			    strlen(optarg) >= sizeof(cfg->listen_addr))
				return bad(name, optarg, "want [host]:port");
			snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "%s", optarg);
			break;
		case OPT_PATH:
			if (optarg[0] != '/' || strlen(optarg) >= sizeof(cfg->telemetry_path) ||
			    !strncmp(optarg, "/health", 7) || !strcmp(optarg, "/"))
				return bad(name, optarg,
					   "want a path starting with / (not / or /health...)");
			snprintf(cfg->telemetry_path, sizeof(cfg->telemetry_path), "%s", optarg);
			break;
		case OPT_LOG_LEVEL:
			if (log__parse_level(optarg, &cfg->log_level))
				return bad(name, optarg, "want debug, info, warn or error");
			break;
		case OPT_LOG_FORMAT:
			if (!strcmp(optarg, "json"))
				cfg->log_json = true;
			else if (!strcmp(optarg, "logfmt"))
				cfg->log_json = false;
			else
				return bad(name, optarg, "want logfmt or json");
			break;
		case OPT_CHECK:
			cfg->check = true;
			break;
		case OPT_HELP:
			usage();
			return 1;
		case OPT_VERSION:
			printf("redscope %s\n", REDSCOPE_VERSION);
			return 1;
		case OPT_HTTP:
		case OPT_NO_HTTP:
			cfg->http_enabled = opt == OPT_HTTP;
			break;
		case OPT_PGSQL:
		case OPT_NO_PGSQL:
			cfg->pgsql_enabled = opt == OPT_PGSQL;
			break;
		case OPT_HTTP_MAX_EP:
			if (parse_uint(optarg, 1, 10000, &cfg->http_max_endpoints))
				return bad(name, optarg, "want an integer from 1 to 10000");
			break;
		case OPT_HTTP_CONN_SLOTS:
			if (parse_uint(optarg, 0, 262144, &cfg->http_conn_slots) ||
			    (cfg->http_conn_slots & (cfg->http_conn_slots - 1)))
				return bad(name, optarg, "want 0 or a power of 2 up to 262144");
			break;
		case OPT_HTTP_HOOKS:
			if (parse_hooks(optarg, &cfg->http_hooks))
				return bad(name, optarg, "want auto, socket or syscall");
			break;
		case OPT_PG_HOOKS:
			if (parse_hooks(optarg, &cfg->pgsql_hooks))
				return bad(name, optarg, "want auto, socket or syscall");
			break;
		case OPT_PG_MAX_STMT:
			if (parse_uint(optarg, 1, 10000, &cfg->pgsql_max_statements))
				return bad(name, optarg, "want an integer from 1 to 10000");
			break;
		case OPT_HTTP_DUR:
			if (config__parse_buckets(optarg, cfg->http_duration_buckets,
						  &cfg->http_n_duration_buckets))
				return bad(name, optarg, buckets_why);
			break;
		case OPT_HTTP_SIZE:
			if (config__parse_buckets(optarg, cfg->http_size_buckets,
						  &cfg->http_n_size_buckets))
				return bad(name, optarg, buckets_why);
			break;
		case OPT_PG_DUR:
			if (config__parse_buckets(optarg, cfg->pgsql_duration_buckets,
						  &cfg->pgsql_n_duration_buckets))
				return bad(name, optarg, buckets_why);
			break;
		case ':':
			fprintf(stderr, "redscope: flag %s needs a value (see --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "redscope: unknown flag %s (see --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "redscope: unexpected argument \"%s\" (see --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}
