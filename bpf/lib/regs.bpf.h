/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The registers the current task entered its syscall with, for the socket
 * hooks of both collectors: a socket tracepoint runs inside the read or write
 * syscall, whose buffer (and fd) are still in those registers.
 */
#ifndef REDSCOPE_REGS_BPF_H
#define REDSCOPE_REGS_BPF_H

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

#endif
