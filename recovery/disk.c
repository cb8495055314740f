/* Disk discovery; see disk.h for the sources and the contract. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cdrom.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "disk.h"
#include "mounts.h"
#include "pathid.h"
#include "sysfs.h"

/* Everything a scan needs besides the device itself. */
struct scan_ctx {
	const struct lb_disks_opts *opts;
	const char *sysroot;
	char sysreal[PATH_MAX]; /* sysroot resolved, to cut devpaths */
	const char *devroot;
	struct lb_mounts *mounts;
	struct lb_swaps *swaps;
	char *medium_uuid;
	unsigned open_failures;
};

/* Read "<dir>/<attr>" as a string; NULL if absent or empty. */
static char *attr_str(const char *dir, const char *attr)
{
	char *p, *v = NULL;

	p = lb_strdupf("%s/%s", dir, attr);
	if (p && lb_read_str(p, &v) < 0)
		v = NULL;
	free(p);
	return v;
}

static uint64_t attr_u64(const char *dir, const char *attr, uint64_t def)
{
	char *p;
	uint64_t v;

	p = lb_strdupf("%s/%s", dir, attr);
	if (!p || lb_read_u64(p, &v) < 0)
		v = def;
	free(p);
	return v;
}

static int attr_devno(const char *dir, unsigned *major, unsigned *minor)
{
	char *s = attr_str(dir, "dev");
	int r = 0;

	if (!s || sscanf(s, "%u:%u", major, minor) != 2)
		r = -ENODATA;
	free(s);
	return r;
}

static int load_usage(struct scan_ctx *c, const char *dir, const char *name, struct lb_usage *u)
{
	unsigned major, minor;
	const char *mp;
	size_t iter = 0;
	char *hdir = NULL;
	DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	if (attr_devno(dir, &major, &minor) < 0)
		major = minor = (unsigned)-1;
	while ((mp = lb_mounts_next(c->mounts, major, minor, name, &iter)))
		if ((r = lb_strv_add_unique(&u->mountpoints, mp)) < 0)
			goto fail;

	hdir = lb_strdupf("%s/holders", dir);
	if (!hdir) {
		r = -ENOMEM;
		goto fail;
	}
	d = opendir(hdir);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && (r = lb_strv_add_unique(&u->holders, de->d_name)) < 0)
			goto fail;
	u->swap = lb_swaps_contains(c->swaps, name);
fail:
	if (d)
		closedir(d);
	free(hdir);
	return r;
}

static void usage_clear(struct lb_usage *u)
{
	lb_strv_clear(&u->mountpoints);
	lb_strv_clear(&u->holders);
}

bool lb_usage_any(const struct lb_usage *u)
{
	return u->mountpoints.n > 0 || u->holders.n > 0 || u->swap;
}

bool lb_disk_in_use(const struct lb_disk *d)
{
	if (d->boot_medium || lb_usage_any(&d->usage))
		return true;
	for (size_t i = 0; i < d->n_parts; i++)
		if (lb_usage_any(&d->parts[i].usage))
			return true;
	return false;
}

/* Probe a node; a node we cannot open leaves the fields NULL. Only the
 * first failure is spelled out: in a fixture or an unprivileged run every
 * node fails the same way. */
static bool probe(struct scan_ctx *c, const char *name, struct lb_probe_info *info)
{
	char *node;
	int r;

	node = lb_strdupf("%s/%s", c->devroot, name);
	if (!node)
		return false;
	r = lb_probe_node(node, info);
	if (r < 0 && c->open_failures++ == 0)
		lb_log("open %s: %s (partition table and file-system fields left null)", node,
		       strerror(-r));
	free(node);
	return r >= 0;
}

/* A CD/DVD drive that says it holds no disc. Anything else (a disc, a node
 * that cannot be asked, a fixture file) is false: only a drive's own "no
 * disc" hides it. An empty drive can still report a size, and probing it
 * fails on every scan. */
static bool no_disc(struct scan_ctx *c, const char *name)
{
	char *node = lb_strdupf("%s/%s", c->devroot, name);
	int fd = node ? open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1, st;

	free(node);
	if (fd < 0)
		return false;
	st = ioctl(fd, CDROM_DRIVE_STATUS, CDSL_CURRENT);
	close(fd);
	return st == CDS_NO_DISC || st == CDS_TRAY_OPEN;
}

