/* write - stream a plain disk image from a URL, S3 or a file onto a disk
 * usage: lifeboat write [options] SOURCE TARGET
 *
 * SOURCE is an http:// or https:// URL (a presigned S3 URL, a web server),
 * s3://BUCKET/KEY (signed with the usual credentials and endpoint, as for
 * `lifeboat s3`) or a local file. TARGET is a block device or an image
 * file; it must not be mounted, held, swap or the boot medium.
 *
 * The image is streamed: no temporary file, bounded memory. Its format is
 * told by its first bytes, never by its name: a zstd stream (one or more
 * frames) is decompressed on the way, anything else is written as it is.
 * A zstd stream that ends inside a frame, or has bytes after its last
 * frame, is an error. An image known to be larger than TARGET (from
 * Content-Length, the zstd frame header or --size) is refused before
 * anything is written; one that turns out larger, or ends short of the
 * announced size, fails.
 *
 * The first and last MiB of TARGET (partition tables, boot sectors, backup
 * GPT) are wiped before anything else is written. The first and last MiB of
 * the image are held in memory and written last, only after the stream
 * ended cleanly and the digests matched; on any failure the labels are
 * wiped again, so no half-written disk looks bootable. On a TARGET larger
 * than a GPT image the backup GPT is moved to the end of TARGET.
 *
 * Options:
 *   --sha256 HEX           SHA-256 of the file as served (what sha256sum of
 *                          the .zst or raw file prints)
 *   --sha256-disk HEX      SHA-256 of the image as written (decompressed)
 *   --size BYTES           the image's (decompressed) size, when the server
 *                          does not say it; 4096, 4K, 40M, 2G
 *   --dry-run              ask for the image (headers and first bytes only),
 *                          print what would be written where, write nothing
 *   -y, --yes              do not ask; required when stdin is not a terminal
 *   --progress=json        progress as JSON lines on stdout
 *   --endpoint URL         S3 endpoint for s3:// (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for https:// and the S3 endpoint
 *                          (s3:// default $AWS_CA_BUNDLE); TLS is always
 *                          verified
 *   -h, --help             this text
 *
 * URLs are logged without their query string (a presigned URL's query is
 * a secret). Broken transfers are retried (LIFEBOAT_RETRIES times, for at
 * most LIFEBOAT_RETRY_TIME seconds, an attempt aborted after
 * LIFEBOAT_STALL_TIMEOUT seconds without a byte: see `lifeboat help s3`)
 * and resumed with a Range request when the server pins the object with an
 * ETag.
 *
 * Exit status: 0 written, 1 failed (target wiped), 2 usage error,
 * 3 refused before anything was written (the target is unsuitable or too
 * small, or the operator said no).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunk.h"
#include "cli.h"
#include "gpt.h"
#include "hash.h"
#include "help.h"
#include "imagedec.h"
#include "imagesrc.h"
#include "lifeboat.h"
#include "target.h"
#include "util.h"

#define EXIT_REFUSED 3
#define UNKNOWN UINT64_MAX
/* Written in pieces of this size; the last LB_LABEL_AREA bytes seen are
 * always held back, since they may be the image's last MiB (backup GPT). */
#define FLUSH (4u << 20)
#define PEND_CAP (FLUSH + LB_LABEL_AREA)

struct job {
	const char *path;
	struct lb_target *t;
	uint64_t tsize;
	struct lb_imagedec *dec;
	const char *name;
	bool dry;
	uint64_t want_size;      /* --size, or UNKNOWN */
	/* what the source and the decoder said */
	uint64_t served_size;    /* Content-Length or file size, or UNKNOWN */
	uint64_t frame_size;     /* zstd frame header, or UNKNOWN */
	enum lb_image_format format;
	bool format_known;
	/* digests */
	struct lb_sha256_ctx *served_hash, *disk_hash;
	/* the writer */
	uint8_t *head, *pend;
	size_t head_len, pend_len;
	uint64_t pend_off;
	bool touched;            /* labels wiped or data written: wipe again on failure */
	bool refused;            /* refused before writing: exit 3, target unchanged */
	/* progress */
	bool json, tty;
	uint64_t served, out, written;
	struct timespec start, last;
};

