/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A set of processes, one bit per tgid folded to 65536 bits, in a BPF global
 * array: the first test on every read and write of the host is then one load
 * (the array's address is a constant), where a hash lookup that misses costs
 * 70-100 ns. Bits are never cleared: a folded or reused tgid only means the
 * collector makes its exact lookup for nothing. Userspace adds to a set
 * through the skeleton's mapping of the array, with the same functions.
 */
#ifndef REDSCOPE_TGID_BITS_H
#define REDSCOPE_TGID_BITS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define TGID_BITS_WORDS 1024

static __always_inline __u64 *tgid_word(__u64 *bits, __u32 tgid)
{
	return &bits[(tgid >> 6) & (TGID_BITS_WORDS - 1)];
}

static __always_inline int tgid_in(__u64 *bits, __u32 tgid)
{
	return (*tgid_word(bits, tgid) >> (tgid & 63)) & 1;
}

static __always_inline void tgid_add(__u64 *bits, __u32 tgid)
{
	if (!tgid_in(bits, tgid)) /* the atomic only once per process */
		__sync_fetch_and_or(tgid_word(bits, tgid), 1ULL << (tgid & 63));
}

#endif
