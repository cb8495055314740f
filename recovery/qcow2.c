/* qcow2 (QEMU's docs/interop/qcow2.txt, versions 2 and 3): the reader
 * behind diskimg.h, and the writer of qcow2.h.
 *
 * The reader follows the active L1 and L2 tables only: refcounts and
 * snapshots are not needed to read the disk. Compressed clusters are raw
 * deflate (inflate.c) or, with compression type 1, zstd. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunk.h"
#include "diskimg.h"
#include "inflate.h"
#include "qcow2.h"
#include "util.h"

#define L1E_OFFSET_MASK 0x00fffffffffffe00ull
#define L2E_OFFSET_MASK 0x00fffffffffffe00ull
#define OFLAG_COPIED (1ull << 63)
#define OFLAG_COMPRESSED (1ull << 62)
#define OFLAG_ZERO 1ull
#define L2E_RESERVED 0x3f000000000001feull /* bits 1-8 and 56-61 */
#define MIN_CLUSTER_BITS 9
#define MAX_CLUSTER_BITS 21

/* incompatible features */
#define INCOMPAT_DIRTY (1ull << 0)
#define INCOMPAT_CORRUPT (1ull << 1)
#define INCOMPAT_DATA_FILE (1ull << 2)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define INCOMPAT_EXTL2 (1ull << 4)

struct qcow2 {
	unsigned cluster_bits;
	uint64_t cluster_size, l2_entries;
	uint32_t version;
	uint64_t *l1; /* host order */
	uint64_t l1_size;
	uint8_t *l2;  /* one L2 table, as stored (big-endian) */
	uint64_t l2_at; /* its file offset, 0 = none */
	uint8_t *cbuf; /* a compressed cluster as stored */
	uint8_t *cluster; /* ... and decompressed */
	uint64_t cluster_at; /* the L2 entry it came from, 0 = none */
	int compression; /* 0 deflate, 1 zstd */
};

static void q_free(void *priv)
{
	struct qcow2 *q = priv;

	if (!q)
		return;
	free(q->l1);
	free(q->l2);
	free(q->cbuf);
	free(q->cluster);
	free(q);
}

/* The L2 entry of guest cluster g; 0 when its L2 table is unallocated. */
static int l2_entry(struct lb_diskimg *img, struct qcow2 *q, uint64_t g, uint64_t *ret)
{
	uint64_t i1 = g / q->l2_entries, l2off;
	int r;

	*ret = 0;
	if (i1 >= q->l1_size)
		return lb_diskimg_bad(img, "cluster %" PRIu64 " is beyond the L1 table", g);
	l2off = q->l1[i1] & L1E_OFFSET_MASK;
	if (!l2off)
		return 0;
	if (l2off & (q->cluster_size - 1))
		return lb_diskimg_bad(img, "L1 entry %" PRIu64 ": L2 table offset %#" PRIx64 " is not cluster-aligned", i1,
				      l2off);
	if (l2off >= img->file_size)
		return lb_diskimg_bad(img, "L1 entry %" PRIu64 ": L2 table at %#" PRIx64 " is past the end of the file",
				      i1, l2off);
	if (q->l2_at != l2off) {
		q->l2_at = 0;
		if ((r = lb_diskimg_pread(img, l2off, q->l2, q->cluster_size)) < 0)
			return r;
		q->l2_at = l2off;
	}
	*ret = lb_be64(q->l2 + 8 * (g % q->l2_entries));
	return 0;
}

static int decompress(struct lb_diskimg *img, struct qcow2 *q, uint64_t g, uint64_t e)
{
	unsigned x = 62 - (q->cluster_bits - 8);
	uint64_t coff = e & ((1ull << x) - 1);
	uint64_t nsec = ((e >> x) & ((1ull << (q->cluster_bits - 8)) - 1)) + 1;
	uint64_t csize = nsec * 512 - (coff & 511);
	size_t out = 0;
	char name[64];
	int r;

	if (q->cluster_at == e)
		return 0;
	q->cluster_at = 0;
	if (coff >= img->file_size)
		return lb_diskimg_bad(img, "compressed cluster %" PRIu64 " at %#" PRIx64 " is past the end of the file", g,
				      coff);
	/* The count runs to the end of its last sector, which may be past
	 * the end of the file: read what is there. csize is at most
	 * 2^(cluster_bits-8) sectors, so cbuf (cluster_size + 512) holds it. */
	if (csize > img->file_size - coff)
		csize = img->file_size - coff;
	if ((r = lb_diskimg_pread(img, coff, q->cbuf, csize)) < 0)
		return r;
	if (q->compression == 0) {
		r = lb_inflate(q->cbuf, csize, q->cluster, q->cluster_size, &out);
		if (r < 0)
			return lb_diskimg_bad(img, "compressed cluster %" PRIu64 " at %#" PRIx64 ": invalid deflate data", g,
					      coff);
	} else {
		snprintf(name, sizeof(name), "%s: qcow2 cluster %" PRIu64, img->path, g);
		if ((r = lb_zstd_decompress_bounded(q->cbuf, csize, q->cluster, q->cluster_size, name, &out)) < 0)
			return r;
	}
	if (out != q->cluster_size)
		return lb_diskimg_bad(img, "compressed cluster %" PRIu64 " holds %zu bytes, not %" PRIu64, g, out,
				      q->cluster_size);
	q->cluster_at = e;
	return 0;
}

