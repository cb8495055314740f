/* Unit tests for disk discovery: sysfs decoding, by-path, mount/swap
 * parsing, JSON escaping, and whole scans of the fixture trees in
 * tests/fixtures/sysfs/ (regenerate them with mkfixtures.sh there).
 * LB_FIXTURES names that directory (the Makefile's check target sets it). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "json.h"
#include "mounts.h"
#include "pathid.h"
#include "sysfs.h"
#include "tap.h"

static const char *fixtures(void)
{
	const char *f = getenv("LB_FIXTURES");

	return f ? f : "tests/fixtures/sysfs";
}

/* ---- VPD pages ---- */

TEST(vpd80_decodes_and_trims)
{
	static const unsigned char pg[] = { 0, 0x80, 0, 12, 'Q', 'M', '0', '0', '0', '0', '1',
					    ' ', ' ', ' ', ' ', ' ' };
	char *s = NULL;

	CHECK_INT(lb_vpd80_serial(pg, sizeof(pg), &s), 0);
	CHECK_STR(s, "QM00001");
	free(s);
}

TEST(vpd80_rejects_malformed)
{
	static const unsigned char wrong_code[] = { 0, 0x83, 0, 2, 'A', 'B' };
	static const unsigned char too_long[] = { 0, 0x80, 0, 40, 'A', 'B' };
	static const unsigned char blank[] = { 0, 0x80, 0, 3, ' ', ' ', ' ' };
	static const unsigned char header_only[] = { 0, 0x80, 0 };
	char *s = NULL;

	CHECK_INT(lb_vpd80_serial(wrong_code, sizeof(wrong_code), &s), -EINVAL);
	CHECK_INT(lb_vpd80_serial(too_long, sizeof(too_long), &s), -EINVAL);
	CHECK_INT(lb_vpd80_serial(blank, sizeof(blank), &s), -ENODATA);
	CHECK_INT(lb_vpd80_serial(header_only, sizeof(header_only), &s), -EINVAL);
	CHECK(s == NULL);
}

TEST(vpd80_control_bytes_become_spaces)
{
	static const unsigned char pg[] = { 0, 0x80, 0, 5, 'A', '\n', 'B', 0x01, 'C' };
	char *s = NULL;

	CHECK_INT(lb_vpd80_serial(pg, sizeof(pg), &s), 0);
	CHECK_STR(s, "A B C");
	free(s);
}

TEST(vpd83_prefers_lu_naa)
{
	/* target-port NAA first (association 1), then the LU's EUI-64, then
	 * the LU's NAA: the LU's NAA wins */
	static const unsigned char pg[] = {
		0, 0x83, 0, 36,
		0x01, 0x13, 0, 8, 0x50, 0, 0, 0, 0, 0, 0, 0x99,
		0x01, 0x02, 0, 8, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11,
		0x01, 0x03, 0, 8, 0x50, 0x00, 0xc5, 0x00, 0xa1, 0xb2, 0xc3, 0xd4,
	};
	static const unsigned char eui_only[] = {
		0, 0x83, 0, 12, 0x01, 0x02, 0, 8, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11,
	};
	static const unsigned char truncated[] = { 0, 0x83, 0, 12, 0x01, 0x03, 0, 8, 0x50, 0x00 };
	char *s = NULL;

	CHECK_INT(lb_vpd83_wwn(pg, sizeof(pg), &s), 0);
	CHECK_STR(s, "0x5000c500a1b2c3d4");
	free(s);
	s = NULL;
	CHECK_INT(lb_vpd83_wwn(eui_only, sizeof(eui_only), &s), 0);
	CHECK_STR(s, "eui.aabbccddeeff0011");
	free(s);
	s = NULL;
	CHECK_INT(lb_vpd83_wwn(truncated, sizeof(truncated), &s), -ENODATA);
	CHECK(s == NULL);
}

TEST(wwid_to_wwn)
{
	char *s = NULL;

	CHECK_INT(lb_wwid_to_wwn("naa.5000C500A1B2C3D4", &s), 0);
	CHECK_STR(s, "0x5000c500a1b2c3d4");
	free(s);
	s = NULL;
	CHECK_INT(lb_wwid_to_wwn("eui.0011223344556677", &s), 0);
	CHECK_STR(s, "eui.0011223344556677");
	free(s);
	s = NULL;
	CHECK_INT(lb_wwid_to_wwn("t10.ATA     QEMU HARDDISK   QM00001", &s), -ENODATA);
}

