// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "links.h"

static void *destroy_one(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

void links__destroy(struct bpf_link **links, size_t n)
{
	pthread_t *tids = calloc(n ? n : 1, sizeof(*tids));
	bool *started = calloc(n ? n : 1, sizeof(*started));
	size_t i;

	for (i = 0; i < n; i++) {
		if (!links[i])
			continue;
		if (tids && started && !pthread_create(&tids[i], NULL, destroy_one, links[i]))
			started[i] = true;
		else
			bpf_link__destroy(links[i]); /* no thread: the slow way */
	}
	for (i = 0; i < n; i++) {
		if (started && started[i])
			pthread_join(tids[i], NULL);
		links[i] = NULL;
	}
	free(tids);
	free(started);
}
