/* The restore core (restore.h): plan, then chunks verified onto targets. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "chunk.h"
#include "cli.h"
#include "gpt.h"
#include "hash.h"
#include "manifest.h"
#include "point.h"
#include "pool.h"
#include "restore.h"
#include "target.h"
#include "util.h"

struct job {
	const struct lb_manifest_disk *d;
	char *path;
	struct lb_target *t;
	bool touched; /* labels wiped or data written: wipe again on failure */
};

struct lb_restore {
	struct lb_store *st;
	const struct lb_manifest *m;
	size_t n;
	struct job *jobs;
};

/* One disk's counters, and the pacing of its events. */
struct progress {
	const struct lb_restore_opts *o;
	struct lb_restore_event e;
	struct timespec start, last;
};

static void emit(struct progress *p, enum lb_restore_event_type type)
{
	double el = lb_cli_secs_since(&p->start);

	if (type == LB_RESTORE_PROGRESS && lb_cli_secs_since(&p->last) < (p->o->interval > 0 ? p->o->interval : 1.0))
		return;
	clock_gettime(CLOCK_MONOTONIC, &p->last);
	p->e.type = type;
	p->e.seconds = el;
	p->e.rate = el > 0 ? (double)p->e.disk_bytes_done / el : 0;
	p->e.eta = p->e.rate > 0 ? (double)(p->e.disk_bytes - p->e.disk_bytes_done) / p->e.rate : 0;
	if (p->o->on_event)
		p->o->on_event(&p->e, p->o->userdata);
}

/* What one chunk added to the counters of its disk. */
struct counts {
	uint64_t chunks_done, fetched, in_place, zero, bytes_fetched, bytes_written, disk_bytes_done;
	uint64_t refetched;
};

static void add_counts(struct lb_restore_event *e, const struct counts *c)
{
	e->chunks_done += c->chunks_done;
	e->fetched += c->fetched;
	e->in_place += c->in_place;
	e->zero += c->zero;
	e->bytes_fetched += c->bytes_fetched;
	e->bytes_written += c->bytes_written;
	e->disk_bytes_done += c->disk_bytes_done;
	e->refetched += c->refetched;
}

/* One lb_restore_run: the workers, and the disk they work on. */
struct run {
	struct lb_pool *pool;
	struct lb_pool_kit *w; /* one per worker */
	size_t n;
	struct job *j;
	const struct lb_index *idx;
	uint8_t *const *hdr; /* header chunks: not the workers' */
	bool delta;
	struct counts done;  /* added to atomically by the workers */
	struct progress *p;
	struct counts shown; /* what p->e holds of done */
};

/* Chunks that hold partition tables or boot code: the first and last MiB
 * of the disk. They are written last. */
static bool is_header(const struct lb_manifest_disk *d, uint64_t i)
{
	uint64_t start = i * d->chunk_size, end = start + lb_chunk_len(d->size, d->chunk_size, i);

	return start < LB_LABEL_AREA || end > (d->size > LB_LABEL_AREA ? d->size - LB_LABEL_AREA : 0);
}

/* Chunk i's verified bytes into buf (chunk_size bytes). *ret_write says
 * whether the target still needs them: false when it already holds them at
 * that offset (delta), in which case buf holds what is there if keep (the
 * header chunks, written back last), else anything. */
static int obtain_chunk(struct lb_pool_kit *w, struct job *j, const struct lb_index *idx, uint64_t i, bool delta,
			bool keep, uint8_t *buf, struct counts *c, bool *ret_write)
{
	const struct lb_manifest_disk *d = j->d;
	uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);
	bool zero = lb_hash_is_zero(idx->hash[i]);
	uint8_t h[32];
	size_t zlen = 0;
	unsigned again = 0;
	char name[224];
	int r;

	*ret_write = true;
	if (zero)
		c->zero++;
	if (delta) {
		uint64_t off = i * (uint64_t)d->chunk_size;
		/* A hole in an image file reads as zeros: no need to read it.
		 * Zeros where data belongs (a blank disk, a first restore) are
		 * told apart without hashing them. */
		bool target_zero = lb_target_is_hole(j->t, off, len);

		if (target_zero) {
			if (keep)
				memset(buf, 0, len);
		} else {
			if ((r = lb_target_read(j->t, off, buf, len)) < 0)
				return r;
			target_zero = lb_chunk_is_zero(buf, len);
		}
		if (zero ? target_zero
			 : !target_zero && lb_sha256(buf, len, h) == 0 && memcmp(h, idx->hash[i], 32) == 0) {
			c->in_place++;
			*ret_write = false;
			return 0;
		}
	}
	if (zero) {
		memset(buf, 0, len);
		return 0;
	}
	snprintf(name, sizeof(name), "disk %s: chunk %" PRIu64 " at offset %" PRIu64, d->name, i,
		 i * (uint64_t)d->chunk_size);
	r = lb_point_fetch_into(w->st, w->codec, idx->hash[i], len, w->z, lb_chunk_stored_max(len), buf, name, &zlen,
				&again);
	c->refetched += again;
	if (r < 0)
		return r;
	c->fetched++;
	c->bytes_fetched += zlen;
	return 0;
}