static void progress_show(struct job *j, bool final)
{
	double el = lb_cli_secs_since(&j->start), rate = el > 0 ? (double)j->served / el : 0;
	bool sized = j->served_size != UNKNOWN && j->served_size > 0;
	double eta = sized && rate > 0 ? (double)(j->served_size - j->served) / rate : 0;

	if (!final && lb_cli_secs_since(&j->last) < 1.0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &j->last);
	if (j->json) {
		char ss[24] = "null"; /* unknown (chunked, no Content-Length) */

		if (sized)
			snprintf(ss, sizeof(ss), "%" PRIu64, j->served_size);
		printf("{\"event\":\"%s\",\"target\":\"%s\",\"bytes_served\":%" PRIu64 ",\"served_size\":%s"
		       ",\"image_bytes\":%" PRIu64 ",\"bytes_written\":%" PRIu64 ",\"rate\":%.0f,\"eta\":%.0f}\n",
		       final ? "done" : "progress", j->path, j->served, ss, j->out, j->written, rate, eta);
		fflush(stdout);
	} else if (j->tty || final) {
		fprintf(stderr, "%s%s: ", j->tty ? "\r" : "", j->path);
		if (sized)
			fprintf(stderr, "%3.0f%% ", 100.0 * (double)j->served / (double)j->served_size);
		fprintf(stderr, "%.1f MiB read, %.1f MiB of image; %.1f MiB/s", (double)j->served / 1048576.0,
			(double)j->out / 1048576.0, rate / 1048576.0);
		if (sized && !final)
			fprintf(stderr, ", ETA %.0f s", eta);
		fputs(final ? "\n" : "   ", stderr);
	}
}

/* ---- the writer: holds the first MiB and the latest MiB back ---- */

static int touch(struct job *j)
{
	if (j->touched)
		return 0;
	/* From here on the disk must not look bootable until it is whole. */
	j->touched = true;
	return lb_target_wipe_labels(j->t);
}

/* Write len bytes at off, in MiB pieces, zero ones as zeroing (holes in
 * files, BLKZEROOUT on disks: the old contents must not show through). */
