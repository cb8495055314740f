/* The backup core (backup.h): disks into chunks and indexes, in parallel. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backup.h"
#include "chunk.h"
#include "disk.h"
#include "diskimg.h"
#include "gpt.h"
#include "hash.h"
#include "pool.h"
#include "probe.h"
#include "target.h"
#include "util.h"
#include "writer.h"

/* Chunks already known to be in the store during this run: a small
 * open-addressing set, so a disk of repeated blocks asks the store once. */
struct seen {
	size_t cap, n;
	uint8_t (*h)[32];
};

static bool seen_has(const struct seen *s, const uint8_t h[32])
{
	size_t i;

	if (!s->cap)
		return false;
	for (i = (size_t)(h[0] | h[1] << 8 | (size_t)h[2] << 16) & (s->cap - 1); !lb_hash_is_zero(s->h[i]);
	     i = (i + 1) & (s->cap - 1))
		if (memcmp(s->h[i], h, 32) == 0)
			return true;
	return false;
}

static int seen_add(struct seen *s, const uint8_t h[32])
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct seen bigger = { .cap = s->cap ? 2 * s->cap : 1024 };

		bigger.h = calloc(bigger.cap, 32);
		if (!bigger.h)
			return -ENOMEM;
		for (size_t k = 0; k < s->cap; k++)
			if (!lb_hash_is_zero(s->h[k]))
				seen_add(&bigger, s->h[k]);
		free(s->h);
		*s = bigger;
	}
	for (i = (size_t)(h[0] | h[1] << 8 | (size_t)h[2] << 16) & (s->cap - 1); !lb_hash_is_zero(s->h[i]);
	     i = (i + 1) & (s->cap - 1))
		;
	memcpy(s->h[i], h, 32);
	s->n++;
	return 0;
}

/* What the source disk looks like, recorded as hints for mapping. */
static void describe_source(const char *path, struct lb_diskimg *src, struct lb_manifest_disk *d)
{
	struct lb_disks_opts opts = { .all = true };
	struct lb_disk_list *l = NULL;
	struct lb_probe_info pi = { 0 };
	struct stat sb;
	char *real = stat(path, &sb) == 0 && S_ISBLK(sb.st_mode) ? realpath(path, NULL) : NULL;

	/* Hints (model, serial, ...) exist for block devices only. */
	d->src_path = strdup(path);
	if (lb_diskimg_format(src) != LB_DISKIMG_RAW) {
		/* libblkid probes files, not the disk inside an image. */
		uint8_t head[1024];

		if (d->size >= sizeof(head) && lb_diskimg_read(src, 0, head, sizeof(head)) == 0)
			lb_gpt_probe(head, sizeof(head), 512, &d->pttype, &d->ptuuid);
	} else if (lb_probe_node(path, &pi) == 0) {
		d->pttype = pi.pttype ? strdup(pi.pttype) : NULL;
		d->ptuuid = pi.ptuuid ? strdup(pi.ptuuid) : NULL;
	}
	lb_probe_info_clear(&pi);
	if (real && lb_disks_scan(&opts, &l) == 0) {
		for (size_t i = 0; i < l->n; i++) {
			const struct lb_disk *x = &l->disks[i];

			if (strcmp(x->path, real) != 0)
				continue;
			d->src_model = x->model ? strdup(x->model) : NULL;
			d->src_serial = x->serial ? strdup(x->serial) : NULL;
			d->src_wwn = x->wwn ? strdup(x->wwn) : NULL;
			d->src_by_path = x->by_path ? strdup(x->by_path) : NULL;
		}
	}
	lb_disks_free(l);
	free(real);
}

struct lb_backup {
	struct lb_store *st;
	struct lb_writer *writer;
	int level;
	bool allow_mounted;
	struct lb_pool *pool;
	struct lb_pool_kit *w; /* one per worker */
	size_t n;
	pthread_mutex_t mu; /* guards seen */
	struct seen seen;
	/* the disk in progress */
	struct lb_diskimg *src;
	struct lb_manifest_disk *d;
	struct lb_index *idx;
	struct lb_backup_stats s; /* added to atomically */
};

