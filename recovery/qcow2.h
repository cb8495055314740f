/* Writing qcow2 images (version 3, 64 KiB clusters, no compression), for
 * `lifeboat export --format qcow2`; the reader is behind diskimg.h.
 *
 * The disk's bytes come in order and are written as they come: each
 * cluster that is not all zero is appended, each L2 table once its 512 MiB
 * are done; the L1 table, the refcounts (every cluster used once, so
 * `qemu-img check` finds nothing) and last the header follow at the end.
 * Memory: one cluster, one L2 table and the L1 table. A file whose header
 * was not written (a failed export) is not a qcow2 image at all. */
#ifndef LB_QCOW2_H
#define LB_QCOW2_H

#include <stddef.h>
#include <stdint.h>

struct lb_qcow2_writer;

/* fd: an empty file opened for writing; path is for the log. */
int lb_qcow2_writer_new(int fd, const char *path, uint64_t size, struct lb_qcow2_writer **ret);
/* The next len bytes of the disk (buf NULL: that many zeros). */
int lb_qcow2_writer_write(struct lb_qcow2_writer *w, const void *buf, size_t len);
/* After the last byte: tables, refcounts, header, fsync. Bytes of the
 * file in *ret_file_size (may be NULL). */
int lb_qcow2_writer_finish(struct lb_qcow2_writer *w, uint64_t *ret_file_size);
void lb_qcow2_writer_free(struct lb_qcow2_writer *w);

#endif
