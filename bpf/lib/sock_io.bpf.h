/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What both collectors' socket hooks learn about the read or write they see,
 * without a helper call: the registers its syscall was entered with (a socket
 * tracepoint runs inside the syscall, whose fd and buffer are still there),
 * and its time by TCP's own clock.
 */
#ifndef REDSCOPE_SOCK_IO_BPF_H
#define REDSCOPE_SOCK_IO_BPF_H

#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define MSG_OOB	    1
#define MSG_PEEK    2

/* A plain cast the verifier turns into no instruction (Linux 6.2+): loads through
 * its result are direct, where each bpf_skc_to_*() or bpf_task_pt_regs() is a
 * helper call, 30-40 ns apiece on a VM with return-thunk mitigations. Weak:
 * only the socket hooks (6.5+) use it, and the syscall hooks must load on
 * kernels without it. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* The one field read here; CO-RE matches it against the running kernel's
 * task_struct. */
struct task_struct___stack {
	void *stack;
} __attribute__((preserve_access_index));

/* How far a task's saved user registers are from the base of its kernel
 * stack: a constant of the running kernel, so it is asked of bpf_task_pt_regs()
 * once and then added to the stack pointer. */
__u64 regs_offset = 0;

/* The registers task (the current task, from bpf_get_current_task_btf())
 * entered its syscall with. */
static __always_inline struct pt_regs *current_regs(void *task)
{
	__u64 stack = (__u64)((struct task_struct___stack *)task)->stack, off = regs_offset;

	if (!off) {
		off = (__u64)bpf_task_pt_regs((struct task_struct *)task) - stack;
		regs_offset = off;
	}
	return bpf_rdonly_cast((void *)(stack + off), bpf_core_type_id_kernel(struct pt_regs));
}

/*
 * The time of this read or write by TCP's own clock, or 0 when it must be read.
 * TCP reads the monotonic clock (the one bpf_ktime_get_ns reads) while it
 * copies each part of a read (tcp_rcv_space_adjust) and before it transmits a
 * write (tcp_write_xmit), and keeps it in tcp_clock_cache: one load here, where
 * a clock read costs 100-200 ns on some VMs. Not for urgent data, nor for
 * sockets whose bytes may bypass TCP (sockmap keeps its state in
 * sk_user_data, kTLS is a ULP): those read the clock.
 */
static __always_inline __u64 tcp_now(struct sock *sk, int flags)
{
	struct tcp_sock *tp;

	if (sk->sk_protocol != IPPROTO_TCP || sk->sk_type != SOCK_STREAM || (flags & MSG_OOB) ||
	    sk->sk_user_data)
		return 0;
	tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
	if (tp->inet_conn.icsk_ulp_ops)
		return 0;
	return tp->tcp_clock_cache;
}

#endif