/* True when this run has not met h before (the caller uploads it unless
 * the store has it); false when another chunk with the same bytes was
 * claimed already, by this worker or another. */
static int claim(struct lb_backup *b, const uint8_t h[32])
{
	int r;

	pthread_mutex_lock(&b->mu);
	r = seen_has(&b->seen, h) ? 0 : seen_add(&b->seen, h) == 0 ? 1 : -ENOMEM;
	pthread_mutex_unlock(&b->mu);
	return r;
}

/* A chunk's frame, made only when the store lacks it, into the worker's
 * buffer. */
struct frame {
	struct lb_pool_kit *w;
	uint32_t len;
	int level;
};

static int make_frame(void *ctx, const void **ret, size_t *ret_len)
{
	struct frame *f = ctx;
	int r = lb_chunk_compress(f->w->codec, f->w->buf, f->len, f->level, f->w->z, f->w->zcap, ret_len);

	*ret = f->w->z;
	return r;
}

static int backup_chunk(void *userdata, size_t worker, uint64_t i)
{
	struct lb_backup *b = userdata;
	struct lb_pool_kit *w = &b->w[worker];
	const struct lb_manifest_disk *d = b->d;
	uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);
	size_t zlen = 0;
	uint8_t h[32];
	char key[128];
	int r;

	/* What an image does not allocate is zero: not even read. */
	r = lb_diskimg_allocated(b->src, i * (uint64_t)d->chunk_size, len);
	if (r == 0)
		memset(w->buf, 0, len);
	else if (r > 0)
		r = lb_diskimg_read(b->src, i * (uint64_t)d->chunk_size, w->buf, len);
	if (r < 0)
		return r;
	lb_pool_add(&b->s.chunks, 1);
	lb_pool_add(&b->s.bytes_read, len);
	if (lb_chunk_is_zero(w->buf, len)) {
		lb_pool_add(&b->s.zero, 1);
		return 0; /* the index entry stays zero */
	}
	if ((r = lb_sha256(w->buf, len, h)) < 0)
		return r;
	memcpy(b->idx->hash[i], h, 32);
	r = claim(b, h);
	if (r <= 0) {
		if (r == 0)
			lb_pool_add(&b->s.reused, 1);
		return r;
	}
	lb_chunk_key(h, key);
	{
		struct frame f = { w, len, b->level };

		r = lb_writer_place(b->writer, w->st, key, make_frame, &f, &zlen);
	}
	if (r < 0)
		return r;
	if (r == 0) {
		lb_pool_add(&b->s.reused, 1);
		return 0;
	}
	lb_pool_add(&b->s.uploaded, 1);
	lb_pool_add(&b->s.bytes_uploaded, zlen);
	return 0;
}

