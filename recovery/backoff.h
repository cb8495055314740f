/* Retry pacing for every client of a server that may be down or
 * overloaded: the S3 client, image URLs, status callbacks.
 *
 * Exponential backoff with full jitter: the wait before retry number n is
 * uniform in [0, min(cap, base * 2^n)]. The jitter matters more than the
 * exponent when a rack of machines lost the same server at the same moment:
 * without it they all come back in lockstep and knock it over again. */
#ifndef LB_BACKOFF_H
#define LB_BACKOFF_H

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

#endif
