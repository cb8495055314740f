/* Restore targets and backup sources: open with the safety checks, whole
 * reads and writes, zeroing, label wipes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "disk.h"
#include "target.h"
#include "util.h"

/* musl's fcntl.h defines them under _GNU_SOURCE; glibc's too. */
#ifndef FALLOC_FL_PUNCH_HOLE
#include <linux/falloc.h>
#endif

struct lb_target {
	int fd;
	int dfd; /* the same block device opened O_DIRECT for writes, or -1 */
	char *path;
	bool blockdev;
	uint64_t size;
	unsigned lss, pss;
};

/* Refuse a block device that something uses. The scan is the same one
 * `lifeboat disks` shows, so what the operator saw is what is enforced. */
static int check_unused(const char *path, dev_t rdev)
{
	struct lb_disks_opts opts = { .all = true };
	struct lb_disk_list *l = NULL;
	char sys[64], *devname = NULL;
	int r;

	r = lb_disks_scan(&opts, &l);
	if (r < 0)
		return r;
	/* Find the disk by its major:minor, not by name: /dev/disk/by-id links
	 * and other names must lead to the same verdict. */
	snprintf(sys, sizeof(sys), "%u:%u", major(rdev), minor(rdev));
	{
		char *p = lb_strdupf("%s/dev/block/%s", lb_root(LB_ROOT_SYSFS), sys);
		char buf[512];
		ssize_t n = p ? readlink(p, buf, sizeof(buf) - 1) : -1;

		free(p);
		if (n > 0) {
			buf[n] = '\0';
			devname = strdup(strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf);
		}
	}
	r = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct lb_disk *d = &l->disks[i];
		bool match = devname && strcmp(d->name, devname) == 0;

		for (size_t k = 0; k < d->n_parts && !match; k++)
			if (devname && strcmp(d->parts[k].name, devname) == 0) {
				lb_log("%s: is a partition of %s; restore to the whole disk", path, d->path);
				r = -EINVAL;
				goto done;
			}
		if (!match)
			continue;
		if (d->boot_medium) {
			lb_log("%s: is the medium Lifeboat booted from; refusing to write to it", path);
			r = -EBUSY;
		}
		for (size_t k = 0; k < d->usage.mountpoints.n; k++)
			lb_log("%s: mounted at %s", path, d->usage.mountpoints.v[k]), r = -EBUSY;
		for (size_t k = 0; k < d->usage.holders.n; k++)
			lb_log("%s: held by %s", path, d->usage.holders.v[k]), r = -EBUSY;
		if (d->usage.swap)
			lb_log("%s: in use as swap", path), r = -EBUSY;
		for (size_t p = 0; p < d->n_parts; p++) {
			const struct lb_part *pt = &d->parts[p];

			for (size_t k = 0; k < pt->usage.mountpoints.n; k++)
				lb_log("%s: partition %s mounted at %s", path, pt->path, pt->usage.mountpoints.v[k]), r = -EBUSY;
			for (size_t k = 0; k < pt->usage.holders.n; k++)
				lb_log("%s: partition %s held by %s", path, pt->path, pt->usage.holders.v[k]), r = -EBUSY;
			if (pt->usage.swap)
				lb_log("%s: partition %s in use as swap", path, pt->path), r = -EBUSY;
		}
		if (r < 0)
			lb_log("%s: refusing a disk in use (unmount it, swapoff, or stop what holds it)", path);
		goto done;
	}
done:
	free(devname);
	lb_disks_free(l);
	return r;
}

/* Buffered writes to a failing disk succeed, and the I/O error comes back
 * later, from the flush, with no offset (and the data of the failed pages
 * is dropped from the cache as if written). Writes that can go O_DIRECT
 * do, so an I/O error fails the very write that met it and names its
 * offset. A second descriptor, not O_EXCL (the first one holds the claim),
 * checked to be the same device. -1 when the device refuses O_DIRECT:
 * then every write is buffered, as before. */
