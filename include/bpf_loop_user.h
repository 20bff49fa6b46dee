/* SPDX-License-Identifier: MIT */
/* Userspace stand-in for the bpf_loop() helper, with its semantics (stop when
 * the callback returns 1), so the unit tests run the parsers the BPF programs
 * run. */
#ifndef REDSCOPE_BPF_LOOP_USER_H
#define REDSCOPE_BPF_LOOP_USER_H

#ifndef __bpf__
#include <linux/types.h>

static inline long bpf_loop(__u32 nr, long (*cb)(__u32, void *), void *ctx, __u64 flags)
{
	__u32 i;

	(void)flags;
	for (i = 0; i < nr; i++)
		if (cb(i, ctx))
			return i + 1;
	return nr;
}
#endif

#endif
