/* SPDX-License-Identifier: MIT */
/* Self-observability: what redscope itself attached, holds and lost. */
#ifndef REDSCOPE_SELF_H
#define REDSCOPE_SELF_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include "prom.h"

/* A program (by its BPF function name, e.g. "http_enter_read") and whether it
 * is attached. required=true programs gate /health/ready. detail says why it is
 * not attached (NULL when attached). Calling again for the same name updates. */
void self__program(const char *collector, const char *name, bool attached, bool required,
		   const char *detail);
/* The outcome of attaching a required program, link being what
 * bpf_program__attach*() just returned: a failure is logged with errno, and
 * either way the program is reported. Returns link. */
struct bpf_link *self__attached(const char *collector, struct bpf_program *prog,
				struct bpf_link *link);
/* A map whose fill is exported as redscope_map_entries/redscope_map_capacity. */
void self__map(const char *name, int map_fd, __u32 capacity);
/* A map whose entries count() gives (socket storage has no keys to walk);
 * capacity 0: it has none. */
void self__map_counted(const char *name, __u32 (*count)(void), __u32 capacity);
/* A collector's per-CPU "drops" array, indexed by enum drop_reason (drops.h),
 * and its BPF object, whose programs' recursion misses count as drops too. */
void self__drops(const char *collector, int drops_map_fd, struct bpf_object *obj);
/* A collector's start result (0 or -errno): a failed one keeps /health/ready at 503. */
void self__collector(const char *name, int err);
/* Startup finished (all collectors tried): /health/startup turns 200. */
void self__set_started(void);

/* redscope_* families and the standard process_* ones. */
void self__render(struct prom *p);
/* 1 when every required program is attached; otherwise 0 and why in reason. */
bool self__ready(char *reason, size_t reasonsz);
bool self__started(void);
/* JSON for /health/detailed. */
void self__health_json(struct prom *out);
/* For --check: one line per collector and program on f; true when all attached. */
bool self__report(FILE *f);

void self__reset(void); /* for tests and shutdown */

#endif
