/* restore - write a restore point onto disks
 * usage: lifeboat restore --disk NAME=PATH [--disk ...] [options] STORE POINT
 *
 * POINT is SERVER/ID or SERVER/latest (see `lifeboat list`). Each --disk
 * maps a disk of the point to a local block device or image file; a disk
 * of the point that is not mapped is not restored (and said so). Targets
 * must not be mounted, held, swap or the boot medium, must be at least as
 * large as the point's disk and have its logical sector size.
 *
 * Every chunk is verified against its SHA-256 before it is written. A
 * chunk the target already holds at that offset is not fetched (so a
 * restore onto an older copy fetches only what changed, and a restore that
 * was interrupted resumes). Zero chunks become zeros. The first and last
 * MiB of each disk (partition tables, boot sectors, backup GPT) are wiped
 * before anything else is written and written last, after everything else
 * verified; the boot disk is finished last of all. On failure the
 * partition tables written so far are wiped again, so no half-restored
 * disk looks bootable.
 *
 * Options:
 *   --disk NAME=PATH       where the point's disk NAME goes; repeatable
 *   --dry-run              print what would be written where, write nothing
 *   -y, --yes              do not ask; required when stdin is not a terminal
 *   --progress=json        progress as JSON lines on stdout
 *   --no-delta             fetch every chunk, even those already in place
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Exit status: 0 restored, 1 failed (targets wiped), 2 usage error,
 * 3 refused (a target is unsuitable, or the operator said no).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunk.h"
#include "gpt.h"
#include "cli.h"
#include "hash.h"
#include "help.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "store.h"
#include "target.h"
#include "util.h"

#define EXIT_REFUSED 3

struct job {
	const struct lb_manifest_disk *d;
	const char *path;
	struct lb_target *t;
	bool touched; /* labels wiped or data written: wipe again on failure */
};

struct progress {
	bool json, tty;
	const char *disk;
	uint64_t total, done, fetched, in_place, zero;
	uint64_t bytes_fetched, bytes_written, disk_bytes_done, disk_bytes;
	struct timespec start, last;
};

static void progress_show(struct progress *p, bool final)
{
	double el = lb_cli_secs_since(&p->start), rate = el > 0 ? (double)p->disk_bytes_done / el : 0;
	double eta = rate > 0 ? (double)(p->disk_bytes - p->disk_bytes_done) / rate : 0;

	if (!final && lb_cli_secs_since(&p->last) < 1.0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &p->last);
	if (p->json) {
		printf("{\"event\":\"%s\",\"disk\":\"%s\",\"chunks\":%" PRIu64 ",\"chunks_done\":%" PRIu64
		       ",\"fetched\":%" PRIu64 ",\"in_place\":%" PRIu64 ",\"zero\":%" PRIu64
		       ",\"bytes_fetched\":%" PRIu64 ",\"bytes_written\":%" PRIu64 ",\"disk_bytes\":%" PRIu64
		       ",\"disk_bytes_done\":%" PRIu64 ",\"rate\":%.0f,\"eta\":%.0f}\n",
		       final ? "disk_done" : "progress", p->disk, p->total, p->done, p->fetched, p->in_place, p->zero,
		       p->bytes_fetched, p->bytes_written, p->disk_bytes, p->disk_bytes_done, rate, eta);
		fflush(stdout);
	} else if (p->tty || final) {
		fprintf(stderr, "%s%s: %3.0f%% %" PRIu64 "/%" PRIu64 " chunks: %" PRIu64 " fetched (%.1f MiB), %" PRIu64
				" in place, %" PRIu64 " zero; %.1f MiB/s, ETA %.0f s%s",
			p->tty ? "\r" : "", p->disk, p->total ? 100.0 * (double)p->done / (double)p->total : 100.0,
			p->done, p->total, p->fetched, (double)p->bytes_fetched / 1048576.0, p->in_place, p->zero,
			rate / 1048576.0, eta, final ? "\n" : "");
	}
}

/* Chunks that hold partition tables or boot code: the first and last MiB
 * of the disk. They are written last. */
static bool is_header(const struct lb_manifest_disk *d, uint64_t i)
{
	uint64_t start = i * d->chunk_size, end = start + lb_chunk_len(d->size, d->chunk_size, i);

	return start < LB_LABEL_AREA || end > (d->size > LB_LABEL_AREA ? d->size - LB_LABEL_AREA : 0);
}

