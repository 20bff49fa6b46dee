/* SPDX-License-Identifier: MIT */
/* Growing arrays read out of BPF maps at each scrape. */
#ifndef REDSCOPE_GROW_H
#define REDSCOPE_GROW_H

#include <stdlib.h>

/*
 * Array a, holding n of its *cap elements of size bytes, with room for one
 * more: the same array while it has room, else reallocated to twice the room
 * (64 elements at first). NULL when out of memory: a is then still valid, and
 * still the caller's.
 */
static inline void *grow_array(void *a, size_t n, size_t *cap, size_t size)
{
	size_t want;
	void *tmp;

	if (n < *cap)
		return a;
	want = *cap ? *cap * 2 : 64;
	tmp = realloc(a, want * size);
	if (tmp)
		*cap = want;
	return tmp;
}

#endif
