/* Content probing (libblkid): partition table, file system, labels. The
 * only file that includes blkid.h, so blkid result codes are converted and
 * logged here once. */
#ifndef LB_PROBE_H
#define LB_PROBE_H

struct lb_probe_info {
	char *pttype;	  /* "gpt", "dos", ... (whole disks) */
	char *ptuuid;
	char *fs_type;	  /* "ext4", "vfat", "swap", "iso9660", ... */
	char *label;
	char *uuid;
	char *part_uuid;  /* partition entry (partitions only) */
	char *part_label;
};

/* Probe the node read-only. Returns 0 (fields NULL where nothing was found),
 * or -errno when the node cannot be opened; the open error is *not* logged
 * (the caller decides how often to say so). */
int lb_probe_node(const char *node, struct lb_probe_info *ret);
void lb_probe_info_clear(struct lb_probe_info *p);

const char *lb_probe_library_version(void);

#endif
