/* A point writer: what every command that makes a restore point (backup,
 * image create, an imported disk image) does to store it safely while
 * garbage collection may run at the same time.
 *
 * The hazard: a chunk the new point needs but no manifest references yet
 * (just uploaded, or reused from a point that prune removed) is, to a
 * concurrent `lifeboat gc`, garbage. The protocol (docs/FORMAT.md, "Garbage
 * collection") closes it with time, not locks: gc deletes only objects
 * older than the store's grace period G, checked by a HEAD just before a
 * DELETE that must land within a short window W; a writer
 *   - refreshes (touches) every chunk it reuses that is older than
 *     G - G/4 - W - 2 s, so none it relies on can look old to gc;
 *   - checks again, once W has passed, every object it uploaded, touched or
 *     found younger than W (a gc DELETE decided on an older copy may still
 *     have been in flight), and fails if one is gone;
 *   - writes the manifest only if it started less than G/4 - W - 2 s ago.
 * A writer that cannot prove its chunks are in the store writes no point.
 * Times are the store's clock (the S3 server's Date), so a wrong local
 * clock cannot break it.
 *
 * Test seam: LIFEBOAT_TEST_WRITER_UNSAFE=1 turns the writer's half off
 * (no touch, no second check, no time limit: what a writer did before
 * the protocol), so tests/cases/gc.t can show the race it closes. */
#ifndef LB_WRITER_H
#define LB_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The protocol's times for a grace period G (seconds). */
struct lb_gc_times {
	int64_t grace;  /* G: gc deletes only unreferenced objects older than this */
	int64_t window; /* W: a gc DELETE lands within W/2 of its HEAD */
	int64_t limit;  /* a writer's manifest lands within this of its start */
	int64_t refresh_age; /* a writer touches reused objects older than this */
};
void lb_gc_times(int64_t grace, struct lb_gc_times *ret);

/* The store's grace period from its marker (the default when the store
 * has no marker yet); -EBADMSG for a marker of another format or version. */
int lb_writer_grace(struct lb_store *st, int64_t *ret_grace);

struct lb_writer;

struct lb_writer_stats {
	uint64_t uploaded, bytes_uploaded; /* objects put, their stored bytes */
	uint64_t reused;                   /* already in the store */
	uint64_t touched;                  /* reused and refreshed */
	uint64_t checked;                  /* checked again after the window */
};

/* Creates the store marker if the store has none; refuses (-EBADMSG) a
 * prefix whose marker is another format or a newer version. Reads the
 * store's clock: the run's start. st is the writer's own handle, for the
 * thread that made it; other threads pass their own to lb_writer_place. */
int lb_writer_new(struct lb_store *st, struct lb_writer **ret);
void lb_writer_free(struct lb_writer *w);

/* The bytes to upload for a key the store lacks, produced on demand (a
 * chunk is compressed only then); they stay the producer's. */
typedef int (*lb_writer_make_fn)(void *ctx, const void **ret_data, size_t *ret_len);

/* Make key an object of this point, through st (the caller's handle: one
 * per thread). make NULL: the object must be in the store already
 * (-ENOENT, logged). 1 uploaded (*ret_stored, may be NULL, its bytes), 0
 * already there. Safe to call from several threads at once, each with
 * its own st; it does not merge equal keys met at the same time (the
 * caller's job, as the backup pipeline's claim does). */
int lb_writer_place(struct lb_writer *w, struct lb_store *st, const char *key, lb_writer_make_fn make, void *ctx,
		    size_t *ret_stored);

/* The calls below use the writer's own handle (its thread only) and
 * place each chunk once per run. */

/* One chunk of the point, len bytes hashing to h: compressed at level and
 * uploaded when the store lacks it, else claimed. *ret_stored (may be
 * NULL) gets the bytes uploaded, 0 when the chunk was already stored. */
int lb_writer_chunk(struct lb_writer *w, const uint8_t h[32], const void *raw, size_t len, int level,
		    size_t *ret_stored);
/* A chunk the point takes as it is in the store (an image made from a
 * backup takes its chunks): -ENOENT (logged) when it is not there. */
int lb_writer_claim(struct lb_writer *w, const uint8_t h[32]);
/* Replace the stored frame of chunk h with `frame` (a smaller frame of
 * the same bytes: image create --level); the point claims it. */
int lb_writer_replace(struct lb_writer *w, const uint8_t h[32], const void *frame, size_t len);
/* A small object of the point (an index): uploaded unless present. */
int lb_writer_object(struct lb_writer *w, const char *key, const void *data, size_t len);

/* Last: waits out the window, checks what needs checking, and puts the
 * manifest, unless the run took too long (-ETIME, logged: nothing was
 * written, run it again). */
int lb_writer_commit(struct lb_writer *w, const char *key, const void *json, size_t len);

const struct lb_writer_stats *lb_writer_stats(const struct lb_writer *w);

#endif
