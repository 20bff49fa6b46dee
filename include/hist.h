/* SPDX-License-Identifier: MIT */
/* Exact histograms: the kernel counts into the configured boundaries
 * themselves, so userspace never interpolates. Shared by BPF and userspace. */
#ifndef REDSCOPE_HIST_H
#define REDSCOPE_HIST_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Most boundaries a histogram may have; bucket HIST_MAX_BOUNDS is +Inf. */
#define HIST_MAX_BOUNDS 20
#define HIST_SLOTS	(HIST_MAX_BOUNDS + 1)

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * Index of the first boundary >= v (Prometheus' le is inclusive), or n when v
 * is above every boundary (the +Inf bucket). bounds must be ascending.
 */
static __always_inline __u32 hist_bucket(const volatile __u64 *bounds, __u32 n, __u64 v)
{
	__u32 i;

	for (i = 0; i < HIST_MAX_BOUNDS; i++) {
		if (i >= n || v <= bounds[i])
			break;
	}
	return i;
}

#ifndef __bpf__
#include <math.h>

/* Seconds or bytes (times scale) into the kernel's integer bounds; returns how many. */
static inline __u32 hist_fill_bounds(volatile __u64 *dst, const double *src, unsigned n,
				     double scale)
{
	__u32 i;

	for (i = 0; i < n && i < HIST_MAX_BOUNDS; i++)
		dst[i] = (__u64)llround(src[i] * scale);
	return i;
}

/* Observations in a histogram: the sum of its HIST_SLOTS non-cumulative slots. */
static inline __u64 hist_total(const __u64 *slots)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < HIST_SLOTS; i++)
		n += slots[i];
	return n;
}
#endif

#endif
