/* The disk image readers (diskimg.c, qcow2.c, vmdk.c, vhd.c) and the
 * deflate decoder (inflate.c) against hand-made images: valid ones read
 * right, and hostile headers and tables (sizes, offsets and alignments out
 * of bounds, unknown features, a backing file, bad checksums, broken
 * deflate streams) are refused with the right error, never read out of
 * bounds (ASan) or looped on. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#include "chunk.h"
#include "diskimg.h"
#include "gpt.h"
#include "inflate.h"

static char dir[] = "/tmp/lb-diskimg-XXXXXX";

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static const char *save(const char *name, const void *buf, size_t len)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		abort();
	close(fd);
	return path;
}

/* Open buf as a file: the open's result, and the handle in *ret (NULL on failure). */
static int try_open(const void *buf, size_t len, struct lb_diskimg **ret)
{
	*ret = NULL;
	return lb_diskimg_open(save("img", buf, len), ret);
}

static int open_status(const void *buf, size_t len)
{
	struct lb_diskimg *img;
	int r = try_open(buf, len, &img);

	lb_diskimg_close(img);
	return r;
}

/* ---- inflate ---- */

static int unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return (int)n;
}

TEST(inflate_vectors)
{
	uint8_t in[1024], out[2048];
	size_t n = 0;
	int len;

	/* a stored block */
	static const uint8_t stored[] = { 0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e', 'l', 'l', 'o' };
	CHECK_INT(lb_inflate(stored, sizeof(stored), out, sizeof(out), &n), 0);
	CHECK_INT(n, 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	/* fixed Huffman with back references (zlib -15, level 9) */
	len = unhex("cb48cdc9c957c8402701", in);
	CHECK_INT(lb_inflate(in, (size_t)len, out, sizeof(out), &n), 0);
	CHECK_INT(n, 23);
	CHECK(memcmp(out, "hello hello hello hello", 23) == 0);
	/* a distance of 1, overlapping its own output: 300 x 'a' */
	len = unhex("4b4c1c05c40200", in);
	CHECK_INT(lb_inflate(in, (size_t)len, out, sizeof(out), &n), 0);
	CHECK_INT(n, 300);
	CHECK(out[0] == 'a' && out[299] == 'a');
	/* dynamic Huffman: 1287 bytes of words; CRC-32 from Python's zlib */
	len = unhex("8554d112c2200cfb95fd1a53749ecced26febf775458d2b0f9345a481a1abaf4b8c5710979b887790ec316df79d9e22fba4c9fd7b"
		    "3e538aadf5409425aa70ab9c694eb7a8c79e7b54325654b2b24e72de1b85b08f84a0c28a32c0963444d9206458dbf2d00033505"
		    "08c27d6c624052e3f68ddce18777d296ed203d811eead55c4bbd9a733a94c008d0ccdbe239fb87ec067402710bcbbb0386420612"
		    "d07b42e09616493c1f2e3cd1cb53836dc3b5ca0533d534e8319a72308bbd9196e1e834a9ff16e0c1f134bb8bbbe1815b89cc7f4f"
		    "0a4ab24cfdd720954e12dbced614fc17",
		    in);
	CHECK_INT(lb_inflate(in, (size_t)len, out, sizeof(out), &n), 0);
	CHECK_INT(n, 1287);
	CHECK(lb_crc32(out, n) == 2117789874u);
	/* a full output stops the stream (qemu's compressed clusters) */
	CHECK_INT(lb_inflate(in, (size_t)len, out, 100, &n), 0);
	CHECK_INT(n, 100);
}

TEST(inflate_hostile)
{
	uint8_t in[1024], out[2048], junk[512];
	size_t n = 0;
	int len;

	/* a length/distance pair before any output: too far back */
	static const uint8_t far[] = { 0x03, 0x02, 0x00 };
	CHECK_INT(lb_inflate(far, sizeof(far), out, sizeof(out), &n), -EBADMSG);
	/* block type 3 */
	static const uint8_t type3[] = { 0x07 };
	CHECK_INT(lb_inflate(type3, sizeof(type3), out, sizeof(out), &n), -EBADMSG);
	/* a stored block whose NLEN does not match */
	static const uint8_t nlen[] = { 0x01, 0x05, 0x00, 0xfa, 0xfe, 'h', 'e', 'l', 'l', 'o' };
	CHECK_INT(lb_inflate(nlen, sizeof(nlen), out, sizeof(out), &n), -EBADMSG);
	/* a stored block longer than the input */
	static const uint8_t cut[] = { 0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e' };
	CHECK_INT(lb_inflate(cut, sizeof(cut), out, sizeof(out), &n), -EBADMSG);
	CHECK_INT(lb_inflate(NULL, 0, out, sizeof(out), &n), -EBADMSG);
	/* every prefix of a dynamic stream: an error, or (past the last
	 * symbol) the whole output */
	len = unhex("8554d112c2200cfb95fd1a53749ecced26febf775458d2b0f9345a481a1abaf4b8c5710979b887790ec316df79d9e22fba4c9fd7b"
		    "3e538aadf5409425aa70ab9c694eb7a8c79e7b54325654b2b24e72de1b85b08f84a0c28a32c0963444d9206458dbf2d00033505"
		    "08c27d6c624052e3f68ddce18777d296ed203d811eead55c4bbd9a733a94c008d0ccdbe239fb87ec067402710bcbbb0386420612"
		    "d07b42e09616493c1f2e3cd1cb53836dc3b5ca0533d534e8319a72308bbd9196e1e834a9ff16e0c1f134bb8bbbe1815b89cc7f4f"
		    "0a4ab24cfdd720954e12dbced614fc17",
		    in);
	for (int k = 0; k < len; k++) {
		int r = lb_inflate(in, (size_t)k, out, 1287, &n);

		CHECK(r == -EBADMSG || (r == 0 && n == 1287));
	}
	/* random bytes and single-bit flips: never out of bounds, never a hang */
	srand(7);
	for (int k = 0; k < 20000; k++) {
		size_t jl = (size_t)(rand() % (int)sizeof(junk)) + 1;
		int r;

		for (size_t i = 0; i < jl; i++)
			junk[i] = (uint8_t)rand();
		r = lb_inflate(junk, jl, out, 1 + (size_t)(rand() % (int)sizeof(out)), &n);
		CHECK(r == -EBADMSG || r == 0);
	}
	for (int bit = 0; bit < len * 8; bit++) {
		int r;

		in[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		r = lb_inflate(in, (size_t)len, out, sizeof(out), &n);
		CHECK(r == -EBADMSG || (r == 0 && n <= sizeof(out)));
		in[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
}

/* ---- qcow2 ---- */

#define CL 65536u

/* A 1 MiB disk, 64 KiB clusters: header, L1 at cluster 1, L2 at cluster
 * 2, data at cluster 3 (guest cluster 0: 0xab bytes), guest cluster 1
 * compressed (deflate stored blocks of 0xcd) at cluster 4. */
static uint8_t *qcow2_image(size_t *ret_len, int version)
{
	uint8_t *p = calloc(1, 6 * CL), *c;

	memcpy(p, "QFI\xfb", 4);
	put_be(p + 4, (uint64_t)version, 4);
	put_be(p + 20, 16, 4);          /* cluster_bits */
	put_be(p + 24, 1 << 20, 8);     /* size */
	put_be(p + 36, 1, 4);           /* l1_size */
	put_be(p + 40, CL, 8);          /* l1_table_offset */
	if (version == 3) {
		put_be(p + 96, 4, 4);   /* refcount_order */
		put_be(p + 100, 104, 4); /* header_length */
	}
	put_be(p + CL, 2 * CL | 1ull << 63, 8);            /* L1[0] -> L2 */
	put_be(p + 2 * CL, 3 * CL | 1ull << 63, 8);        /* L2[0] -> data */
	memset(p + 3 * CL, 0xab, CL);
	/* L2[1]: compressed at 4*CL; 65536 bytes as two stored blocks */
	c = p + 4 * CL;
	c[0] = 0x00, put_le(c + 1, 65535, 2), put_le(c + 3, 0, 2), memset(c + 5, 0xcd, 65535);
	c[5 + 65535] = 0x01, put_le(c + 65541, 1, 2), put_le(c + 65543, 0xfffe, 2), c[65545] = 0xcd;
	{
		uint64_t csize = 65546, nsec = (csize + 511) / 512 - 1, x = 62 - (16 - 8);

		put_be(p + 2 * CL + 8, 1ull << 62 | nsec << x | 4 * CL, 8);
	}
	/* the file ends with the compressed cluster, mid-sector */
	*ret_len = 4 * CL + 65546;
	return p;
}

TEST(qcow2_valid)
{
	size_t len;
	uint8_t *img = qcow2_image(&len, 3), buf[200000];
	struct lb_diskimg *d;

	CHECK_INT(try_open(img, len, &d), 0);
	if (d) {
		CHECK_INT(lb_diskimg_format(d), LB_DISKIMG_QCOW2);
		CHECK_INT(lb_diskimg_size(d), 1 << 20);
		CHECK_INT(lb_diskimg_read(d, 0, buf, 3 * CL), 0);
		CHECK(buf[0] == 0xab && buf[CL - 1] == 0xab);
		CHECK(buf[CL] == 0xcd && buf[2 * CL - 1] == 0xcd);
		CHECK(buf[2 * CL] == 0 && buf[3 * CL - 1] == 0);
		CHECK_INT(lb_diskimg_allocated(d, 0, CL), 1);
		CHECK_INT(lb_diskimg_allocated(d, CL, CL), 1);
		CHECK_INT(lb_diskimg_allocated(d, 2 * CL, 14 * CL), 0);
		CHECK_INT(lb_diskimg_read(d, (1 << 20) - 10, buf, 20), -EINVAL);
	}
	lb_diskimg_close(d);
	free(img);
	img = qcow2_image(&len, 2);
	CHECK_INT(open_status(img, len), 0);
	free(img);
}

/* Mutate a valid image's header (at off, n bytes big-endian) and expect
 * the open to give want. */
static void qcow2_mutant(uint64_t off, int n, uint64_t v, int want, const char *what)
{
	size_t len;
	uint8_t *img = qcow2_image(&len, 3);
	int r;

	put_be(img + off, v, n);
	r = open_status(img, len);
	if (r != want)
		printf("#   %s: open gave %d, want %d\n", what, r, want), tap_case_failed = 1;
	free(img);
}

TEST(qcow2_hostile_headers)
{
	qcow2_mutant(4, 4, 1, -EBADMSG, "version 1");
	qcow2_mutant(4, 4, 4, -EBADMSG, "version 4");
	qcow2_mutant(20, 4, 8, -EBADMSG, "cluster_bits 8");
	qcow2_mutant(20, 4, 22, -EBADMSG, "cluster_bits 22");
	qcow2_mutant(20, 4, 0xffffffff, -EBADMSG, "cluster_bits 2^32-1");
	qcow2_mutant(24, 8, 0, -EBADMSG, "size 0");
	qcow2_mutant(24, 8, 1ull << 60, -EBADMSG, "size 2^60");
	qcow2_mutant(24, 8, 1ull << 40, -EBADMSG, "size 1 TiB with a one-entry L1");
	qcow2_mutant(36, 4, 0, -EBADMSG, "l1_size 0");
	qcow2_mutant(40, 8, CL + 8, -EBADMSG, "unaligned L1");
	qcow2_mutant(40, 8, 1ull << 50, -EBADMSG, "L1 past the end of the file");
	qcow2_mutant(40, 8, 0xfffffffffff0000ull, -EBADMSG, "L1 offset near 2^64");
	qcow2_mutant(8, 8, 200, -ENOTSUP, "a backing file");
	qcow2_mutant(32, 4, 1, -ENOTSUP, "encrypted");
	qcow2_mutant(72, 8, 1ull << 2, -ENOTSUP, "external data file");
	qcow2_mutant(72, 8, 1ull << 4, -ENOTSUP, "extended L2");
	qcow2_mutant(72, 8, 1ull << 1, -EBADMSG, "marked corrupt");
	qcow2_mutant(72, 8, 1ull << 9, -EBADMSG, "unknown incompatible feature");
	qcow2_mutant(72, 8, 1ull << 0, 0, "dirty is fine");
	qcow2_mutant(100, 4, 50, -EBADMSG, "header_length 50");
	qcow2_mutant(100, 4, 1u << 30, -EBADMSG, "header_length 1 GiB");
	/* compression type 7 */
	{
		size_t len;
		uint8_t *img = qcow2_image(&len, 3);

		put_be(img + 72, 1ull << 3, 8);
		put_be(img + 100, 112, 4);
		img[104] = 7;
		CHECK_INT(open_status(img, len), -EBADMSG);
		free(img);
	}
	/* a file cut short: the L1 table is not in it */
	{
		size_t len;
		uint8_t *img = qcow2_image(&len, 3);

		CHECK_INT(open_status(img, 600), -EBADMSG);
		free(img);
	}
}

/* Mutate a table entry; the open works, reading guest cluster g gives want. */
static void qcow2_table_mutant(uint64_t off, uint64_t v, uint64_t g, int want, const char *what)
{
	size_t len;
	uint8_t *img = qcow2_image(&len, 3), buf[CL];
	struct lb_diskimg *d;
	int r;

	put_be(img + off, v, 8);
	r = try_open(img, len, &d);
	if (r == 0)
		r = lb_diskimg_read(d, g * CL, buf, CL);
	if (r != want)
		printf("#   %s: read gave %d, want %d\n", what, r, want), tap_case_failed = 1;
	lb_diskimg_close(d);
	free(img);
}

TEST(qcow2_hostile_tables)
{
	qcow2_table_mutant(CL, 2 * CL + 512, 0, -EBADMSG, "unaligned L2");
	qcow2_table_mutant(CL, 1ull << 40, 0, -EBADMSG, "L2 past the end");
	qcow2_table_mutant(2 * CL, 3 * CL + 512, 0, -EBADMSG, "unaligned data cluster");
	qcow2_table_mutant(2 * CL, 1ull << 40, 0, -EBADMSG, "data past the end");
	qcow2_table_mutant(2 * CL, 3 * CL | 1ull << 58, 0, -EBADMSG, "reserved L2 bits");
	qcow2_table_mutant(2 * CL, 1, 0, 0, "the zero flag (v3) reads zeros");
	qcow2_table_mutant(2 * CL + 8, 1ull << 62 | 1ull << 50, 1, -EBADMSG, "compressed past the end");
	qcow2_table_mutant(2 * CL + 8, 1ull << 62 | 3 * CL, 1, -EBADMSG, "compressed: not deflate");
	/* a compressed cluster that inflates to less than a cluster */
	{
		size_t len;
		uint8_t *img = qcow2_image(&len, 3), buf[CL];
		struct lb_diskimg *d;

		img[4 * CL] = 0x01; /* the first block is final: 65535 bytes */
		CHECK_INT(try_open(img, len, &d), 0);
		if (d)
			CHECK_INT(lb_diskimg_read(d, CL, buf, CL), -EBADMSG);
		lb_diskimg_close(d);
		free(img);
	}
	/* zstd compression type */
	{
		size_t len, zl = 0;
		uint8_t *img = qcow2_image(&len, 3), buf[CL], raw[CL];
		void *z = malloc(lb_chunk_stored_max(CL));
		struct lb_diskimg *d;

		memset(raw, 0x5a, sizeof(raw));
		CHECK_INT(lb_chunk_compress(NULL, raw, sizeof(raw), 3, z, lb_chunk_stored_max(CL), &zl), 0);
		put_be(img + 72, 1ull << 3, 8);
		put_be(img + 100, 112, 4);
		img[104] = 1;
		memcpy(img + 4 * CL, z, zl);
		put_be(img + 2 * CL + 8, 1ull << 62 | ((zl + 511) / 512 - 1) << 54 | 4 * CL, 8);
		CHECK_INT(try_open(img, len, &d), 0);
		if (d) {
			CHECK_INT(lb_diskimg_read(d, CL, buf, CL), 0);
			CHECK(memcmp(buf, raw, CL) == 0);
		}
		lb_diskimg_close(d);
		free(z);
		free(img);
	}
}

/* ---- VMDK ---- */

/* A 1 MiB monolithicSparse disk: grains of 64 KiB (128 sectors), 512
 * entries per grain table; descriptor at sector 1, GD at sector 21, GT at
 * sector 22, grain 0 at sector 128 (0x11 bytes). */
static uint8_t *vmdk_image(size_t *ret_len, const char *descriptor)
{
	size_t len = 128 * 512 + CL;
	uint8_t *p = calloc(1, len);

	memcpy(p, "KDMV", 4);
	put_le(p + 4, 1, 4);
	put_le(p + 8, 3, 4);          /* flags */
	put_le(p + 12, 2048, 8);      /* capacity */
	put_le(p + 20, 128, 8);       /* grain */
	put_le(p + 28, 1, 8);         /* descriptor offset */
	put_le(p + 36, 20, 8);        /* descriptor size */
	put_le(p + 44, 512, 4);       /* GTEs per GT */
	put_le(p + 56, 21, 8);        /* GD */
	memcpy(p + 512, descriptor, strlen(descriptor));
	put_le(p + 21 * 512, 22, 4);  /* GD[0] -> GT */
	put_le(p + 22 * 512, 128, 4); /* GT[0] -> grain 0 */
	memset(p + 128 * 512, 0x11, CL);
	*ret_len = len;
	return p;
}

static const char vmdk_desc[] = "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
				"createType=\"monolithicSparse\"\n\nRW 2048 SPARSE \"x.vmdk\"\n";

static void vmdk_mutant(uint64_t off, int n, uint64_t v, int want, const char *what)
{
	size_t len;
	uint8_t *img = vmdk_image(&len, vmdk_desc);
	int r;

	put_le(img + off, v, n);
	r = open_status(img, len);
	if (r != want)
		printf("#   %s: open gave %d, want %d\n", what, r, want), tap_case_failed = 1;
	free(img);
}

TEST(vmdk)
{
	size_t len;
	uint8_t *img = vmdk_image(&len, vmdk_desc), buf[2 * CL];
	struct lb_diskimg *d;

	CHECK_INT(try_open(img, len, &d), 0);
	if (d) {
		CHECK_INT(lb_diskimg_format(d), LB_DISKIMG_VMDK);
		CHECK_INT(lb_diskimg_size(d), 1 << 20);
		CHECK_INT(lb_diskimg_read(d, 0, buf, 2 * CL), 0);
		CHECK(buf[0] == 0x11 && buf[CL - 1] == 0x11 && buf[CL] == 0 && buf[2 * CL - 1] == 0);
		CHECK_INT(lb_diskimg_allocated(d, CL, 15 * CL), 0);
	}
	lb_diskimg_close(d);
	/* a grain table past the end of the file: the read fails */
	put_le(img + 21 * 512, 1u << 30, 4);
	CHECK_INT(try_open(img, len, &d), 0);
	if (d)
		CHECK_INT(lb_diskimg_read(d, 0, buf, 512), -EBADMSG);
	lb_diskimg_close(d);
	free(img);
	vmdk_mutant(4, 4, 7, -EBADMSG, "version 7");
	vmdk_mutant(12, 8, 0, -EBADMSG, "capacity 0");
	vmdk_mutant(12, 8, 1ull << 62, -EBADMSG, "capacity 2^62");
	vmdk_mutant(20, 8, 100, -EBADMSG, "grain not a power of two");
	vmdk_mutant(20, 8, 1ull << 40, -EBADMSG, "grain 2^40");
	vmdk_mutant(44, 4, 7, -EBADMSG, "7 entries per grain table");
	vmdk_mutant(56, 8, 1ull << 40, -EBADMSG, "GD past the end");
	vmdk_mutant(12, 8, 1ull << 46, -EBADMSG, "a GD too large for the file");
	vmdk_mutant(8, 4, 1u << 16, -ENOTSUP, "compressed grains");
	vmdk_mutant(56, 8, UINT64_MAX, -ENOTSUP, "GD at the end (streamOptimized)");
	vmdk_mutant(28, 8, 0, -ENOTSUP, "no embedded descriptor");
	vmdk_mutant(36, 8, 1ull << 40, -ENOTSUP, "descriptor size 2^40");
	img = vmdk_image(&len, "# Disk DescriptorFile\nparentCID=0badcafe\nparentFileNameHint=\"base.vmdk\"\n"
			       "createType=\"monolithicSparse\"\n");
	CHECK_INT(open_status(img, len), -ENOTSUP);
	free(img);
	img = vmdk_image(&len, "# Disk DescriptorFile\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentSparse\"\n");
	CHECK_INT(open_status(img, len), -ENOTSUP);
	free(img);
}

/* ---- VHD ---- */

static void vhd_footer(uint8_t *f, uint32_t type, uint64_t size, uint64_t data_off, const char *creator)
{
	uint32_t sum = 0;

	memset(f, 0, 512);
	memcpy(f, "conectix", 8);
	put_be(f + 8, 2, 4);
	put_be(f + 12, 0x00010000, 4);
	put_be(f + 16, data_off, 8);
	memcpy(f + 28, creator, 4);
	put_be(f + 40, size, 8);
	put_be(f + 48, size, 8);
	put_be(f + 56, 0xffff10ffu, 4); /* the maximum geometry: the size counts */
	put_be(f + 60, type, 4);
	for (int i = 0; i < 512; i++)
		sum += f[i];
	put_be(f + 64, ~sum, 4);
}

static void vhd_dyn_header(uint8_t *h, uint64_t bat_off, uint32_t entries, uint32_t block)
{
	uint32_t sum = 0;

	memset(h, 0, 1024);
	memcpy(h, "cxsparse", 8);
	put_be(h + 8, UINT64_MAX, 8);
	put_be(h + 16, bat_off, 8);
	put_be(h + 24, 0x00010000, 4);
	put_be(h + 28, entries, 4);
	put_be(h + 32, block, 4);
	for (int i = 0; i < 1024; i++)
		sum += h[i];
	put_be(h + 36, ~sum, 4);
}

/* A dynamic 1 MiB disk of 512 KiB blocks: footer copy, header at 512,
 * BAT at 1536 (2 entries), block 0 at sector 4: bitmap (1 sector: 1024
 * bits) with sectors 0-7 set, then data of 0x77. */
static uint8_t *vhd_dynamic(size_t *ret_len)
{
	size_t len = 2048 + 512 + 512 * 1024 + 512;
	uint8_t *p = calloc(1, len);

	vhd_footer(p, 3, 1 << 20, 512, "win ");
	vhd_dyn_header(p + 512, 1536, 2, 512 * 1024);
	put_be(p + 1536, 4, 4);
	put_be(p + 1540, 0xffffffffu, 4);
	p[2048] = 0xff; /* sectors 0-7 present */
	memset(p + 2560, 0x77, 512 * 1024);
	memcpy(p + len - 512, p, 512);
	*ret_len = len;
	return p;
}

TEST(vhd)
{
	uint8_t *p, buf[8192];
	size_t len;
	struct lb_diskimg *d;

	/* fixed: data then footer */
	len = (1 << 20) + 512;
	p = calloc(1, len);
	memset(p, 0x42, 1 << 20);
	vhd_footer(p + (1 << 20), 2, 1 << 20, UINT64_MAX, "win ");
	CHECK_INT(try_open(p, len, &d), 0);
	if (d) {
		CHECK_INT(lb_diskimg_format(d), LB_DISKIMG_VHD);
		CHECK_INT(lb_diskimg_size(d), 1 << 20);
		CHECK_INT(lb_diskimg_read(d, (1 << 20) - 512, buf, 512), 0);
		CHECK(buf[511] == 0x42);
	}
	lb_diskimg_close(d);
	p[(1 << 20) + 100] ^= 1; /* the checksum no longer holds */
	CHECK_INT(open_status(p, len), -EBADMSG);
	vhd_footer(p + (1 << 20), 2, 2 << 20, UINT64_MAX, "win "); /* larger than the file */
	CHECK_INT(open_status(p, len), -EBADMSG);
	vhd_footer(p + (1 << 20), 4, 1 << 20, 0, "win ");
	CHECK_INT(open_status(p, len), -ENOTSUP);
	vhd_footer(p + (1 << 20), 9, 1 << 20, 0, "win ");
	CHECK_INT(open_status(p, len), -EBADMSG);
	free(p);

	p = vhd_dynamic(&len);
	CHECK_INT(try_open(p, len, &d), 0);
	if (d) {
		CHECK_INT(lb_diskimg_read(d, 0, buf, 8192), 0);
		/* sectors 0-7 present, 8-15 not (the bitmap), block 1 unallocated */
		CHECK(buf[0] == 0x77 && buf[4095] == 0x77 && buf[4096] == 0 && buf[8191] == 0);
		CHECK_INT(lb_diskimg_allocated(d, 512 * 1024, 512 * 1024), 0);
		CHECK_INT(lb_diskimg_allocated(d, 0, 512), 1);
	}
	lb_diskimg_close(d);
	free(p);
	/* hostile dynamic headers */
	p = vhd_dynamic(&len);
	vhd_dyn_header(p + 512, 1536, 2, 3000);
	CHECK_INT(open_status(p, len), -EBADMSG);
	vhd_dyn_header(p + 512, 1536, 1, 512 * 1024); /* one block cannot hold 1 MiB */
	CHECK_INT(open_status(p, len), -EBADMSG);
	vhd_dyn_header(p + 512, 1ull << 40, 2, 512 * 1024);
	CHECK_INT(open_status(p, len), -EBADMSG);
	vhd_dyn_header(p + 512, 1536, 0x40000000u, 512); /* a 4 GiB BAT */
	CHECK_INT(open_status(p, len), -EBADMSG);
	vhd_dyn_header(p + 512, 1536, 2, 512 * 1024);
	p[512 + 200] ^= 1;
	CHECK_INT(open_status(p, len), -EBADMSG);
	vhd_dyn_header(p + 512, 1536, 2, 512 * 1024);
	put_be(p + 1536, 0x7fffffffu, 4); /* block 0 past the end */
	CHECK_INT(try_open(p, len, &d), 0);
	if (d)
		CHECK_INT(lb_diskimg_read(d, 0, buf, 512), -EBADMSG);
	lb_diskimg_close(d);
	vhd_footer(p, 3, 1 << 20, 1ull << 40, "win "); /* the header past the end */
	CHECK_INT(open_status(p, len), -EBADMSG);
	free(p);
}

TEST(detection)
{
	uint8_t p[8192] = { 0 };

	memcpy(p, "vhdxfile", 8);
	CHECK_INT(open_status(p, sizeof(p)), -ENOTSUP);
	memset(p, 0, sizeof(p));
	put_le(p + 0x40, 0xbeda107f, 4);
	CHECK_INT(open_status(p, sizeof(p)), -ENOTSUP);
	memcpy(p, "# Disk DescriptorFile\n", 22);
	CHECK_INT(open_status(p, sizeof(p)), -ENOTSUP);
	memcpy(p, "QED\0", 4);
	CHECK_INT(open_status(p, sizeof(p)), -ENOTSUP);
	/* anything else is a raw disk */
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)(i * 7);
	{
		struct lb_diskimg *d;

		CHECK_INT(try_open(p, sizeof(p), &d), 0);
		if (d) {
			CHECK_INT(lb_diskimg_format(d), LB_DISKIMG_RAW);
			CHECK_INT(lb_diskimg_size(d), sizeof(p));
			CHECK_INT(lb_diskimg_allocated(d, 0, 512), 1);
		}
		lb_diskimg_close(d);
	}
}

TEST(pttype_probe)
{
	uint8_t s[1024] = { 0 };
	char *t = NULL, *u = NULL;

	CHECK_INT(lb_gpt_probe(s, sizeof(s), 512, &t, &u), 0);
	CHECK(!t && !u);
	s[510] = 0x55, s[511] = 0xaa, s[446 + 4] = 0x83;
	put_le(s + 440, 0x1234abcd, 4);
	CHECK_INT(lb_gpt_probe(s, sizeof(s), 512, &t, &u), 0);
	CHECK_STR(t, "dos");
	CHECK_STR(u, "1234abcd");
	free(t), free(u);
	s[446] = 0x12; /* not a boot flag: a FAT boot sector, say */
	CHECK_INT(lb_gpt_probe(s, sizeof(s), 512, &t, &u), 0);
	CHECK(!t && !u);
	memset(s, 0, sizeof(s));
	memcpy(s + 512, "EFI PART", 8);
	put_le(s + 512 + 12, 92, 4);
	for (int i = 0; i < 16; i++)
		s[512 + 56 + i] = (uint8_t)(0x10 + i);
	put_le(s + 512 + 16, lb_crc32(s + 512, 92), 4);
	CHECK_INT(lb_gpt_probe(s, sizeof(s), 512, &t, &u), 0);
	CHECK_STR(t, "gpt");
	CHECK_STR(u, "13121110-1514-1716-1819-1a1b1c1d1e1f");
	free(t), free(u);
	s[512 + 60] ^= 1; /* the CRC fails */
	CHECK_INT(lb_gpt_probe(s, sizeof(s), 512, &t, &u), 0);
	CHECK(!t && !u);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(inflate_vectors);
	RUN(inflate_hostile);
	RUN(qcow2_valid);
	RUN(qcow2_hostile_headers);
	RUN(qcow2_hostile_tables);
	RUN(vmdk);
	RUN(vhd);
	RUN(detection);
	RUN(pttype_probe);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
