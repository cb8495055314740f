/* Worker threads for the chunks of a disk: restore and backup hand out
 * chunk numbers 0..count-1, in order, to a fixed set of threads, and stop
 * them all at the first failure.
 *
 * The rules both pipelines share live here once:
 *   - one chunk in flight per worker, so memory stays bounded by the
 *     workers' own buffers;
 *   - the first failure sets the cancel flag (which the workers' store
 *     handles watch: lb_store_set_cancel aborts their transfers in flight),
 *     no new chunk is handed out, and it is the failure returned;
 *   - each worker's log lines are held while it works on a chunk and
 *     printed when the chunk succeeded or its failure was the first, so
 *     the workers that fail in its wake (cancelled, the same full disk)
 *     do not bury the cause;
 *   - progress runs on the caller's thread (callbacks that print or send
 *     are not thread-safe), at least every interval seconds while the
 *     workers run and whenever chunks finish. */
#ifndef LB_POOL_H
#define LB_POOL_H

#include <stddef.h>
#include <stdint.h>

struct lb_pool;

/* How many workers to run: `asked`, or one per online CPU when 0; at
 * most LB_POOL_WORKERS_MAX, and no more than the per-worker buffers
 * (per_worker bytes) of a quarter of the RAM (at most 1 GiB) allow: an
 * initramfs lives in that RAM too. */
#define LB_POOL_WORKERS_MAX 64u
size_t lb_pool_size(unsigned asked, uint64_t per_worker);

/* n workers (at least 1). */
int lb_pool_new(size_t n, struct lb_pool **ret);
void lb_pool_free(struct lb_pool *p);
size_t lb_pool_workers(const struct lb_pool *p);

/* Non-zero once a run failed; for lb_store_set_cancel. Cleared by
 * lb_pool_run when it starts. */
const int *lb_pool_cancel_flag(const struct lb_pool *p);

struct lb_pool_ops {
	/* Chunk i on worker `worker` (0..n-1; a worker's chunks run one at a
	 * time, so per-worker buffers need no lock). 0 or -errno. */
	int (*chunk)(void *userdata, size_t worker, uint64_t i);
	/* On the caller's thread (optional). */
	void (*progress)(void *userdata);
	double interval; /* seconds; 0 = 1 */
};

/* Run chunks 0..count-1 and wait for all of them: 0, or the first
 * failure (-ECANCELED is never it). */
int lb_pool_run(struct lb_pool *p, uint64_t count, const struct lb_pool_ops *ops, void *userdata);

/* What each worker of restore and backup holds, made before the run: its
 * own store handle (worker 0 borrows the caller's; all watch the pool's
 * cancel flag), zstd contexts, a chunk buffer and one for its stored
 * frame (lb_chunk_stored_max). */
struct lb_store;
struct lb_chunk_codec;
struct lb_pool_kit {
	struct lb_store *st;
	int own_st;
	struct lb_chunk_codec *codec;
	uint8_t *buf, *z;
	size_t zcap;
};
/* One kit per worker of p, for chunks of at most chunk_size bytes. */
int lb_pool_kits_new(struct lb_pool *p, struct lb_store *st, uint32_t chunk_size, struct lb_pool_kit **ret);
void lb_pool_kits_free(struct lb_pool *p, struct lb_pool_kit *k);

/* Counters that workers add to and the caller's thread reads. */
static inline void lb_pool_add(uint64_t *counter, uint64_t v)
{
	__atomic_add_fetch(counter, v, __ATOMIC_RELAXED);
}

static inline uint64_t lb_pool_read(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

#endif
