// SPDX-License-Identifier: MIT
/*
 * Loads tests/bench/floor.bpf.c (empty programs on the HTTP collector's
 * hooks: socket, the default, or syscall), attaches them, says so on stdout,
 * and waits for SIGINT or SIGTERM. Used by scripts/bench-http.sh as the floor
 * to compare with.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "floor.skel.h"

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, args);
}

int main(int argc, char **argv)
{
	const char *hooks = argc == 2 ? argv[1] : "socket", *prefix;
	struct bpf_program *prog;
	struct floor_bpf *skel;
	sigset_t stop;
	int err, sig, n = 0;

	if (argc > 2 || (strcmp(hooks, "socket") && strcmp(hooks, "syscall"))) {
		fprintf(stderr, "usage: floor [socket|syscall]\n");
		return 2;
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
	/* The set of hooks asked for: floor_sock_* or floor_sys_*. */
	prefix = strcmp(hooks, "socket") ? "floor_sys_" : "floor_sock_";
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (strncmp(bpf_program__name(prog), prefix, strlen(prefix)))
			bpf_program__set_autoload(prog, false);
		else
			n++;
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
	printf("floor: %d empty programs attached (%s hooks)\n", n, hooks);
	fflush(stdout);
	if (sigwait(&stop, &sig))
		err = -EINTR;
cleanup:
	floor_bpf__destroy(skel);
	return err ? 1 : 0;
}