int lb_backup_disk(struct lb_backup *b, const char *path, struct lb_manifest_disk *d, struct lb_backup_stats *s)
{
	static const struct lb_pool_ops ops = { backup_chunk, NULL, 0 };
	struct lb_diskimg *src = NULL;
	struct lb_index *idx = NULL;
	uint8_t *ib = NULL;
	size_t iblen = 0;
	char hex[65];
	int r;

	/* A disk image made elsewhere (qcow2, VMDK, VHD) is read as the disk
	 * it holds: this is how images are imported. */
	r = lb_diskimg_open(path, &src);
	if (r < 0)
		goto fail;
	if (lb_diskimg_is_blockdev(src) && !b->allow_mounted) {
		r = lb_target_check_unused(path);
		if (r < 0) {
			lb_log("%s: back it up from a snapshot, or pass --allow-mounted to take it as it is", path);
			goto fail;
		}
	}
	d->size = lb_diskimg_size(src);
	if (lb_diskimg_format(src) != LB_DISKIMG_RAW)
		lb_log("%s: a %s image of a %" PRIu64 "-byte disk", path, lb_diskimg_format_name(src), d->size);
	d->logical_sector_size = lb_diskimg_logical_sector_size(src);
	d->physical_sector_size = lb_diskimg_physical_sector_size(src);
	if (d->size == 0 || d->size % d->logical_sector_size) {
		lb_log("%s: %" PRIu64 " bytes is not a whole number of %u-byte sectors", path, d->size,
		       d->logical_sector_size);
		r = -EINVAL;
		goto fail;
	}
	describe_source(path, src, d);
	r = lb_index_new(d->chunk_size, d->size, &idx);
	if (r < 0) {
		lb_log("%s: %" PRIu64 " bytes in %u-byte chunks: %s", path, d->size, d->chunk_size,
		       r == -EFBIG ? "too many chunks; use a larger --chunk-size" : strerror(-r));
		goto fail;
	}
	if (lb_chunk_stored_max(d->chunk_size) > b->w[0].zcap) {
		lb_log("%s: chunk size %u is larger than this backup was set up for", path, d->chunk_size);
		r = -EINVAL;
		goto fail;
	}
	b->src = src;
	b->d = d;
	b->idx = idx;
	memset(&b->s, 0, sizeof(b->s));
	r = lb_pool_run(b->pool, idx->count, &ops, b);
	s->chunks += b->s.chunks;
	s->zero += b->s.zero;
	s->uploaded += b->s.uploaded;
	s->reused += b->s.reused;
	s->bytes_read += b->s.bytes_read;
	s->bytes_uploaded += b->s.bytes_uploaded;
	d->zero_chunks = b->s.zero;
	if (r < 0)
		goto fail;
	d->chunk_count = idx->count;
	if ((r = lb_index_format(idx, &ib, &iblen)) < 0 || (r = lb_sha256(ib, iblen, d->index_sha256)) < 0 ||
	    (r = lb_index_digest(idx, d->digest)) < 0)
		goto fail;
	d->index_size = iblen;
	lb_hex(d->index_sha256, 32, hex);
	free(d->index_key);
	d->index_key = lb_strdupf("indexes/%s.lbi", hex);
	if (!d->index_key) {
		r = -ENOMEM;
		goto fail;
	}
	r = lb_writer_object(b->writer, d->index_key, ib, iblen);
fail:
	b->src = NULL;
	b->d = NULL;
	b->idx = NULL;
	free(ib);
	lb_index_free(idx);
	lb_diskimg_close(src);
	return r;
}

int lb_backup_new(struct lb_store *st, const struct lb_backup_opts *o, struct lb_backup **ret)
{
	uint32_t chunk = o->chunk_size ? o->chunk_size : LB_CHUNK_SIZE_DEFAULT;
	struct lb_backup *b;
	int r = -ENOMEM;

	if (!o->writer)
		return -EINVAL; /* every backup goes through a writer: gc relies on it */
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->mu, NULL);
	b->st = st;
	b->writer = o->writer;
	b->level = o->level ? o->level : 3;
	b->allow_mounted = o->allow_mounted;
	b->n = lb_pool_size(o->workers, (uint64_t)chunk + lb_chunk_stored_max(chunk));
	if ((r = lb_pool_new(b->n, &b->pool)) < 0 || (r = lb_pool_kits_new(b->pool, st, chunk, &b->w)) < 0)
		goto fail;
	*ret = b;
	return 0;
fail:
	lb_log("backup: cannot set up its workers: %s", strerror(-r));
	lb_backup_free(b);
	return r;
}

void lb_backup_free(struct lb_backup *b)
{
	if (!b)
		return;
	if (b->pool)
		lb_pool_kits_free(b->pool, b->w);
	lb_pool_free(b->pool);
	free(b->seen.h);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

unsigned lb_backup_workers(const struct lb_backup *b)
{
	return (unsigned)b->n;
}