/* What guest cluster g is: 0 zeros, 1 data at *ret_host, 2 compressed
 * (decompressed into q->cluster). */
static int locate(struct lb_diskimg *img, struct qcow2 *q, uint64_t g, uint64_t *ret_host)
{
	uint64_t e, host;
	int r = l2_entry(img, q, g, &e);

	if (r < 0)
		return r;
	if (e & OFLAG_COMPRESSED) {
		if ((r = decompress(img, q, g, e)) < 0)
			return r;
		return 2;
	}
	if (e & L2E_RESERVED)
		return lb_diskimg_bad(img, "cluster %" PRIu64 ": L2 entry %#" PRIx64 " sets reserved bits", g, e);
	host = e & L2E_OFFSET_MASK;
	if ((e & OFLAG_ZERO) && q->version >= 3)
		return 0;
	if (!host)
		return 0; /* unallocated, and there is no backing file */
	if (host & (q->cluster_size - 1))
		return lb_diskimg_bad(img, "cluster %" PRIu64 ": data offset %#" PRIx64 " is not cluster-aligned", g, host);
	if (host >= img->file_size)
		return lb_diskimg_bad(img, "cluster %" PRIu64 ": data at %#" PRIx64 " is past the end of the file", g, host);
	*ret_host = host;
	return 1;
}

static int q_read(struct lb_diskimg *img, uint64_t off, void *buf, size_t len)
{
	struct qcow2 *q = img->priv;
	uint8_t *p = buf;

	while (len > 0) {
		uint64_t g = off >> q->cluster_bits, in = off & (q->cluster_size - 1), host = 0;
		size_t n = q->cluster_size - in < len ? (size_t)(q->cluster_size - in) : len;
		int r = locate(img, q, g, &host);

		if (r < 0)
			return r;
		if (r == 0)
			memset(p, 0, n);
		else if (r == 1 && (r = lb_diskimg_pread(img, host + in, p, n)) < 0)
			return r;
		else if (r == 2)
			memcpy(p, q->cluster + in, n);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int q_allocated(struct lb_diskimg *img, uint64_t off, uint64_t len)
{
	struct qcow2 *q = img->priv;
	uint64_t first = off >> q->cluster_bits, last = (off + len - 1) >> q->cluster_bits;

	if (len == 0)
		return 0;
	for (uint64_t g = first; g <= last; g++) {
		uint64_t e;
		int r = l2_entry(img, q, g, &e);

		if (r < 0)
			return r;
		if ((e & OFLAG_COMPRESSED) || ((e & L2E_OFFSET_MASK) && !((e & OFLAG_ZERO) && q->version >= 3)))
			return 1;
	}
	return 0;
}

static const struct lb_diskimg_ops q_ops = { q_read, q_allocated, q_free };

/* A name from the file, for a message: printable ASCII only. */
static void printable(const uint8_t *s, size_t n, char *out, size_t out_size)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < out_size; i++)
		out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[k] = '\0';
}

