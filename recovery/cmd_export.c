/* export - write a disk of a restore point out as a raw or qcow2 file
 * usage: lifeboat export [options] STORE POINT FILE
 *
 * POINT is SERVER/ID or SERVER/latest. Writes the disk's bytes into FILE,
 * every chunk verified against its hash first, as a restore would: a
 * sparse raw image (zero chunks are holes), or a qcow2 image (version 3,
 * 64 KiB clusters, uncompressed; all-zero clusters left unallocated) for a
 * VM. FILE must not exist unless --force. A failed export removes FILE: a
 * half-written image is never left behind.
 *
 * Options:
 *   --disk NAME            the disk (needed when the point has several)
 *   --format raw|qcow2     (default raw)
 *   --force                overwrite FILE if it exists
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Exit status: 0 written, 1 failed (FILE removed), 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "help.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "qcow2.h"
#include "store.h"
#include "util.h"

static int write_all(int fd, const char *path, uint64_t off, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;

			lb_log("write %s at offset %" PRIu64 ": %s", path, off + done, strerror(e));
			return -e;
		}
		done += (size_t)n;
	}
	return 0;
}

static int export_disk(struct lb_store *st, const struct lb_manifest_disk *d, int fd, const char *path, bool qcow2,
		       uint64_t *ret_fetched, uint64_t *ret_file)
{
	struct lb_qcow2_writer *w = NULL;
	struct lb_index *idx = NULL;
	uint8_t *buf = NULL;
	int r;

	if ((r = lb_point_index(st, d, &idx)) < 0)
		return r;
	buf = malloc(d->chunk_size);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	if (qcow2) {
		if ((r = lb_qcow2_writer_new(fd, path, d->size, &w)) < 0)
			goto fail;
	} else if (ftruncate(fd, (off_t)d->size) < 0) {
		r = -errno;
		lb_log("%s: setting its size to %" PRIu64 ": %s", path, d->size, strerror(errno));
		goto fail;
	}
	for (uint64_t i = 0; i < idx->count; i++) {
		uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);
		bool zero = lb_hash_is_zero(idx->hash[i]);
		char name[96];

		if (!zero) {
			snprintf(name, sizeof(name), "disk %s, chunk %" PRIu64, d->name, i);
			if ((r = lb_point_fetch(st, idx->hash[i], len, buf, name, NULL)) < 0)
				goto fail;
			(*ret_fetched)++;
		}
		if (qcow2)
			r = lb_qcow2_writer_write(w, zero ? NULL : buf, len);
		else if (!zero)
			r = write_all(fd, path, i * (uint64_t)d->chunk_size, buf, len);
		if (r < 0)
			goto fail;
	}
	if (qcow2) {
		r = lb_qcow2_writer_finish(w, ret_file);
	} else {
		*ret_file = d->size;
		if (fsync(fd) < 0) {
			r = -errno;
			lb_log("flush %s: %s", path, strerror(errno));
		}
	}
fail:
	lb_qcow2_writer_free(w);
	free(buf);
	lb_index_free(idx);
	return r;
}

int cmd_export(int argc, char **argv)
{
	enum { O_DISK = 256, O_FORMAT, O_FORCE };
	static const struct option longopts[] = {
		{ "disk", required_argument, NULL, O_DISK },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "force", no_argument, NULL, O_FORCE },
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_manifest *m = NULL;
	const struct lb_manifest_disk *d = NULL;
	const char *disk = NULL, *path;
	bool qcow2 = false, force = false, created = false;
	uint64_t fetched = 0, file_size = 0, ms;
	int c, fd = -1, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_DISK:
			disk = optarg;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "raw") != 0 && strcmp(optarg, "qcow2") != 0) {
				lb_log("--format: raw or qcow2, not '%s'", optarg);
				goto done;
			}
			qcow2 = strcmp(optarg, "qcow2") == 0;
			break;
		case O_FORCE:
			force = true;
			break;
		case 'h':
			fputs(HELP_export, stdout);
			return LB_EXIT_OK;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 3)
		goto usage;
	path = argv[optind + 2];
	rc = LB_EXIT_FAILURE;
	if (lb_store_open(argv[optind], &sopts, &st) < 0 || lb_point_load(st, argv[optind + 1], NULL, &m, NULL) < 0)
		goto done;
	for (size_t i = 0; i < m->n_disks; i++)
		if (disk ? strcmp(m->disks[i].name, disk) == 0 : m->n_disks == 1)
			d = &m->disks[i];
	if (!d) {
		lb_log("%s/%s has %s%s%s; name it with --disk (disks:", m->server, m->id,
		       disk ? "no disk " : "several disks", disk ? disk : "", "");
		for (size_t i = 0; i < m->n_disks; i++)
			fprintf(stderr, " %s", m->disks[i].name);
		fprintf(stderr, ")\n");
		rc = LB_EXIT_USAGE;
		goto done;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0644);
	if (fd < 0) {
		lb_log("create %s: %s%s", path, strerror(errno), errno == EEXIST ? " (--force overwrites it)" : "");
		goto done;
	}
	created = true;
	ms = lb_mono_ms();
	if (export_disk(st, d, fd, path, qcow2, &fetched, &file_size) < 0) {
		lb_log("export of disk %s of %s/%s failed; %s removed", d->name, m->server, m->id, path);
		goto done;
	}
	ms = lb_mono_ms() - ms;
	lb_log("disk %s of %s/%s: %" PRIu64 " bytes as %s in %s (%" PRIu64 " bytes), %" PRIu64
	       " chunks fetched and verified, %.1f s",
	       d->name, m->server, m->id, d->size, qcow2 ? "qcow2" : "raw", path, file_size, fetched,
	       (double)ms / 1000.0);
	created = false;
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat export [--disk NAME] [--format raw|qcow2] [options] STORE POINT FILE\n", stderr);
done:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(path);
	lb_manifest_free(m);
	lb_store_close(st);
	return rc;
}
