// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmarks' floor: an empty program on each hook redscope attaches, so
 * that what these cost, the price of the hooks before any work, can be set
 * beside redscope. tests/bench/floor.c attaches the sets asked for, by name:
 *
 *   floor_pg_sched_*   the PostgreSQL collector's 2 process hooks (bpf/pgsql.bpf.c)
 *   floor_pg_sock_*    and its 2 socket hooks
 *   floor_pg_sys_*     or its 4 syscall hooks
 *   floor_http_sock_*  the HTTP collector's 3 socket hooks (bpf/http.bpf.c)
 *   floor_http_sys_*   or its 12 syscall hooks
 *
 * Where both collectors use a tracepoint, redscope attaches two programs to
 * it, and so does this floor. Not here: the HTTP collector's iterator (run at
 * scrape time), the PostgreSQL lock-wait USDT probes and TLS uprobes (they fire
 * on lock waits and TLS sessions only, and the benchmarks have neither).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define EMPTY(name, tp)                                                                            \
	SEC("tracepoint/" tp)                                                                      \
	int name(void *ctx)                                                                        \
	{                                                                                          \
		return 0;                                                                          \
	}

/* sock_recv_length and sock_send_length (tp_btf: raw arguments). */
#define EMPTY_SOCK_IO(name, tp)                                                                    \
	SEC("tp_btf/" tp)                                                                          \
	int BPF_PROG(name, struct sock *sk, int ret, int flags)                                    \
	{                                                                                          \
		return 0;                                                                          \
	}

EMPTY(floor_pg_sched_fork, "sched/sched_process_fork")
EMPTY(floor_pg_sched_exit, "sched/sched_process_exit")

EMPTY_SOCK_IO(floor_pg_sock_recv, "sock_recv_length")
EMPTY_SOCK_IO(floor_pg_sock_send, "sock_send_length")

EMPTY(floor_pg_sys_exit_accept, "syscalls/sys_exit_accept")
EMPTY(floor_pg_sys_exit_accept4, "syscalls/sys_exit_accept4")
EMPTY(floor_pg_sys_exit_recvfrom, "syscalls/sys_exit_recvfrom")
EMPTY(floor_pg_sys_exit_sendto, "syscalls/sys_exit_sendto")

EMPTY_SOCK_IO(floor_http_sock_recv, "sock_recv_length")
EMPTY_SOCK_IO(floor_http_sock_send, "sock_send_length")

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_http_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

EMPTY(floor_http_sys_exit_accept, "syscalls/sys_exit_accept")
EMPTY(floor_http_sys_exit_accept4, "syscalls/sys_exit_accept4")
EMPTY(floor_http_sys_exit_read, "syscalls/sys_exit_read")
EMPTY(floor_http_sys_exit_recvfrom, "syscalls/sys_exit_recvfrom")
EMPTY(floor_http_sys_exit_readv, "syscalls/sys_exit_readv")
EMPTY(floor_http_sys_exit_recvmsg, "syscalls/sys_exit_recvmsg")
EMPTY(floor_http_sys_exit_write, "syscalls/sys_exit_write")
EMPTY(floor_http_sys_exit_sendto, "syscalls/sys_exit_sendto")
EMPTY(floor_http_sys_exit_writev, "syscalls/sys_exit_writev")
EMPTY(floor_http_sys_exit_sendmsg, "syscalls/sys_exit_sendmsg")
EMPTY(floor_http_sys_exit_sendfile, "syscalls/sys_exit_sendfile64")
EMPTY(floor_http_sys_enter_close, "syscalls/sys_enter_close")

char LICENSE[] SEC("license") = "Dual BSD/GPL";
