/* A tiny TAP-producing test framework: no dependencies, one header.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_STR(s, "a"); CHECK_INT(r, 0); }
 *   int main(void) { RUN(name); return tap_done(); }
 *
 * Prints "ok N - name" or "not ok N - name" (with the failing checks as
 * "#" comments) and tap_done() returns non-zero when anything failed.
 */
#ifndef LB_TAP_H
#define LB_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count, tap_failures, tap_case_failed;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
			tap_case_failed = 1;                                               \
		}                                                                          \
	} while (0)

#define CHECK_INT(got, want)                                                               \
	do {                                                                               \
		long long g_ = (long long)(got), w_ = (long long)(want);                    \
		if (g_ != w_) {                                                            \
			printf("#   %s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #got, \
			       g_, w_);                                                    \
			tap_case_failed = 1;                                               \
		}                                                                          \
	} while (0)

/* NULL-safe; want NULL means "expect NULL". */
#define CHECK_STR(got, want)                                                               \
	do {                                                                               \
		const char *g_ = (got), *w_ = (want);                                      \
		if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_) != 0)) {         \
			printf("#   %s:%d: %s == \"%s\", want \"%s\"\n", __FILE__, __LINE__,  \
			       #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");              \
			tap_case_failed = 1;                                               \
		}                                                                          \
	} while (0)

static inline void tap_run(const char *name, void (*fn)(void))
{
	tap_case_failed = 0;
	fn();
	tap_count++;
	if (tap_case_failed)
		tap_failures++;
	printf("%s %d - %s\n", tap_case_failed ? "not ok" : "ok", tap_count, name);
	fflush(stdout);
}

#define RUN(name) tap_run(#name, name)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failures)
		printf("# %d of %d tests failed\n", tap_failures, tap_count);
	return tap_failures ? 1 : 0;
}

#endif
