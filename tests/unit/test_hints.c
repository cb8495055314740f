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

int main(void)
{
	RUN(strings);
	RUN(sizes_and_flags);
	RUN(why);
	RUN(refusals);
	return tap_done();
}
