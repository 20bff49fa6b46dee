// SPDX-License-Identifier: MIT
/*
 * Loads tests/bench/floor.bpf.c, attaches the sets of empty programs asked
 * for, says so on stdout, and waits for SIGINT or SIGTERM. The floor of
 * scripts/bench-http.sh and scripts/bench-pgsql.sh.
 *
 *   floor [--http=socket|syscall|none|reads:PORT] [--pgsql=socket|syscall]
 *   (default --http=socket, no PostgreSQL set; reads:PORT: the socket hooks
 *   making redscope's reads from user memory on connections to local PORT)
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "floor.skel.h"

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, args);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int main(int argc, char **argv)
{
	const char *http = "floor_http_sock_"; /* the HTTP set wanted, or NULL */
	const char *pgsql = NULL;	       /* the PostgreSQL set wanted, or NULL */
	struct bpf_program *prog;
	struct floor_bpf *skel;
	sigset_t stop;
	int err, sig, i, n = 0, reads_port = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pgsql=socket"))
			pgsql = "floor_pg_sock_";
		else if (!strcmp(argv[i], "--pgsql=syscall"))
			pgsql = "floor_pg_sys_";
		else if (!strcmp(argv[i], "--http=socket"))
			http = "floor_http_sock_";
		else if (!strcmp(argv[i], "--http=syscall"))
			http = "floor_http_sys_";
		else if (!strcmp(argv[i], "--http=none"))
			http = NULL;
		else if (starts_with(argv[i], "--http=reads:") &&
			 (reads_port = atoi(argv[i] + strlen("--http=reads:"))) > 0 &&
			 reads_port < 65536)
			http = "floor_http_rd_";
		else {
			fprintf(stderr, "usage: floor [--http=socket|syscall|none|reads:PORT] "
					"[--pgsql=socket|syscall]\n");
			return 2;
		}
	}
	libbpf_set_print(print_warnings);
	/* Blocked before anything is attached: a signal in between is not lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	skel = floor_bpf__open();
	if (!skel) {
		fprintf(stderr, "floor: cannot open: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->reads_port = reads_port;
	bpf_object__for_each_program(prog, skel->obj)
	{
		const char *name = bpf_program__name(prog);

		if ((pgsql && (starts_with(name, pgsql) || starts_with(name, "floor_pg_sched_"))) ||
		    (http && starts_with(name, http)))
			n++;
		else
			bpf_program__set_autoload(prog, false);
	}
	err = floor_bpf__load(skel);
	if (err) {
		fprintf(stderr, "floor: cannot load: %s\n", strerror(-err));
		goto cleanup;
	}
	err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "floor: cannot attach: %s\n", strerror(-err));
		goto cleanup;
	}
	if (reads_port)
		printf("floor: %d programs attached, reading user memory on port %d\n", n,
		       reads_port);
	else
		printf("floor: %d empty programs attached\n", n);
	fflush(stdout);
	if (sigwait(&stop, &sig))
		err = -EINTR;
cleanup:
	floor_bpf__destroy(skel);
	return err ? 1 : 0;
}
