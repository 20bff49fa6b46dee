/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Each collector's "drops" map (per-CPU, indexed by enum drop_reason) and the
 * one way to count into it. Userspace exports it as
 * redscope_events_dropped_total{collector,reason}. */
#ifndef REDSCOPE_DROPS_BPF_H
#define REDSCOPE_DROPS_BPF_H

#include "drops.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline void drop(__u32 reason)
{
	__u64 *cnt = bpf_map_lookup_elem(&drops, &reason);

	if (cnt)
		(*cnt)++;
}

#endif
