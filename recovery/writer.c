/* The point writer and its half of the garbage-collection protocol; see
 * writer.h and docs/FORMAT.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "chunk.h"
#include "hashset.h"
#include "manifest.h"
#include "util.h"
#include "writer.h"

void lb_gc_times(int64_t grace, struct lb_gc_times *ret)
{
	ret->grace = grace;
	/* W: long enough for a HEAD and a DELETE on a loaded store (gc skips
	 * a delete it cannot send within W/2 of its HEAD), short enough that
	 * a writer's wait at the end (W + 1 s) stays small. */
	ret->window = grace / 64 < 1 ? 1 : grace / 64 > 2 ? 2 : grace / 64;
	ret->limit = grace / 4;
	/* A reused object older than this is touched. With gc's cut at
	 * (gc's start - G) and gc's start before this writer's manifest, at
	 * most `limit` after the writer's start, anything younger than
	 * G - limit - W - 2 (2 s for Date headers truncated to the second)
	 * cannot be collected while the writer relies on it. */
	ret->refresh_age = grace - ret->limit - ret->window - 2;
}

int lb_writer_grace(struct lb_store *st, int64_t *ret_grace)
{
	struct lb_marker m;
	void *buf = NULL;
	size_t len = 0;
	int r = lb_store_get(st, LB_MARKER_KEY, LB_MARKER_MAX, &buf, &len);

	if (r == -ENOENT) {
		*ret_grace = LB_GC_GRACE_DEFAULT;
		return 0;
	}
	if (r == 0)
		r = lb_marker_parse(buf, len, LB_MARKER_KEY, &m);
	if (r == 0)
		*ret_grace = m.gc_grace;
	free(buf);
	return r;
}

struct pending {
	char key[96];
	int64_t due; /* store clock: check it again from then on */
};

struct lb_writer {
	struct lb_store *st;  /* the writer's own handle */
	pthread_mutex_t mu;   /* guards q, max_due, seen and stats */
	struct lb_gc_times t;
	int64_t start;        /* store clock at the start */
	uint64_t start_mono;  /* lb_mono_ms() at the start */
	struct pending *q;    /* in order of arrival; due times nearly ordered */
	size_t q_head, q_n, q_cap;
	int64_t max_due;
	struct lb_hashset *seen; /* chunks placed during this run */
	bool unsafe;          /* test seam: the protocol off (see writer.h) */
	struct lb_writer_stats stats;
};

static int ensure_marker(struct lb_store *st, int64_t *ret_grace)
{
	struct lb_marker m = { .gc_grace = LB_GC_GRACE_DEFAULT };
	char *buf = NULL;
	size_t len = 0;
	int r = lb_writer_grace(st, ret_grace);

	if (r < 0)
		return r;
	r = lb_store_exists(st, LB_MARKER_KEY);
	if (r != 0)
		return r < 0 ? r : 0;
	r = lb_marker_format(&m, &buf, &len);
	if (r == 0)
		r = lb_store_put(st, LB_MARKER_KEY, buf, len);
	free(buf);
	return r;
}

int lb_writer_new(struct lb_store *st, struct lb_writer **ret)
{
	struct lb_writer *w = calloc(1, sizeof(*w));
	int64_t grace = 0;
	int r;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->mu, NULL);
	w->st = st;
	r = lb_hashset_new(&w->seen);
	if (r == 0)
		r = ensure_marker(st, &grace);
	if (r < 0)
		goto fail;
	lb_gc_times(grace, &w->t);
	/* The start as the store's clock sees it, taken before the first
	 * object is looked at. */
	r = lb_store_now(st, &w->start);
	if (r < 0)
		goto fail;
	w->start_mono = lb_mono_ms();
	w->unsafe = getenv("LIFEBOAT_TEST_WRITER_UNSAFE") && *getenv("LIFEBOAT_TEST_WRITER_UNSAFE");
	if (w->unsafe)
		lb_log("LIFEBOAT_TEST_WRITER_UNSAFE is set: this run ignores the gc protocol (tests only)");
	*ret = w;
	return 0;
fail:
	lb_writer_free(w);
	return r;
}

