/* The deploy config (config.c), which may be fetched over the network, and
 * the root-device hints it carries (hints.c), matched against a disk. The
 * first byte says whether the source may hold credentials. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "disk.h"
#include "fuzz.h"
#include "hints.h"

FUZZ_QUIET_LOG()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_config c = { 0 };
	struct lb_disk d = {
		.name = "sda", .path = "/dev/sda", .type = "disk", .size = 1ull << 40,
		.logical_sector_size = 512, .physical_sector_size = 4096, .model = "SAMSUNG MZ7LH960",
		.vendor = "ATA", .serial = "S45NNA0M123", .wwn = "0x5002538e00000001",
		.by_path = "pci-0000:00:17.0-ata-1", .transport = "sata", .rotational = false,
	};
	char *buf, why[300];

	if (size < 1 || size > LB_CONFIG_MAX)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	if (lb_config_parse(&c, buf, "fuzz", data[0] & 1, "is readable by others") == 0) {
		FUZZ_ASSERT((data[0] & 1) || !lb_config_get(&c, "secret_access_key"));
		for (size_t i = 0; i < c.disks.n; i++) {
			int r = lb_hints_match(c.disks.values[i], &d, why, sizeof(why));

			FUZZ_ASSERT(r == 0 || r == 1 || r < 0);
			FUZZ_ASSERT(memchr(why, 0, sizeof(why)) || r != 0);
		}
	}
	lb_config_clear(&c);
	free(buf);
	return 0;
}
