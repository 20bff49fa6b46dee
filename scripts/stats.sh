# Shell functions the benchmark scripts share; sourced, not run.

# median: the median of the numbers on stdin (the lower one of an even count).
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# above2: how many of the values on stdin (rounds, in points) are above the
# benchmark's target of 2 points.
above2() { awk '$1 > 2 { n++ } END { print n + 0 }'; }
# median_ci: "LOW HIGH PERCENT": two of the values on stdin that hold their
# true median between them with at least 95 % odds, whatever the values'
# distribution (the sign test's interval: the median lies below the k-th
# smallest of n values with odds P(Binomial(n, 1/2) < k)); "- - -" with too
# few values (under 6).
median_ci() {
	sort -g | awk '{v[NR] = $1} END {
		n = NR; k = 0; tail = 0; p = 0.5 ^ n
		for (j = 0; j < n; j++) {
			tail += p # P(X <= j)
			if (tail > 0.025)
				break
			k = j + 1; kt = tail
			p = p * (n - j) / (j + 1)
		}
		if (k < 1) { print "- - -"; exit }
		printf "%s %s %.0f\n", v[k], v[n - k + 1], (1 - 2 * kt) * 100
	}'
}