/* ---- transport ---- */

TEST(transport_from_devpath)
{
	static const struct {
		const char *path, *name, *want;
	} cases[] = {
		{ "/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda", "sda", "sata" },
		{ "/devices/pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1", "nvme0n1", "nvme" },
		{ "/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1", "nvme0n1", "nvme" },
		{ "/devices/pci0000:00/0000:00:04.0/virtio1/block/vda", "vda", "virtio" },
		{ "/devices/pci0000:00/0000:00:06.0/virtio2/host2/target2:0:0/2:0:0:0/block/sdb", "sdb", "scsi" },
		{ "/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdc", "sdc", "usb" },
		{ "/devices/pci0000:00/0000:03:00.0/host1/port-1:0/end_device-1:0/target1:0:0/1:0:0:0/block/sdb", "sdb", "sas" },
		{ "/devices/pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:0001/block/mmcblk0", "mmcblk0", "mmc" },
		{ "/devices/virtual/block/loop0", "loop0", "loop" },
		{ "/devices/pci0000:00/0000:00:10.0/host0/target0:0:0/0:0:0:0/block/sda", "sda", "scsi" },
		{ "/devices/virtual/block/md127", "md127", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_STR(lb_transport(cases[i].path, cases[i].name), cases[i].want);
}

/* ---- by-path ---- */

static void check_path_id(const char *fixture, const char *block, const char *want)
{
	char root[4096], link[4200], real[4096], rootreal[4096], *got = NULL;
	int r;

	snprintf(root, sizeof(root), "%s/%s/sys", fixtures(), fixture);
	snprintf(link, sizeof(link), "%s/block/%s", root, block);
	if (!realpath(link, real) || !realpath(root, rootreal)) {
		printf("#   cannot resolve %s\n", link);
		tap_case_failed = 1;
		return;
	}
	r = lb_path_id(root, real + strlen(rootreal), &got);
	if (want) {
		CHECK_INT(r, 0);
		CHECK_STR(got, want);
	} else {
		CHECK_INT(r, -ENOENT);
	}
	free(got);
}

TEST(path_id_virtio)
{
	check_path_id("qemu", "vda", "pci-0000:00:04.0");
}

TEST(path_id_nvme)
{
	check_path_id("qemu", "nvme0n1", "pci-0000:00:05.0-nvme-1");
}

TEST(path_id_nvme_native_multipath)
{
	check_path_id("server", "nvme0n1", "pci-0000:3d:00.0-nvme-1");
}

TEST(path_id_ata)
{
	/* udev >= 250: port_no.target; the CD is on port 3 (ata3, host2) */
	check_path_id("qemu", "sda", "pci-0000:00:1f.2-ata-1.0");
	check_path_id("qemu", "sr0", "pci-0000:00:1f.2-ata-3.0");
}

TEST(path_id_sas)
{
	check_path_id("server", "sdb", "pci-0000:03:00.0-sas-phy0-lun-0");
}

TEST(path_id_usb)
{
	check_path_id("server", "sdc", "pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0");
}

TEST(path_id_virtual_has_none)
{
	check_path_id("loop", "loop0", NULL);
	check_path_id("qemu", "dm-0", NULL);
}

/* ---- mounts and swaps ---- */

TEST(mountinfo_parse)
{
	static const char text[] =
		"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
		"30 27 8:1 / /boot rw,relatime shared:5 master:1 - vfat /dev/sda1 rw\n"
		"31 27 8:2 / /mnt/my\\040data rw - ext4 /dev/sda2 rw\n"
		"32 27 8:2 /sub /srv rw - ext4 /dev/sda2 rw\n"
		"garbage\n";
	struct lb_mounts *m = NULL;
	size_t it = 0;

	CHECK_INT(lb_mounts_parse(text, 1, &m), 0);
	CHECK_STR(lb_mounts_next(m, 8, 1, "sda1", &it), "/boot");
	CHECK_STR(lb_mounts_next(m, 8, 1, "sda1", &it), NULL);
	it = 0;
	CHECK_STR(lb_mounts_next(m, 8, 2, "whatever", &it), "/mnt/my data");
	CHECK_STR(lb_mounts_next(m, 8, 2, "whatever", &it), "/srv");
	CHECK_STR(lb_mounts_next(m, 8, 2, "whatever", &it), NULL);
	it = 0;
	/* mountinfo matches by number, never by name */
	CHECK_STR(lb_mounts_next(m, 8, 3, "sda1", &it), NULL);
	lb_mounts_free(m);
	lb_mounts_free(NULL);
}

TEST(proc_mounts_parse)
{
	static const char text[] = "/dev/sdb1 /media/usb\\040stick vfat rw 0 0\nproc /proc proc rw 0 0\n";
	struct lb_mounts *m = NULL;
	size_t it = 0;

	CHECK_INT(lb_mounts_parse(text, 0, &m), 0);
	CHECK_STR(lb_mounts_next(m, 8, 17, "sdb1", &it), "/media/usb stick");
	it = 0;
	CHECK_STR(lb_mounts_next(m, 8, 17, "sdb", &it), NULL);
	lb_mounts_free(m);
}

TEST(swaps_parse)
{
	static const char text[] = "Filename\tType\tSize\tUsed\tPriority\n"
				   "/dev/sda2                               partition\t2097148\t0\t-2\n"
				   "/swapfile                               file\t1048572\t0\t-3\n"
				   "/dev/dm-1 partition 1 0 -4\n";
	struct lb_swaps *s = NULL;

	CHECK_INT(lb_swaps_parse(text, &s), 0);
	CHECK(lb_swaps_contains(s, "sda2"));
	CHECK(lb_swaps_contains(s, "dm-1"));
	CHECK(!lb_swaps_contains(s, "swapfile"));
	CHECK(!lb_swaps_contains(s, "sda"));
	CHECK(!lb_swaps_contains(s, "Filename"));
	lb_swaps_free(s);
}

/* ---- JSON ---- */

static char *escaped(const char *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	lb_json_write_escaped(f, in);
	fclose(f);
	return buf;
}

TEST(json_escaping)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "q\"b\\s/", "\"q\\\"b\\\\s/\"" },
		{ "a\nb\tc\rd\be\ff", "\"a\\nb\\tc\\rd\\be\\ff\"" },
		{ "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe\"" },
		{ "bad\xff" "byte", "\"bad\\ufffdbyte\"" },
		{ "overlong\xc0\xaf", "\"overlong\\ufffd\\ufffd\"" },
		{ "cut\xe2\x82", "\"cut\\ufffd\\ufffd\"" },
		{ "", "\"\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = escaped(cases[i].in);

		CHECK_STR(got, cases[i].want);
		free(got);
	}
}

