// SPDX-License-Identifier: MIT
/* Flags: defaults, both spellings, and one clear error for each bad value. */
#include <errno.h>
#include <string.h>
#include "check.h"
#include "config.h"

static int parse(struct config *cfg, const char *a1, const char *a2)
{
	char *argv[] = {"redscope", (char *)a1, (char *)a2, NULL};
	int argc = 1 + (a1 != NULL) + (a2 != NULL);

	return config__parse(cfg, argc, argv);
}

int main(void)
{
	struct config c;
	double b[HIST_MAX_BOUNDS];
	unsigned n;

	CHECK(parse(&c, NULL, NULL) == 0, "no flags");
	CHECK(!strcmp(c.listen_addr, ":9433") && !strcmp(c.telemetry_path, "/metrics"),
	      "default address and path");
	CHECK(c.http_enabled && c.pgsql_enabled && c.http_max_endpoints == 100 &&
		  c.pgsql_max_statements == 50 && c.log_level == LOG_INFO && !c.log_json,
	      "defaults");
	CHECK(c.http_n_duration_buckets == 11 && c.http_duration_buckets[0] == 0.005 &&
		  c.http_duration_buckets[10] == 10,
	      "Prometheus client default buckets");
	CHECK(c.http_n_size_buckets == 6 && c.http_size_buckets[5] == 1e7, "size buckets");

	CHECK(parse(&c, "--web.listen-address", "127.0.0.1:19400") == 0 &&
		  !strcmp(c.listen_addr, "127.0.0.1:19400"),
	      "--flag value");
	CHECK(parse(&c, "--web.listen-address=[::1]:9", NULL) == 0 &&
		  !strcmp(c.listen_addr, "[::1]:9"),
	      "--flag=value");
	CHECK(parse(&c, "--web.listen-address=9433", NULL) == -EINVAL, "port without colon");
	CHECK(parse(&c, "--web.telemetry-path=/m", NULL) == 0 && !strcmp(c.telemetry_path, "/m"),
	      "telemetry path");
	CHECK(parse(&c, "--web.telemetry-path=m", NULL) == -EINVAL, "path must start with /");
	CHECK(parse(&c, "--web.telemetry-path=/health/live", NULL) == -EINVAL,
	      "path must not hide a health endpoint");
	CHECK(parse(&c, "--log.level=debug", "--log.format=json") == 0 &&
		  c.log_level == LOG_DEBUG && c.log_json,
	      "log flags");
	CHECK(parse(&c, "--log.level=loud", NULL) == -EINVAL, "bad level");
	CHECK(parse(&c, "--log.format=xml", NULL) == -EINVAL, "bad format");
	CHECK(parse(&c, "--no-collector.http", "--no-collector.pgsql") == 0 && !c.http_enabled &&
		  !c.pgsql_enabled,
	      "collectors off");
	CHECK(parse(&c, "--no-collector.http", "--collector.http") == 0 && c.http_enabled,
	      "the last of --no-collector/--collector wins");
	CHECK(parse(&c, "--http.max-endpoints=1", NULL) == 0 && c.http_max_endpoints == 1, "1");
	CHECK(parse(&c, "--http.max-endpoints=10000", NULL) == 0, "10000");
	CHECK(parse(&c, "--http.max-endpoints=0", NULL) == -EINVAL, "0 refused");
	CHECK(parse(&c, "--http.max-endpoints=10001", NULL) == -EINVAL, "10001 refused");
	CHECK(parse(&c, "--http.max-endpoints=-1", NULL) == -EINVAL, "negative refused");
	CHECK(parse(&c, NULL, NULL) == 0 && c.http_conn_slots == 16384, "conn slots: 16384");
	CHECK(parse(&c, "--http.conn-slots=0", NULL) == 0 && c.http_conn_slots == 0,
	      "conn slots: 0");
	CHECK(parse(&c, "--http.conn-slots=1", NULL) == 0 && c.http_conn_slots == 1,
	      "conn slots: 1");
	CHECK(parse(&c, "--http.conn-slots=262144", NULL) == 0 && c.http_conn_slots == 262144,
	      "conn slots: 262144");
	CHECK(parse(&c, "--http.conn-slots=1000", NULL) == -EINVAL, "conn slots: not a power of 2");
	CHECK(parse(&c, "--http.conn-slots=524288", NULL) == -EINVAL, "conn slots: too many");
	CHECK(parse(&c, "--http.conn-slots=-4", NULL) == -EINVAL, "conn slots: negative");
	CHECK(parse(&c, NULL, NULL) == 0 && c.http_hooks == HOOKS_AUTO &&
		  c.pgsql_hooks == HOOKS_AUTO,
	      "hooks: auto by default, both collectors");
	CHECK(parse(&c, "--http.hooks=socket", NULL) == 0 && c.http_hooks == HOOKS_SOCKET,
	      "hooks: socket");
	CHECK(parse(&c, "--http.hooks=syscall", NULL) == 0 && c.http_hooks == HOOKS_SYSCALL &&
		  c.pgsql_hooks == HOOKS_AUTO,
	      "hooks: syscall, for HTTP only");
	CHECK(parse(&c, "--http.hooks=kprobe", NULL) == -EINVAL, "hooks: anything else refused");
	CHECK(parse(&c, "--pgsql.hooks=syscall", NULL) == 0 && c.pgsql_hooks == HOOKS_SYSCALL &&
		  c.http_hooks == HOOKS_AUTO,
	      "pgsql hooks: syscall, for PostgreSQL only");
	CHECK(parse(&c, "--pgsql.hooks=socket", NULL) == 0 && c.pgsql_hooks == HOOKS_SOCKET,
	      "pgsql hooks: socket");
	CHECK(parse(&c, "--pgsql.hooks=", NULL) == -EINVAL, "pgsql hooks: empty refused");
	CHECK(parse(&c, "--http.max-endpoints=12x", NULL) == -EINVAL, "trailing junk refused");
	CHECK(parse(&c, "--http.duration-buckets=0.04,0.2", NULL) == 0 &&
		  c.http_n_duration_buckets == 2 && c.http_duration_buckets[1] == 0.2,
	      "custom buckets");
	CHECK(parse(&c, "--pgsql.duration-buckets=1", NULL) == 0 && c.pgsql_n_duration_buckets == 1,
	      "pgsql buckets");
	CHECK(parse(&c, "--check", NULL) == 0 && c.check, "--check");
	CHECK(parse(&c, "--bogus", NULL) == -EINVAL, "unknown flag");
	CHECK(parse(&c, "--http.max-endpoints", NULL) == -EINVAL, "missing value");
	CHECK(parse(&c, "stray", NULL) == -EINVAL, "positional argument");
	CHECK(parse(&c, "--check=yes", NULL) == -EINVAL, "value for a switch");

	CHECK(config__parse_buckets("1,2,3", b, &n) == 0 && n == 3 && b[2] == 3, "list");
	CHECK(config__parse_buckets("1e6,1e7", b, &n) == 0 && b[1] == 1e7, "exponents");
	CHECK(config__parse_buckets("", b, &n) == -EINVAL, "empty");
	CHECK(config__parse_buckets("1,1", b, &n) == -EINVAL, "equal bounds");
	CHECK(config__parse_buckets("2,1", b, &n) == -EINVAL, "descending");
	CHECK(config__parse_buckets("0,1", b, &n) == -EINVAL, "zero");
	CHECK(config__parse_buckets("1,,2", b, &n) == -EINVAL, "empty item");
	CHECK(config__parse_buckets("1,2,", b, &n) == -EINVAL, "trailing comma");
	CHECK(config__parse_buckets("1;2", b, &n) == -EINVAL, "bad separator");
	CHECK(config__parse_buckets("inf", b, &n) == -EINVAL, "infinity");
	CHECK(config__parse_buckets("nan", b, &n) == -EINVAL, "nan");
	CHECK(config__parse_buckets("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20", b, &n) ==
		      0 &&
		  n == 20,
	      "20 bounds");
	CHECK(config__parse_buckets("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21", b,
				    &n) == -EINVAL,
	      "21 bounds refused");
	FINISH();
}
