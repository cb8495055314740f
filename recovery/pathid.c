/* by-path names without udev; see pathid.h for the rules we follow. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pathid.h"
#include "util.h"

struct walk {
	const char *root;
	const char *dev;     /* the block device's devpath */
	char cur[PATH_MAX];  /* device being looked at */
	char *path;	     /* composed so far */
	bool supported_parent;
	bool supported_transport;
	bool oom;
};

static void prepend(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void prepend(struct walk *w, const char *fmt, ...)
{
	va_list ap;
	char *pre = NULL, *n;

	va_start(ap, fmt);
	if (vasprintf(&pre, fmt, ap) < 0)
		pre = NULL;
	va_end(ap);
	if (!pre) {
		w->oom = true;
		return;
	}
	if (!w->path) {
		w->path = pre;
		return;
	}
	n = lb_strdupf("%s-%s", pre, w->path);
	free(pre);
	if (!n) {
		w->oom = true;
		return;
	}
	free(w->path);
	w->path = n;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Strip the last component; false once we would leave /devices. */
static bool up(char *p)
{
	char *s = strrchr(p, '/');

	if (!s || s == p)
		return false;
	*s = '\0';
	return strcmp(p, "/devices") != 0 && strchr(p + 1, '/') != NULL;
}

/* The bus or class a device belongs to: basename of its "subsystem" link. */
static bool subsystem_is(const struct walk *w, const char *devpath, const char *subsys)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	if (snprintf(link, sizeof(link), "%s%s/subsystem", w->root, devpath) >= (int)sizeof(link))
		return false;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(base(target), subsys) == 0;
}

/* Climb while the parent is still in subsys; leaves cur at the topmost
 * device of that subsystem (the main loop then steps past it). */
static void skip_subsystem(struct walk *w, const char *subsys)
{
	char parent[PATH_MAX];

	for (;;) {
		strcpy(parent, w->cur);
		if (!up(parent) || !subsystem_is(w, parent, subsys))
			return;
		strcpy(w->cur, parent);
	}
}

static int read_attr(const struct walk *w, const char *devpath, const char *attr, char **ret)
{
	char *p;
	int r;

	p = lb_strdupf("%s%s/%s", w->root, devpath, attr);
	if (!p)
		return -ENOMEM;
	r = lb_read_str(p, ret);
	free(p);
	return r;
}

/* Nearest ancestor (or self) of devpath whose name matches the kernel's
 * naming of a SCSI host ("host3") or target ("target3:0:1"). SCSI sysfs has
 * no devtype in the path, but these names are fixed by the SCSI midlayer. */
static bool find_scsi_ancestor(const struct walk *w, const char *devpath, bool host, char *ret)
{
	strcpy(ret, devpath);
	do {
		const char *b = base(ret);
		unsigned a, b2, c;
		char end;

		if (!subsystem_is(w, ret, "scsi"))
			continue;
		if (host && sscanf(b, "host%u%c", &a, &end) == 1)
			return true;
		if (!host && sscanf(b, "target%u:%u:%u%c", &a, &b2, &c, &end) == 3)
			return true;
	} while (up(ret));
	return false;
}

static char *lun_str(unsigned long lun)
{
	if (lun < 256)
		return lb_strdupf("lun-%lu", lun);
	/* same odd layout as udev for non-peripheral LUN addressing */
	return lb_strdupf("lun-0x%04lx%04lx00000000", lun & 0xffff, (lun >> 16) & 0xffff);
}

static bool handle_scsi_sas(struct walk *w, unsigned long lun)
{
	char target[PATH_MAX], enddev[PATH_MAX], port[PATH_MAX], exp[PATH_MAX];
	char *addr = NULL, *phy = NULL, *nphys = NULL, *expaddr = NULL, *l = NULL, *a = NULL;
	bool ok = false;

	if (!find_scsi_ancestor(w, w->cur, false, target))
		goto fail;
	strcpy(enddev, target);
	if (!up(enddev))
		goto fail;
	/* transport-class attributes live in a class device below the device */
	a = lb_strdupf("sas_device/%s/sas_address", base(enddev));
	if (!a || read_attr(w, enddev, a, &addr) < 0)
		goto fail;
	free(a);
	strcpy(port, enddev);
	if (!up(port))
		goto fail;
	a = lb_strdupf("sas_port/%s/num_phys", base(port));
	if (!a || read_attr(w, port, a, &nphys) < 0)
		goto fail;
	l = lun_str(lun);
	if (!l)
		goto fail;
	if (strcmp(nphys, "1") != 0) {
		/* wide port: phys are interchangeable, name by the SAS address */
		prepend(w, "sas-%s-%s", addr, l);
		ok = true;
		goto fail;
	}
	free(a);
	a = lb_strdupf("sas_device/%s/phy_identifier", base(enddev));
	if (!a || read_attr(w, enddev, a, &phy) < 0)
		goto fail;
	strcpy(exp, port);
	free(a);
	a = NULL;
	if (up(exp)) {
		a = lb_strdupf("sas_device/%s/sas_address", base(exp));
		if (!a)
			goto fail;
		/* the port hangs off either the HBA or an expander */
		if (read_attr(w, exp, a, &expaddr) < 0)
			expaddr = NULL;
	}
	if (expaddr)
		prepend(w, "sas-exp%s-phy%s-%s", expaddr, phy, l);
	else
		prepend(w, "sas-phy%s-%s", phy, l);
	ok = true;
fail:
	free(addr);
	free(phy);
	free(nphys);
	free(expaddr);
	free(l);
	free(a);
	return ok;
}

static bool handle_scsi_fc(struct walk *w, unsigned long lun)
{
	char target[PATH_MAX];
	char *a = NULL, *port = NULL, *l = NULL;
	bool ok = false;

	if (!find_scsi_ancestor(w, w->cur, false, target))
		goto fail;
	a = lb_strdupf("fc_transport/%s/port_name", base(target));
	if (!a || read_attr(w, target, a, &port) < 0)
		goto fail;
	l = lun_str(lun);
	if (!l)
		goto fail;
	prepend(w, "fc-%s-%s", port, l);
	ok = true;
fail:
	free(a);
	free(port);
	free(l);
	return ok;
}

static bool handle_scsi_ata(struct walk *w, unsigned bus, unsigned target)
{
	char host[PATH_MAX];
	char *a = NULL, *port_no = NULL;
	bool ok = false;

	if (!find_scsi_ancestor(w, w->cur, true, host) || !up(host))
		goto fail;
	/* host's parent is the ata port "ataN"; N is a global counter, the
	 * controller-local number is the ata_port class attribute port_no */
	a = lb_strdupf("ata_port/%s/port_no", base(host));
	if (!a || read_attr(w, host, a, &port_no) < 0)
		goto fail;
	if (bus != 0)
		prepend(w, "ata-%s.%u.0", port_no, bus); /* behind a port multiplier */
	else
		prepend(w, "ata-%s.%u", port_no, target);
	ok = true;
fail:
	free(a);
	free(port_no);
	return ok;
}

/* Returns false when no name can be given. On success w->cur is left at
 * the device the main loop continues from. */
static bool handle_scsi_default(struct walk *w, unsigned host, unsigned bus, unsigned target,
				unsigned lun)
{
	char hostdev[PATH_MAX], dir[PATH_MAX];
	DIR *d = NULL;
	struct dirent *de;
	long basenum = -1;

	if (!find_scsi_ancestor(w, w->cur, true, hostdev))
		return false;
	strcpy(dir, hostdev);
	if (!up(dir))
		return false;
	/* Rebase the global host number onto the lowest host of the same
	 * parent, as udev does; racy in theory, stable in practice. */
	{
		char full[PATH_MAX];

		snprintf(full, sizeof(full), "%s%s", w->root, dir);
		d = opendir(full);
	}
	if (!d)
		return false;
	while ((de = readdir(d))) {
		unsigned n;
		char end;

		if (sscanf(de->d_name, "host%u%c", &n, &end) == 1 && (basenum < 0 || n < basenum))
			basenum = n;
	}
	closedir(d);
	strcpy(w->cur, hostdev);
	if (basenum < 0)
		return true;
	prepend(w, "scsi-%u:%u:%u:%u", host - (unsigned)basenum, bus, target, lun);
	return true;
}

static bool handle_scsi(struct walk *w)
{
	unsigned host, bus, target, lun;
	char end;

	/* only the scsi_device ("H:C:T:L") names anything; hosts and
	 * targets are passed over */
	if (sscanf(base(w->cur), "%u:%u:%u:%u%c", &host, &bus, &target, &lun, &end) != 4)
		return true;
	if (strstr(w->cur, "/rport-")) {
		w->supported_parent = true;
		return handle_scsi_fc(w, lun);
	}
	if (strstr(w->cur, "/end_device-")) {
		w->supported_parent = true;
		return handle_scsi_sas(w, lun);
	}
	if (strstr(w->cur, "/session") || strstr(w->cur, "/vmbus_") || strstr(w->cur, "/VMBUS"))
		return false; /* iscsi, hyper-v: not implemented, report null */
	if (strstr(w->cur, "/ata"))
		return handle_scsi_ata(w, bus, target);
	return handle_scsi_default(w, host, bus, target, lun);
}

static bool handle_usb(struct walk *w)
{
	const char *name = base(w->cur), *port;

	/* usb devices are "2-1.4", interfaces "2-1.4:1.0", root hubs "usb2";
	 * the bus number (before '-') is not stable, udev writes 0 */
	port = strchr(name, '-');
	if (!port)
		return true;
	prepend(w, "usb-0:%s", port + 1);
	skip_subsystem(w, "usb");
	return true;
}

static bool handle_nvme(struct walk *w, bool multipath)
{
	char *nsid = NULL;
	bool ok = false;

	if (read_attr(w, w->dev, "nsid", &nsid) < 0)
		return true; /* udev also just walks on */
	prepend(w, "nvme-%s", nsid);
	if (multipath) {
		/* /devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1: the
		 * controller nvme0 (from the name) has the PCI path */
		char link[PATH_MAX], real[PATH_MAX], rootreal[PATH_MAX];
		const char *name = base(w->dev);
		size_t digits = strspn(name + 4, "0123456789");

		if (!lb_startswith(name, "nvme") || digits == 0)
			goto fail;
		snprintf(link, sizeof(link), "%s/class/nvme/%.*s", w->root, (int)(4 + digits), name);
		if (!realpath(link, real) || !realpath(w->root, rootreal))
			goto fail;
		if (!lb_startswith(real, rootreal) ||
		    lb_startswith(real + strlen(rootreal), "/devices/virtual/"))
			goto fail; /* fabrics (nvmf) have no stable path */
		snprintf(w->cur, sizeof(w->cur), "%s", real + strlen(rootreal));
	}
	skip_subsystem(w, "nvme");
	w->supported_parent = true;
	w->supported_transport = true;
	ok = true;
fail:
	free(nsid);
	return ok;
}

int lb_path_id(const char *sysroot, const char *devpath, char **ret)
{
	struct walk w = { .root = sysroot, .dev = devpath };
	static const char *const simple[] = { "platform", "amba", "acpi", "xen", "ccw", "scm" };
	int r;

	if (strlen(devpath) >= sizeof(w.cur))
		return -ENAMETOOLONG;
	strcpy(w.cur, devpath);
	do {
		const char *name = base(w.cur);
		bool ok = true;

		if (subsystem_is(&w, w.cur, "scsi")) {
			ok = handle_scsi(&w);
			w.supported_transport = true;
		} else if (subsystem_is(&w, w.cur, "usb")) {
			ok = handle_usb(&w);
			w.supported_transport = true;
		} else if (subsystem_is(&w, w.cur, "pci")) {
			/* only the PCI function nearest the disk is named */
			prepend(&w, "pci-%s", name);
			skip_subsystem(&w, "pci");
			w.supported_parent = true;
		} else if (subsystem_is(&w, w.cur, "virtio")) {
			skip_subsystem(&w, "virtio");
			w.supported_transport = true;
		} else if (subsystem_is(&w, w.cur, "nvme")) {
			ok = handle_nvme(&w, false);
		} else if (subsystem_is(&w, w.cur, "nvme-subsystem")) {
			ok = handle_nvme(&w, true);
		} else {
			for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
				if (!subsystem_is(&w, w.cur, simple[i]))
					continue;
				prepend(&w, "%s-%s", simple[i], name);
				skip_subsystem(&w, simple[i]);
				w.supported_parent = true;
				/* acpi and xen name a parent but not a transport */
				if (strcmp(simple[i], "acpi") != 0 && strcmp(simple[i], "xen") != 0)
					w.supported_transport = true;
				break;
			}
		}
		if (!ok || w.oom)
			break;
	} while (up(w.cur));

	if (w.oom) {
		r = -ENOMEM;
		goto fail;
	}
	/* like udev: an unknown parent or transport could produce names that
	 * collide between devices, so give none */
	if (!w.path || !w.supported_parent || !w.supported_transport) {
		r = -ENOENT;
		goto fail;
	}
	*ret = w.path;
	return 0;
fail:
	free(w.path);
	return r;
}
