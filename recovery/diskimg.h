/* Disk images as backup sources: a block device or a raw image file, or a
 * qcow2, VMDK (monolithic sparse) or VHD (fixed or dynamic) image made
 * elsewhere, read in place as the disk it holds: streamed, never converted
 * to a temporary raw file. So `lifeboat backup --disk system=vm.qcow2`
 * imports a VM's disk as a restore point.
 *
 * The format is told by magic bytes, never by the file's name; block
 * devices are always raw (an LVM volume holding a qcow2 image is backed up
 * as the bytes it holds). Formats that cannot be read correctly are
 * refused with what to do instead, never read as raw: qcow2 overlays on a
 * backing file and VMDK/VHD differencing disks (their data is partly in
 * another file), encrypted qcow2, external data files, VMDK descriptors
 * and streamOptimized VMDK, VHDX, VDI, QED.
 *
 * Every header and table field from the file is checked before it is
 * used (sizes, alignments, offsets against the file's size, table sizes
 * against ceilings): a hostile image gives -EBADMSG, logged once naming
 * the file and the field, never a read outside its tables or an
 * allocation beyond the ceilings below. Reads may come from several
 * threads (the backup pipeline's workers): a raw disk is read in parallel,
 * an image's reads take turns (its reader caches one table). */
#ifndef LB_DISKIMG_H
#define LB_DISKIMG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_DISKIMG_TABLE_MAX (32u << 20) /* one L1 / grain directory / BAT */

enum lb_diskimg_format {
	LB_DISKIMG_RAW,
	LB_DISKIMG_QCOW2,
	LB_DISKIMG_VMDK,
	LB_DISKIMG_VHD,
};

struct lb_diskimg;

/* Open path read-only and read its headers. -EBADMSG (logged) for a
 * damaged or hostile image, -ENOTSUP (logged, with the way out) for one
 * of the refused kinds, -errno from open. */
int lb_diskimg_open(const char *path, struct lb_diskimg **ret);
void lb_diskimg_close(struct lb_diskimg *img);

enum lb_diskimg_format lb_diskimg_format(const struct lb_diskimg *img);
/* "raw", "qcow2", "vmdk", "vhd" */
const char *lb_diskimg_format_name(const struct lb_diskimg *img);
bool lb_diskimg_is_blockdev(const struct lb_diskimg *img);
/* The disk's size in bytes (the virtual size of an image). */
uint64_t lb_diskimg_size(const struct lb_diskimg *img);
/* A block device's sector sizes; 512 for image files. */
unsigned lb_diskimg_logical_sector_size(const struct lb_diskimg *img);
unsigned lb_diskimg_physical_sector_size(const struct lb_diskimg *img);

/* Exactly len bytes of the disk at off (off + len <= size): unallocated
 * ranges read as zeros. 0 or -errno (logged). */
int lb_diskimg_read(struct lb_diskimg *img, uint64_t off, void *buf, size_t len);
/* 0 when [off, off + len) is known to read as zeros without reading it
 * (unallocated in the image), 1 when it may hold data, -errno. */
int lb_diskimg_allocated(struct lb_diskimg *img, uint64_t off, uint64_t len);

/* ---- for the format readers (qcow2.c, vmdk.c, vhd.c) ---- */

struct lb_target;

struct lb_diskimg_ops {
	int (*read)(struct lb_diskimg *img, uint64_t off, void *buf, size_t len);
	int (*allocated)(struct lb_diskimg *img, uint64_t off, uint64_t len);
	void (*free)(void *priv);
};

struct lb_diskimg {
	char *path;
	pthread_mutex_t mu;              /* serializes an image reader's calls */
	struct lb_target *t;
	uint64_t file_size;
	enum lb_diskimg_format format;
	uint64_t size;                   /* set by the reader */
	const struct lb_diskimg_ops *ops; /* NULL for raw */
	void *priv;
};

/* Log "PATH: FORMAT image: <message>" and return -EBADMSG. */
int lb_diskimg_bad(const struct lb_diskimg *img, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes of the file at off; what lies past its end reads as zeros (qemu
 * leaves a last cluster short). */
int lb_diskimg_pread(struct lb_diskimg *img, uint64_t off, void *buf, size_t len);
/* A table of n entries of `width` bytes at file offset off, checked against
 * the file and LB_DISKIMG_TABLE_MAX; malloc'ed. */
int lb_diskimg_table(struct lb_diskimg *img, const char *what, uint64_t off, uint64_t n, unsigned width,
		     void **ret);

uint64_t lb_be64(const uint8_t *p);
uint32_t lb_be32(const uint8_t *p);
uint64_t lb_le64(const uint8_t *p);
uint32_t lb_le32(const uint8_t *p);

/* The readers' open: the first bytes of the file are in head (head_len:
 * up to 4096, fewer for a small file). They set img->size, ops and priv. */
int lb_qcow2_open(struct lb_diskimg *img, const uint8_t *head, size_t head_len);
int lb_vmdk_open(struct lb_diskimg *img, const uint8_t *head, size_t head_len);
int lb_vhd_open(struct lb_diskimg *img, const uint8_t *footer);

#endif
