/* Disk images: format detection, raw disks, and what the readers share;
 * see diskimg.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskimg.h"
#include "target.h"
#include "util.h"

uint64_t lb_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

uint32_t lb_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t lb_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint32_t lb_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static const char *const format_names[] = { "raw", "qcow2", "vmdk", "vhd" };

int lb_diskimg_bad(const struct lb_diskimg *img, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lb_log("%s: %s image: %s", img->path, format_names[img->format], msg);
	return -EBADMSG;
}

int lb_diskimg_pread(struct lb_diskimg *img, uint64_t off, void *buf, size_t len)
{
	size_t in = off >= img->file_size ? 0 : img->file_size - off < len ? (size_t)(img->file_size - off) : len;
	int r = in ? lb_target_read(img->t, off, buf, in) : 0;

	if (r == 0 && in < len)
		memset((char *)buf + in, 0, len - in);
	return r;
}

int lb_diskimg_table(struct lb_diskimg *img, const char *what, uint64_t off, uint64_t n, unsigned width,
		     void **ret)
{
	void *p;
	int r;

	if (n == 0 || n > LB_DISKIMG_TABLE_MAX / width)
		return lb_diskimg_bad(img, "%s of %llu entries (at most %u bytes)", what, (unsigned long long)n,
				      LB_DISKIMG_TABLE_MAX);
	if (off > img->file_size || n * width > img->file_size - off)
		return lb_diskimg_bad(img, "%s at offset %llu (%llu bytes) lies past the end of the file (%llu bytes)",
				      what, (unsigned long long)off, (unsigned long long)(n * width),
				      (unsigned long long)img->file_size);
	p = malloc(n * width);
	if (!p)
		return -ENOMEM;
	r = lb_target_read(img->t, off, p, n * width);
	if (r < 0) {
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

/* Formats that exist and are not read here: refused by name, with the way
 * out, rather than taken for raw disks. */
static int refuse(const char *path, const char *what)
{
	lb_log("%s: %s; convert it first: qemu-img convert -O qcow2 %s flat.qcow2", path, what, path);
	return -ENOTSUP;
}

int lb_diskimg_open(const char *path, struct lb_diskimg **ret)
{
	struct lb_diskimg *img = calloc(1, sizeof(*img));
	uint8_t head[4096], tail[512];
	size_t head_len;
	int r;

	if (!img)
		return -ENOMEM;
	pthread_mutex_init(&img->mu, NULL);
	img->path = strdup(path);
	if (!img->path) {
		r = -ENOMEM;
		goto fail;
	}
	r = lb_target_open_source(path, &img->t);
	if (r < 0)
		goto fail;
	img->file_size = lb_target_size(img->t);
	img->size = img->file_size;
	img->format = LB_DISKIMG_RAW;
	/* A block device is the disk itself, whatever its first bytes say. */
	if (lb_target_is_blockdev(img->t) || img->file_size < 512)
		goto done;
	head_len = img->file_size < sizeof(head) ? (size_t)img->file_size : sizeof(head);
	if ((r = lb_target_read(img->t, 0, head, head_len)) < 0 ||
	    (r = lb_target_read(img->t, img->file_size - 512, tail, 512)) < 0)
		goto fail;
	if (memcmp(head, "QFI\xfb", 4) == 0) {
		img->format = LB_DISKIMG_QCOW2;
		r = lb_qcow2_open(img, head, head_len);
	} else if (memcmp(head, "KDMV", 4) == 0) {
		img->format = LB_DISKIMG_VMDK;
		r = lb_vmdk_open(img, head, head_len);
	} else if (memcmp(head, "conectix", 8) == 0 || memcmp(tail, "conectix", 8) == 0) {
		/* A dynamic disk starts with a copy of its footer; a fixed one
		 * has it at the end only. The copy at the start comes first,
		 * as qemu reads it. */
		img->format = LB_DISKIMG_VHD;
		r = lb_vhd_open(img, memcmp(head, "conectix", 8) == 0 ? head : tail);
	} else if (memcmp(head, "# Disk DescriptorFile", 21) == 0) {
		r = refuse(path, "a VMDK descriptor, whose data is in other files (its extents)");
	} else if (memcmp(head, "COWD", 4) == 0) {
		r = refuse(path, "an ESX (COWD) sparse VMDK extent, which is not read here");
	} else if (memcmp(head, "vhdxfile", 8) == 0) {
		r = refuse(path, "a VHDX image, which is not read here");
	} else if (head_len >= 0x44 && lb_le32(head + 0x40) == 0xbeda107f) {
		r = refuse(path, "a VirtualBox VDI image, which is not read here");
	} else if (memcmp(head, "QED\0", 4) == 0) {
		r = refuse(path, "a QED image, which is not read here");
	}
	if (r < 0)
		goto fail;
done:
	*ret = img;
	return 0;
fail:
	lb_diskimg_close(img);
	return r;
}

void lb_diskimg_close(struct lb_diskimg *img)
{
	if (!img)
		return;
	if (img->ops && img->ops->free)
		img->ops->free(img->priv);
	lb_target_close(img->t);
	pthread_mutex_destroy(&img->mu);
	free(img->path);
	free(img);
}

enum lb_diskimg_format lb_diskimg_format(const struct lb_diskimg *img)
{
	return img->format;
}

const char *lb_diskimg_format_name(const struct lb_diskimg *img)
{
	return format_names[img->format];
}

bool lb_diskimg_is_blockdev(const struct lb_diskimg *img)
{
	return lb_target_is_blockdev(img->t);
}

uint64_t lb_diskimg_size(const struct lb_diskimg *img)
{
	return img->size;
}

unsigned lb_diskimg_logical_sector_size(const struct lb_diskimg *img)
{
	return img->format == LB_DISKIMG_RAW ? lb_target_logical_sector_size(img->t) : 512;
}

unsigned lb_diskimg_physical_sector_size(const struct lb_diskimg *img)
{
	return img->format == LB_DISKIMG_RAW ? lb_target_physical_sector_size(img->t) : 512;
}

int lb_diskimg_read(struct lb_diskimg *img, uint64_t off, void *buf, size_t len)
{
	int r;

	if (off > img->size || len > img->size - off) {
		lb_log("%s: read of %zu bytes at %llu is past the disk's end (%llu bytes)", img->path, len,
		       (unsigned long long)off, (unsigned long long)img->size);
		return -EINVAL;
	}
	if (!img->ops)
		return lb_target_read(img->t, off, buf, len);
	pthread_mutex_lock(&img->mu);
	r = img->ops->read(img, off, buf, len);
	pthread_mutex_unlock(&img->mu);
	return r;
}

int lb_diskimg_allocated(struct lb_diskimg *img, uint64_t off, uint64_t len)
{
	int r;

	if (off > img->size || len > img->size - off)
		return -EINVAL;
	if (!img->ops)
		return 1;
	pthread_mutex_lock(&img->mu);
	r = img->ops->allocated(img, off, len);
	pthread_mutex_unlock(&img->mu);
	return r;
}
