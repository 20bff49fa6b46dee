// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The PostgreSQL benchmark's floor: an empty program on each hook redscope
 * attaches when both collectors run. The PostgreSQL collector's 6 tracepoints
 * (bpf/pgsql.bpf.c) come first; then the HTTP collector's 3 socket hooks or 12 syscall hooks
 * (bpf/http.bpf.c), which redscope runs by default. Where both collectors use a tracepoint,
 * redscope attaches two programs to it, and so does this floor.
 * pgfloor --pgsql-only loads the first 6 alone (the --no-collector.http row).
 * The lock-wait USDT probes and the TLS uprobes are not here: they fire on
 * lock waits and TLS sessions only, and the benchmark has neither.
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

/* PostgreSQL collector: names start with pgfloor_pg_ (the loader keys on it). */
EMPTY(pgfloor_pg_exit_accept, "syscalls/sys_exit_accept")
EMPTY(pgfloor_pg_exit_accept4, "syscalls/sys_exit_accept4")
EMPTY(pgfloor_pg_fork, "sched/sched_process_fork")
EMPTY(pgfloor_pg_exit, "sched/sched_process_exit")
EMPTY(pgfloor_pg_exit_recvfrom, "syscalls/sys_exit_recvfrom")
EMPTY(pgfloor_pg_exit_sendto, "syscalls/sys_exit_sendto")

/* HTTP collector: socket hooks (pgfloor_http_sock_*) or syscall hooks
 * (pgfloor_http_sys_*), as the loader is asked. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(pgfloor_http_sock_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(pgfloor_http_sock_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(pgfloor_http_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

EMPTY(pgfloor_http_sys_exit_accept, "syscalls/sys_exit_accept")
EMPTY(pgfloor_http_sys_exit_accept4, "syscalls/sys_exit_accept4")
EMPTY(pgfloor_http_sys_exit_read, "syscalls/sys_exit_read")
EMPTY(pgfloor_http_sys_exit_recvfrom, "syscalls/sys_exit_recvfrom")
EMPTY(pgfloor_http_sys_exit_readv, "syscalls/sys_exit_readv")
EMPTY(pgfloor_http_sys_exit_recvmsg, "syscalls/sys_exit_recvmsg")
EMPTY(pgfloor_http_sys_exit_write, "syscalls/sys_exit_write")
EMPTY(pgfloor_http_sys_exit_sendto, "syscalls/sys_exit_sendto")
EMPTY(pgfloor_http_sys_exit_writev, "syscalls/sys_exit_writev")
EMPTY(pgfloor_http_sys_exit_sendmsg, "syscalls/sys_exit_sendmsg")
EMPTY(pgfloor_http_sys_exit_sendfile, "syscalls/sys_exit_sendfile64")
EMPTY(pgfloor_http_sys_enter_close, "syscalls/sys_enter_close")

char LICENSE[] SEC("license") = "Dual BSD/GPL";
