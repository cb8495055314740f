/* Decoding what sysfs says about a disk: SCSI VPD pages, WWIDs, transport. */
#ifndef LB_SYSFS_H
#define LB_SYSFS_H

#include <stddef.h>

/* VPD page 0x80 (unit serial number): 4-byte header (byte 1 = 0x80,
 * bytes 2-3 = length, big-endian) then ASCII, space padded. Returns 0 and a
 * trimmed malloc'ed serial, -EINVAL for a malformed page (wrong code, length
 * past the buffer), -ENODATA for an empty serial. */
int lb_vpd80_serial(const unsigned char *buf, size_t len, char **ret);

/* VPD page 0x83 (device identification): the LUN's NAA designator as
 * "0x<hex>" (the form lsblk and udev's ID_WWN_WITH_EXTENSION show), else its
 * EUI-64 as "eui.<hex>". -ENODATA when there is neither. */
int lb_vpd83_wwn(const unsigned char *buf, size_t len, char **ret);

/* A sysfs "wwid" ("naa.5000c500...", "eui.0025...", "nvme.1b36-...",
 * "t10.ATA QEMU HARDDISK QM00001") as a WWN: NAA as "0x<hex>", EUI/NGUID/
 * nvme ids as they are; t10 vendor ids are not world-wide names: -ENODATA. */
int lb_wwid_to_wwn(const char *wwid, char **ret);

/* Transport of a block device from its resolved devpath and name:
 * "sata", "sas", "nvme", "virtio", "usb", "scsi", "mmc", "fc", "iscsi",
 * "loop", "nbd", "xen", or NULL when unknown. Static strings. */
const char *lb_transport(const char *devpath, const char *name);

#endif
