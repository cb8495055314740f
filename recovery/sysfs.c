/* Decoding what sysfs says about a disk. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sysfs.h"
#include "util.h"

int lb_vpd80_serial(const unsigned char *buf, size_t len, char **ret)
{
	size_t plen;
	char *s;

	if (len < 4 || buf[1] != 0x80)
		return -EINVAL;
	plen = ((size_t)buf[2] << 8) | buf[3];
	if (plen > len - 4)
		return -EINVAL;
	s = malloc(plen + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, buf + 4, plen);
	s[plen] = '\0';
	/* replace non-printable bytes: serials end up in JSON and on a console */
	for (size_t i = 0; i < plen && s[i]; i++)
		if (!isprint((unsigned char)s[i]))
			s[i] = ' ';
	lb_strtrim(s);
	if (!*s) {
		free(s);
		return -ENODATA;
	}
	*ret = s;
	return 0;
}

static char *hex(const char *prefix, const unsigned char *p, size_t n)
{
	size_t pl = strlen(prefix);
	char *s = malloc(pl + n * 2 + 1);

	if (!s)
		return NULL;
	memcpy(s, prefix, pl);
	for (size_t i = 0; i < n; i++)
		snprintf(s + pl + i * 2, 3, "%02x", p[i]);
	s[pl + n * 2] = '\0';
	return s;
}

int lb_vpd83_wwn(const unsigned char *buf, size_t len, char **ret)
{
	const unsigned char *naa = NULL, *eui = NULL;
	size_t naa_len = 0, eui_len = 0, plen, off;
	char *s;

	if (len < 4 || buf[1] != 0x83)
		return -EINVAL;
	plen = ((size_t)buf[2] << 8) | buf[3];
	if (plen > len - 4)
		plen = len - 4; /* tolerate a short read, parse what is there */
	for (off = 4; off + 4 <= 4 + plen;) {
		const unsigned char *d = buf + off;
		unsigned assoc = (d[1] >> 4) & 3, type = d[1] & 0x0f;
		size_t dlen = d[3];

		if (off + 4 + dlen > 4 + plen)
			break;
		/* association 0: the logical unit, not the port or target */
		if (assoc == 0 && type == 3 && !naa && dlen > 0) {
			naa = d + 4;
			naa_len = dlen;
		} else if (assoc == 0 && type == 2 && !eui && dlen > 0) {
			eui = d + 4;
			eui_len = dlen;
		}
		off += 4 + dlen;
	}
	if (naa)
		s = hex("0x", naa, naa_len);
	else if (eui)
		s = hex("eui.", eui, eui_len);
	else
		return -ENODATA;
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int lb_wwid_to_wwn(const char *wwid, char **ret)
{
	char *s;

	if (lb_startswith(wwid, "naa."))
		s = lb_strdupf("0x%s", wwid + 4);
	else if (lb_startswith(wwid, "eui.") || lb_startswith(wwid, "nvme.") ||
		 lb_startswith(wwid, "uuid."))
		s = strdup(wwid);
	else
		return -ENODATA;
	if (!s)
		return -ENOMEM;
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	*ret = s;
	return 0;
}

const char *lb_transport(const char *devpath, const char *name)
{
	/* Order matters: a USB stick is also a SCSI disk, a virtio-scsi disk
	 * sits below a virtio device, NVMe with native multipath lives under
	 * /devices/virtual. */
	if (lb_startswith(name, "loop"))
		return "loop";
	if (lb_startswith(name, "nbd"))
		return "nbd";
	if (strstr(devpath, "/usb"))
		return "usb";
	if (lb_startswith(name, "nvme") || strstr(devpath, "/nvme"))
		return "nvme";
	if (lb_startswith(name, "mmcblk") || strstr(devpath, "/mmc_host/") || strstr(devpath, "/mmc"))
		return "mmc";
	if (strstr(devpath, "/end_device-"))
		return "sas";
	if (strstr(devpath, "/rport-"))
		return "fc";
	if (strstr(devpath, "/session"))
		return "iscsi";
	if (strstr(devpath, "/ata"))
		return "sata";
	if (strstr(devpath, "/virtio")) {
		/* virtio-scsi: a SCSI host below the virtio device */
		return strstr(devpath, "/host") ? "scsi" : "virtio";
	}
	if (strstr(devpath, "/vbd-"))
		return "xen";
	if (strstr(devpath, "/host") && strstr(devpath, "/target"))
		return "scsi";
	return NULL;
}