/* Identification strings, tried in the order the kernel is most precise. */
static int load_ids(struct lb_disk *d, const char *dir, const char *sysreal)
{
	char *dev = NULL, *buf = NULL, *s;
	int r = 0, n;

	dev = lb_strdupf("%s/device", dir);
	if (!dev)
		return -ENOMEM;

	d->model = attr_str(dev, "model");
	if (!d->model)
		d->model = attr_str(dev, "name"); /* mmc */
	s = attr_str(dev, "vendor");
	/* virtio and PCI-level devices expose a numeric vendor id here, not
	 * the vendor name an operator would match on */
	if (s && !lb_startswith(s, "0x"))
		d->vendor = s;
	else
		free(s);

	d->serial = attr_str(dir, "serial"); /* virtio-blk */
	if (!d->serial)
		d->serial = attr_str(dev, "serial"); /* nvme, mmc */
	if (!d->serial) {
		char *p = lb_strdupf("%s/vpd_pg80", dev);

		n = p ? lb_read_file(p, 65536, &buf) : -ENOMEM;
		if (n >= 0 && lb_vpd80_serial((unsigned char *)buf, (size_t)n, &d->serial) < 0)
			d->serial = NULL;
		free(buf);
		buf = NULL;
		free(p);
	}
	if (!d->serial && d->transport && strcmp(d->transport, "usb") == 0) {
		/* USB bridges rarely answer VPD; the USB device has the serial */
		char up[PATH_MAX];

		snprintf(up, sizeof(up), "%s", dir);
		/* never look above the sysfs root (fixtures live in a checkout) */
		for (char *sl; !d->serial && (sl = strrchr(up, '/')) && sl > up + strlen(sysreal);) {
			*sl = '\0';
			s = attr_str(up, "idVendor");
			if (s)
				d->serial = attr_str(up, "serial");
			free(s);
			if (s)
				break;
		}
	}

	s = attr_str(dir, "wwid"); /* nvme namespace */
	if (s && lb_wwid_to_wwn(s, &d->wwn) < 0)
		d->wwn = NULL;
	free(s);
	if (!d->wwn) {
		char *p = lb_strdupf("%s/vpd_pg83", dev);

		n = p ? lb_read_file(p, 65536, &buf) : -ENOMEM;
		if (n >= 0 && lb_vpd83_wwn((unsigned char *)buf, (size_t)n, &d->wwn) < 0)
			d->wwn = NULL;
		free(buf);
		buf = NULL;
		free(p);
	}
	if (!d->wwn) {
		s = attr_str(dev, "wwid");
		if (s && lb_wwid_to_wwn(s, &d->wwn) < 0)
			d->wwn = NULL;
		free(s);
	}
	free(dev);
	return r;
}