void lb_writer_free(struct lb_writer *w)
{
	if (!w)
		return;
	free(w->q);
	lb_hashset_free(w->seen);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

const struct lb_writer_stats *lb_writer_stats(const struct lb_writer *w)
{
	return &w->stats;
}

static int enqueue_locked(struct lb_writer *w, const char *key, int64_t due)
{
	if (w->q_head == w->q_n)
		w->q_head = w->q_n = 0;
	/* Reclaim the checked front before growing. */
	if (w->q_n == w->q_cap && w->q_head > 0) {
		memmove(w->q, w->q + w->q_head, (w->q_n - w->q_head) * sizeof(*w->q));
		w->q_n -= w->q_head;
		w->q_head = 0;
	}
	if (w->q_n == w->q_cap) {
		size_t cap = w->q_cap ? 2 * w->q_cap : 256;
		struct pending *q = realloc(w->q, cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		w->q = q;
		w->q_cap = cap;
	}
	snprintf(w->q[w->q_n].key, sizeof(w->q[w->q_n].key), "%s", key);
	w->q[w->q_n].due = due;
	w->q_n++;
	if (due > w->max_due)
		w->max_due = due;
	return 0;
}

static int enqueue(struct lb_writer *w, const char *key, int64_t due)
{
	int r;

	pthread_mutex_lock(&w->mu);
	r = enqueue_locked(w, key, due);
	pthread_mutex_unlock(&w->mu);
	return r;
}

static void count(struct lb_writer *w, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&w->mu);
	*field += n;
	pthread_mutex_unlock(&w->mu);
}

/* Check again what is due (all of it, at the end). An object that was
 * there and is gone was deleted by a gc that had decided on an older copy
 * of it: the point cannot be written. */
static int check_due(struct lb_writer *w, struct lb_store *st, bool all)
{
	struct pending p;
	int64_t now;
	int r = lb_store_now(st, &now);

	while (r == 0) {
		pthread_mutex_lock(&w->mu);
		if (w->q_head == w->q_n || (!all && w->q[w->q_head].due > now)) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		p = w->q[w->q_head++];
		pthread_mutex_unlock(&w->mu);
		r = lb_store_exists(st, p.key);
		if (r == 0) {
			lb_log("store %s: %s vanished after it was stored (deleted by a concurrent gc); "
			       "no point is written: run it again",
			       lb_store_url(st), p.key);
			return -ESTALE;
		}
		if (r < 0)
			return r;
		r = 0;
		count(w, &w->stats.checked, 1);
	}
	return r;
}

int lb_writer_place(struct lb_writer *w, struct lb_store *st, const char *key, lb_writer_make_fn make, void *ctx,
		    size_t *ret_stored)
{
	struct lb_store_stat s;
	const void *buf = NULL;
	size_t len = 0;
	int64_t now;
	int r;

	if (ret_stored)
		*ret_stored = 0;
	if ((r = check_due(w, st, false)) < 0)
		return r;
	r = lb_store_stat(st, key, &s);
	if (r < 0)
		return r;
	if (r == 1 && w->unsafe) {
		count(w, &w->stats.reused, 1);
		return 0;
	}
	if (r == 1 && s.mtime < w->start - w->t.refresh_age) {
		/* Old enough that a gc may take it for garbage: refresh it. */
		r = lb_store_touch(st, key);
		if (r == 0) {
			count(w, &w->stats.reused, 1);
			count(w, &w->stats.touched, 1);
			if ((r = lb_store_now(st, &now)) < 0)
				return r;
			return enqueue(w, key, now + w->t.window + 1);
		}
		if (r != -ENOENT)
			return r;
		r = 0; /* collected just now: store it again */
	}
	if (r == 1) {
		count(w, &w->stats.reused, 1);
		if ((r = lb_store_now(st, &now)) < 0)
			return r;
		/* Written less than W ago (by another writer, say): a DELETE
		 * decided on an older copy may still land. */
		if (now < s.mtime + w->t.window + 2)
			return enqueue(w, key, s.mtime + w->t.window + 2);
		return 0;
	}
	if (!make) {
		lb_log("store %s: %s is missing", lb_store_url(st), key);
		return -ENOENT;
	}
	if ((r = make(ctx, &buf, &len)) < 0 || (r = lb_store_put(st, key, buf, len)) < 0)
		return r;
	count(w, &w->stats.uploaded, 1);
	count(w, &w->stats.bytes_uploaded, len);
	if (ret_stored)
		*ret_stored = len;
	if (w->unsafe)
		return 1;
	if ((r = lb_store_now(st, &now)) < 0 || (r = enqueue(w, key, now + w->t.window + 1)) < 0)
		return r;
	return 1;
}

struct chunk_src {
	const void *raw;
	size_t len;
	int level;
	void *out; /* the frame, freed by the caller */
};

static int make_chunk(void *ctx, const void **ret, size_t *ret_len)
{
	struct chunk_src *c = ctx;
	size_t cap = lb_chunk_stored_max(c->len);
	int r;

	c->out = malloc(cap);
	if (!c->out)
		return -ENOMEM;
	r = lb_chunk_compress(NULL, c->raw, c->len, c->level, c->out, cap, ret_len);
	*ret = c->out;
	return r;
}

/* Chunk h placed once per run, through the writer's own handle. */
static int place_chunk(struct lb_writer *w, const uint8_t h[32], lb_writer_make_fn make, void *ctx,
		       size_t *ret_stored)
{
	char key[96];
	int r;

	if (ret_stored)
		*ret_stored = 0;
	pthread_mutex_lock(&w->mu);
	r = lb_hashset_get(w->seen, h, NULL);
	pthread_mutex_unlock(&w->mu);
	if (r)
		return 0;
	lb_chunk_key(h, key);
	r = lb_writer_place(w, w->st, key, make, ctx, ret_stored);
	if (r >= 0) {
		pthread_mutex_lock(&w->mu);
		if (lb_hashset_put(w->seen, h, 1) < 0)
			r = -ENOMEM;
		pthread_mutex_unlock(&w->mu);
	}
	return r;
}

int lb_writer_chunk(struct lb_writer *w, const uint8_t h[32], const void *raw, size_t len, int level,
		    size_t *ret_stored)
{
	struct chunk_src c = { raw, len, level, NULL };
	int r = place_chunk(w, h, make_chunk, &c, ret_stored);

	free(c.out);
	return r;
}

int lb_writer_claim(struct lb_writer *w, const uint8_t h[32])
{
	return place_chunk(w, h, NULL, NULL, NULL);
}

int lb_writer_replace(struct lb_writer *w, const uint8_t h[32], const void *frame, size_t len)
{
	char key[96];
	int64_t now;
	int r;

	lb_chunk_key(h, key);
	if ((r = check_due(w, w->st, false)) < 0 || (r = lb_store_put(w->st, key, frame, len)) < 0)
		return r;
	count(w, &w->stats.uploaded, 1);
	count(w, &w->stats.bytes_uploaded, len);
	pthread_mutex_lock(&w->mu);
	r = lb_hashset_put(w->seen, h, 1);
	pthread_mutex_unlock(&w->mu);
	if (r < 0 || (r = lb_store_now(w->st, &now)) < 0)
		return r;
	return enqueue(w, key, now + w->t.window + 1);
}

struct object_src {
	const void *data;
	size_t len;
};

static int make_object(void *ctx, const void **ret, size_t *ret_len)
{
	const struct object_src *o = ctx;

	*ret = o->data;
	*ret_len = o->len;
	return 0;
}

int lb_writer_object(struct lb_writer *w, const char *key, const void *data, size_t len)
{
	struct object_src o = { data, len };
	int r = lb_writer_place(w, w->st, key, make_object, &o, NULL);

	return r < 0 ? r : 0;
}

/* Seconds since the start, by the local monotonic clock (a duration, so
 * the local clock's error does not matter). */
static int64_t elapsed(const struct lb_writer *w)
{
	return (int64_t)((lb_mono_ms() - w->start_mono + 999) / 1000);
}

int lb_writer_commit(struct lb_writer *w, const char *key, const void *json, size_t len)
{
	int64_t now;
	int r = lb_store_now(w->st, &now);

	if (r < 0)
		return r;
	if (w->unsafe)
		return lb_store_put(w->st, key, json, len);
	/* Wait out the window of the last objects (at most W + 2 s). */
	if (w->max_due > now) {
		lb_sleep_ms((uint64_t)(w->max_due - now) * 1000 + 100, NULL);
		while ((r = lb_store_now(w->st, &now)) == 0 && now < w->max_due)
			lb_sleep_ms(200, NULL);
		if (r < 0)
			return r;
	}
	if ((r = check_due(w, w->st, true)) < 0)
		return r;
	/* The manifest must land within `limit` of the start; the PUT itself
	 * may take up to W/2. */
	if (elapsed(w) + w->t.window > w->t.limit - 2) {
		lb_log("store %s: this run took %" PRId64 " s, longer than the %" PRId64
		       " s a point may take with the store's gc grace of %" PRId64
		       " s: no point is written (what was stored is reused when run again; "
		       "or raise gc_grace_seconds in %s)",
		       lb_store_url(w->st), elapsed(w), w->t.limit - 2 - w->t.window, w->t.grace, LB_MARKER_KEY);
		return -ETIME;
	}
	return lb_store_put(w->st, key, json, len);
}
