/* The backup core: disks (block devices or image files) into a store as
 * chunks and chunk indexes (docs/FORMAT.md). The manifest, which makes a
 * point visible, is the caller's to write, after every disk succeeded.
 *
 * A disk is a block device, a raw file, or a qcow2, VMDK or VHD image read
 * as the disk it holds (diskimg.h): that is how images are imported.
 * Each disk's chunks are spread over workers (pool.h), each with its own
 * connection to the store: a worker reads its chunk at its offset, skips it
 * when all zero (or unallocated in an image), hashes it, and unless this
 * run or the store already has it, compresses and uploads it; what it
 * reuses or uploads is placed through the point's writer, so a concurrent
 * gc cannot collect it. Chunks in flight are one per worker; the
 * first failure stops the others and is the one logged. */
#ifndef LB_BACKUP_H
#define LB_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"
#include "store.h"

struct lb_writer;

struct lb_backup_opts {
	struct lb_writer *writer; /* the point's writer (writer.h): chunks and
	                           * indexes go through it, for gc's protocol */
	int level;          /* zstd level 1..19; 0 = 3 */
	unsigned workers;   /* 0 = one per online CPU (lb_pool_size) */
	uint32_t chunk_size; /* the largest chunk size of the run's disks */
	bool allow_mounted; /* back up a block device in use */
};

struct lb_backup_stats {
	uint64_t chunks, zero, uploaded, reused;
	uint64_t bytes_read, bytes_uploaded;
};

struct lb_backup;

/* st must outlive the handle. */
int lb_backup_new(struct lb_store *st, const struct lb_backup_opts *o, struct lb_backup **ret);
void lb_backup_free(struct lb_backup *b);
unsigned lb_backup_workers(const struct lb_backup *b);

/* Back up path as disk d, whose name, roles and chunk_size the caller set:
 * fills in sizes, sector sizes, source hints, zero_chunks, chunk_count
 * and the stored index (key, size, sha256, digest), and adds to *s.
 * 0, or -errno with the cause logged. */
int lb_backup_disk(struct lb_backup *b, const char *path, struct lb_manifest_disk *d, struct lb_backup_stats *s);

#endif
