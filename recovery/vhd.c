/* VHD (Microsoft's "Virtual Hard Disk Image Format Specification" 1.0):
 * fixed disks (the data, then a 512-byte footer) and dynamic disks (a
 * footer copy, a dynamic header, a block allocation table, blocks of a
 * sector bitmap and data). Differencing disks are refused. Checksums are
 * checked: a footer whose checksum fails is not trusted for a size.
 *
 * The disk's size follows qemu's rule, so an import is byte-identical to
 * `qemu-img convert -O raw`: the CHS geometry's size unless the creator is
 * one known to use the footer's current size (Hyper-V, Disk2vhd, XenServer,
 * qemu with force_size) or the geometry is the maximum one. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskimg.h"
#include "util.h"

#define TYPE_FIXED 2
#define TYPE_DYNAMIC 3
#define TYPE_DIFFERENCING 4
#define BAT_UNUSED 0xffffffffu
#define MAX_GEOMETRY (65535ull * 16 * 255)

struct vhd {
	uint32_t block;       /* bytes per block (dynamic) */
	uint32_t n_bat;
	uint32_t *bat;        /* host order, sectors */
	uint64_t bitmap_size; /* bytes, a whole number of sectors */
	uint8_t *bitmap;      /* of the block bitmap_at - 1 */
	uint64_t bitmap_at;
};

static void h_free(void *priv)
{
	struct vhd *v = priv;

	if (!v)
		return;
	free(v->bat);
	free(v->bitmap);
	free(v);
}

/* One's complement of the byte sum, the checksum field counted as zero. */
static uint32_t checksum(const uint8_t *p, size_t n, size_t at)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < n; i++)
		if (i < at || i >= at + 4)
			sum += p[i];
	return ~sum;
}

static int fixed_read(struct lb_diskimg *img, uint64_t off, void *buf, size_t len)
{
	return lb_diskimg_pread(img, off, buf, len);
}

static int fixed_allocated(struct lb_diskimg *img, uint64_t off, uint64_t len)
{
	(void)img, (void)off;
	return len > 0;
}

static const struct lb_diskimg_ops fixed_ops = { fixed_read, fixed_allocated, h_free };

/* Block b's data starts at *ret_data, its bitmap is in v->bitmap; 0 when
 * the block is not allocated. */
static int block_at(struct lb_diskimg *img, struct vhd *v, uint64_t b, uint64_t *ret_data)
{
	uint64_t off;
	int r;

	if (b >= v->n_bat)
		return lb_diskimg_bad(img, "block %" PRIu64 " is beyond the allocation table", b);
	if (v->bat[b] == BAT_UNUSED)
		return 0;
	off = (uint64_t)v->bat[b] * 512;
	if (off >= img->file_size || v->bitmap_size > img->file_size - off)
		return lb_diskimg_bad(img, "block %" PRIu64 " at %" PRIu64 " is past the end of the file", b, off);
	if (v->bitmap_at != b + 1) {
		v->bitmap_at = 0;
		if ((r = lb_diskimg_pread(img, off, v->bitmap, v->bitmap_size)) < 0)
			return r;
		v->bitmap_at = b + 1;
	}
	*ret_data = off + v->bitmap_size;
	return 1;
}

static int dyn_read(struct lb_diskimg *img, uint64_t off, void *buf, size_t len)
{
	struct vhd *v = img->priv;
	uint8_t *p = buf;

	while (len > 0) {
		uint64_t b = off / v->block, in = off % v->block, data = 0;
		size_t take = v->block - in < len ? (size_t)(v->block - in) : len, run;
		int r = block_at(img, v, b, &data);
		bool set;

		if (r < 0)
			return r;
		if (r == 0) {
			memset(p, 0, take); /* the rest of an unallocated block */
		} else {
			/* The sectors up to the next change in the bitmap. */
			set = v->bitmap[in / 512 / 8] & (0x80 >> (in / 512 % 8));
			run = 512 - (size_t)(in % 512);
			while (run < take &&
			       !!(v->bitmap[(in + run) / 512 / 8] & (0x80 >> ((in + run) / 512 % 8))) == set)
				run += 512;
			take = run < take ? run : take;
			if (!set)
				memset(p, 0, take); /* sectors the bitmap says are not there */
			else if ((r = lb_diskimg_pread(img, data + in, p, take)) < 0)
				return r;
		}
		p += take;
		off += take;
		len -= take;
	}
	return 0;
}

static int dyn_allocated(struct lb_diskimg *img, uint64_t off, uint64_t len)
{
	struct vhd *v = img->priv;

	if (len == 0)
		return 0;
	for (uint64_t b = off / v->block; b <= (off + len - 1) / v->block; b++) {
		if (b >= v->n_bat)
			return lb_diskimg_bad(img, "block %" PRIu64 " is beyond the allocation table", b);
		if (v->bat[b] != BAT_UNUSED)
			return 1;
	}
	return 0;
}