static int open_direct(const char *path, const struct stat *want)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);

	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != want->st_rdev)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int open_common(const char *path, bool write, struct lb_target **ret)
{
	struct lb_target *t = NULL;
	struct stat st;
	int r, fd = -1, flags = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC;

	if (stat(path, &st) < 0) {
		r = -errno;
		lb_log("%s: %s", path, strerror(errno));
		return r;
	}
	if (S_ISBLK(st.st_mode)) {
		if (write) {
			r = check_unused(path, st.st_rdev);
			if (r < 0)
				return r;
			/* O_EXCL on a block device fails while anything (a mount,
			 * dm, md, another lifeboat) holds it open exclusively. */
			flags |= O_EXCL;
		}
	} else if (!S_ISREG(st.st_mode)) {
		lb_log("%s: neither a block device nor an image file", path);
		return -EINVAL;
	}
	fd = open(path, flags);
	if (fd < 0) {
		r = -errno;
		lb_log("open %s: %s", path, strerror(errno));
		return r;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		r = -ENOMEM;
		goto fail;
	}
	t->fd = fd;
	t->dfd = -1;
	t->path = strdup(path);
	t->blockdev = S_ISBLK(st.st_mode);
	t->lss = t->pss = 512;
	if (!t->path) {
		r = -ENOMEM;
		goto fail;
	}
	if (t->blockdev) {
		int lss = 0, pss = 0;

		if (ioctl(fd, BLKGETSIZE64, &t->size) < 0 || ioctl(fd, BLKSSZGET, &lss) < 0 ||
		    ioctl(fd, BLKPBSZGET, &pss) < 0) {
			r = -errno;
			lb_log("%s: reading the size: %s", path, strerror(errno));
			goto fail;
		}
		t->lss = (unsigned)lss;
		t->pss = (unsigned)pss;
		if (write)
			t->dfd = open_direct(path, &st);
	} else {
		if (write && flock(fd, LOCK_EX | LOCK_NB) < 0) {
			r = -errno;
			lb_log("%s: another process is writing it (%s)", path, strerror(errno));
			goto fail;
		}
		t->size = (uint64_t)st.st_size;
	}
	*ret = t;
	return 0;
fail:
	if (t) {
		free(t->path);
		free(t);
	}
	close(fd);
	return r;
}

int lb_target_check_unused(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		lb_log("%s: %s", path, strerror(errno));
		return -errno;
	}
	return S_ISBLK(st.st_mode) ? check_unused(path, st.st_rdev) : 0;
}

int lb_target_open(const char *path, struct lb_target **ret)
{
	return open_common(path, true, ret);
}

int lb_target_open_source(const char *path, struct lb_target **ret)
{
	return open_common(path, false, ret);
}

void lb_target_close(struct lb_target *t)
{
	if (!t)
		return;
	close(t->fd);
	if (t->dfd >= 0)
		close(t->dfd);
	free(t->path);
	free(t);
}

const char *lb_target_path(const struct lb_target *t) { return t->path; }
uint64_t lb_target_size(const struct lb_target *t) { return t->size; }
unsigned lb_target_logical_sector_size(const struct lb_target *t) { return t->lss; }
unsigned lb_target_physical_sector_size(const struct lb_target *t) { return t->pss; }
bool lb_target_is_blockdev(const struct lb_target *t) { return t->blockdev; }

int lb_target_read(struct lb_target *t, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(t->fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			lb_log("read %s at offset %llu (%zu bytes): %s", t->path, (unsigned long long)(off + done),
			       len - done, n < 0 ? strerror(e) : "unexpected end");
			return -e;
		}
		done += (size_t)n;
	}
	return 0;
}

/* The descriptor for writing len bytes from buf at off: the O_DIRECT one
 * when buffer, offset and length are aligned as it needs. */
static int write_fd(const struct lb_target *t, uint64_t off, const void *buf, size_t len)
{
	if (t->dfd < 0 || (uintptr_t)buf % LB_TARGET_ALIGN || off % t->lss || len % t->lss)
		return t->fd;
	return t->dfd;
}

