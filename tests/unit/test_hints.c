/* Root-device hints (recovery/hints.c) against synthetic disks. */
#include <string.h>

#include "hints.h"
#include "tap.h"

static struct lb_disk nvme = { .name = "nvme0n1", .path = "/dev/nvme0n1", .type = "disk", .size = 512ull << 30,
			       .model = "SAMSUNG MZQL2960HCJR", .serial = "S64FNE0R123", .transport = "nvme",
			       .by_path = "pci-0000:03:00.0-nvme-1", .rotational = false };
static struct lb_disk sata = { .name = "sda", .path = "/dev/sda", .type = "disk", .size = 4ull << 40,
			       .model = "ST4000NM000A", .vendor = "ATA", .serial = "ZC1A2B3C", .transport = "sata",
			       .rotational = true };

static int m(const char *e, struct lb_disk *d)
{
	char why[128];

	return lb_hints_match(e, d, why, sizeof(why));
}

TEST(strings)
{
	CHECK_INT(m("serial=S64FNE0R123", &nvme), 1);
	CHECK_INT(m("serial=S64FNE0R123", &sata), 0);
	CHECK_INT(m("serial!=S64FNE0R123", &sata), 1);
	CHECK_INT(m("model=SAMSUNG*", &nvme), 1);
	CHECK_INT(m("model=SAMSUNG", &nvme), 0);
	CHECK_INT(m("wwn=x", &nvme), 0); /* absent never equals */
	CHECK_INT(m("by_path=pci-0000:03:00.0-nvme-1", &nvme), 1);
	CHECK_INT(m("name=sda,transport=sata", &sata), 1);
}

TEST(sizes_and_flags)
{
	CHECK_INT(m("size>=100G", &nvme), 1);
	CHECK_INT(m("size>=1T", &nvme), 0);
	CHECK_INT(m("size=4T", &sata), 1);
	CHECK_INT(m("size<1T,rotational=0", &nvme), 1);
	CHECK_INT(m("size<1T,rotational=0", &sata), 0);
	CHECK_INT(m("rotational=true", &sata), 1);
	CHECK_INT(m(" size > 511G , transport = nvme ", &nvme), 1);
}

TEST(why)
{
	char why[128];

	CHECK_INT(lb_hints_match("transport=nvme,size>=8T", &nvme, why, sizeof(why)), 0);
	CHECK_STR(why, "size>=8T");
}

TEST(refusals)
{
	CHECK_INT(m("serial", &nvme), -22);
	CHECK_INT(m("colour=red", &nvme), -22);
	CHECK_INT(m("size>=lots", &nvme), -22);
	CHECK_INT(m("serial>=A", &nvme), -22);
	CHECK_INT(m("rotational=maybe", &nvme), -22);
	CHECK_INT(m("=x", &nvme), -22);
}

/* Proposals for the console: by serial, WWN, slot, or the only disk that
 * fits; never by order. */
static struct lb_disk mk(const char *name, uint64_t size, const char *serial, const char *wwn, const char *by_path)
{
	struct lb_disk d = { .name = (char *)name, .path = (char *)name, .type = "disk", .size = size,
			     .logical_sector_size = 512, .serial = (char *)serial, .wwn = (char *)wwn,
			     .by_path = (char *)by_path };

	return d;
}

TEST(propose)
{
	struct lb_disk ds[4];
	struct lb_disk_list l = { .n = 4, .disks = ds };
	struct lb_manifest_disk src = { .name = "system", .size = 100ull << 30, .logical_sector_size = 512 };
	bool taken[4] = { false };
	char why[160];

	ds[0] = mk("sda", 50ull << 30, "S-SMALL", NULL, "pci-1-ata-1");
	ds[1] = mk("sdb", 200ull << 30, "S-B", "0x5000c500a1", "pci-1-ata-2");
	ds[2] = mk("sdc", 200ull << 30, "S-C", NULL, "pci-1-ata-3");
	ds[3] = mk("sdd", 200ull << 30, "S-D", NULL, NULL);

	/* three fit, nothing recorded: no proposal, and why says so */
	CHECK_INT(lb_hints_propose(&src, &l, NULL, why, sizeof(why)), -1);
	CHECK(strstr(why, "3 free disks") != NULL);
	/* the serial of the source disk wins */
	src.src_serial = "S-C";
	CHECK_INT(lb_hints_propose(&src, &l, NULL, why, sizeof(why)), 2);
	CHECK(strstr(why, "serial S-C") != NULL);
	/* ... but not when that disk is too small, or already taken */
	src.src_serial = "S-SMALL";
	CHECK_INT(lb_hints_propose(&src, &l, NULL, why, sizeof(why)), -1);
	src.src_serial = "S-C";
	taken[2] = true;
	CHECK_INT(lb_hints_propose(&src, &l, taken, why, sizeof(why)), -1);
	taken[2] = false;
	/* WWN, then the slot (a replaced drive in the same bay) */
	src.src_serial = "GONE";
	src.src_wwn = "0x5000c500a1";
	CHECK_INT(lb_hints_propose(&src, &l, NULL, why, sizeof(why)), 1);
	src.src_wwn = NULL;
	src.src_by_path = "pci-1-ata-3";
	CHECK_INT(lb_hints_propose(&src, &l, NULL, why, sizeof(why)), 2);
	CHECK(strstr(why, "by-path") != NULL);
	/* two disks with one serial (multipath): no proposal */
	src.src_by_path = NULL;
	ds[3].serial = "S-C";
	src.src_serial = "S-C";
	CHECK_INT(lb_hints_propose(&src, &l, NULL, why, sizeof(why)), -1);
	/* the only free disk large enough: in use and the boot medium do not count */
	src.src_serial = NULL;
	ds[1].boot_medium = true;
	ds[2].usage.swap = true;
	CHECK_INT(lb_hints_propose(&src, &l, NULL, why, sizeof(why)), 3);
	CHECK_STR(why, "the only free disk large enough");
	/* another sector size never fits */
	ds[3].logical_sector_size = 4096;
	CHECK_INT(lb_hints_propose(&src, &l, NULL, why, sizeof(why)), -1);
	CHECK_STR(why, "no free disk is large enough");
}

int main(void)
{
	RUN(strings);
	RUN(sizes_and_flags);
	RUN(why);
	RUN(refusals);
	RUN(propose);
	return tap_done();
}
