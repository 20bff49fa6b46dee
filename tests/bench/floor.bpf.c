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
 *   floor_http_rd_*    the HTTP socket hooks again, each making the reads from
 *                      user memory redscope makes there (see below)
 *
 * Where both collectors use a tracepoint, redscope attaches two programs to
 * it, and so does this floor. Not here: the HTTP collector's iterator (run at
 * scrape time), the PostgreSQL lock-wait USDT probes and TLS uprobes (they fire
 * on lock waits and TLS sessions only, and the benchmarks have neither).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "http.h"
#include "lib/sock_io.bpf.h"

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

/*
 * A lower bound on any HTTP collector that takes method, path and status from
 * the bytes themselves: on the server's connections (local port reads_port),
 * the same bpf_probe_read_user calls redscope makes on these hooks and nothing
 * else. A request read: its first HTTP_WINDOW bytes; a response head written
 * with writev: the first iovec, then its first HTTP_WINDOW bytes. sendfile's
 * bytes are not in user memory, and redscope only counts them.
 */
const volatile __u16 reads_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[HTTP_WINDOW]);
} floor_window SEC(".maps");

static __always_inline int read_head(struct sock *sk, int ret, int flags)
{
	struct task_struct *task;
	struct pt_regs *regs;
	struct iovec iov;
	__u64 src, len = ret;
	__u32 zero = 0;
	char *dst;

	if (ret <= 0 || (flags & MSG_PEEK) || sk->__sk_common.skc_num != reads_port)
		return 0;
	dst = bpf_map_lookup_elem(&floor_window, &zero);
	if (!dst)
		return 0;
	task = bpf_get_current_task_btf();
	regs = current_regs(task);
	switch (regs->orig_ax) {
	case 0:	 /* read */
	case 1:	 /* write */
	case 44: /* sendto */
	case 45: /* recvfrom */
		src = PT_REGS_PARM2_SYSCALL(regs);
		break;
	case 19: /* readv */
	case 20: /* writev */
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)PT_REGS_PARM2_SYSCALL(regs)))
			return 0;
		src = (__u64)iov.iov_base;
		if (len > iov.iov_len)
			len = iov.iov_len;
		break;
	default:
		return 0;
	}
	if (len > HTTP_WINDOW)
		len = HTTP_WINDOW;
	bpf_probe_read_user(dst, len, (void *)src);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_http_rd_recv, struct sock *sk, int ret, int flags)
{
	return read_head(sk, ret, flags);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_http_rd_send, struct sock *sk, int ret, int flags)
{
	return read_head(sk, ret, flags);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_http_rd_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
