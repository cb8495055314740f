/* A restore target: a block device or an image file, opened for writing
 * only after the safety checks, and the only code that writes to it.
 *
 * Every write names the device, the offset and the errno when it fails.
 * lb_target_wipe_labels() is what makes a half-written disk not look
 * bootable: zeros over the first and last MiB (MBR, GPT and backup GPT). */
#ifndef LB_TARGET_H
#define LB_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define LB_LABEL_AREA (1u << 20)
/* Buffers aligned to this (and offsets and lengths to the logical sector
 * size) are written to block devices O_DIRECT: see lb_target_write. */
#define LB_TARGET_ALIGN 4096

struct lb_target;

/* Open path for restoring. Block devices: refused when mounted, held (dm,
 * md), swap or the boot medium (reasons logged), then opened O_EXCL.
 * Regular files: locked against a second writer. Nothing is written. */
int lb_target_open(const char *path, struct lb_target **ret);
/* Refuse (-EBUSY, reasons logged) a block device that is mounted, held,
 * swap or the boot medium; -EINVAL for a partition. */
int lb_target_check_unused(const char *path);
/* Read-only open, for backups (block device or file). */
int lb_target_open_source(const char *path, struct lb_target **ret);
void lb_target_close(struct lb_target *t);

const char *lb_target_path(const struct lb_target *t);
uint64_t lb_target_size(const struct lb_target *t);
unsigned lb_target_logical_sector_size(const struct lb_target *t);
unsigned lb_target_physical_sector_size(const struct lb_target *t);
bool lb_target_is_blockdev(const struct lb_target *t);

/* Whole reads and writes: a short transfer is an error. 0 or -errno, the
 * failure logged with the device, the offset and the errno. On a block
 * device a write of an LB_TARGET_ALIGN-aligned buffer at a sector-aligned
 * offset and length goes O_DIRECT: an I/O error fails that write (not a
 * later sync), so the offset logged is where the disk failed. Other
 * writes are buffered; their errors surface at lb_target_sync. */
int lb_target_read(struct lb_target *t, uint64_t off, void *buf, size_t len);
int lb_target_write(struct lb_target *t, uint64_t off, const void *buf, size_t len);
/* True when [off, off+len) of an image file is a hole (reads as zeros
 * without holding data): a delta restore need not read it. Always false
 * for block devices and where the file system cannot say. */
bool lb_target_is_hole(struct lb_target *t, uint64_t off, uint64_t len);
/* Make [off, off+len) read as zeros: BLKZEROOUT on block devices, a hole in
 * files, plain writes of zeros where neither works. */
int lb_target_zero(struct lb_target *t, uint64_t off, uint64_t len);
int lb_target_sync(struct lb_target *t);
/* Zero the last and the first LB_LABEL_AREA bytes, then sync. Each end is
 * tried whatever became of the other; an end that fails as a whole is
 * zeroed sector by sector (block devices), past the sectors that fail, so
 * one bad sector leaves no whole label. 0, or the first -errno (logged). */
int lb_target_wipe_labels(struct lb_target *t);

#endif