TEST(json_writer_structure)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct lb_json *j = NULL;

	CHECK_INT(lb_json_new(f, false, &j), 0);
	lb_json_object_begin(j);
	lb_json_key(j, "a");
	lb_json_array_begin(j);
	lb_json_u64(j, 18446744073709551615ull);
	lb_json_bool(j, true);
	lb_json_null(j);
	lb_json_string(j, NULL);
	lb_json_array_end(j);
	lb_json_key(j, "e");
	lb_json_array_begin(j);
	lb_json_array_end(j);
	lb_json_key(j, "o");
	lb_json_object_begin(j);
	lb_json_key(j, "k\"");
	lb_json_string(j, "v");
	lb_json_object_end(j);
	lb_json_object_end(j);
	CHECK_INT(lb_json_free(j), 0);
	fclose(f);
	CHECK_STR(buf, "{\"a\":[18446744073709551615,true,null,null],\"e\":[],\"o\":{\"k\\\"\":\"v\"}}");
	free(buf);
}

TEST(json_writer_detects_unbalanced)
{
	FILE *f = fopen("/dev/null", "w");
	struct lb_json *j = NULL;

	CHECK_INT(lb_json_new(f, true, &j), 0);
	lb_json_object_begin(j);
	CHECK_INT(lb_json_free(j), -EINVAL);
	fclose(f);
}

/* ---- whole scans of fixture trees ---- */

