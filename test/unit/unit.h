/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef UNIT_H
#define UNIT_H

/**
 * @file
 * Smallest possible test harness for the unit test programs.
 *
 * Checks are grouped: unit_group() opens a group, every UNIT_CHECK*() counts one
 * check in it, and the next unit_group() (or unit_done()) prints one line for
 * the finished group: "ok" or "FAIL" with its counts. A failed check also prints
 * where and why at once. unit_done() returns the process exit status: non-zero
 * if any check failed.
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_state {
	const char *prog;
	const char *group;
	unsigned int group_checks;
	unsigned int group_failed;
	unsigned int checks;
	unsigned int failed;
	unsigned int groups_failed;
};

static struct unit_state unit_st;

static inline void
unit_group_end(void)
{
	if (unit_st.group == NULL)
		return;
	if (unit_st.group_failed == 0)
		printf("ok   %-40s %u checks\n", unit_st.group, unit_st.group_checks);
	else
		printf("FAIL %-40s %u of %u checks failed\n", unit_st.group,
		       unit_st.group_failed, unit_st.group_checks);
	if (unit_st.group_failed != 0)
		unit_st.groups_failed++;
	unit_st.group = NULL;
	fflush(stdout);
}

/** Start a group of checks; ends the previous one. */
static inline void
unit_group(const char *name)
{
	unit_group_end();
	unit_st.group = name;
	unit_st.group_checks = 0;
	unit_st.group_failed = 0;
}

static inline bool
unit_check(bool ok, const char *file, int line, const char *what)
{
	unit_st.checks++;
	unit_st.group_checks++;
	if (ok)
		return true;
	unit_st.failed++;
	unit_st.group_failed++;
	fprintf(stderr, "%s:%d: [%s] check failed: %s\n", file, line,
		unit_st.group != NULL ? unit_st.group : "-", what);
	return false;
}

static inline bool
unit_check_eq(uint64_t a, uint64_t b, const char *file, int line, const char *sa,
	      const char *sb)
{
	unit_st.checks++;
	unit_st.group_checks++;
	if (a == b)
		return true;
	unit_st.failed++;
	unit_st.group_failed++;
	fprintf(stderr, "%s:%d: [%s] check failed: %s == %s: %" PRId64 " (0x%" PRIx64
		") != %" PRId64 " (0x%" PRIx64 ")\n", file, line,
		unit_st.group != NULL ? unit_st.group : "-", sa, sb, (int64_t)a, a,
		(int64_t)b, b);
	return false;
}

/** Check a condition. Evaluates to the outcome. */
#define UNIT_CHECK(cond) unit_check(!!(cond), __FILE__, __LINE__, #cond)

/** Check two integers (any type up to 64 bits, compared as uint64_t) are equal. */
#define UNIT_CHECK_EQ(a, b) \
	unit_check_eq((uint64_t)(a), (uint64_t)(b), __FILE__, __LINE__, #a, #b)

/** Check two pointers are equal. */
#define UNIT_CHECK_PTR(a, b) \
	unit_check_eq((uint64_t)(uintptr_t)(a), (uint64_t)(uintptr_t)(b), __FILE__, \
		      __LINE__, #a, #b)

/** Check @p n bytes at @p a and @p b are equal. */
#define UNIT_CHECK_MEM(a, b, n) \
	unit_check(memcmp((a), (b), (n)) == 0, __FILE__, __LINE__, \
		   "memcmp(" #a ", " #b ", " #n ") == 0")

/** Abort the program when a precondition of the test itself fails. */
#define UNIT_REQUIRE(cond) do { \
	if (!unit_check(!!(cond), __FILE__, __LINE__, #cond)) { \
		unit_group_end(); \
		fprintf(stderr, "%s: cannot go on\n", unit_st.prog); \
		exit(2); \
	} \
} while (0)

/** Name the program in the summary line. */
static inline void
unit_start(const char *prog)
{
	unit_st.prog = prog;
}

/** End the last group, print a summary, and return the exit status. */
static inline int
unit_done(void)
{
	unit_group_end();
	printf("%s: %u checks, %u failed, %u groups failed\n",
	       unit_st.prog != NULL ? unit_st.prog : "unit", unit_st.checks, unit_st.failed,
	       unit_st.groups_failed);
	return unit_st.failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* UNIT_H */
