// SPDX-License-Identifier: MIT
/*
 * Loads tests/bench/pgfloor.bpf.c (empty programs on the hooks redscope
 * attaches with both collectors on), attaches them, says so on stdout, and
 * waits for SIGINT or SIGTERM. The HTTP collector's hooks are its socket ones,
 * or with --http-syscall its syscall ones; with --pgsql-only, only the
 * PostgreSQL collector's hooks. Used by scripts/bench-pgsql.sh as the floor.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "pgfloor.skel.h"

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, args);
}

int main(int argc, char **argv)
{
	bool pgsql_only = argc > 1 && !strcmp(argv[1], "--pgsql-only");
	bool http_syscall = argc > 1 && !strcmp(argv[1], "--http-syscall");
	struct bpf_program *prog;
	struct pgfloor_bpf *skel;
	sigset_t stop;
	int err, sig, n = 0;

	if (argc > 2 || (argc == 2 && !pgsql_only && !http_syscall)) {
		fprintf(stderr, "usage: pgfloor [--pgsql-only | --http-syscall]\n");
		return 2;
	}
	libbpf_set_print(print_warnings);
	/* Blocked before anything is attached: a signal in between is not lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	skel = pgfloor_bpf__open();
	if (!skel) {
		fprintf(stderr, "pgfloor: cannot open: %s\n", strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, skel->obj)
	{
		const char *name = bpf_program__name(prog);

		/* The HTTP collector's hooks: socket ones unless asked for syscall. */
		if ((pgsql_only && strncmp(name, "pgfloor_pg_", 11)) ||
		    !strncmp(name, http_syscall ? "pgfloor_http_sock_" : "pgfloor_http_sys_",
			     http_syscall ? 18 : 17))
			bpf_program__set_autoload(prog, false);
		else
			n++;
	}
	err = pgfloor_bpf__load(skel);
	if (err) {
		fprintf(stderr, "pgfloor: cannot load: %s\n", strerror(-err));
		goto cleanup;
	}
	err = pgfloor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "pgfloor: cannot attach: %s\n", strerror(-err));
		goto cleanup;
	}
	printf("pgfloor: %d empty programs attached\n", n);
	fflush(stdout);
	if (sigwait(&stop, &sig))
		err = -EINTR;
cleanup:
	pgfloor_bpf__destroy(skel);
	return err ? 1 : 0;
}
