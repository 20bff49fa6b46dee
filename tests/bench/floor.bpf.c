// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: an empty program on each of the 12 tracepoints the
 * HTTP collector (bpf/http.bpf.c) attaches to. What these cost is what any
 * design built on those tracepoints pays before doing any work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define EMPTY(name, tp)                                                                            \
	SEC("tracepoint/syscalls/" tp)                                                             \
	int name(void *ctx)                                                                        \
	{                                                                                          \
		return 0;                                                                          \
	}

EMPTY(floor_exit_accept, "sys_exit_accept")
EMPTY(floor_exit_accept4, "sys_exit_accept4")
EMPTY(floor_exit_read, "sys_exit_read")
EMPTY(floor_exit_recvfrom, "sys_exit_recvfrom")
EMPTY(floor_exit_readv, "sys_exit_readv")
EMPTY(floor_exit_recvmsg, "sys_exit_recvmsg")
EMPTY(floor_exit_write, "sys_exit_write")
EMPTY(floor_exit_sendto, "sys_exit_sendto")
EMPTY(floor_exit_writev, "sys_exit_writev")
EMPTY(floor_exit_sendmsg, "sys_exit_sendmsg")
EMPTY(floor_exit_sendfile, "sys_exit_sendfile64")
EMPTY(floor_enter_close, "sys_enter_close")

char LICENSE[] SEC("license") = "Dual BSD/GPL";
