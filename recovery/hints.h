/* Root-device hints: which local disk a disk of a restore point goes to,
 * chosen by what the disk is, never by the order the kernel found it in.
 *
 * An expression is a comma-separated list of terms, all of which must hold:
 *   KEY OP VALUE     OP: = != >= <= > <
 * KEY: name (sda), path (/dev/sda), serial, wwn, model, vendor, by_path,
 * transport (sata, nvme, virtio, usb, sas, ...), rotational (0/1 or
 * true/false), removable, size (bytes, or with K, M, G, T: powers of 1024).
 * Strings compare exactly (= and != only); model and vendor also match
 * when VALUE is a prefix followed by '*' ("model=SAMSUNG*").
 * Examples: "serial=S3Z1NB0K123", "size>=100G,rotational=0,transport=nvme".
 */
#ifndef LB_HINTS_H
#define LB_HINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "disk.h"
#include "manifest.h"

/* 1 when disk d satisfies expr, 0 when not (why says which term failed),
 * -EINVAL (logged) when expr does not parse. */
int lb_hints_match(const char *expr, const struct lb_disk *d, char *why, size_t why_len);

/* Whether disk d may be written at all: a disk (not a CD, not a partition),
 * not in use, not the boot medium. */
bool lb_hints_writable(const struct lb_disk *d);

/* The local disk to propose as the target of disk src of a restore point,
 * from what the backup recorded about its source: the only disk with its
 * serial or WWN (the same disk), else the only one at its by-path (the same
 * slot, e.g. a replaced drive), else the only disk large enough. Only
 * writable disks of the same logical sector size, at least as large as
 * src and not taken[i] (already the target of another disk; taken may be
 * NULL) are considered. Never a guess by order: with two candidates there
 * is no proposal. Returns the index into l, or -1; why says either way
 * ("serial LB-1 matches", "2 disks are large enough"). */
int lb_hints_propose(const struct lb_manifest_disk *src, const struct lb_disk_list *l, const bool *taken, char *why,
		     size_t why_len);

#endif