int lb_qcow2_open(struct lb_diskimg *img, const uint8_t *h, size_t head_len)
{
	struct qcow2 *q = NULL;
	uint64_t backing_off, size, l1_off, incompat = 0, need, hdr_len = 72;
	uint32_t backing_len, crypt;
	int r;

	if (head_len < 72)
		return lb_diskimg_bad(img, "the header is cut short (%zu bytes)", head_len);
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->version = lb_be32(h + 4);
	backing_off = lb_be64(h + 8);
	backing_len = lb_be32(h + 16);
	q->cluster_bits = lb_be32(h + 20);
	size = lb_be64(h + 24);
	crypt = lb_be32(h + 32);
	q->l1_size = lb_be32(h + 36);
	l1_off = lb_be64(h + 40);
	if (q->version != 2 && q->version != 3) {
		r = lb_diskimg_bad(img, "version %u (versions 2 and 3 are read)", q->version);
		goto fail;
	}
	if (q->cluster_bits < MIN_CLUSTER_BITS || q->cluster_bits > MAX_CLUSTER_BITS) {
		r = lb_diskimg_bad(img, "cluster_bits %u is outside %d..%d", q->cluster_bits, MIN_CLUSTER_BITS,
				   MAX_CLUSTER_BITS);
		goto fail;
	}
	q->cluster_size = 1ull << q->cluster_bits;
	q->l2_entries = q->cluster_size / 8;
	if (q->version >= 3) {
		if (head_len < 104) {
			r = lb_diskimg_bad(img, "the version 3 header is cut short");
			goto fail;
		}
		incompat = lb_be64(h + 72);
		hdr_len = lb_be32(h + 100);
		if (hdr_len < 104 || hdr_len > q->cluster_size || hdr_len > head_len) {
			r = lb_diskimg_bad(img, "header_length %" PRIu64 " is outside 104..%zu", hdr_len,
					   head_len < q->cluster_size ? head_len : (size_t)q->cluster_size);
			goto fail;
		}
	}
	if (backing_off) {
		char name[256] = "";

		/* The overlay's unallocated clusters are the backing file's:
		 * read alone they would be zeros, which is not the disk. */
		if (backing_len > 0 && backing_len <= 1023 && backing_off < head_len &&
		    backing_len <= head_len - backing_off)
			printable(h + backing_off, backing_len, name, sizeof(name));
		lb_log("%s: a qcow2 overlay on the backing file '%s': part of the disk is in that file, so it cannot "
		       "be imported alone; flatten it first: qemu-img convert -O qcow2 %s flat.qcow2",
		       img->path, name, img->path);
		r = -ENOTSUP;
		goto fail;
	}
	if (crypt) {
		lb_log("%s: an encrypted qcow2 image (method %u); decrypt it first with qemu-img convert", img->path,
		       crypt);
		r = -ENOTSUP;
		goto fail;
	}
	if (incompat & INCOMPAT_DATA_FILE) {
		lb_log("%s: a qcow2 image whose data is in an external data file; convert it first: "
		       "qemu-img convert -O qcow2 %s flat.qcow2",
		       img->path, img->path);
		r = -ENOTSUP;
		goto fail;
	}
	if (incompat & INCOMPAT_CORRUPT) {
		r = lb_diskimg_bad(img, "QEMU marked it corrupt; repair it first: qemu-img check -r all");
		goto fail;
	}
	if (incompat & INCOMPAT_EXTL2) {
		lb_log("%s: a qcow2 image with extended L2 entries (subclusters), which is not read here; convert it "
		       "first: qemu-img convert -O qcow2 %s flat.qcow2",
		       img->path, img->path);
		r = -ENOTSUP;
		goto fail;
	}
	if (incompat & ~(INCOMPAT_DIRTY | INCOMPAT_COMPRESSION | INCOMPAT_DATA_FILE | INCOMPAT_CORRUPT | INCOMPAT_EXTL2)) {
		r = lb_diskimg_bad(img, "unknown incompatible features %#" PRIx64, incompat);
		goto fail;
	}
	if (incompat & INCOMPAT_COMPRESSION) {
		/* byte 104, present when the header is long enough */
		q->compression = hdr_len > 104 ? h[104] : 0;
		if (q->compression > 1) {
			r = lb_diskimg_bad(img, "compression type %d (0 deflate and 1 zstd are read)", q->compression);
			goto fail;
		}
	}
	if (size == 0 || size > (1ull << 56)) {
		r = lb_diskimg_bad(img, "virtual size %" PRIu64 " is outside 1..2^56", size);
		goto fail;
	}
	need = (size + q->cluster_size * q->l2_entries - 1) / (q->cluster_size * q->l2_entries);
	if (q->l1_size < need) {
		r = lb_diskimg_bad(img, "an L1 table of %" PRIu64 " entries cannot map %" PRIu64 " bytes (%" PRIu64
				   " needed)",
				   q->l1_size, size, need);
		goto fail;
	}
	if (l1_off & (q->cluster_size - 1)) {
		r = lb_diskimg_bad(img, "the L1 table offset %#" PRIx64 " is not cluster-aligned", l1_off);
		goto fail;
	}
	/* Only the entries the disk needs are read and used. */
	if ((r = lb_diskimg_table(img, "the L1 table", l1_off, need, 8, (void **)&q->l1)) < 0)
		goto fail;
	q->l1_size = need;
	for (uint64_t i = 0; i < need; i++)
		q->l1[i] = lb_be64((const uint8_t *)&q->l1[i]);
	q->l2 = malloc(q->cluster_size);
	q->cluster = malloc(q->cluster_size);
	q->cbuf = malloc(q->cluster_size + 512);
	if (!q->l2 || !q->cluster || !q->cbuf) {
		r = -ENOMEM;
		goto fail;
	}
	img->size = size;
	img->ops = &q_ops;
	img->priv = q;
	return 0;
fail:
	q_free(q);
	return r;
}

