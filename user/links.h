/* SPDX-License-Identifier: MIT */
#ifndef REDSCOPE_LINKS_H
#define REDSCOPE_LINKS_H

#include <stddef.h>
#include <bpf/libbpf.h>

/*
 * Destroys n links (NULL entries are skipped) and sets them to NULL. Each
 * detach waits for an RCU grace period in the kernel (15-30 ms for a
 * tracepoint, 60-80 ms for a uprobe): done one after another, 30 of them take
 * most of a second, so they run in parallel threads and take one.
 */
void links__destroy(struct bpf_link **links, size_t n);

#endif
