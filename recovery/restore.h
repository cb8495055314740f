/* The restore core: a plan (which disk of a point goes onto which target,
 * every target checked before anything is written) and its execution.
 *
 * The commands that restore (restore, deploy, the console) all drive this
 * one core, so they share every safety rule: each chunk verified before it
 * is written; chunks the target already holds are not fetched (delta,
 * resume); labels wiped first and the first and last MiB written last; the
 * boot disk finished last of all; on failure every touched target's labels
 * wiped again, so no half-restored disk looks bootable.
 *
 * Progress reaches the caller as events (struct lb_restore_event), which it
 * prints, sends to a callback URL or draws; the core prints nothing but its
 * log lines. */
#ifndef LB_RESTORE_H
#define LB_RESTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "manifest.h"
#include "store.h"

struct lb_restore;

/* Map disk names[i] of point m onto target paths[i]. Every name must be a
 * disk of m, every path distinct; each target is opened (O_EXCL) and must
 * be unused, at least as large as its disk and of its logical sector size.
 * All refusals are logged (not only the first) and give -EBUSY (an
 * unsuitable target), -ENOENT (no such disk in the point) or -EINVAL
 * (a target named twice). Then every mapped disk's chunk index is fetched
 * and checked against m: -EBADMSG (logged) when one is missing, corrupt or
 * replaced (or the store's error when it cannot be read), so that nothing is written from a point whose chunk lists do
 * not match. Disks of m not named are logged as not restored.
 * st and m must outlive the handle. */
int lb_restore_new(struct lb_store *st, const struct lb_manifest *m, const char *const *names,
		   const char *const *paths, size_t n, struct lb_restore **ret);
void lb_restore_free(struct lb_restore *r);

/* The checks lb_restore_new makes on one target, alone: whether path could
 * take disk d (unused, not the boot medium, large enough, same logical
 * sector size). Nothing is written and the target is closed again. 0, or
 * -EBUSY with every reason logged. For choosing targets one at a time. */
int lb_restore_check(const struct lb_manifest_disk *d, const char *path);

/* The plan, in the order it will run (the boot disk last). */
size_t lb_restore_count(const struct lb_restore *r);
const struct lb_manifest_disk *lb_restore_disk(const struct lb_restore *r, size_t i);
const char *lb_restore_target(const struct lb_restore *r, size_t i);
uint64_t lb_restore_target_size(const struct lb_restore *r, size_t i);
/* "  disk system  ... -> /dev/sdb (... bytes)" lines, one per disk. */
void lb_restore_print_plan(const struct lb_restore *r, FILE *out);

enum lb_restore_event_type {
	LB_RESTORE_DISK_START, /* a disk begins: totals are set, counters zero */
	LB_RESTORE_PROGRESS,   /* at most every interval seconds */
	LB_RESTORE_DISK_DONE,  /* a disk is complete and synced */
};

struct lb_restore_event {
	enum lb_restore_event_type type;
	const char *disk, *target;
	size_t index, count;      /* this disk's place in the plan */
	uint64_t chunks, chunks_done;
	uint64_t fetched, in_place, zero; /* chunks by how they were obtained */
	uint64_t refetched;       /* fetches again of chunks that arrived damaged */
	uint64_t bytes_fetched;   /* stored (compressed) bytes from the store */
	uint64_t bytes_written;   /* bytes written to the target */
	uint64_t disk_bytes, disk_bytes_done;
	double seconds, rate, eta; /* since the disk began; disk bytes/s; s */
	unsigned workers;         /* threads fetching, verifying and writing */
};

/* An event as a JSON object, the one shape for every consumer (restore
 * --progress=json, deploy's console, the callback's progress events):
 * {"event":"progress"|"disk_done","disk","target","chunks","chunks_done",
 *  "fetched","in_place","zero","refetched","bytes_fetched","bytes_written","disk_bytes",
 *  "disk_bytes_done","rate","eta","seconds","workers"} (rate in bytes/s and
 * eta rounded, seconds to the millisecond). NULL for a DISK_START event or
 * no memory. */
struct json_object;
struct json_object *lb_restore_event_json(const struct lb_restore_event *e);

typedef void (*lb_restore_event_cb)(const struct lb_restore_event *e, void *userdata);

struct lb_restore_opts {
	bool no_delta;          /* fetch every chunk, even those in place */
	double interval;        /* seconds between PROGRESS events; 0 = 1 */
	unsigned workers;       /* 0 = one per online CPU; bounded (lb_pool_size) */
	lb_restore_event_cb on_event; /* always called on the caller's thread */
	void *userdata;
};

/* Restore every disk of the plan. 0, or -errno with the cause logged and
 * every target touched so far wiped (and that logged).
 *
 * Each disk's chunks are spread over the workers, each with its own
 * connection to the store (lb_store_clone): a worker reads what the target
 * holds at the chunk's offset and hashes it (delta), else fetches,
 * decompresses and verifies the chunk, and writes it at its offset without
 * waiting for the others. Chunks in flight are one per worker, so memory
 * stays bounded. The first failure stops every worker (transfers in
 * flight are aborted) and is the one failure logged. */
int lb_restore_run(struct lb_restore *r, const struct lb_restore_opts *o);

#endif
