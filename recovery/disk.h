/* Disk discovery: every block device worth showing an operator, what it is,
 * where it is, what is on it and whether something is using it.
 *
 * Sources: $LIFEBOAT_SYSFS/block (default /sys), $LIFEBOAT_PROC/self/mountinfo
 * and swaps (default /proc), libblkid on $LIFEBOAT_DEV/<name> (default /dev),
 * and the boot medium's file-system UUID from $LIFEBOAT_MEDIUM_UUID_FILE
 * (default /etc/lifeboat/medium-uuid; absent: PXE boot, no medium).
 *
 * The result is plain data owned by the list; lb_disks_free() releases it.
 */
#ifndef LB_DISK_H
#define LB_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "probe.h"
#include "util.h"

#define LB_MEDIUM_UUID_FILE "/etc/lifeboat/medium-uuid"

/* Who is using one block device (a disk or a partition). */
struct lb_usage {
	struct lb_strv mountpoints;
	struct lb_strv holders;  /* dm-0, md127: from sysfs holders/ */
	bool swap;
};

struct lb_part {
	char *name;	  /* "sda1", "nvme0n1p1" */
	char *path;	  /* "/dev/sda1" */
	unsigned number;
	uint64_t start;	  /* bytes */
	uint64_t size;	  /* bytes */
	char *by_path;	  /* disk's by-path + "-partN", or NULL */
	struct lb_probe_info probe; /* fs_type, label, uuid, part_uuid, part_label */
	struct lb_usage usage;
};

struct lb_disk {
	char *name;	  /* "sda" */
	char *path;	  /* "/dev/sda" */
	const char *type; /* "disk", "rom", "loop", or with --all "ram", "zram", "dm", "md" */
	uint64_t size;	  /* bytes */
	unsigned logical_sector_size, physical_sector_size;
	char *model, *vendor, *serial, *wwn, *by_path, *backing_file;
	const char *transport;
	bool rotational, removable, read_only;
	bool probed;	  /* libblkid could read the node */
	struct lb_probe_info probe; /* pttype, ptuuid, and a whole-disk fs */
	struct lb_usage usage;	/* of the whole disk itself */
	bool boot_medium;
	size_t n_parts;
	struct lb_part *parts;
};

struct lb_disk_list {
	size_t n;
	struct lb_disk *disks;
};

struct lb_disks_opts {
	bool all; /* also ram, zram, dm, md, empty loop and sr devices */
};

/* 0 or -errno; the failure is logged. Devices whose node cannot be opened
 * are listed with NULL content fields, and that is said once on stderr. */
int lb_disks_scan(const struct lb_disks_opts *opts, struct lb_disk_list **ret_list);
void lb_disks_free(struct lb_disk_list *list);

bool lb_usage_any(const struct lb_usage *u);
/* The disk, any of its partitions, or the boot medium: do not write to it. */
bool lb_disk_in_use(const struct lb_disk *d);

#endif