/* ---- the writer ---- */

#define W_CLUSTER_BITS 16
#define W_CLUSTER (1u << W_CLUSTER_BITS)
#define W_L2_ENTRIES (W_CLUSTER / 8)
#define W_REFCOUNT_ORDER 4 /* 16-bit refcounts */
#define W_RC_PER_BLOCK (W_CLUSTER / 2)

struct lb_qcow2_writer {
	int fd;
	char *path;
	uint64_t size, pos;     /* the disk's size; bytes taken so far */
	uint64_t next;          /* the next free offset in the file */
	uint64_t *l1;           /* host order */
	uint64_t l1_size, l2_index;
	uint8_t *l2;            /* the current L2 table (big-endian) */
	bool l2_used;
	uint8_t *cur;           /* the current cluster */
	size_t fill;
};

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static int w_pwrite(struct lb_qcow2_writer *w, uint64_t off, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(w->fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;

			lb_log("write %s at offset %" PRIu64 ": %s", w->path, off + done, strerror(e));
			return -e;
		}
		done += (size_t)n;
	}
	return 0;
}

int lb_qcow2_writer_new(int fd, const char *path, uint64_t size, struct lb_qcow2_writer **ret)
{
	struct lb_qcow2_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->size = size;
	w->next = W_CLUSTER; /* cluster 0 is the header, written last */
	w->l1_size = (size + (uint64_t)W_CLUSTER * W_L2_ENTRIES - 1) / ((uint64_t)W_CLUSTER * W_L2_ENTRIES);
	w->path = strdup(path);
	w->l1 = calloc(w->l1_size ? w->l1_size : 1, sizeof(*w->l1));
	w->l2 = calloc(1, W_CLUSTER);
	w->cur = malloc(W_CLUSTER);
	if (!w->path || !w->l1 || !w->l2 || !w->cur || size == 0) {
		lb_qcow2_writer_free(w);
		return size == 0 ? -EINVAL : -ENOMEM;
	}
	*ret = w;
	return 0;
}

void lb_qcow2_writer_free(struct lb_qcow2_writer *w)
{
	if (!w)
		return;
	free(w->path);
	free(w->l1);
	free(w->l2);
	free(w->cur);
	free(w);
}

/* The current L2 table to the file, when it maps anything. */
static int flush_l2(struct lb_qcow2_writer *w)
{
	int r;

	if (!w->l2_used)
		return 0;
	if ((r = w_pwrite(w, w->next, w->l2, W_CLUSTER)) < 0)
		return r;
	w->l1[w->l2_index] = w->next | OFLAG_COPIED;
	w->next += W_CLUSTER;
	memset(w->l2, 0, W_CLUSTER);
	w->l2_used = false;
	return 0;
}

/* Guest cluster g is complete in w->cur. */
static int flush_cluster(struct lb_qcow2_writer *w, uint64_t g)
{
	int r;

	if (g / W_L2_ENTRIES != w->l2_index) {
		if ((r = flush_l2(w)) < 0)
			return r;
		w->l2_index = g / W_L2_ENTRIES;
	}
	w->fill = 0;
	if (lb_chunk_is_zero(w->cur, W_CLUSTER))
		return 0; /* unallocated reads as zeros: no backing file */
	if ((r = w_pwrite(w, w->next, w->cur, W_CLUSTER)) < 0)
		return r;
	put_be64(w->l2 + 8 * (g % W_L2_ENTRIES), w->next | OFLAG_COPIED);
	w->l2_used = true;
	w->next += W_CLUSTER;
	return 0;
}