/* A chunk of the body of the disk: obtained, then written at its offset
 * (zeros as zeros) unless it is in place already. */
static int body_chunk(struct lb_pool_kit *w, struct job *j, const struct lb_index *idx, uint64_t i, bool delta,
		      struct counts *c)
{
	const struct lb_manifest_disk *d = j->d;
	uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);
	uint64_t off = i * (uint64_t)d->chunk_size;
	bool write;
	int r;

	if ((r = obtain_chunk(w, j, idx, i, delta, false, w->buf, c, &write)) < 0)
		return r;
	if (write) {
		bool zero = lb_hash_is_zero(idx->hash[i]);

		r = zero ? lb_target_zero(j->t, off, len) : lb_target_write(j->t, off, w->buf, len);
		if (r < 0)
			return r;
		if (!zero)
			c->bytes_written += len;
	}
	c->chunks_done++;
	c->disk_bytes_done += len;
	return 0;
}

static int pool_chunk(void *userdata, size_t worker, uint64_t i)
{
	struct run *run = userdata;
	struct counts c = { 0 };
	int r;

	if (run->hdr[i])
		return 0;
	r = body_chunk(&run->w[worker], run->j, run->idx, i, run->delta, &c);
	if (r == 0) {
		lb_pool_add(&run->done.chunks_done, c.chunks_done);
		lb_pool_add(&run->done.fetched, c.fetched);
		lb_pool_add(&run->done.in_place, c.in_place);
		lb_pool_add(&run->done.zero, c.zero);
		lb_pool_add(&run->done.bytes_fetched, c.bytes_fetched);
		lb_pool_add(&run->done.bytes_written, c.bytes_written);
		lb_pool_add(&run->done.disk_bytes_done, c.disk_bytes_done);
		lb_pool_add(&run->done.refetched, c.refetched);
	}
	return r;
}

/* The workers' counts into the disk's event, on the caller's thread. */
static void take_counts(struct run *run)
{
	struct counts now = {
		lb_pool_read(&run->done.chunks_done), lb_pool_read(&run->done.fetched),
		lb_pool_read(&run->done.in_place),    lb_pool_read(&run->done.zero),
		lb_pool_read(&run->done.bytes_fetched), lb_pool_read(&run->done.bytes_written),
		lb_pool_read(&run->done.disk_bytes_done), lb_pool_read(&run->done.refetched),
	};
	struct counts delta = {
		now.chunks_done - run->shown.chunks_done, now.fetched - run->shown.fetched,
		now.in_place - run->shown.in_place,       now.zero - run->shown.zero,
		now.bytes_fetched - run->shown.bytes_fetched, now.bytes_written - run->shown.bytes_written,
		now.disk_bytes_done - run->shown.disk_bytes_done, now.refetched - run->shown.refetched,
	};

	add_counts(&run->p->e, &delta);
	run->shown = now;
}

static void pool_progress(void *userdata)
{
	struct run *run = userdata;

	take_counts(run);
	emit(run->p, LB_RESTORE_PROGRESS);
}

/* The body of the disk (everything but the header chunks) by the workers. */
static int run_body(struct run *run, struct job *j, const struct lb_index *idx, uint8_t *const *hdr, bool delta,
		    struct progress *p)
{
	const struct lb_pool_ops ops = { pool_chunk, pool_progress, p->o->interval };
	int r;

	run->j = j;
	run->idx = idx;
	run->hdr = hdr;
	run->delta = delta;
	run->p = p;
	memset(&run->done, 0, sizeof(run->done));
	memset(&run->shown, 0, sizeof(run->shown));
	r = lb_pool_run(run->pool, idx->count, &ops, run);
	take_counts(run);
	return r;
}

