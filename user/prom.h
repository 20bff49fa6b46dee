/* SPDX-License-Identifier: MIT */
/* Prometheus text exposition format 0.0.4 into a growing buffer. */
#ifndef REDSCOPE_PROM_H
#define REDSCOPE_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct prom {
	char *buf;
	size_t len, cap;
	bool oom; /* an allocation failed: the output is incomplete */
};

void prom__init(struct prom *p);
void prom__free(struct prom *p);
/* printf into the buffer, no escaping */
void prom__appendf(struct prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* HELP and TYPE lines; type is "counter", "gauge", "histogram" or "untyped". */
void prom__family(struct prom *p, const char *name, const char *type, const char *help);

/*
 * labels is NULL or a NULL-terminated array "key", "value", "key", "value", ...,
 * NULL. Values are escaped (\\, \" and \n); keys are trusted.
 */
void prom__sample(struct prom *p, const char *name, const char *const *labels, double value);
void prom__sample_u64(struct prom *p, const char *name, const char *const *labels, __u64 value);

/*
 * One histogram series: name_bucket{...,le="b"} cumulative, le="+Inf",
 * name_sum and name_count. bounds has n ascending entries (in the exported unit,
 * e.g. seconds); counts has n + 1 non-cumulative entries, the last one being
 * the +Inf bucket. _count equals the +Inf bucket.
 */
void prom__histogram(struct prom *p, const char *name, const char *const *labels,
		     const double *bounds, const __u64 *counts, unsigned n, double sum);

/* Escapes a label value into out (always NUL-terminated, truncated to outsz). */
void prom__escape(char *out, size_t outsz, const char *in);

#endif
