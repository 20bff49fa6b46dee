/* SPDX-License-Identifier: MIT */
/* Minimal test harness: CHECK prints a line per failure, FINISH the tally. */
#ifndef REDSCOPE_TEST_CHECK_H
#define REDSCOPE_TEST_CHECK_H

#include <stdio.h>

static int checks_passed, checks_failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			checks_passed++;                                                           \
		} else {                                                                           \
			checks_failed++;                                                           \
			printf("not ok %s:%d: ", __FILE__, __LINE__);                              \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

#define FINISH()                                                                                   \
	do {                                                                                       \
		printf("%d passed, %d failed\n", checks_passed, checks_failed);                    \
		return checks_failed ? 1 : 0;                                                      \
	} while (0)

#endif
