// SPDX-License-Identifier: MIT
/* hist_bucket() is what the BPF programs run: check it at the seams. */
#include <string.h>
#include "check.h"
#include "hist.h"

int main(void)
{
	/* Prometheus' default buckets, in nanoseconds as the kernel holds them. */
	__u64 b[] = {5000000,	10000000,   25000000,	50000000,   100000000,	250000000,
		     500000000, 1000000000, 2500000000, 5000000000, 10000000000};
	__u32 n = sizeof(b) / sizeof(b[0]);
	__u64 many[HIST_MAX_BOUNDS];
	__u32 i;

	CHECK(hist_bucket(b, n, 0) == 0, "0 goes to the first bucket");
	CHECK(hist_bucket(b, n, 1) == 0, "1 ns in le=0.005");
	CHECK(hist_bucket(b, n, 5000000) == 0, "a value equal to a bound is in that bucket (le)");
	CHECK(hist_bucket(b, n, 5000001) == 1, "bound+1 goes to the next bucket");
	CHECK(hist_bucket(b, n, 4999999) == 0, "bound-1 stays");
	CHECK(hist_bucket(b, n, 50000000) == 3, "50 ms exactly is le=0.05");
	CHECK(hist_bucket(b, n, 50000001) == 4, "just over 50 ms is le=0.1");
	CHECK(hist_bucket(b, n, 300000000) == 6, "300 ms is le=0.5");
	CHECK(hist_bucket(b, n, 10000000000) == n - 1, "the last bound is inclusive");
	CHECK(hist_bucket(b, n, 10000000001) == n, "above every bound is +Inf (slot n)");
	CHECK(hist_bucket(b, n, ~0ULL) == n, "huge values are +Inf");
	CHECK(hist_bucket(b, 0, 7) == 0, "no bounds: everything is +Inf, slot 0");

	for (i = 0; i < HIST_MAX_BOUNDS; i++)
		many[i] = (i + 1) * 10;
	CHECK(hist_bucket(many, HIST_MAX_BOUNDS, HIST_MAX_BOUNDS * 10) == HIST_MAX_BOUNDS - 1,
	      "the most bounds: last one inclusive");
	CHECK(hist_bucket(many, HIST_MAX_BOUNDS, HIST_MAX_BOUNDS * 10 + 1) == HIST_MAX_BOUNDS,
	      "the most bounds: +Inf is slot HIST_MAX_BOUNDS, inside HIST_SLOTS");
	FINISH();
}