static struct lb_disk_list *scan(const char *fixture, bool all)
{
	char p[4096];
	struct lb_disks_opts opts = { .all = all };
	struct lb_disk_list *l = NULL;

	snprintf(p, sizeof(p), "%s/%s/sys", fixtures(), fixture);
	setenv("LIFEBOAT_SYSFS", p, 1);
	snprintf(p, sizeof(p), "%s/%s/proc", fixtures(), fixture);
	setenv("LIFEBOAT_PROC", p, 1);
	snprintf(p, sizeof(p), "%s/%s/dev", fixtures(), fixture);
	setenv("LIFEBOAT_DEV", p, 1);
	setenv("LIFEBOAT_MEDIUM_UUID_FILE", "/nonexistent/medium-uuid", 1);
	if (lb_disks_scan(&opts, &l) < 0) {
		printf("#   scan of %s failed\n", fixture);
		tap_case_failed = 1;
		return NULL;
	}
	return l;
}

static const struct lb_disk *find_disk(const struct lb_disk_list *l, const char *name)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->disks[i].name, name) == 0)
			return &l->disks[i];
	printf("#   disk %s not found\n", name);
	tap_case_failed = 1;
	return NULL;
}

TEST(scan_qemu_lists_and_filters)
{
	struct lb_disk_list *l = scan("qemu", false);

	if (!l)
		return;
	/* natural order; ram, zram, dm and the unbound loop are hidden */
	CHECK_INT(l->n, 4);
	if (l->n == 4) {
		CHECK_STR(l->disks[0].name, "nvme0n1");
		CHECK_STR(l->disks[1].name, "sda");
		CHECK_STR(l->disks[2].name, "sr0");
		CHECK_STR(l->disks[3].name, "vda");
	}
	lb_disks_free(l);
	l = scan("qemu", true);
	if (l)
		CHECK_INT(l->n, 8);
	lb_disks_free(l);
}

TEST(scan_qemu_fields)
{
	struct lb_disk_list *l = scan("qemu", false);
	const struct lb_disk *d;

	if (!l)
		return;
	if ((d = find_disk(l, "vda"))) {
		CHECK_STR(d->path, "/dev/vda");
		CHECK_STR(d->type, "disk");
		CHECK_INT(d->size, 41943040ull * 512);
		CHECK_STR(d->serial, "VDASERIAL01");
		CHECK_STR(d->vendor, NULL); /* virtio's 0x1af4 is an id, not a name */
		CHECK_STR(d->transport, "virtio");
		CHECK_STR(d->by_path, "pci-0000:00:04.0");
		CHECK(!d->rotational);
		CHECK(!d->probed);
		CHECK_INT(d->n_parts, 2);
		if (d->n_parts == 2) {
			CHECK_INT(d->parts[0].number, 1);
			CHECK_INT(d->parts[0].start, 2048ull * 512);
			CHECK_INT(d->parts[0].size, 1048576ull * 512);
			CHECK_STR(d->parts[0].by_path, "pci-0000:00:04.0-part1");
			CHECK_INT(d->parts[0].usage.mountpoints.n, 1);
			if (d->parts[0].usage.mountpoints.n)
				CHECK_STR(d->parts[0].usage.mountpoints.v[0], "/boot");
			CHECK_INT(d->parts[1].usage.holders.n, 1);
			if (d->parts[1].usage.holders.n)
				CHECK_STR(d->parts[1].usage.holders.v[0], "dm-0");
			CHECK_STR(d->parts[1].probe.fs_type, NULL);
		}
		CHECK(lb_disk_in_use(d));
		CHECK(!lb_usage_any(&d->usage));
	}
	if ((d = find_disk(l, "nvme0n1"))) {
		CHECK_STR(d->model, "QEMU NVMe Ctrl");
		CHECK_STR(d->serial, "deadbeef0001");
		CHECK_STR(d->wwn, "eui.0011223344556677");
		CHECK_INT(d->physical_sector_size, 4096);
		CHECK_INT(d->usage.mountpoints.n, 2);
		if (d->usage.mountpoints.n == 2) {
			CHECK_STR(d->usage.mountpoints.v[0], "/mnt/my data");
			CHECK_STR(d->usage.mountpoints.v[1], "/srv");
		}
	}
	if ((d = find_disk(l, "sda"))) {
		CHECK_STR(d->model, "QEMU HARDDISK");
		CHECK_STR(d->vendor, "ATA");
		CHECK_STR(d->serial, "QM00001");
		CHECK_STR(d->wwn, NULL); /* a t10 vendor id is no WWN */
		CHECK_STR(d->transport, "sata");
		CHECK(d->rotational);
		CHECK(d->n_parts == 1 && d->parts[0].usage.swap);
		CHECK(lb_disk_in_use(d));
	}
	if ((d = find_disk(l, "sr0"))) {
		CHECK_STR(d->type, "rom");
		CHECK(d->read_only);
		CHECK(d->removable);
		CHECK_INT(d->logical_sector_size, 2048);
		CHECK(!lb_disk_in_use(d));
	}
	lb_disks_free(l);
}

