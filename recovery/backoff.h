/* Retry pacing for every client of a server that may be down or
 * overloaded: the S3 client, image URLs, status callbacks; and how long a
 * request may keep trying (the retry policy) and sit without a byte (the
 * stall timeout), which the operator sets once for all of them.
 *
 * Exponential backoff with full jitter: the wait before retry number n is
 * uniform in [0, min(cap, base * 2^n)]. The jitter matters more than the
 * exponent when a rack of machines lost the same server at the same moment:
 * without it they all come back in lockstep and knock it over again. */
#ifndef LB_BACKOFF_H
#define LB_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h" /* lb_mono_ms */

/* PRNG state for the jitter: from LIFEBOAT_TEST_SEED when set (tests get
 * exact delays), else from the clock and the pid. */
uint64_t lb_backoff_seed(void);

/* Milliseconds to wait before retry number attempt (0-based). */
unsigned lb_backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint64_t *rng);

/* Sleep ms (EINTR does not cut it short), in slices of 50 ms while
 * *cancel (read atomically; NULL: never) is zero: a cancelled worker does
 * not sleep out a 20 s backoff. */
void lb_sleep_ms(uint64_t ms, const int *cancel);

/* What the environment (or the config, through it) asks of retries:
 *   LIFEBOAT_RETRIES       retries after the first attempt (default 6)
 *   LIFEBOAT_RETRY_TIME    seconds from a request's first attempt after
 *                          which it is not retried again (default 120)
 *   LIFEBOAT_STALL_TIMEOUT seconds without a byte moving after which an
 *                          attempt is aborted (and may be retried; default 60)
 * Decimals are taken ("0.5"). Garbage is refused (-EINVAL, logged), not
 * replaced by a default: a typo must not turn a bounded wait into 2 min. */
#define LB_RETRIES_DEFAULT 6
#define LB_RETRY_BASE_MS 200u
#define LB_RETRY_CAP_MS 20000u
#define LB_RETRY_TIME_DEFAULT_MS 120000u
#define LB_STALL_TIMEOUT_DEFAULT_S 60

struct lb_retry_policy {
	int retries;        /* retries after the first attempt */
	uint64_t budget_ms; /* no retry starts later than this after the first attempt */
};

int lb_retry_policy_env(struct lb_retry_policy *ret);
/* LIFEBOAT_STALL_TIMEOUT in whole seconds (at least 1), else the default. */
int lb_stall_timeout_env(long *ret_s);

/* After attempt number attempt (0-based) of a request first sent at
 * start_ms (lb_mono_ms()) failed for a reason a retry may cure: either
 * wait the backoff and return true (logged: "WHAT: WHY; retry n/N in D
 * ms"), or return false when the policy is spent (logged: "WHAT: WHY;
 * giving up after n retries in S s"). A wait that would end past the
 * budget is cut to it. why may be NULL (the error was logged already). */
bool lb_retry_wait(const struct lb_retry_policy *p, int attempt, uint64_t start_ms, uint64_t *rng,
		   const int *cancel, const char *what, const char *why);

#endif