static int restore_disk(struct run *run, struct job *j, bool delta, struct progress *p)
{
	const struct lb_manifest_disk *d = j->d;
	struct lb_index *idx = NULL;
	uint8_t **hdr = NULL;
	int r;

	if ((r = lb_point_index(run->w[0].st, d, &idx)) < 0)
		goto fail;
	hdr = calloc(idx->count, sizeof(*hdr));
	if (!hdr) {
		r = -ENOMEM;
		goto fail;
	}
	p->e.chunks = idx->count;
	p->e.disk_bytes = d->size;
	p->e.workers = (unsigned)run->n;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	emit(p, LB_RESTORE_DISK_START);

	/* Header chunks first, verified into memory by this thread: what the
	 * target already holds there is read before the labels are wiped.
	 * At most two chunks' worth per end of the disk. */
	for (uint64_t i = 0; i < idx->count; i++) {
		struct counts c = { 0 };
		bool write;

		if (!is_header(d, i))
			continue;
		/* aligned: written O_DIRECT to a disk, so an I/O error names it */
		if (posix_memalign((void **)&hdr[i], LB_TARGET_ALIGN, d->chunk_size) != 0)
			hdr[i] = NULL;
		if (!hdr[i]) {
			r = -ENOMEM;
			goto fail;
		}
		if ((r = obtain_chunk(&run->w[0], j, idx, i, delta, true, hdr[i], &c, &write)) < 0)
			goto fail;
		add_counts(&p->e, &c); /* counted as done when written, last */
	}
	/* From here on the disk must not look bootable until it is whole. */
	j->touched = true;
	if ((r = lb_target_wipe_labels(j->t)) < 0)
		goto fail;
	if ((r = run_body(run, j, idx, hdr, delta, p)) < 0)
		goto fail;
	if ((r = lb_target_sync(j->t)) < 0)
		goto fail;
	/* Everything else is verified and on the disk: now the labels (also
	 * those found in place, which the wipe removed), from the end of the
	 * disk back to its start, so the protective MBR and the primary GPT
	 * are the very last write: interrupted before it, the disk has no
	 * label a firmware or blkid would take. */
	for (uint64_t i = idx->count; i-- > 0;) {
		uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);

		if (!hdr[i])
			continue;
		if ((r = lb_target_write(j->t, i * (uint64_t)d->chunk_size, hdr[i], len)) < 0)
			goto fail;
		p->e.bytes_written += len;
		p->e.chunks_done++;
		p->e.disk_bytes_done += len;
	}
	/* A larger target: its backup GPT belongs at its end, not where the
	 * source disk ended. */
	if (d->pttype && strcmp(d->pttype, "gpt") == 0 && lb_target_size(j->t) > d->size) {
		r = lb_gpt_move_backup(j->t, d->logical_sector_size, d->size);
		if (r < 0)
			goto fail;
		if (r > 0)
			lb_log("%s: backup GPT moved to the end of the disk (%" PRIu64 " bytes, the source had %" PRIu64 ")",
			       j->path, lb_target_size(j->t), d->size);
	}
	if ((r = lb_target_sync(j->t)) < 0)
		goto fail;
	emit(p, LB_RESTORE_DISK_DONE);
	r = 0;
fail:
	if (hdr)
		for (uint64_t i = 0; idx && i < idx->count; i++)
			free(hdr[i]);
	free(hdr);
	lb_index_free(idx);
	return r;
}

/* Open path as the target of d: unused, large enough, d's logical sector
 * size. Every refusal is logged; -EBUSY (and *ret NULL) when any holds. */
static int open_target(const struct lb_manifest_disk *d, const char *path, struct lb_target **ret)
{
	struct lb_target *t = NULL;
	int r = 0;

	*ret = NULL;
	if (lb_target_open(path, &t) < 0)
		return -EBUSY;
	if (lb_target_size(t) < d->size) {
		lb_log("%s: %" PRIu64 " bytes is smaller than disk %s of the point (%" PRIu64 " bytes)", path,
		       lb_target_size(t), d->name, d->size);
		r = -EBUSY;
	}
	if (lb_target_logical_sector_size(t) != d->logical_sector_size) {
		lb_log("%s: logical sector size %u, disk %s of the point has %u", path, lb_target_logical_sector_size(t),
		       d->name, d->logical_sector_size);
		r = -EBUSY;
	}
	if (r < 0) {
		lb_target_close(t);
		return r;
	}
	*ret = t;
	return 0;
}

