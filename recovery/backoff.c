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

/* seconds, decimals allowed; -EINVAL (logged) for anything else */
static int env_seconds(const char *name, double min, double *ret)
{
	const char *v = getenv(name);
	char *end;
	double d;

	if (!v || !*v)
		return 0;
	errno = 0;
	d = strtod(v, &end);
	if (errno || *end || d != d || d < min || d > 86400.0 * 7) {
		lb_log("%s='%s': not a number of seconds (%g to 604800)", name, v, min);
		return -EINVAL;
	}
	*ret = d;
	return 1;
}

int lb_retry_policy_env(struct lb_retry_policy *ret)
{
	const char *v = getenv("LIFEBOAT_RETRIES");
	double t = LB_RETRY_TIME_DEFAULT_MS / 1000.0;
	int r;

	ret->retries = LB_RETRIES_DEFAULT;
	if (v && *v) {
		char *end;
		long n;

		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || *end || n < 0 || n > 1000) {
			lb_log("LIFEBOAT_RETRIES='%s': not a number of retries (0 to 1000)", v);
			return -EINVAL;
		}
		ret->retries = (int)n;
	}
	if ((r = env_seconds("LIFEBOAT_RETRY_TIME", 0, &t)) < 0)
		return r;
	ret->budget_ms = (uint64_t)(t * 1000.0);
	return 0;
}

int lb_stall_timeout_env(long *ret_s)
{
	double t = LB_STALL_TIMEOUT_DEFAULT_S;
	int r = env_seconds("LIFEBOAT_STALL_TIMEOUT", 1, &t);

	if (r < 0)
		return r;
	/* curl's low-speed window counts whole seconds */
	*ret_s = (long)(t + 0.5);
	return 0;
}

bool lb_retry_wait(const struct lb_retry_policy *p, int attempt, uint64_t start_ms, uint64_t *rng,
		   const int *cancel, const char *what, const char *why)
{
	uint64_t spent = lb_mono_ms() - start_ms;
	unsigned delay;

	if (attempt >= p->retries || spent >= p->budget_ms) {
		/* nothing to say when no retry was allowed in the first place */
		if (p->retries > 0)
			lb_log("%s: %s%sgiving up after %d %s in %.1f s (LIFEBOAT_RETRIES %d, LIFEBOAT_RETRY_TIME %.1f s)",
			       what, why ? why : "", why ? "; " : "", attempt, attempt == 1 ? "retry" : "retries",
			       (double)spent / 1000.0, p->retries, (double)p->budget_ms / 1000.0);
		return false;
	}
	delay = lb_backoff_ms((unsigned)attempt, LB_RETRY_BASE_MS, LB_RETRY_CAP_MS, rng);
	if (spent + delay > p->budget_ms)
		delay = (unsigned)(p->budget_ms - spent);
	lb_log("%s: %s%sretry %d/%d in %u ms", what, why ? why : "", why ? "; " : "", attempt + 1, p->retries, delay);
	lb_sleep_ms(delay, cancel);
	return true;
}
