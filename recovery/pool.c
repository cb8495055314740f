/* Worker threads for the chunks of a disk; see pool.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunk.h"
#include "pool.h"
#include "store.h"
#include "target.h"
#include "util.h"

#define LB_POOL_STACK (1u << 20)

struct worker {
	struct lb_pool *p;
	size_t index;
	pthread_t thread;
	struct lb_log_hold hold;
};

struct lb_pool {
	size_t n;
	struct worker *w;
	int cancel;             /* read and written atomically */
	pthread_mutex_t mu;     /* guards what follows */
	pthread_cond_t cv;      /* a chunk finished, or a worker stopped */
	const struct lb_pool_ops *ops;
	void *userdata;
	uint64_t count, next;
	size_t active;
	int err;
	bool changed;
};

size_t lb_pool_size(unsigned asked, uint64_t per_worker)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	uint64_t mem = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize / 4 : 1ull << 30;
	size_t n = asked ? asked : cpus > 0 ? (size_t)cpus : 1;

	if (mem > 1ull << 30)
		mem = 1ull << 30;
	if (n > LB_POOL_WORKERS_MAX)
		n = LB_POOL_WORKERS_MAX;
	while (n > 1 && n * per_worker > mem)
		n--;
	return n;
}

int lb_pool_new(size_t n, struct lb_pool **ret)
{
	struct lb_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->n = n ? n : 1;
	p->w = calloc(p->n, sizeof(*p->w));
	if (!p->w) {
		free(p);
		return -ENOMEM;
	}
	for (size_t k = 0; k < p->n; k++) {
		p->w[k].p = p;
		p->w[k].index = k;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*ret = p;
	return 0;
}

void lb_pool_free(struct lb_pool *p)
{
	if (!p)
		return;
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->w);
	free(p);
}

size_t lb_pool_workers(const struct lb_pool *p)
{
	return p->n;
}

const int *lb_pool_cancel_flag(const struct lb_pool *p)
{
	return &p->cancel;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct lb_pool *p = w->p;

	for (;;) {
		uint64_t i;
		int r;

		pthread_mutex_lock(&p->mu);
		if (p->err || p->next >= p->count) {
			p->active--;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		i = p->next++;
		pthread_mutex_unlock(&p->mu);

		lb_log_hold(&w->hold);
		r = __atomic_load_n(&p->cancel, __ATOMIC_RELAXED) ? -ECANCELED : p->ops->chunk(p->userdata, w->index, i);
		pthread_mutex_lock(&p->mu);
		/* -ECANCELED is a consequence only when this pool cancelled;
		 * otherwise it is a failure like any other */
		if (r < 0 && p->err == 0 && !(r == -ECANCELED && __atomic_load_n(&p->cancel, __ATOMIC_RELAXED))) {
			p->err = r;
			__atomic_store_n(&p->cancel, 1, __ATOMIC_RELAXED);
			lb_log_release(&w->hold, true);
		} else {
			lb_log_release(&w->hold, r == 0);
		}
		p->changed = true;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static void deadline(struct timespec *t, double secs)
{
	clock_gettime(CLOCK_REALTIME, t);
	t->tv_sec += (time_t)secs;
	t->tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

int lb_pool_run(struct lb_pool *p, uint64_t count, const struct lb_pool_ops *ops, void *userdata)
{
	double interval = ops->interval > 0 ? ops->interval : 1.0;
	size_t started = 0;
	pthread_attr_t attr;
	int r;

	p->ops = ops;
	p->userdata = userdata;
	p->count = count;
	p->next = 0;
	p->err = 0;
	p->changed = false;
	__atomic_store_n(&p->cancel, 0, __ATOMIC_RELAXED);
	pthread_mutex_lock(&p->mu);
	p->active = p->n;
	pthread_mutex_unlock(&p->mu);
	/* musl gives threads 128 KiB of stack; a TLS handshake (mbedTLS,
	 * certificate chains) inside curl wants more than that: ask for the
	 * same on every libc. Only the pages touched become resident. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, LB_POOL_STACK);
	for (size_t k = 0; k < p->n; k++) {
		int e = pthread_create(&p->w[k].thread, &attr, work, &p->w[k]);

		if (e != 0) {
			/* fewer workers are slower, not wrong; none is a failure */
			pthread_mutex_lock(&p->mu);
			p->active -= p->n - k;
			if (k == 0)
				p->err = -e;
			pthread_mutex_unlock(&p->mu);
			if (k == 0)
				lb_log("cannot start a worker thread: %s", strerror(e));
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&p->mu);
	while (p->active > 0) {
		struct timespec until;

		if (p->changed) {
			p->changed = false;
			pthread_mutex_unlock(&p->mu);
			if (ops->progress)
				ops->progress(userdata);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		deadline(&until, interval);
		if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT && ops->progress) {
			pthread_mutex_unlock(&p->mu);
			ops->progress(userdata);
			pthread_mutex_lock(&p->mu);
		}
	}
	r = p->err;
	pthread_mutex_unlock(&p->mu);
	for (size_t k = 0; k < started; k++)
		pthread_join(p->w[k].thread, NULL);
	return r;
}

void lb_pool_kits_free(struct lb_pool *p, struct lb_pool_kit *k)
{
	for (size_t i = 0; k && i < p->n; i++) {
		if (k[i].st)
			lb_store_set_cancel(k[i].st, NULL);
		if (k[i].own_st)
			lb_store_close(k[i].st);
		lb_chunk_codec_free(k[i].codec);
		free(k[i].buf);
		free(k[i].z);
	}
	free(k);
}

int lb_pool_kits_new(struct lb_pool *p, struct lb_store *st, uint32_t chunk_size, struct lb_pool_kit **ret)
{
	struct lb_pool_kit *k = calloc(p->n, sizeof(*k));
	int r = -ENOMEM;

	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		if (i == 0) {
			k[i].st = st;
		} else if ((r = lb_store_clone(st, &k[i].st)) < 0) {
			goto fail;
		} else {
			k[i].own_st = 1;
		}
		lb_store_set_cancel(k[i].st, &p->cancel);
		k[i].zcap = lb_chunk_stored_max(chunk_size);
		/* page-aligned, so a restore writes it to a disk O_DIRECT */
		if (posix_memalign((void **)&k[i].buf, LB_TARGET_ALIGN, chunk_size ? chunk_size : 1) != 0)
			k[i].buf = NULL;
		k[i].z = malloc(k[i].zcap);
		if ((r = lb_chunk_codec_new(&k[i].codec)) < 0)
			goto fail;
		if (!k[i].buf || !k[i].z) {
			r = -ENOMEM;
			goto fail;
		}
	}
	*ret = k;
	return 0;
fail:
	lb_pool_kits_free(p, k);
	return r;
}
