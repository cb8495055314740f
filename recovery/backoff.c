/* Retry pacing (backoff.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t lb_backoff_seed(void)
{
	const char *v = getenv("LIFEBOAT_TEST_SEED");
	struct timespec ts;

	if (v && *v)
		return strtoull(v, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
}

unsigned lb_backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint64_t *rng)
{
	/* past 2^31 the shift would overflow; the cap has long been reached */
	uint64_t ceiling = attempt >= 31 ? cap_ms : (uint64_t)base_ms << attempt;

	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (unsigned)(splitmix64(rng) % (ceiling + 1));
}

void lb_sleep_ms(uint64_t ms, const int *cancel)
{
	while (ms > 0 && !(cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED))) {
		unsigned slice = ms < 50 ? (unsigned)ms : 50;
		struct timespec ts = { 0, (long)slice * 1000000L };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		ms -= slice;
	}
}