TEST(scan_server_fields)
{
	struct lb_disk_list *l = scan("server", false);
	const struct lb_disk *d;

	if (!l)
		return;
	CHECK_INT(l->n, 3); /* md127 hidden */
	if ((d = find_disk(l, "sdb"))) {
		CHECK_STR(d->vendor, "SEAGATE");
		CHECK_STR(d->serial, "ZA1B2C3D");
		CHECK_STR(d->wwn, "0x5000c500a1b2c3d4");
		CHECK_STR(d->transport, "sas");
		CHECK_INT(d->size, 7814037168ull * 512);
		CHECK(d->n_parts == 1 && d->parts[0].usage.holders.n == 1);
	}
	if ((d = find_disk(l, "sdc"))) {
		CHECK_STR(d->serial, "4C530001234567891234"); /* from the USB device */
		CHECK_STR(d->transport, "usb");
		CHECK(d->removable);
		CHECK(d->n_parts == 1 && d->parts[0].usage.mountpoints.n == 1);
	}
	if ((d = find_disk(l, "nvme0n1"))) {
		CHECK_STR(d->model, "SAMSUNG MZQL21T9HCJR-00A07");
		CHECK_STR(d->serial, "S64GNE0R123456");
		CHECK_STR(d->by_path, "pci-0000:3d:00.0-nvme-1");
		CHECK(!lb_disk_in_use(d));
	}
	lb_disks_free(l);
}

TEST(scan_loop_and_proc_mounts_fallback)
{
	struct lb_disk_list *l = scan("loop", false);
	const struct lb_disk *d;

	if (!l)
		return;
	CHECK_INT(l->n, 1); /* loop1 is unbound */
	if ((d = find_disk(l, "loop0"))) {
		CHECK_STR(d->type, "loop");
		CHECK_STR(d->transport, "loop");
		CHECK_STR(d->by_path, NULL);
		CHECK_STR(d->backing_file, "/var/tmp/disk image.img");
		CHECK(d->n_parts == 1 && d->parts[0].usage.mountpoints.n == 1);
		if (d->n_parts == 1 && d->parts[0].usage.mountpoints.n == 1)
			CHECK_STR(d->parts[0].usage.mountpoints.v[0], "/mnt/loop");
	}
	lb_disks_free(l);
}

int main(void)
{
	RUN(vpd80_decodes_and_trims);
	RUN(vpd80_rejects_malformed);
	RUN(vpd80_control_bytes_become_spaces);
	RUN(vpd83_prefers_lu_naa);
	RUN(wwid_to_wwn);
	RUN(transport_from_devpath);
	RUN(path_id_virtio);
	RUN(path_id_nvme);
	RUN(path_id_nvme_native_multipath);
	RUN(path_id_ata);
	RUN(path_id_sas);
	RUN(path_id_usb);
	RUN(path_id_virtual_has_none);
	RUN(mountinfo_parse);
	RUN(proc_mounts_parse);
	RUN(swaps_parse);
	RUN(json_escaping);
	RUN(json_writer_structure);
	RUN(json_writer_detects_unbalanced);
	RUN(scan_qemu_lists_and_filters);
	RUN(scan_qemu_fields);
	RUN(scan_server_fields);
	RUN(scan_loop_and_proc_mounts_fallback);
	return tap_done();
}
