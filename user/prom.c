// SPDX-License-Identifier: MIT
/* Prometheus text exposition format 0.0.4. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

void prom__init(struct prom *p)
{
	memset(p, 0, sizeof(*p));
}

void prom__free(struct prom *p)
{
	free(p->buf);
	prom__init(p);
}

static int grow(struct prom *p, size_t need)
{
	size_t cap = p->cap ? p->cap : 4096;
	char *nb;

	if (p->oom)
		return -1;
	while (cap < p->len + need + 1)
		cap *= 2;
	if (cap == p->cap)
		return 0;
	nb = realloc(p->buf, cap);
	if (!nb) {
		p->oom = true;
		return -1;
	}
	p->buf = nb;
	p->cap = cap;
	return 0;
}

static void vappendf(struct prom *p, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || grow(p, n))
		return;
	vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
	p->len += n;
}

void prom__appendf(struct prom *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappendf(p, fmt, ap);
	va_end(ap);
}

static void append(struct prom *p, const char *s, size_t n)
{
	if (grow(p, n))
		return;
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = 0;
}

void prom__escape(char *out, size_t outsz, const char *in)
{
	size_t o = 0;

	if (!outsz)
		return;
	for (; *in; in++) {
		const char *rep = NULL;
		char one[2] = {*in, 0};

		if (*in == '\\')
			rep = "\\\\";
		else if (*in == '"')
			rep = "\\\"";
		else if (*in == '\n')
			rep = "\\n";
		else
			rep = one;
		if (o + strlen(rep) + 1 > outsz)
			break; /* never cut an escape in half */
		memcpy(out + o, rep, strlen(rep));
		o += strlen(rep);
	}
	out[o] = 0;
}

/* HELP text escapes only backslash and newline. */
static void append_help(struct prom *p, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			append(p, "\\\\", 2);
		else if (*s == '\n')
			append(p, "\\n", 2);
		else
			append(p, s, 1);
	}
}

void prom__family(struct prom *p, const char *name, const char *type, const char *help)
{
	prom__appendf(p, "# HELP %s ", name);
	append_help(p, help);
	prom__appendf(p, "\n# TYPE %s %s\n", name, type);
}

/* name{k="v",...,extra_k="extra_v"} with the extra label optional. */
static void series(struct prom *p, const char *name, const char *suffix, const char *const *labels,
		   const char *extra_k, const char *extra_v)
{
	char esc[1024];
	bool first = true;

	prom__appendf(p, "%s%s", name, suffix);
	if ((!labels || !labels[0]) && !extra_k)
		return;
	append(p, "{", 1);
	for (; labels && labels[0] && labels[1]; labels += 2) {
		prom__escape(esc, sizeof(esc), labels[1]);
		prom__appendf(p, "%s%s=\"%s\"", first ? "" : ",", labels[0], esc);
		first = false;
	}
	if (extra_k)
		prom__appendf(p, "%s%s=\"%s\"", first ? "" : ",", extra_k, extra_v);
	append(p, "}", 1);
}

/* Shortest text that reads back as the same double; Go-style Inf/NaN. */
static void format_value(char *out, size_t n, double v)
{
	if (isnan(v))
		snprintf(out, n, "NaN");
	else if (isinf(v))
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(long long)v && fabs(v) < 1e15)
		snprintf(out, n, "%lld", (long long)v);
	else {
		int prec;

		for (prec = 1; prec < 17; prec++) {
			snprintf(out, n, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				return;
		}
		snprintf(out, n, "%.17g", v);
	}
}

void prom__sample(struct prom *p, const char *name, const char *const *labels, double value)
{
	char v[64];

	series(p, name, "", labels, NULL, NULL);
	format_value(v, sizeof(v), value);
	prom__appendf(p, " %s\n", v);
}

void prom__sample_u64(struct prom *p, const char *name, const char *const *labels, __u64 value)
{
	series(p, name, "", labels, NULL, NULL);
	prom__appendf(p, " %llu\n", (unsigned long long)value);
}

void prom__histogram(struct prom *p, const char *name, const char *const *labels,
		     const double *bounds, const __u64 *counts, unsigned n, double sum)
{
	unsigned long long cum = 0;
	char le[64], v[64];
	unsigned i;

	for (i = 0; i < n; i++) {
		cum += counts[i];
		format_value(le, sizeof(le), bounds[i]);
		series(p, name, "_bucket", labels, "le", le);
		prom__appendf(p, " %llu\n", cum);
	}
	cum += counts[n];
	series(p, name, "_bucket", labels, "le", "+Inf");
	prom__appendf(p, " %llu\n", cum);
	series(p, name, "_sum", labels, NULL, NULL);
	format_value(v, sizeof(v), sum);
	prom__appendf(p, " %s\n", v);
	series(p, name, "_count", labels, NULL, NULL);
	prom__appendf(p, " %llu\n", cum);
}
