/* VMDK hosted sparse extents, monolithic (VMware's "Virtual Disk Format
 * 5.0", the SparseExtentHeader): one file with the header, the embedded
 * descriptor, a grain directory, grain tables and grains. Reading follows
 * the grain directory only; the redundant one is not needed. Compressed
 * (streamOptimized) extents and delta links (a parent disk) are refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskimg.h"
#include "util.h"

#define FLAG_ZERO_GRAIN (1u << 2)
#define FLAG_COMPRESSED (1u << 16)
#define FLAG_MARKERS (1u << 17)
#define GD_AT_END 0xffffffffffffffffull
#define DESCRIPTOR_MAX (1u << 20)

struct vmdk {
	uint64_t grain;      /* bytes */
	uint64_t gtes;       /* entries per grain table */
	uint64_t gd_entries;
	uint32_t *gd;        /* host order, sectors */
	uint32_t *gt;        /* the cached grain table, host order */
	uint64_t gt_at;      /* its directory index + 1, 0 = none */
	bool zero_grain;
};

static void v_free(void *priv)
{
	struct vmdk *v = priv;

	if (!v)
		return;
	free(v->gd);
	free(v->gt);
	free(v);
}

/* The grain table entry (a sector) of grain n; 0 unallocated. */
static int gte(struct lb_diskimg *img, struct vmdk *v, uint64_t n, uint32_t *ret)
{
	uint64_t d = n / v->gtes, off;
	int r;

	if (d >= v->gd_entries)
		return lb_diskimg_bad(img, "grain %" PRIu64 " is beyond the grain directory", n);
	*ret = 0;
	if (!v->gd[d])
		return 0;
	if (v->gt_at != d + 1) {
		off = (uint64_t)v->gd[d] * 512;
		v->gt_at = 0;
		if (off >= img->file_size || v->gtes * 4 > img->file_size - off)
			return lb_diskimg_bad(img, "grain table %" PRIu64 " at %" PRIu64 " is past the end of the file", d, off);
		if ((r = lb_diskimg_pread(img, off, v->gt, v->gtes * 4)) < 0)
			return r;
		for (uint64_t i = 0; i < v->gtes; i++)
			v->gt[i] = lb_le32((const uint8_t *)&v->gt[i]);
		v->gt_at = d + 1;
	}
	*ret = v->gt[n % v->gtes];
	return 0;
}

static int v_read(struct lb_diskimg *img, uint64_t off, void *buf, size_t len)
{
	struct vmdk *v = img->priv;
	uint8_t *p = buf;

	while (len > 0) {
		uint64_t n = off / v->grain, in = off % v->grain, host;
		size_t take = v->grain - in < len ? (size_t)(v->grain - in) : len;
		uint32_t e;
		int r = gte(img, v, n, &e);

		if (r < 0)
			return r;
		if (e == 0 || (e == 1 && v->zero_grain)) {
			memset(p, 0, take);
		} else {
			host = (uint64_t)e * 512;
			if (host >= img->file_size)
				return lb_diskimg_bad(img, "grain %" PRIu64 " at %" PRIu64 " is past the end of the file", n, host);
			if ((r = lb_diskimg_pread(img, host + in, p, take)) < 0)
				return r;
		}
		p += take;
		off += take;
		len -= take;
	}
	return 0;
}

static int v_allocated(struct lb_diskimg *img, uint64_t off, uint64_t len)
{
	struct vmdk *v = img->priv;

	if (len == 0)
		return 0;
	for (uint64_t n = off / v->grain; n <= (off + len - 1) / v->grain; n++) {
		uint32_t e;
		int r = gte(img, v, n, &e);

		if (r < 0)
			return r;
		if (e != 0 && !(e == 1 && v->zero_grain))
			return 1;
	}
	return 0;
}

static const struct lb_diskimg_ops v_ops = { v_read, v_allocated, v_free };

/* The value of `key=` in the descriptor, unquoted, into out ("" if absent). */
static void descriptor_value(const char *d, const char *key, char *out, size_t out_size)
{
	size_t kl = strlen(key);

	out[0] = '\0';
	for (const char *line = d; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *p = line, *end;
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, kl) != 0)
			continue;
		p += kl;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ' || *p == '\t' || *p == '"')
			p++;
		end = p + strcspn(p, "\"\r\n");
		n = (size_t)(end - p) < out_size - 1 ? (size_t)(end - p) : out_size - 1;
		for (size_t i = 0; i < n; i++)
			out[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
		out[n] = '\0';
		return;
	}
}