int lb_restore_check(const struct lb_manifest_disk *d, const char *path)
{
	struct lb_target *t = NULL;
	int r = open_target(d, path, &t);

	lb_target_close(t);
	return r;
}

static void run_free(struct run *run)
{
	if (run->pool)
		lb_pool_kits_free(run->pool, run->w);
	lb_pool_free(run->pool);
}

static int run_new(struct lb_restore *rs, const struct lb_restore_opts *o, struct run *run)
{
	uint32_t chunk = 0;
	int r;

	memset(run, 0, sizeof(*run));
	for (size_t i = 0; i < rs->n; i++)
		if (rs->jobs[i].d->chunk_size > chunk)
			chunk = rs->jobs[i].d->chunk_size;
	run->n = lb_pool_size(o->workers, (uint64_t)chunk + lb_chunk_stored_max(chunk));
	if ((r = lb_pool_new(run->n, &run->pool)) < 0)
		return r;
	return lb_pool_kits_new(run->pool, rs->st, chunk, &run->w);
}

int lb_restore_new(struct lb_store *st, const struct lb_manifest *m, const char *const *names,
		   const char *const *paths, size_t n, struct lb_restore **ret)
{
	struct lb_restore *rs;
	int r = 0;

	rs = calloc(1, sizeof(*rs));
	if (!rs || !(rs->jobs = calloc(n ? n : 1, sizeof(*rs->jobs)))) {
		free(rs);
		return -ENOMEM;
	}
	rs->st = st;
	rs->m = m;
	for (size_t i = 0; i < n; i++) {
		const struct lb_manifest_disk *d = NULL;

		for (size_t k = 0; k < m->n_disks; k++)
			if (strcmp(m->disks[k].name, names[i]) == 0)
				d = &m->disks[k];
		if (!d) {
			char have[256] = "";

			for (size_t k = 0; k < m->n_disks; k++)
				snprintf(have + strlen(have), sizeof(have) - strlen(have), " %s", m->disks[k].name);
			lb_log("disk %s: the point %s/%s has no disk of that name (it has:%s)", names[i], m->server,
			       m->id, have);
			r = -ENOENT;
			goto fail;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(paths[k], paths[i]) == 0) {
				lb_log("%s is the target of both %s and %s", paths[i], names[k], names[i]);
				r = -EINVAL;
				goto fail;
			}
			if (strcmp(names[k], names[i]) == 0) {
				lb_log("disk %s is mapped twice", names[i]);
				r = -EINVAL;
				goto fail;
			}
		}
		rs->jobs[rs->n].d = d;
		if (!(rs->jobs[rs->n].path = strdup(paths[i]))) {
			r = -ENOMEM;
			goto fail;
		}
		rs->n++;
	}
	/* The boot disk is finished last of all. */
	for (size_t i = 0; i + 1 < rs->n; i++)
		if (rs->jobs[i].d->boot) {
			struct job t = rs->jobs[i];

			memmove(&rs->jobs[i], &rs->jobs[i + 1], (rs->n - i - 1) * sizeof(*rs->jobs));
			rs->jobs[rs->n - 1] = t;
			break;
		}
	for (size_t k = 0; k < m->n_disks; k++) {
		bool mapped = false;

		for (size_t i = 0; i < n; i++)
			mapped |= strcmp(names[i], m->disks[k].name) == 0;
		if (!mapped)
			lb_log("disk %s of the point is not mapped and will not be restored", m->disks[k].name);
	}
	/* Every target is checked, so the operator sees all refusals at once. */
	for (size_t i = 0; i < rs->n; i++)
		if (open_target(rs->jobs[i].d, rs->jobs[i].path, &rs->jobs[i].t) < 0)
			r = -EBUSY;
	if (r < 0)
		goto fail;
	/* Every disk's chunk index is read and checked against the (verified)
	 * manifest before anything is written: a replaced chunk list of the
	 * last disk must not be found after the first disk was restored. */
	for (size_t i = 0; i < rs->n; i++) {
		struct lb_index *idx = NULL;

		r = lb_point_index(st, rs->jobs[i].d, &idx);
		lb_index_free(idx);
		if (r < 0) {
			r = r == -ENOENT ? -EBADMSG : r; /* -ENOENT means "no such disk" here */
			goto fail;
		}
	}
	*ret = rs;
	return 0;
fail:
	lb_restore_free(rs);
	return r;
}

