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

/* 1 when disk d satisfies expr, 0 when not (why says which term failed),
 * -EINVAL (logged) when expr does not parse. */
int lb_hints_match(const char *expr, const struct lb_disk *d, char *why, size_t why_len);

#endif