int lb_vmdk_open(struct lb_diskimg *img, const uint8_t *h, size_t head_len)
{
	struct vmdk *v = NULL;
	uint32_t version, flags;
	uint64_t capacity, grain_sectors, desc_off, desc_size, gd_off, need;
	char *desc = NULL, create[64], parent[64], hint[256];
	int r;

	if (head_len < 512)
		return lb_diskimg_bad(img, "the header is cut short");
	version = lb_le32(h + 4);
	flags = lb_le32(h + 8);
	capacity = lb_le64(h + 12);
	grain_sectors = lb_le64(h + 20);
	desc_off = lb_le64(h + 28);
	desc_size = lb_le64(h + 36);
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->gtes = lb_le32(h + 44);
	gd_off = lb_le64(h + 56);
	if (version < 1 || version > 3) {
		r = lb_diskimg_bad(img, "version %u (1 to 3 are read)", version);
		goto fail;
	}
	if ((flags & (FLAG_COMPRESSED | FLAG_MARKERS)) || gd_off == GD_AT_END) {
		lb_log("%s: a compressed (streamOptimized) VMDK, which is not read here; convert it first: "
		       "qemu-img convert -O vmdk -o subformat=monolithicSparse %s flat.vmdk",
		       img->path, img->path);
		r = -ENOTSUP;
		goto fail;
	}
	if (capacity == 0 || capacity > (1ull << 47)) {
		r = lb_diskimg_bad(img, "capacity of %" PRIu64 " sectors is outside 1..2^47", capacity);
		goto fail;
	}
	if (grain_sectors == 0 || grain_sectors > 65536 || (grain_sectors & (grain_sectors - 1))) {
		r = lb_diskimg_bad(img, "grain size of %" PRIu64 " sectors is not a power of two up to 65536", grain_sectors);
		goto fail;
	}
	if (v->gtes < 128 || v->gtes > 65536) {
		r = lb_diskimg_bad(img, "%" PRIu64 " entries per grain table is outside 128..65536", v->gtes);
		goto fail;
	}
	/* The descriptor says what kind of disk this extent belongs to. */
	if (desc_off == 0 || desc_size == 0 || desc_size > DESCRIPTOR_MAX / 512 || desc_off > img->file_size / 512 ||
	    desc_size * 512 > img->file_size - desc_off * 512) {
		lb_log("%s: a VMDK extent without an embedded descriptor (part of a split disk?), which is not read "
		       "here; convert the whole disk: qemu-img convert -O qcow2 DISK.vmdk flat.qcow2",
		       img->path);
		r = -ENOTSUP;
		goto fail;
	}
	desc = malloc(desc_size * 512 + 1);
	if (!desc) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = lb_diskimg_pread(img, desc_off * 512, desc, desc_size * 512)) < 0)
		goto fail;
	desc[desc_size * 512] = '\0';
	descriptor_value(desc, "createType", create, sizeof(create));
	descriptor_value(desc, "parentCID", parent, sizeof(parent));
	descriptor_value(desc, "parentFileNameHint", hint, sizeof(hint));
	if (*parent && strcmp(parent, "ffffffff") != 0) {
		lb_log("%s: a VMDK delta disk on the parent '%s': part of the disk is in that file, so it cannot be "
		       "imported alone; flatten it first: qemu-img convert -O qcow2 %s flat.qcow2",
		       img->path, hint, img->path);
		r = -ENOTSUP;
		goto fail;
	}
	if (strcmp(create, "monolithicSparse") != 0) {
		lb_log("%s: a VMDK of createType '%s' (monolithicSparse is read); convert it first: "
		       "qemu-img convert -O qcow2 %s flat.qcow2",
		       img->path, create, img->path);
		r = -ENOTSUP;
		goto fail;
	}
	v->grain = grain_sectors * 512;
	v->zero_grain = flags & FLAG_ZERO_GRAIN;
	need = (capacity + grain_sectors * v->gtes - 1) / (grain_sectors * v->gtes);
	v->gd_entries = need;
	if (gd_off > img->file_size / 512) {
		r = lb_diskimg_bad(img, "the grain directory at sector %" PRIu64 " is past the end of the file", gd_off);
		goto fail;
	}
	if ((r = lb_diskimg_table(img, "the grain directory", gd_off * 512, need, 4, (void **)&v->gd)) < 0)
		goto fail;
	for (uint64_t i = 0; i < need; i++)
		v->gd[i] = lb_le32((const uint8_t *)&v->gd[i]);
	v->gt = malloc(v->gtes * 4);
	if (!v->gt) {
		r = -ENOMEM;
		goto fail;
	}
	free(desc);
	img->size = capacity * 512;
	img->ops = &v_ops;
	img->priv = v;
	return 0;
fail:
	free(desc);
	v_free(v);
	return r;
}
