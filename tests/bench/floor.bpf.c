// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: an empty program on each hook the HTTP collector
 * (bpf/http.bpf.c) attaches to, for either set of its hooks (floor_sock_*: the
 * 3 socket tracepoints; floor_sys_*: the 12 syscall tracepoints); the loader
 * attaches the set asked for. What these cost is what any design built on
 * those hooks pays before doing any work. (The collector's iterator runs only
 * at scrape time and has no counterpart here.)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_sock_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_sock_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

#define EMPTY(name, tp)                                                                            \
	SEC("tracepoint/syscalls/" tp)                                                             \
	int name(void *ctx)                                                                        \
	{                                                                                          \
		return 0;                                                                          \
	}

EMPTY(floor_sys_exit_accept, "sys_exit_accept")
EMPTY(floor_sys_exit_accept4, "sys_exit_accept4")
EMPTY(floor_sys_exit_read, "sys_exit_read")
EMPTY(floor_sys_exit_recvfrom, "sys_exit_recvfrom")
EMPTY(floor_sys_exit_readv, "sys_exit_readv")
EMPTY(floor_sys_exit_recvmsg, "sys_exit_recvmsg")
EMPTY(floor_sys_exit_write, "sys_exit_write")
EMPTY(floor_sys_exit_sendto, "sys_exit_sendto")
EMPTY(floor_sys_exit_writev, "sys_exit_writev")
EMPTY(floor_sys_exit_sendmsg, "sys_exit_sendmsg")
EMPTY(floor_sys_exit_sendfile, "sys_exit_sendfile64")
EMPTY(floor_sys_enter_close, "sys_enter_close")

char LICENSE[] SEC("license") = "Dual BSD/GPL";
