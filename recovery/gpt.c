/* Moving the backup GPT to the end of a larger disk (UEFI spec 2.10, 5.3).
 * The primary GPT was just restored and verified chunk by chunk; its CRCs
 * are still checked, so a disk that was not GPT after all is left alone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"
#include "util.h"

uint32_t lb_crc32(const void *data, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;

	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void header_crc(uint8_t *h, uint32_t hsize)
{
	put32(h + 16, 0);
	put32(h + 16, lb_crc32(h, hsize));
}

int lb_gpt_move_backup(struct lb_target *t, unsigned lss, uint64_t src_size)
{
	uint8_t *hdr = NULL, *bak = NULL, *ents = NULL, *mbr = NULL;
	uint64_t size = lb_target_size(t), last = size / lss - 1, src_last = src_size / lss - 1;
	uint64_t ent_lba, ent_sectors, new_ent_lba;
	uint32_t hsize, n, esize, crc;
	size_t ent_bytes;
	int r;

	if (size <= src_size)
		return 0;
	hdr = malloc(lss);
	bak = calloc(1, lss);
	mbr = malloc(lss);
	if (!hdr || !bak || !mbr) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = lb_target_read(t, lss, hdr, lss)) < 0)
		goto fail;
	hsize = le32(hdr + 12);
	if (memcmp(hdr, "EFI PART", 8) != 0 || hsize < 92 || hsize > lss) {
		r = 0; /* not GPT: nothing to move */
		goto fail;
	}
	crc = le32(hdr + 16);
	put32(hdr + 16, 0);
	if (lb_crc32(hdr, hsize) != crc || le64(hdr + 24) != 1) {
		lb_log("%s: the restored primary GPT header is not valid; its backup was not moved", lb_target_path(t));
		r = 0;
		goto fail;
	}
	ent_lba = le64(hdr + 72);
	n = le32(hdr + 80);
	esize = le32(hdr + 84);
	if (esize < 128 || esize > 4096 || n == 0 || n > 65536) {
		r = 0;
		goto fail;
	}
	ent_bytes = (size_t)n * esize;
	ent_sectors = (ent_bytes + lss - 1) / lss;
	/* The primary entries must lie between the header and the old backup,
	 * and the old backup must fit in the source disk; else this is no GPT
	 * we can reason about, and nothing is moved. */
	if (ent_lba < 2 || src_last < 2 * ent_sectors + 3 || ent_lba + ent_sectors > src_last - ent_sectors) {
		lb_log("%s: the restored GPT's entry array does not fit the disk; backup GPT not moved",
		       lb_target_path(t));
		r = 0;
		goto fail;
	}
	ents = calloc(1, ent_sectors * lss);
	if (!ents) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = lb_target_read(t, ent_lba * lss, ents, ent_bytes)) < 0)
		goto fail;
	if (lb_crc32(ents, ent_bytes) != le32(hdr + 88)) {
		lb_log("%s: the restored GPT entries do not match their CRC; backup not moved", lb_target_path(t));
		r = 0;
		goto fail;
	}
	new_ent_lba = last - ent_sectors;
	/* Primary: the backup is now at the end; the space up to it usable. */
	put64(hdr + 32, last);
	put64(hdr + 48, new_ent_lba - 1);
	header_crc(hdr, hsize);
	/* Backup: the same header seen from the other end. */
	memcpy(bak, hdr, hsize);
	put64(bak + 24, last);
	put64(bak + 32, 1);
	put64(bak + 72, new_ent_lba);
	header_crc(bak, hsize);
	/* The old backup, inside the disk now, must not be found later. */
	if ((r = lb_target_zero(t, (src_last - ent_sectors) * lss, (ent_sectors + 1) * lss)) < 0)
		goto fail;
	if ((r = lb_target_write(t, new_ent_lba * lss, ents, ent_sectors * lss)) < 0 ||
	    (r = lb_target_write(t, last * lss, bak, lss)) < 0 || (r = lb_target_write(t, lss, hdr, lss)) < 0)
		goto fail;
	/* Protective MBR: one 0xEE entry covering the disk (capped at 2^32-1). */
	if ((r = lb_target_read(t, 0, mbr, lss)) < 0)
		goto fail;
	if (mbr[510] == 0x55 && mbr[511] == 0xaa && mbr[446 + 4] == 0xee) {
		put32(mbr + 446 + 12, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
		if ((r = lb_target_write(t, 0, mbr, lss)) < 0)
			goto fail;
	}
	r = 1;
fail:
	free(hdr);
	free(bak);
	free(ents);
	free(mbr);
	return r;
}

int lb_gpt_probe(const uint8_t *buf, size_t len, unsigned lss, char **ret_pttype, char **ret_ptuuid)
{
	const uint8_t *h = buf + lss, *g;
	uint8_t copy[512];
	uint32_t hsize;

	*ret_pttype = *ret_ptuuid = NULL;
	if (len < 2 * (size_t)lss || lss < 512)
		return 0;
	hsize = le32(h + 12);
	if (memcmp(h, "EFI PART", 8) == 0 && hsize >= 92 && hsize <= sizeof(copy) && hsize <= lss) {
		memcpy(copy, h, hsize);
		put32(copy + 16, 0);
		if (lb_crc32(copy, hsize) == le32(h + 16)) {
			g = h + 56;
			*ret_pttype = strdup("gpt");
			*ret_ptuuid = lb_strdupf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
						 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10],
						 g[11], g[12], g[13], g[14], g[15]);
		}
	} else if (buf[510] == 0x55 && buf[511] == 0xaa) {
		int used = 0;

		/* A FAT boot sector ends the same way: an MBR's four entries
		 * have boot flags 0 or 0x80, and one at least has a type. */
		for (int i = 0; i < 4; i++) {
			const uint8_t *e = buf + 446 + 16 * i;

			if (e[0] != 0 && e[0] != 0x80)
				return 0;
			used += e[4] != 0;
		}
		if (!used)
			return 0;
		*ret_pttype = strdup("dos");
		*ret_ptuuid = lb_strdupf("%08x", le32(buf + 440));
	}
	if ((*ret_pttype && !*ret_ptuuid) || (!*ret_pttype && *ret_ptuuid)) {
		free(*ret_pttype);
		free(*ret_ptuuid);
		*ret_pttype = *ret_ptuuid = NULL;
		return -ENOMEM;
	}
	return 0;
}