/* Chunk i's verified bytes into buf (chunk_size bytes). *ret_write says
 * whether the target still needs them: false when it already holds them at
 * that offset (delta), in which case buf holds what was read there. */
static int obtain_chunk(struct lb_store *st, struct job *j, const struct lb_index *idx, uint64_t i, bool delta,
			uint8_t *buf, struct progress *p, bool *ret_write)
{
	const struct lb_manifest_disk *d = j->d;
	uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);
	bool zero = lb_hash_is_zero(idx->hash[i]);
	uint8_t h[32];
	void *z = NULL;
	size_t zlen = 0;
	char key[128], name[224];
	int r;

	*ret_write = true;
	if (zero)
		p->zero++;
	if (delta) {
		r = lb_target_read(j->t, i * (uint64_t)d->chunk_size, buf, len);
		if (r < 0)
			return r;
		if (zero ? lb_chunk_is_zero(buf, len) : (lb_sha256(buf, len, h) == 0 && memcmp(h, idx->hash[i], 32) == 0)) {
			p->in_place++;
			*ret_write = false;
			return 0;
		}
	}
	if (zero) {
		memset(buf, 0, len);
		return 0;
	}
	lb_chunk_key(idx->hash[i], key);
	r = lb_store_get(st, key, lb_chunk_stored_max(len), &z, &zlen);
	if (r == -ENOENT)
		lb_log("disk %s: chunk %" PRIu64 " (%s) is missing from the store", d->name, i, key);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%s (disk %s, chunk %" PRIu64 ")", key, d->name, i);
	r = lb_chunk_decode(z, zlen, buf, len, idx->hash[i], name);
	free(z);
	if (r < 0)
		return r;
	p->fetched++;
	p->bytes_fetched += zlen;
	return 0;
}

static int restore_disk(struct lb_store *st, struct job *j, bool delta, struct progress *p)
{
	const struct lb_manifest_disk *d = j->d;
	struct lb_index *idx = NULL;
	uint8_t *buf = NULL, h[32], **hdr = NULL;
	void *ib = NULL;
	size_t iblen = 0;
	uint64_t n_hdr = 0;
	int r;

	r = lb_store_get(st, d->index_key, d->index_size, &ib, &iblen);
	if (r == -ENOENT)
		lb_log("disk %s: its chunk index %s is missing from the store", d->name, d->index_key);
	if (r < 0)
		goto fail;
	if ((r = lb_sha256(ib, iblen, h)) < 0)
		goto fail;
	if (iblen != d->index_size || memcmp(h, d->index_sha256, 32) != 0) {
		lb_log("disk %s: chunk index %s does not match the manifest (corrupt or replaced)", d->name, d->index_key);
		r = -EBADMSG;
		goto fail;
	}
	if ((r = lb_index_parse(ib, iblen, d->index_key, &idx)) < 0)
		goto fail;
	if (idx->chunk_size != d->chunk_size || idx->disk_size != d->size) {
		lb_log("disk %s: chunk index %s disagrees with the manifest", d->name, d->index_key);
		r = -EBADMSG;
		goto fail;
	}
	buf = malloc(d->chunk_size);
	hdr = calloc(idx->count, sizeof(*hdr));
	if (!buf || !hdr) {
		r = -ENOMEM;
		goto fail;
	}
	p->disk = d->name;
	p->total = idx->count;
	p->done = p->fetched = p->in_place = p->zero = 0;
	p->disk_bytes = d->size;
	p->disk_bytes_done = 0;
	clock_gettime(CLOCK_MONOTONIC, &p->start);

	/* Header chunks first, verified into memory: what the target already
	 * holds there is read before the labels are wiped. At most two chunks'
	 * worth per end of the disk. */
	for (uint64_t i = 0; i < idx->count; i++) {
		if (!is_header(d, i))
			continue;
		hdr[i] = malloc(d->chunk_size);
		if (!hdr[i]) {
			r = -ENOMEM;
			goto fail;
		}
		n_hdr++;
	}
	for (uint64_t i = 0; i < idx->count; i++) {
		bool write;

		if (hdr[i] && (r = obtain_chunk(st, j, idx, i, delta, hdr[i], p, &write)) < 0)
			goto fail;
	}
	/* From here on the disk must not look bootable until it is whole. */
	j->touched = true;
	if ((r = lb_target_wipe_labels(j->t)) < 0)
		goto fail;
	for (uint64_t i = 0; i < idx->count; i++) {
		uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);
		bool write;

		if (hdr[i])
			continue;
		if ((r = obtain_chunk(st, j, idx, i, delta, buf, p, &write)) < 0)
			goto fail;
		if (write) {
			r = lb_hash_is_zero(idx->hash[i]) ? lb_target_zero(j->t, i * (uint64_t)d->chunk_size, len) :
							     lb_target_write(j->t, i * (uint64_t)d->chunk_size, buf, len);
			if (r < 0)
				goto fail;
			if (!lb_hash_is_zero(idx->hash[i]))
				p->bytes_written += len;
		}
		p->done++;
		p->disk_bytes_done += lb_chunk_len(d->size, d->chunk_size, i);
		progress_show(p, false);
	}
	if ((r = lb_target_sync(j->t)) < 0)
		goto fail;
	/* Everything else is verified and on the disk: now the labels (also
	 * those found in place, which the wipe removed). */
	for (uint64_t i = 0; i < idx->count; i++) {
		uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);

		if (!hdr[i])
			continue;
		if ((r = lb_target_write(j->t, i * (uint64_t)d->chunk_size, hdr[i], len)) < 0)
			goto fail;
		p->bytes_written += len;
		p->done++;
		p->disk_bytes_done += len;
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
	progress_show(p, true);
	r = 0;
