// SPDX-License-Identifier: MIT
/* Exposition: escaping, number formatting, cumulative histograms. */
#include <math.h>
#include <string.h>
#include "check.h"
#include "prom.h"

static int contains(const struct prom *p, const char *s)
{
	return p->buf && strstr(p->buf, s) != NULL;
}

int main(void)
{
	const double bounds[] = {0.005, 0.01, 2.5, 10};
	const __u64 counts[] = {1, 0, 3, 0, 2}; /* last one: +Inf */
	struct prom p;
	char esc[16];

	prom__init(&p);
	prom__family(&p, "x_total", "counter", "Back\\slash and\nnewline in help.");
	CHECK(contains(&p, "# HELP x_total Back\\\\slash and\\nnewline in help.\n# TYPE x_total "
			   "counter\n"),
	      "HELP escapes backslash and newline, TYPE follows: %s", p.buf);
	prom__free(&p);

	prom__init(&p);
	const char *l[] = {"service", "we\"ird\\na\nme", "method", "GET", NULL};
	prom__sample_u64(&p, "x_total", l, 18446744073709551615ULL);
	CHECK(!strcmp(p.buf, "x_total{service=\"we\\\"ird\\\\na\\nme\",method=\"GET\"} "
			     "18446744073709551615\n"),
	      "label values escaped, u64 max exact: %s", p.buf);
	prom__free(&p);

	prom__init(&p);
	prom__sample(&p, "g", NULL, 0.1);
	prom__sample(&p, "g", NULL, 3);
	prom__sample(&p, "g", NULL, 1e-9);
	prom__sample(&p, "g", NULL, INFINITY);
	prom__sample(&p, "g", NULL, NAN);
	CHECK(!strcmp(p.buf, "g 0.1\ng 3\ng 1e-09\ng +Inf\ng NaN\n"),
	      "shortest round-trip numbers, Inf and NaN as Prometheus spells them: %s", p.buf);
	prom__free(&p);

	prom__init(&p);
	const char *hl[] = {"endpoint", "/a", NULL};
	prom__histogram(&p, "h_seconds", hl, bounds, counts, 4, 12.5);
	CHECK(!strcmp(p.buf, "h_seconds_bucket{endpoint=\"/a\",le=\"0.005\"} 1\n"
			     "h_seconds_bucket{endpoint=\"/a\",le=\"0.01\"} 1\n"
			     "h_seconds_bucket{endpoint=\"/a\",le=\"2.5\"} 4\n"
			     "h_seconds_bucket{endpoint=\"/a\",le=\"10\"} 4\n"
			     "h_seconds_bucket{endpoint=\"/a\",le=\"+Inf\"} 6\n"
			     "h_seconds_sum{endpoint=\"/a\"} 12.5\n"
			     "h_seconds_count{endpoint=\"/a\"} 6\n"),
	      "cumulative buckets, +Inf equals _count: %s", p.buf);
	prom__free(&p);

	prom__init(&p);
	prom__histogram(&p, "h", NULL, bounds, counts, 0, 0);
	CHECK(!strcmp(p.buf, "h_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n"),
	      "no bounds and no labels: only +Inf: %s", p.buf);
	prom__free(&p);

	prom__escape(esc, 14, "abc\"def\"ghij");
	CHECK(!strcmp(esc, "abc\\\"def\\\"ghi"), "escape truncates to the buffer: %s", esc);
	prom__escape(esc, 5, "ab\\\\");
	CHECK(!strcmp(esc, "ab\\\\"), "an escape is never cut in half: %s", esc);
	prom__escape(esc, 4, "ab\\");
	CHECK(!strcmp(esc, "ab"), "a whole escape or none: %s", esc);

	prom__init(&p);
	for (int i = 0; i < 10000; i++)
		prom__appendf(&p, "line %d\n", i);
	CHECK(!p.oom && contains(&p, "line 9999\n") && strlen(p.buf) == p.len,
	      "the buffer grows and stays NUL-terminated");
	prom__free(&p);
	FINISH();
}