void lb_restore_free(struct lb_restore *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		lb_target_close(r->jobs[i].t);
		free(r->jobs[i].path);
	}
	free(r->jobs);
	free(r);
}

size_t lb_restore_count(const struct lb_restore *r)
{
	return r->n;
}

const struct lb_manifest_disk *lb_restore_disk(const struct lb_restore *r, size_t i)
{
	return i < r->n ? r->jobs[i].d : NULL;
}

const char *lb_restore_target(const struct lb_restore *r, size_t i)
{
	return i < r->n ? r->jobs[i].path : NULL;
}

uint64_t lb_restore_target_size(const struct lb_restore *r, size_t i)
{
	return i < r->n ? lb_target_size(r->jobs[i].t) : 0;
}

void lb_restore_print_plan(const struct lb_restore *r, FILE *out)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct lb_manifest_disk *d = r->jobs[i].d;

		fprintf(out, "  disk %-10s %14" PRIu64 " bytes, %" PRIu64 " chunks (%" PRIu64 " zero)%s -> %s (%" PRIu64
			     " bytes)\n",
			d->name, d->size, d->chunk_count, d->zero_chunks, d->boot ? ", boot" : "", r->jobs[i].path,
			lb_target_size(r->jobs[i].t));
	}
}

int lb_restore_run(struct lb_restore *r, const struct lb_restore_opts *o)
{
	static const struct lb_restore_opts defaults = { 0 };
	struct run run;
	int err;

	if (!o)
		o = &defaults;
	err = run_new(r, o, &run);
	if (err < 0)
		lb_log("restore: cannot set up its workers: %s", strerror(-err));
	for (size_t i = 0; err == 0 && i < r->n; i++) {
		struct progress p = { .o = o };

		p.e.disk = r->jobs[i].d->name;
		p.e.target = r->jobs[i].path;
		p.e.index = i;
		p.e.count = r->n;
		err = restore_disk(&run, &r->jobs[i], !o->no_delta, &p);
		if (err < 0)
			lb_log("restore of disk %s onto %s failed", r->jobs[i].d->name, r->jobs[i].path);
	}
	run_free(&run);
	if (err == 0)
		return 0;
	/* No half-restored disk may look bootable. */
	for (size_t i = 0; i < r->n; i++) {
		if (!r->jobs[i].touched)
			continue;
		if (lb_target_wipe_labels(r->jobs[i].t) == 0)
			lb_log("%s: partition table wiped (the restore did not finish)", r->jobs[i].path);
		else
			lb_log("%s: the partition table could not be wiped whole (the restore did not finish): "
			       "do not boot from this disk", r->jobs[i].path);
	}
	return err;
}

struct json_object *lb_restore_event_json(const struct lb_restore_event *e)
{
	const struct {
		const char *k;
		uint64_t v;
	} n[] = {
		{ "chunks", e->chunks }, { "chunks_done", e->chunks_done }, { "fetched", e->fetched },
		{ "in_place", e->in_place }, { "zero", e->zero }, { "refetched", e->refetched },
		{ "bytes_fetched", e->bytes_fetched },
		{ "bytes_written", e->bytes_written }, { "disk_bytes", e->disk_bytes },
		{ "disk_bytes_done", e->disk_bytes_done },
	};
	struct json_object *o;
	char secs[32];

	/* rate and eta are never negative: +0.5 rounds them without libm */
	if (e->type == LB_RESTORE_DISK_START || !(o = json_object_new_object()))
		return NULL;
	json_object_object_add(o, "event", json_object_new_string(e->type == LB_RESTORE_DISK_DONE ? "disk_done" : "progress"));
	json_object_object_add(o, "disk", json_object_new_string(e->disk));
	json_object_object_add(o, "target", json_object_new_string(e->target));
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
		json_object_object_add(o, n[i].k, json_object_new_uint64(n[i].v));
	json_object_object_add(o, "rate", json_object_new_int64((int64_t)(e->rate + 0.5)));
	json_object_object_add(o, "eta", json_object_new_int64((int64_t)(e->eta + 0.5)));
	/* printed as given: json-c would print 20.7 as 20.699999999999999 */
	snprintf(secs, sizeof(secs), "%.3f", e->seconds);
	json_object_object_add(o, "seconds", json_object_new_double_s(e->seconds, secs));
	json_object_object_add(o, "workers", json_object_new_int64(e->workers));
	return o;
}