int lb_qcow2_writer_write(struct lb_qcow2_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int r;

	if (len > w->size - w->pos)
		return -EINVAL;
	while (len > 0) {
		size_t take = W_CLUSTER - w->fill < len ? W_CLUSTER - w->fill : len;

		if (p)
			memcpy(w->cur + w->fill, p, take), p += take;
		else
			memset(w->cur + w->fill, 0, take);
		w->fill += take;
		w->pos += take;
		len -= take;
		if (w->fill == W_CLUSTER && (r = flush_cluster(w, (w->pos - 1) / W_CLUSTER)) < 0)
			return r;
	}
	return 0;
}

int lb_qcow2_writer_finish(struct lb_qcow2_writer *w, uint64_t *ret_file_size)
{
	uint64_t l1_off, l1_clusters, used, n_blocks = 1, t_clusters, rt_off, total;
	uint8_t *buf = NULL;
	int r;

	if (w->pos != w->size)
		return -EINVAL;
	if (w->fill) {
		memset(w->cur + w->fill, 0, W_CLUSTER - w->fill);
		if ((r = flush_cluster(w, (w->pos - 1) / W_CLUSTER)) < 0)
			return r;
	}
	if ((r = flush_l2(w)) < 0)
		return r;
	buf = calloc(1, W_CLUSTER);
	if (!buf)
		return -ENOMEM;
	/* L1 */
	l1_off = w->next;
	l1_clusters = (w->l1_size * 8 + W_CLUSTER - 1) / W_CLUSTER;
	for (uint64_t c = 0; c < l1_clusters; c++) {
		memset(buf, 0, W_CLUSTER);
		for (uint64_t i = 0; i < W_L2_ENTRIES && c * W_L2_ENTRIES + i < w->l1_size; i++)
			put_be64(buf + 8 * i, w->l1[c * W_L2_ENTRIES + i]);
		if ((r = w_pwrite(w, l1_off + c * W_CLUSTER, buf, W_CLUSTER)) < 0)
			goto fail;
	}
	w->next += l1_clusters * W_CLUSTER;
	/* Refcounts: the table and its blocks count themselves too. */
	used = w->next / W_CLUSTER;
	for (;;) {
		t_clusters = (n_blocks * 8 + W_CLUSTER - 1) / W_CLUSTER;
		total = used + t_clusters + n_blocks;
		if (total <= n_blocks * W_RC_PER_BLOCK)
			break;
		n_blocks++;
	}
	rt_off = w->next;
	for (uint64_t c = 0; c < t_clusters; c++) {
		memset(buf, 0, W_CLUSTER);
		for (uint64_t i = 0; i < W_CLUSTER / 8 && c * (W_CLUSTER / 8) + i < n_blocks; i++)
			put_be64(buf + 8 * i, rt_off + (t_clusters + c * (W_CLUSTER / 8) + i) * W_CLUSTER);
		if ((r = w_pwrite(w, rt_off + c * W_CLUSTER, buf, W_CLUSTER)) < 0)
			goto fail;
	}
	for (uint64_t b = 0; b < n_blocks; b++) {
		memset(buf, 0, W_CLUSTER);
		for (uint64_t i = 0; i < W_RC_PER_BLOCK && b * W_RC_PER_BLOCK + i < total; i++) {
			buf[2 * i] = 0;
			buf[2 * i + 1] = 1;
		}
		if ((r = w_pwrite(w, rt_off + (t_clusters + b) * W_CLUSTER, buf, W_CLUSTER)) < 0)
			goto fail;
	}
	w->next = rt_off + (t_clusters + n_blocks) * W_CLUSTER;
	/* The header last: until it is there the file is no qcow2 image. */
	memset(buf, 0, W_CLUSTER);
	memcpy(buf, "QFI\xfb", 4);
	put_be32(buf + 4, 3);
	put_be32(buf + 20, W_CLUSTER_BITS);
	put_be64(buf + 24, w->size);
	put_be32(buf + 36, (uint32_t)w->l1_size);
	put_be64(buf + 40, l1_off);
	put_be64(buf + 48, rt_off);
	put_be32(buf + 56, (uint32_t)t_clusters);
	put_be32(buf + 96, W_REFCOUNT_ORDER);
	put_be32(buf + 100, 104);
	/* bytes 104..111: the end of the header extensions (type 0) */
	if ((r = w_pwrite(w, 0, buf, W_CLUSTER)) < 0)
		goto fail;
	if (fsync(w->fd) < 0) {
		r = -errno;
		lb_log("flush %s: %s", w->path, strerror(errno));
		goto fail;
	}
	if (ret_file_size)
		*ret_file_size = w->next;
	r = 0;
fail:
	free(buf);
	return r;
}
