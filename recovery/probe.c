/* Content probing with libblkid. */
#define _GNU_SOURCE
#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "util.h"

static int dup_value(blkid_probe pr, const char *name, char **ret)
{
	const char *v = NULL;

	if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0 || !v || !*v)
		return 0;
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

int lb_probe_node(const char *node, struct lb_probe_info *ret)
{
	struct lb_probe_info info = { 0 };
	blkid_probe pr = NULL;
	int fd, r;

	/* Never for writing: this runs on disks that may hold the only copy
	 * of someone's data. O_NONBLOCK keeps an empty CD tray from stalling. */
	fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;

	pr = blkid_new_probe();
	if (!pr) {
		r = -ENOMEM;
		goto fail;
	}
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0) {
		lb_log("probe %s: cannot attach libblkid to the device", node);
		r = -EIO;
		goto fail;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);

	r = blkid_do_safeprobe(pr);
	if (r == -2) {
		/* several signatures: blkid refuses to choose, so do we */
		lb_log("probe %s: ambivalent result (more than one signature), not reporting its content", node);
		r = 0;
	} else if (r < 0) {
		lb_log("probe %s: libblkid probing failed", node);
		r = 0;
	} else if (r == 1) {
		r = 0; /* nothing found */
	} else if ((r = dup_value(pr, "PTTYPE", &info.pttype)) < 0 ||
		   (r = dup_value(pr, "PTUUID", &info.ptuuid)) < 0 ||
		   (r = dup_value(pr, "TYPE", &info.fs_type)) < 0 ||
		   (r = dup_value(pr, "LABEL", &info.label)) < 0 ||
		   (r = dup_value(pr, "UUID", &info.uuid)) < 0 ||
		   (r = dup_value(pr, "PART_ENTRY_UUID", &info.part_uuid)) < 0 ||
		   (r = dup_value(pr, "PART_ENTRY_NAME", &info.part_label)) < 0) {
		goto fail;
	}
	*ret = info;
	info = (struct lb_probe_info){ 0 };
fail:
	lb_probe_info_clear(&info);
	blkid_free_probe(pr);
	close(fd);
	return r;
}

void lb_probe_info_clear(struct lb_probe_info *p)
{
	if (!p)
		return;
	free(p->pttype);
	free(p->ptuuid);
	free(p->fs_type);
	free(p->label);
	free(p->uuid);
	free(p->part_uuid);
	free(p->part_label);
	memset(p, 0, sizeof(*p));
}

const char *lb_probe_library_version(void)
{
	const char *ver = NULL;

	blkid_get_library_version(&ver, NULL);
	return ver ? ver : "unknown";
}
