// SPDX-License-Identifier: MIT
/*
 * Loads tests/bench/floor.bpf.c (empty programs on the HTTP collector's
 * tracepoints), attaches them, says so on stdout, and waits for SIGINT or
 * SIGTERM. Used by scripts/bench-http.sh as the floor to compare with.
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

int main(void)
{
	struct bpf_program *prog;
	struct floor_bpf *skel;
	sigset_t stop;
	int err, sig, n = 0;

	libbpf_set_print(print_warnings);
	/* Blocked before anything is attached: a signal in between is not lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	skel = floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "floor: cannot load: %s\n", strerror(errno));
		return 1;
	}
	err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "floor: cannot attach: %s\n", strerror(-err));
		goto cleanup;
	}
	bpf_object__for_each_program(prog, skel->obj) n++;
	printf("floor: %d empty programs attached\n", n);
	fflush(stdout);
	if (sigwait(&stop, &sig))
		err = -EINTR;
cleanup:
	floor_bpf__destroy(skel);
	return err ? 1 : 0;
}
