/* by-path names without udev.
 *
 * The initramfs has no udev, so /dev/disk/by-path does not exist; operators
 * and deployment rules still speak its language ("pci-0000:00:1f.2-ata-1.0").
 * lb_path_id() derives the same ID_PATH that systemd-udevd's path_id builtin
 * (udev 252, Debian 12) gives, for the common buses: pci, virtio, nvme
 * (with and without native multipath), ata, scsi (default), usb, sas, fc,
 * platform, acpi, xen. Others (iscsi, hyper-v, firewire, cciss) yield
 * -ENOENT and the caller reports null rather than guess.
 *
 * ATA: udev since v250 names a disk by port and device, "ata-<port_no>.<target>"
 * (".<pmp>.0" behind a port multiplier), so an AHCI disk is "ata-1.0"; the
 * old "ata-1" only survives as udev's ID_PATH_ATA_COMPAT link. We return the
 * current form.
 * USB: udev 252 also computes a "usbv2-0:1:1.0" variant (ID_PATH_WITH_USB_REVISION)
 * but the by-path link and ID_PATH keep "usb-0:1:1.0", which is what we return.
 */
#ifndef LB_PATHID_H
#define LB_PATHID_H

/* sysroot: the sysfs mount (e.g. "/sys"); devpath: the resolved device path
 * below it ("/devices/pci0000:00/.../block/sda"). Returns 0 and a malloc'ed
 * string, -ENOENT when udev would not name it, or -ENOMEM. */
int lb_path_id(const char *sysroot, const char *devpath, char **ret);

#endif