static int put(struct job *j, uint64_t off, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n = len < LB_LABEL_AREA ? len : LB_LABEL_AREA;
		int r = lb_chunk_is_zero(p, n) ? lb_target_zero(j->t, off, n) : lb_target_write(j->t, off, p, n);

		if (r < 0)
			return r;
		j->written += n;
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int on_output(const void *data, size_t len, void *ud)
{
	struct job *j = ud;
	const uint8_t *p = data;
	int r;

	if (j->dry)
		return -ECANCELED; /* the format is known: enough for a plan */
	/* the ceiling on what a decompressor may produce: the disk */
	if (len > j->tsize - j->out) {
		lb_log("%s: the image is larger than %s (%" PRIu64 " bytes); nothing past its end was written",
		       j->name, j->path, j->tsize);
		return -EFBIG;
	}
	if (j->want_size != UNKNOWN && len > j->want_size - j->out) {
		lb_log("%s: the image is larger than --size %" PRIu64, j->name, j->want_size);
		return -EBADMSG;
	}
	if (j->disk_hash && (r = lb_sha256_update(j->disk_hash, data, len)) < 0)
		return r;
	j->out += len;
	if (j->head_len < LB_LABEL_AREA) {
		size_t n = LB_LABEL_AREA - j->head_len < len ? LB_LABEL_AREA - j->head_len : len;

		memcpy(j->head + j->head_len, p, n);
		j->head_len += n;
		p += n;
		len -= n;
	}
	while (len > 0) {
		size_t n = PEND_CAP - j->pend_len < len ? PEND_CAP - j->pend_len : len;

		memcpy(j->pend + j->pend_len, p, n);
		j->pend_len += n;
		p += n;
		len -= n;
		if (j->pend_len == PEND_CAP) {
			if ((r = touch(j)) < 0 || (r = put(j, j->pend_off, j->pend, FLUSH)) < 0)
				return r;
			memmove(j->pend, j->pend + FLUSH, PEND_CAP - FLUSH);
			j->pend_len -= FLUSH;
			j->pend_off += FLUSH;
		}
	}
	return 0;
}

/* ---- the sizes, checked as soon as each is known ---- */

static int too_big(struct job *j, uint64_t size, const char *how)
{
	if (size == UNKNOWN || size <= j->tsize)
		return 0;
	lb_log("%s: the image is %" PRIu64 " bytes (%s), larger than %s (%" PRIu64 " bytes); nothing written",
	       j->name, size, how, j->path, j->tsize);
	j->refused = true;
	return -EFBIG;
}

static int on_format(enum lb_image_format f, uint64_t size, void *ud)
{
	struct job *j = ud;
	int r;

	j->format = f;
	j->format_known = true;
	j->frame_size = size;
	if (f == LB_IMAGE_RAW && j->served_size != UNKNOWN && j->want_size != UNKNOWN &&
	    j->served_size != j->want_size) {
		lb_log("%s: the server says %" PRIu64 " bytes, --size says %" PRIu64, j->name, j->served_size,
		       j->want_size);
		return -EBADMSG;
	}
	if (f == LB_IMAGE_ZSTD && size != UNKNOWN && j->want_size != UNKNOWN && size > j->want_size) {
		lb_log("%s: the zstd frame holds %" PRIu64 " bytes, more than --size %" PRIu64, j->name, size,
		       j->want_size);
		return -EBADMSG;
	}
	r = too_big(j, f == LB_IMAGE_RAW ? j->served_size : size,
		    f == LB_IMAGE_RAW ? "as served" : "from the zstd frame header");
	if (r < 0 && j->dry) {
		j->refused = true;
		return -ECANCELED;
	}
	if (r < 0 || j->dry)
		return r;
	/* Committed: the old labels go before the first byte of the image
	 * is written, so a failure from here on leaves no bootable disk. */
	return touch(j);
}

/* ---- the source end ---- */

static int on_begin(uint64_t size, void *ud)
{
	struct job *j = ud;

	j->served_size = size;
	clock_gettime(CLOCK_MONOTONIC, &j->start);
	return 0;
}

static int on_data(const void *data, size_t len, void *ud)
{
	struct job *j = ud;
	int r;

	if (j->served_hash && (r = lb_sha256_update(j->served_hash, data, len)) < 0)
		return r;
	j->served += len;
	r = lb_imagedec_feed(j->dec, data, len);
	if (r == 0 && !j->dry)
		progress_show(j, false);
	return r;
}

static int check_digest(struct lb_sha256_ctx **c, const uint8_t want[32], const char *what, const char *name)
{
	uint8_t got[32];
	char want_hex[65], got_hex[65];
	int r = lb_sha256_end(*c, got);

	*c = NULL; /* freed by end */
	if (r < 0)
		return r;
	if (memcmp(got, want, 32) != 0) {
		lb_hex(want, 32, want_hex);
		lb_hex(got, 32, got_hex);
		lb_log("%s: %s is %s, not %s: refusing to finish the disk", name, what, got_hex, want_hex);
		return -EILSEQ;
	}
	return 0;
}

static int parse_sha(const char *opt, const char *arg, uint8_t out[32])
{
	char low[65];
	size_t n = strlen(arg);

	for (size_t i = 0; i < n && i < 64; i++)
		low[i] = (char)tolower((unsigned char)arg[i]);
	low[n < 64 ? n : 64] = '\0';
	if (n != 64 || lb_unhex(low, out, 32) < 0) {
		lb_log("%s: want 64 hex digits (what sha256sum prints), not '%s'", opt, arg);
		return -EINVAL;
	}
	return 0;
}

/* After a clean end of stream: the sizes and digests, then the held bytes,
 * the image's last MiB before its first. */
static int finish(struct job *j, const uint8_t *want_served, const uint8_t *want_disk)
{
	uint64_t size = j->out;
	int r;

	if (size == 0) {
		lb_log("%s: the image is empty", j->name);
		return -EBADMSG;
	}
	if (j->want_size != UNKNOWN && size != j->want_size) {
		lb_log("%s: the image ends after %" PRIu64 " bytes, --size says %" PRIu64, j->name, size, j->want_size);
		return -EBADMSG;
	}
	if (want_served && (r = check_digest(&j->served_hash, want_served, "SHA-256 as served", j->name)) < 0)
		return r;
	if (want_disk && (r = check_digest(&j->disk_hash, want_disk, "SHA-256 of the image", j->name)) < 0)
		return r;
	if ((r = touch(j)) < 0 || (r = put(j, j->pend_off, j->pend, j->pend_len)) < 0 ||
	    (r = lb_target_sync(j->t)) < 0)
		return r;
	/* Everything else is verified and on the disk: now the labels. */
	if ((r = put(j, 0, j->head, j->head_len)) < 0)
		return r;
	/* A larger target: its backup GPT belongs at its end, not where the
	 * image ended (a disk without a GPT is left alone). */
	if (j->tsize > size) {
		r = lb_gpt_move_backup(j->t, lb_target_logical_sector_size(j->t), size);
		if (r < 0)
			return r;
		if (r > 0)
			lb_log("%s: backup GPT moved to the end of the disk (%" PRIu64 " bytes, the image has %" PRIu64
			       ")",
			       j->path, j->tsize, size);
	}
	return lb_target_sync(j->t);
}

static void describe_size(const struct job *j, char *buf, size_t n)
{
	if (j->format == LB_IMAGE_RAW && j->served_size != UNKNOWN)
		snprintf(buf, n, "%" PRIu64 " bytes", j->served_size);
	else if (j->format == LB_IMAGE_ZSTD && j->frame_size != UNKNOWN)
		snprintf(buf, n, "%" PRIu64 " bytes by its frame header", j->frame_size);
	else if (j->want_size != UNKNOWN)
		snprintf(buf, n, "%" PRIu64 " bytes by --size", j->want_size);
	else
		snprintf(buf, n, "size known at its end");
}

int cmd_write(int argc, char **argv)
{
	enum { O_SHA = 256, O_SHADISK, O_SIZE, O_DRY, O_PROGRESS, O_ENDPOINT, O_REGION, O_CA };
	static const struct option longopts[] = {
		{ "sha256", required_argument, NULL, O_SHA },
		{ "sha256-disk", required_argument, NULL, O_SHADISK },
		{ "size", required_argument, NULL, O_SIZE },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "yes", no_argument, NULL, 'y' },
		{ "progress", required_argument, NULL, O_PROGRESS },
		{ "endpoint", required_argument, NULL, O_ENDPOINT },
		{ "region", required_argument, NULL, O_REGION },
		{ "ca-bundle", required_argument, NULL, O_CA },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_imagesrc_opts so = { 0 };
	struct lb_imagesrc *src = NULL;
	struct job j = { .want_size = UNKNOWN, .served_size = UNKNOWN, .frame_size = UNKNOWN,
			 .pend_off = LB_LABEL_AREA };
	struct lb_imagedec_ops dops = { on_format, on_output, &j };
	struct lb_imagesrc_sink sink = { on_begin, on_data, &j };
	uint8_t want_served[32], want_disk[32];
	bool have_served = false, have_disk = false, yes = false;
	FILE *info;
	char sz[96];
	int c, r, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "yh", longopts, NULL)) != -1) {
		switch (c) {
		case O_SHA:
			if (parse_sha("--sha256", optarg, want_served) < 0)
				goto done;
			have_served = true;
			break;
		case O_SHADISK:
			if (parse_sha("--sha256-disk", optarg, want_disk) < 0)
				goto done;
			have_disk = true;
			break;
		case O_SIZE:
			if (lb_cli_parse_size(optarg, &j.want_size) < 0 || j.want_size == 0) {
				lb_log("--size: want a byte count (4096, 4K, 40M, 2G), not '%s'", optarg);
				goto done;
			}
			break;
		case O_DRY:
			j.dry = true;
			break;
		case 'y':
			yes = true;
			break;
		case O_PROGRESS:
			if (strcmp(optarg, "json") != 0) {
				lb_log("--progress: only json is known, not '%s'", optarg);
				goto done;
			}
			j.json = true;
			break;
		case O_ENDPOINT:
			so.endpoint = optarg;
			break;
		case O_REGION:
			so.region = optarg;
			break;
		case O_CA:
			so.ca_bundle = optarg;
			break;
		case 'h':
			fputs(HELP_write, stdout);
			rc = LB_EXIT_OK;
			goto done;
		default:
			goto usage;
		}
	}
	if (optind != argc - 2)
		goto usage;
	j.path = argv[optind + 1];
	info = j.json ? stderr : stdout;

	rc = LB_EXIT_FAILURE;
	if (lb_imagesrc_open(argv[optind], &so, &src) < 0)
		goto done;
	j.name = lb_imagesrc_name(src);
	if (lb_imagedec_new(j.name, &dops, &j.dec) < 0)
		goto done;
	rc = EXIT_REFUSED;
	if (lb_target_open(j.path, &j.t) < 0)
		goto done;
	j.tsize = lb_target_size(j.t);
	if (too_big(&j, j.want_size, "--size") < 0)
		goto done;

	fprintf(info, "write %s -> %s (%" PRIu64 " bytes)\n", j.name, j.path, j.tsize);
	if (j.dry) {
		/* The headers and the first bytes tell the size and format. */
		r = lb_imagesrc_read(src, &sink);
		if (r == 0)
			r = lb_imagedec_end(j.dec);
		if (r < 0 && r != -ECANCELED) {
			rc = LB_EXIT_FAILURE;
			goto done;
		}
		describe_size(&j, sz, sizeof(sz));
		fprintf(info, "  %s image, %s", lb_image_format_name(j.format), sz);
		if (j.served_size != UNKNOWN)
			fprintf(info, ", %" PRIu64 " bytes served", j.served_size);
		fprintf(info, "\n");
		if (j.refused)
			goto done;
		fprintf(info, "dry run: nothing written\n");
		rc = LB_EXIT_OK;
		goto done;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			lb_log("not a terminal: pass --yes to write without confirmation");
			goto done;
		}
		if (lb_cli_confirm(&j.path, 1) < 0)
			goto done;
	}

	rc = LB_EXIT_FAILURE;
	j.head = malloc(LB_LABEL_AREA);
	j.pend = malloc(PEND_CAP);
	if (!j.head || !j.pend || (have_served && lb_sha256_begin(&j.served_hash) < 0) ||
	    (have_disk && lb_sha256_begin(&j.disk_hash) < 0)) {
		lb_log("write: out of memory");
		goto done;
	}
	j.tty = !j.json && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &j.start);
	r = lb_imagesrc_read(src, &sink);
	if (r == 0)
		r = lb_imagedec_end(j.dec);
	if (r == 0) {
		describe_size(&j, sz, sizeof(sz));
		lb_log("%s: %s image, %" PRIu64 " bytes (%" PRIu64 " served, %" PRIu64 " zstd frames)", j.name,
		       lb_image_format_name(j.format), j.out, j.served, lb_imagedec_frames(j.dec));
		r = finish(&j, have_served ? want_served : NULL, have_disk ? want_disk : NULL);
	}
	if (r < 0) {
		if (j.refused && !j.touched) {
			rc = EXIT_REFUSED;
			goto done;
		}
		/* No half-written disk may look bootable. */
		if (j.touched && lb_target_wipe_labels(j.t) == 0)
			lb_log("%s: partition table wiped (the write did not finish)", j.path);
		lb_log("write %s onto %s failed", j.name, j.path);
		if (j.json)
			printf("{\"event\":\"failed\",\"target\":\"%s\"}\n", j.path);
		goto done;
	}
	progress_show(&j, true);
	if (j.json)
		printf("{\"event\":\"finished\",\"target\":\"%s\",\"image_bytes\":%" PRIu64 "}\n", j.path, j.out);
	lb_log("wrote %s onto %s (%" PRIu64 " bytes)", j.name, j.path, j.out);
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat write [options] SOURCE TARGET\n", stderr);
	rc = LB_EXIT_USAGE;
done:
	lb_sha256_free(j.served_hash);
	lb_sha256_free(j.disk_hash);
	free(j.head);
	free(j.pend);
	lb_imagedec_free(j.dec);
	lb_target_close(j.t);
	lb_imagesrc_free(src);
	return rc;
}