int lb_target_write(struct lb_target *t, uint64_t off, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		const char *p = (const char *)buf + done;
		int fd = write_fd(t, off + done, p, len - done);
		ssize_t n = pwrite(fd, p, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		/* a device that takes O_DIRECT opens but not these writes:
		 * buffered, as without it */
		if (n < 0 && errno == EINVAL && fd == t->dfd)
			n = pwrite(t->fd, p, len - done, (off_t)(off + done));
		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;

			lb_log("write %s at offset %llu (%zu bytes): %s", t->path, (unsigned long long)(off + done),
			       len - done, strerror(e));
			return -e;
		}
		done += (size_t)n;
	}
	/* Start writing buffered data back now, without waiting for it: else
	 * the page cache takes the whole disk at memory speed and the final
	 * fsync writes it all while nothing else runs, the pipeline and the
	 * disk one after the other instead of at once. When the device's
	 * queue is full this waits, which holds the pipeline to the disk's
	 * pace. An error here comes back at the fsync. */
	if (write_fd(t, off, buf, len) == t->fd)
		(void)sync_file_range(t->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
	return 0;
}

bool lb_target_is_hole(struct lb_target *t, uint64_t off, uint64_t len)
{
	off_t data;

	if (t->blockdev || len == 0 || off + len > t->size)
		return false;
	/* the next byte of data at or after off: none (ENXIO), or past the
	 * range, means the range is all hole */
	data = lseek(t->fd, (off_t)off, SEEK_DATA);
	if (data < 0)
		return errno == ENXIO;
	return (uint64_t)data >= off + len;
}

int lb_target_zero(struct lb_target *t, uint64_t off, uint64_t len)
{
	/* aligned, so that these writes too can go O_DIRECT */
	static const char zeros[65536] __attribute__((aligned(LB_TARGET_ALIGN)));

	if (len == 0)
		return 0;
	if (t->blockdev) {
		uint64_t range[2] = { off, len };

		if (ioctl(t->fd, BLKZEROOUT, range) == 0)
			return 0;
	} else if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0) {
		return 0;
	}
	/* Neither works here (old kernel, odd file system): write zeros. */
	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int r = lb_target_write(t, off, zeros, n);

		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

int lb_target_sync(struct lb_target *t)
{
	if (fsync(t->fd) < 0) {
		int e = errno;

		lb_log("flush %s: %s", t->path, strerror(e));
		return -e;
	}
	return 0;
}

/* What is left of a label area that could not be zeroed in one go: zeroed
 * one sector at a time, O_DIRECT, past the sectors that fail, so that one
 * bad sector does not keep a whole label (the GPT header sits in the
 * sector after the MBR). Logged once, with the count; 0 when every sector
 * took its zeros after all. Buffered writes fail a whole page at a time and
 * only at the flush, so without O_DIRECT there is nothing more to do. */
static int wipe_sectors(struct lb_target *t, uint64_t off, uint64_t len, int err)
{
	static const char zeros[LB_TARGET_ALIGN] __attribute__((aligned(LB_TARGET_ALIGN)));
	uint64_t step = t->lss <= sizeof(zeros) ? t->lss : 0, failed = 0, first = 0;

	if (t->dfd < 0 || step == 0)
		return err;
	for (uint64_t o = off; o < off + len; o += step) {
		ssize_t n;

		do
			n = pwrite(t->dfd, zeros, step, (off_t)o);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)step && failed++ == 0) {
			first = o;
			err = n < 0 ? -errno : -EIO;
		}
	}
	if (failed)
		lb_log("%s: %llu of the %llu sectors from offset %llu could not be zeroed (the first at %llu: %s); "
		       "the others are",
		       t->path, (unsigned long long)failed, (unsigned long long)(len / step), (unsigned long long)off,
		       (unsigned long long)first, strerror(-err));
	return failed ? err : 0;
}

int lb_target_wipe_labels(struct lb_target *t)
{
	uint64_t n = t->size < LB_LABEL_AREA ? t->size : LB_LABEL_AREA;
	int r = 0, e;

	/* Both ends, each whatever became of the other, the backup GPT first:
	 * with the primary gone, UEFI firmware boots from the backup. */
	if (t->size > LB_LABEL_AREA && (e = lb_target_zero(t, t->size - n, n)) < 0)
		r = wipe_sectors(t, t->size - n, n, e);
	if ((e = lb_target_zero(t, 0, n)) < 0 && (e = wipe_sectors(t, 0, n, e)) < 0 && r == 0)
		r = e;
	if ((e = lb_target_sync(t)) < 0 && r == 0)
		r = e;
	return r;
}