static const struct lb_diskimg_ops dyn_ops = { dyn_read, dyn_allocated, h_free };

int lb_vhd_open(struct lb_diskimg *img, const uint8_t *f)
{
	struct vhd *v = NULL;
	uint8_t dh[1024];
	uint64_t data_off, current, chs, size, bat_off;
	uint32_t type = lb_be32(f + 60), geometry = lb_be32(f + 56);
	bool use_chs;
	int r;

	if (checksum(f, 512, 64) != lb_be32(f + 64))
		return lb_diskimg_bad(img, "the footer's checksum is wrong");
	if ((lb_be32(f + 12) >> 16) != 1)
		return lb_diskimg_bad(img, "file format version %#x (1.x is read)", lb_be32(f + 12));
	data_off = lb_be64(f + 16);
	current = lb_be64(f + 48);
	chs = (uint64_t)(geometry >> 16) * ((geometry >> 8) & 0xff) * (geometry & 0xff);
	use_chs = memcmp(f + 28, "win ", 4) != 0 && memcmp(f + 28, "qem2", 4) != 0 && memcmp(f + 28, "d2v ", 4) != 0 &&
		  memcmp(f + 28, "CTXS", 4) != 0 && memcmp(f + 28, "tap\0", 4) != 0;
	size = use_chs && chs != MAX_GEOMETRY ? chs * 512 : current / 512 * 512;
	if (size == 0 || size > (1ull << 44))
		return lb_diskimg_bad(img, "a disk of %" PRIu64 " bytes (geometry %#x, current size %" PRIu64 ")", size,
				      geometry, current);
	if (type == TYPE_DIFFERENCING) {
		lb_log("%s: a VHD differencing disk: part of the disk is in its parent, so it cannot be imported "
		       "alone; merge it first: qemu-img convert -O vpc %s flat.vhd",
		       img->path, img->path);
		return -ENOTSUP;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (type == TYPE_FIXED) {
		if (img->file_size < 512 || size > img->file_size - 512) {
			r = lb_diskimg_bad(img, "a fixed disk of %" PRIu64 " bytes in a file of %" PRIu64, size,
					   img->file_size);
			goto fail;
		}
		img->size = size;
		img->ops = &fixed_ops;
		img->priv = v;
		return 0;
	}
	if (type != TYPE_DYNAMIC) {
		r = lb_diskimg_bad(img, "disk type %u (2 fixed and 3 dynamic are read)", type);
		goto fail;
	}
	if (data_off >= img->file_size || sizeof(dh) > img->file_size - data_off) {
		r = lb_diskimg_bad(img, "the dynamic header at %" PRIu64 " is past the end of the file", data_off);
		goto fail;
	}
	if ((r = lb_diskimg_pread(img, data_off, dh, sizeof(dh))) < 0)
		goto fail;
	if (memcmp(dh, "cxsparse", 8) != 0) {
		r = lb_diskimg_bad(img, "no dynamic disk header at %" PRIu64, data_off);
		goto fail;
	}
	if (checksum(dh, sizeof(dh), 36) != lb_be32(dh + 36)) {
		r = lb_diskimg_bad(img, "the dynamic header's checksum is wrong");
		goto fail;
	}
	bat_off = lb_be64(dh + 16);
	v->n_bat = lb_be32(dh + 28);
	v->block = lb_be32(dh + 32);
	if (v->block < 512 || v->block > (1u << 28) || (v->block & (v->block - 1))) {
		r = lb_diskimg_bad(img, "block size %u is not a power of two from 512 to 256 MiB", v->block);
		goto fail;
	}
	if ((uint64_t)v->n_bat * v->block < size) {
		r = lb_diskimg_bad(img, "%u blocks of %u bytes cannot hold %" PRIu64 " bytes", v->n_bat, v->block, size);
		goto fail;
	}
	if ((r = lb_diskimg_table(img, "the block allocation table", bat_off, v->n_bat, 4, (void **)&v->bat)) < 0)
		goto fail;
	for (uint32_t i = 0; i < v->n_bat; i++)
		v->bat[i] = lb_be32((const uint8_t *)&v->bat[i]);
	v->bitmap_size = ((uint64_t)v->block / 512 / 8 + 511) / 512 * 512;
	v->bitmap = malloc(v->bitmap_size);
	if (!v->bitmap) {
		r = -ENOMEM;
		goto fail;
	}
	img->size = size;
	img->ops = &dyn_ops;
	img->priv = v;
	return 0;
fail:
	h_free(v);
	return r;
}