fail:
	if (hdr)
		for (uint64_t i = 0; idx && i < idx->count; i++)
			free(hdr[i]);
	free(hdr);
	free(buf);
	free(ib);
	lb_index_free(idx);
	return r;
}

int cmd_restore(int argc, char **argv)
{
	enum { O_DISK = 256, O_DRY, O_PROGRESS, O_NODELTA };
	static const struct option longopts[] = {
		{ "disk", required_argument, NULL, O_DISK },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "yes", no_argument, NULL, 'y' },
		{ "progress", required_argument, NULL, O_PROGRESS },
		{ "no-delta", no_argument, NULL, O_NODELTA },
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_manifest *m = NULL;
	struct lb_cli_pairs map = { 0 };
	struct job *jobs = NULL;
	struct progress p = { 0 };
	bool dry = false, yes = false, delta = true, failed_refused = false;
	size_t n = 0;
	int c, r, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "yh", longopts, NULL)) != -1) {
		switch (c) {
		case O_DISK:
			if (lb_cli_pair_add(&map, optarg, "--disk", "NAME=PATH") < 0)
				goto done;
			break;
		case O_DRY:
			dry = true;
			break;
		case 'y':
			yes = true;
			break;
		case O_PROGRESS:
			if (strcmp(optarg, "json") != 0) {
				lb_log("--progress: only json is known, not '%s'", optarg);
				goto done;
			}
			p.json = true;
			break;
		case O_NODELTA:
			delta = false;
			break;
		case 'h':
			fputs(HELP_restore, stdout);
			rc = LB_EXIT_OK;
			goto done;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 2 || map.n == 0)
		goto usage;
	rc = LB_EXIT_FAILURE;
	if (lb_store_open(argv[optind], &sopts, &st) < 0 || lb_point_load(st, argv[optind + 1], &m) < 0)
		goto done;

	/* The plan: every mapped name must be a disk of the point; targets are
	 * distinct, large enough, of the same sector size and unused. */
	rc = EXIT_REFUSED;
	jobs = calloc(map.n, sizeof(*jobs));
	if (!jobs) {
		rc = LB_EXIT_FAILURE;
		goto done;
	}
	for (size_t i = 0; i < map.n; i++) {
		const struct lb_manifest_disk *d = NULL;

		for (size_t k = 0; k < m->n_disks; k++)
			if (strcmp(m->disks[k].name, map.names[i]) == 0)
				d = &m->disks[k];
		if (!d) {
			lb_log("--disk %s: the point %s/%s has no disk of that name (it has:%s%s%s%s)", map.names[i],
			       m->server, m->id, m->n_disks > 0 ? " " : "", m->disks[0].name,
			       m->n_disks > 1 ? " " : "", m->n_disks > 1 ? m->disks[1].name : "");
			goto done;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(map.values[k], map.values[i]) == 0) {
				lb_log("--disk: %s is the target of both %s and %s", map.values[i], map.names[k],
				       map.names[i]);
				goto done;
			}
		jobs[n].d = d;
		jobs[n].path = map.values[i];
		n++;
	}
	/* The boot disk is finished last of all. */
	for (size_t i = 0; i + 1 < n; i++)
		if (jobs[i].d->boot) {
			struct job t = jobs[i];

			memmove(&jobs[i], &jobs[i + 1], (n - i - 1) * sizeof(*jobs));
			jobs[n - 1] = t;
			break;
		}
	for (size_t k = 0; k < m->n_disks; k++)
		if (lb_cli_pair_find(&map, m->disks[k].name) < 0)
			lb_log("disk %s of the point is not mapped (--disk %s=PATH) and will not be restored",
			       m->disks[k].name, m->disks[k].name);
	for (size_t i = 0; i < n; i++) {
		const struct lb_manifest_disk *d = jobs[i].d;

		if (lb_target_open(jobs[i].path, &jobs[i].t) < 0) {
			failed_refused = true;
			continue;
		}
		if (lb_target_size(jobs[i].t) < d->size) {
			lb_log("%s: %" PRIu64 " bytes is smaller than disk %s of the point (%" PRIu64 " bytes)",
			       jobs[i].path, lb_target_size(jobs[i].t), d->name, d->size);
			failed_refused = true;
		}
		if (lb_target_logical_sector_size(jobs[i].t) != d->logical_sector_size) {
			lb_log("%s: logical sector size %u, disk %s of the point has %u", jobs[i].path,
			       lb_target_logical_sector_size(jobs[i].t), d->name, d->logical_sector_size);
			failed_refused = true;
		}
	}
	if (failed_refused)
		goto done;

	fprintf(p.json ? stderr : stdout, "restore %s/%s (%s, created %s) from %s:\n", m->server, m->id,
		m->kind == LB_KIND_IMAGE ? "image" : "backup", m->id, lb_store_url(st));
	for (size_t i = 0; i < n; i++)
		fprintf(p.json ? stderr : stdout, "  disk %-10s %14" PRIu64 " bytes, %" PRIu64 " chunks (%" PRIu64
						   " zero)%s -> %s (%" PRIu64 " bytes)\n",
			jobs[i].d->name, jobs[i].d->size, jobs[i].d->chunk_count, jobs[i].d->zero_chunks,
			jobs[i].d->boot ? ", boot" : "", jobs[i].path, lb_target_size(jobs[i].t));
	if (dry) {
		fprintf(p.json ? stderr : stdout, "dry run: nothing written\n");
		rc = LB_EXIT_OK;
		goto done;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			lb_log("not a terminal: pass --yes to restore without confirmation");
			goto done;
		}
		const char **paths = calloc(n, sizeof(*paths));

		if (!paths)
			goto done;
		for (size_t i = 0; i < n; i++)
			paths[i] = jobs[i].path;
		r = lb_cli_confirm(paths, n);
		free(paths);
		if (r < 0)
			goto done;
	}

	rc = LB_EXIT_FAILURE;
	p.tty = !p.json && isatty(STDERR_FILENO);
	for (size_t i = 0; i < n; i++) {
		r = restore_disk(st, &jobs[i], delta, &p);
		if (r < 0) {
			lb_log("restore of disk %s onto %s failed", jobs[i].d->name, jobs[i].path);
			goto wipe;
		}
	}
	if (p.json)
		printf("{\"event\":\"finished\",\"point\":\"%s/%s\"}\n", m->server, m->id);
	lb_log("restored %s/%s", m->server, m->id);
	rc = LB_EXIT_OK;
	goto done;
wipe:
	/* No half-restored disk may look bootable. */
	for (size_t i = 0; i < n; i++)
		if (jobs[i].touched && lb_target_wipe_labels(jobs[i].t) == 0)
			lb_log("%s: partition table wiped (the restore did not finish)", jobs[i].path);
	if (p.json)
		printf("{\"event\":\"failed\",\"point\":\"%s/%s\"}\n", m->server, m->id);
	goto done;
usage:
	fputs("usage: lifeboat restore --disk NAME=PATH [--disk ...] [options] STORE POINT\n", stderr);
	rc = LB_EXIT_USAGE;
done:
	for (size_t i = 0; jobs && i < n; i++)
		lb_target_close(jobs[i].t);
	free(jobs);
	lb_cli_pairs_clear(&map);
	lb_manifest_free(m);
	lb_store_close(st);
	return rc;
}