static int cmp_part(const void *a, const void *b)
{
	const struct lb_part *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

static int load_parts(struct scan_ctx *c, struct lb_disk *d, const char *dir)
{
	DIR *dd = NULL;
	struct dirent *de;
	char *pdir = NULL;
	int r = 0;

	dd = opendir(dir);
	if (!dd)
		return 0;
	while ((de = readdir(dd))) {
		struct lb_part *p, *nv;
		uint64_t num;

		if (de->d_name[0] == '.' || !lb_startswith(de->d_name, d->name))
			continue;
		free(pdir);
		pdir = lb_strdupf("%s/%s", dir, de->d_name);
		if (!pdir) {
			r = -ENOMEM;
			goto fail;
		}
		num = attr_u64(pdir, "partition", 0);
		if (num == 0)
			continue; /* not a partition (e.g. a subdirectory) */
		nv = realloc(d->parts, (d->n_parts + 1) * sizeof(*nv));
		if (!nv) {
			r = -ENOMEM;
			goto fail;
		}
		d->parts = nv;
		p = &d->parts[d->n_parts++];
		memset(p, 0, sizeof(*p));
		p->number = (unsigned)num;
		/* sysfs counts in 512-byte units whatever the sector size */
		p->start = attr_u64(pdir, "start", 0) * 512;
		p->size = attr_u64(pdir, "size", 0) * 512;
		p->name = strdup(de->d_name);
		p->path = lb_strdupf("/dev/%s", de->d_name);
		if (d->by_path)
			p->by_path = lb_strdupf("%s-part%u", d->by_path, p->number);
		if (!p->name || !p->path || (d->by_path && !p->by_path)) {
			r = -ENOMEM;
			goto fail;
		}
		if ((r = load_usage(c, pdir, p->name, &p->usage)) < 0)
			goto fail;
		if (d->probed)
			probe(c, p->name, &p->probe);
	}
	if (d->n_parts > 1)
		qsort(d->parts, d->n_parts, sizeof(*d->parts), cmp_part);
fail:
	free(pdir);
	closedir(dd);
	return r;
}

static const char *type_of(const char *name)
{
	static const struct {
		const char *prefix, *type;
	} types[] = {
		{ "sr", "rom" }, { "loop", "loop" }, { "zram", "zram" }, { "ram", "ram" },
		{ "dm-", "dm" }, { "md", "md" },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (lb_startswith(name, types[i].prefix))
			return types[i].type;
	return "disk";
}

static bool uuid_matches(const char *medium, const char *uuid)
{
	return medium && uuid && strcasecmp(medium, uuid) == 0;
}

/* Fill d for /sys/block/<name>. Returns 1 when listed, 0 when skipped, -errno. */
static int load_disk(struct scan_ctx *c, const char *name, struct lb_disk *d)
{
	char *link = NULL, real[PATH_MAX], *byp = NULL;
	const char *devpath;
	bool empty_drive;
	int r;

	d->type = type_of(name);
	if (!c->opts->all && (strcmp(d->type, "ram") == 0 || strcmp(d->type, "zram") == 0 ||
			      strcmp(d->type, "dm") == 0 || strcmp(d->type, "md") == 0))
		return 0; /* dm and md show up as holders of what they sit on */

	link = lb_strdupf("%s/block/%s", c->sysroot, name);
	if (!link)
		return -ENOMEM;
	if (!realpath(link, real)) {
		r = -errno;
		lb_log("resolve %s: %s", link, strerror(-r));
		goto fail;
	}
	d->size = attr_u64(real, "size", 0) * 512;
	/* an unbound loop device or a CD drive without a disc */
	empty_drive = strcmp(d->type, "rom") == 0 && no_disc(c, name);
	if (!c->opts->all && (empty_drive || (d->size == 0 && (strcmp(d->type, "loop") == 0 || strcmp(d->type, "rom") == 0)))) {
		r = 0;
		goto fail;
	}
	devpath = lb_startswith(real, c->sysreal) ? real + strlen(c->sysreal) : real;

	d->name = strdup(name);
	d->path = lb_strdupf("/dev/%s", name);
	if (!d->name || !d->path) {
		r = -ENOMEM;
		goto fail;
	}
	d->logical_sector_size = (unsigned)attr_u64(real, "queue/logical_block_size", 512);
	d->physical_sector_size = (unsigned)attr_u64(real, "queue/physical_block_size", 512);
	d->rotational = attr_u64(real, "queue/rotational", 0) != 0;
	d->removable = attr_u64(real, "removable", 0) != 0;
	d->read_only = attr_u64(real, "ro", 0) != 0;
	d->transport = lb_transport(devpath, name);
	if ((r = load_ids(d, real, c->sysreal)) < 0)
		goto fail;
	r = lb_path_id(c->sysroot, devpath, &byp);
	if (r == -ENOMEM)
		goto fail;
	d->by_path = r == 0 ? byp : NULL;
	if (strcmp(d->type, "loop") == 0)
		d->backing_file = attr_str(real, "loop/backing_file");
	if ((r = load_usage(c, real, name, &d->usage)) < 0)
		goto fail;
	d->probed = !empty_drive && probe(c, name, &d->probe);
	if ((r = load_parts(c, d, real)) < 0)
		goto fail;

	d->boot_medium = uuid_matches(c->medium_uuid, d->probe.uuid);
	for (size_t i = 0; i < d->n_parts; i++)
		d->boot_medium = d->boot_medium || uuid_matches(c->medium_uuid, d->parts[i].probe.uuid);
	r = 1;
fail:
	free(link);
	return r;
}

static void disk_clear(struct lb_disk *d)
{
	for (size_t i = 0; i < d->n_parts; i++) {
		struct lb_part *p = &d->parts[i];

		free(p->name);
		free(p->path);
		free(p->by_path);
		lb_probe_info_clear(&p->probe);
		usage_clear(&p->usage);
	}
	free(d->parts);
	free(d->name);
	free(d->path);
	free(d->model);
	free(d->vendor);
	free(d->serial);
	free(d->wwn);
	free(d->by_path);
	free(d->backing_file);
	lb_probe_info_clear(&d->probe);
	usage_clear(&d->usage);
	memset(d, 0, sizeof(*d));
}

static int load_medium_uuid(char **ret)
{
	const char *path = getenv("LIFEBOAT_MEDIUM_UUID_FILE");
	int r;

	if (!path || !*path)
		path = LB_MEDIUM_UUID_FILE;
	*ret = NULL;
	r = lb_read_str(path, ret);
	if (r == -ENOENT || r == -ENODATA)
		return 0; /* PXE boot: there is no medium to protect */
	if (r < 0)
		lb_log("read %s: %s", path, strerror(-r));
	return r;
}

static int cmp_name(const void *a, const void *b)
{
	/* natural order: sda, sdb, ..., sdz, sdaa; nvme2n1 before nvme10n1 */
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

int lb_disks_scan(const struct lb_disks_opts *opts, struct lb_disk_list **ret_list)
{
	static const struct lb_disks_opts defaults = { 0 };
	struct scan_ctx c = { .opts = opts ? opts : &defaults };
	struct lb_disk_list *list = NULL;
	struct lb_strv names = { 0 };
	char *blockdir = NULL;
	DIR *d = NULL;
	struct dirent *de;
	int r;

	c.sysroot = lb_root(LB_ROOT_SYSFS);
	c.devroot = lb_root(LB_ROOT_DEV);
	if (!realpath(c.sysroot, c.sysreal)) {
		r = -errno;
		lb_log("resolve %s: %s", c.sysroot, strerror(-r));
		goto fail;
	}
	if ((r = lb_mounts_load(&c.mounts)) < 0 || (r = lb_swaps_load(&c.swaps)) < 0 ||
	    (r = load_medium_uuid(&c.medium_uuid)) < 0)
		goto fail;

	blockdir = lb_strdupf("%s/block", c.sysroot);
	if (!blockdir) {
		r = -ENOMEM;
		goto fail;
	}
	d = opendir(blockdir);
	if (!d) {
		r = -errno;
		lb_log("open %s: %s", blockdir, strerror(-r));
		goto fail;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && (r = lb_strv_add_unique(&names, de->d_name)) < 0)
			goto fail;
	if (names.n > 1)
		qsort(names.v, names.n, sizeof(*names.v), cmp_name);

	list = calloc(1, sizeof(*list));
	if (!list || (names.n && !(list->disks = calloc(names.n, sizeof(*list->disks))))) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < names.n; i++) {
		r = load_disk(&c, names.v[i], &list->disks[list->n]);
		if (r < 0)
			goto fail;
		if (r == 0)
			disk_clear(&list->disks[list->n]);
		else
			list->n++;
	}
	if (c.open_failures > 1)
		lb_log("%u device nodes in total could not be opened", c.open_failures);
	*ret_list = list;
	list = NULL;
	r = 0;
fail:
	if (list && list->disks && r < 0)
		disk_clear(&list->disks[list->n]); /* the one half loaded */
	lb_disks_free(list);
	lb_strv_clear(&names);
	if (d)
		closedir(d);
	free(blockdir);
	free(c.medium_uuid);
	lb_mounts_free(c.mounts);
	lb_swaps_free(c.swaps);
	return r;
}

void lb_disks_free(struct lb_disk_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		disk_clear(&list->disks[i]);
	free(list->disks);
	free(list);
}
