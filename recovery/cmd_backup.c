/* backup - store disks as a restore point
 * usage: lifeboat backup --server NAME --disk NAME=PATH [--disk ...] [options] STORE
 *
 * Reads each disk (a block device or an image file) in fixed-size chunks,
 * skips chunks that are all zero, and uploads every other chunk that the
 * store does not hold yet (zstd-compressed, named by the SHA-256 of its
 * bytes), then each disk's chunk index and, last of all, the manifest: a
 * point becomes visible only when everything it needs is stored. A backup
 * that stops midway leaves no point; run it again and it reuses the chunks
 * already uploaded. STORE is s3://bucket/prefix or a directory.
 *
 * Options:
 *   --server NAME          the server the point belongs to (1-63 of A-Za-z0-9._-)
 *   --disk NAME=PATH       a disk of the point (NAME: 1-32 of a-z0-9_-);
 *                          repeat for every disk of the server
 *   --system NAME          the system disk (default: the disk named "system")
 *   --boot NAME            the disk the firmware boots (default: the system disk)
 *   --kind backup|image    (default backup)
 *   --image-type TYPE      for images: system, data or full
 *   --name TEXT            for images: a name
 *   --description TEXT     for images: a description
 *   --label KEY=VALUE      a label; repeatable
 *   --chunk-size SIZE      4K..64M, a power of two (default 4M)
 *   --level N              zstd level 1-19 (default 3)
 *   --workers N            chunks read, hashed, compressed and uploaded at once,
 *                          each over its own connection (default: one per CPU, 1-64)
 *   --allow-mounted        back up a mounted disk (its file systems may be
 *                          inconsistent: stop writers or use a snapshot)
 *   --sign-key FILE        sign the point with this private key (lifeboat key
 *                          generate; mode 0600), default $LIFEBOAT_SIGN_KEY:
 *                          its signature (points/SERVER/ID.sig) is stored
 *                          just before the manifest
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Prints the stored point as SERVER/ID on stdout, and what was read,
 * uploaded and reused on stderr.
 *
 * Faults of the network or the store: every request is retried on
 * connection errors, stalls, 5xx, 429 and bodies damaged on the way (S3's
 * 400 BadDigest, XAmzContentSHA256Mismatch), at most LIFEBOAT_RETRIES times
 * (default 6) and never after LIFEBOAT_RETRY_TIME seconds (default 120)
 * from its first attempt; an attempt with no byte moving for
 * LIFEBOAT_STALL_TIMEOUT seconds (default 60) is aborted. When they are
 * spent the backup stops, and no point is visible.
 *
 * Exit status: 0 stored, 1 failed (no point visible), 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "cli.h"
#include "help.h"
#include "key.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "sig.h"
#include "store.h"
#include "util.h"
#include "writer.h"

/* Ids order a server's points by time, to the second, and `latest` relies
 * on it: a new point must be strictly newer than the newest one stored. Two
 * backups within one second wait for the next second; a newest point from
 * the future (a clock gone wrong on some machine) is stepped over. */
static int next_time(struct lb_store *st, const char *server, time_t *t)
{
	char **keys = NULL, newest[17] = "", now[17];
	size_t n = 0;
	struct tm tm;
	int r = lb_point_keys(st, server, &keys, &n);

	if (r < 0)
		return r;
	if (n > 0) {
		const char *id = strrchr(keys[n - 1], '/');

		if (id && strlen(id + 1) >= 16)
			memcpy(newest, id + 1, 16);
	}
	lb_point_strv_free(keys, n);
	for (;;) {
		strftime(now, sizeof(now), "%Y%m%dT%H%M%SZ", gmtime_r(t, &tm));
		if (!*newest || strcmp(now, newest) > 0)
			return 0;
		memset(&tm, 0, sizeof(tm));
		if (!strptime(newest, "%Y%m%dT%H%M%SZ", &tm))
			return 0;
		if (timegm(&tm) - *t > 2) {
			lb_log("the newest point of %s is from %s, later than this machine's clock: check the clocks", server,
			       newest);
			*t = timegm(&tm) + 1;
			return 0;
		}
		sleep(1);
		*t = time(NULL);
	}
}

/* points/SERVER/ID.sig for the manifest bytes about to be stored. */
static int put_signature(struct lb_store *st, const struct lb_key *k, const char *key, const char *json, size_t len)
{
	char *sig = NULL, *sig_key = lb_sig_key(key);
	size_t sig_len = 0;
	int r = sig_key ? lb_sig_format(k, key, json, len, &sig, &sig_len) : -ENOMEM;

	if (r == 0)
		r = lb_store_put(st, sig_key, sig, sig_len);
	free(sig);
	free(sig_key);
	return r;
}

int cmd_backup(int argc, char **argv)
{
	enum { O_SERVER = 256, O_DISK, O_SYSTEM, O_BOOT, O_KIND, O_ITYPE, O_NAME, O_DESC, O_LABEL, O_CHUNK,
	       O_LEVEL, O_MOUNTED, O_WORKERS, O_SIGN };
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "disk", required_argument, NULL, O_DISK },
		{ "system", required_argument, NULL, O_SYSTEM },
		{ "boot", required_argument, NULL, O_BOOT },
		{ "kind", required_argument, NULL, O_KIND },
		{ "image-type", required_argument, NULL, O_ITYPE },
		{ "name", required_argument, NULL, O_NAME },
		{ "description", required_argument, NULL, O_DESC },
		{ "label", required_argument, NULL, O_LABEL },
		{ "chunk-size", required_argument, NULL, O_CHUNK },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "allow-mounted", no_argument, NULL, O_MOUNTED },
		{ "sign-key", required_argument, NULL, O_SIGN },
		{ "workers", required_argument, NULL, O_WORKERS },
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_manifest *m = NULL;
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_cli_pairs disks = { 0 }, labels = { 0 };
	struct lb_backup_opts bo = { 0 };
	struct lb_backup *b = NULL;
	struct lb_backup_stats s = { 0 };
	struct lb_writer *w = NULL;
	const char *system = NULL, *boot = NULL, *sign_path = getenv("LIFEBOAT_SIGN_KEY");
	struct lb_key *sign = NULL;
	char *json = NULL, *key = NULL, id[26];
	size_t json_len = 0;
	uint64_t chunk_size = LB_CHUNK_SIZE_DEFAULT;
	int c, r, rc = LB_EXIT_USAGE;
	time_t t0 = time(NULL);

	m = calloc(1, sizeof(*m));
	if (!m)
		return LB_EXIT_FAILURE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_SERVER:
			free(m->server);
			m->server = strdup(optarg);
			break;
		case O_DISK:
			if (lb_cli_pair_add(&disks, optarg, "--disk", "NAME=PATH") < 0)
				goto done;
			break;
		case O_SYSTEM:
			system = optarg;
			break;
		case O_BOOT:
			boot = optarg;
			break;
		case O_KIND:
			if (strcmp(optarg, "backup") != 0 && strcmp(optarg, "image") != 0) {
				lb_log("--kind: backup or image, not '%s'", optarg);
				goto done;
			}
			m->kind = strcmp(optarg, "image") == 0 ? LB_KIND_IMAGE : LB_KIND_BACKUP;
			break;
		case O_ITYPE:
			m->image_type = strcmp(optarg, "system") == 0 ? LB_IMAGE_SYSTEM :
					strcmp(optarg, "data") == 0   ? LB_IMAGE_DATA :
					strcmp(optarg, "full") == 0   ? LB_IMAGE_FULL :
									LB_IMAGE_NONE;
			if (m->image_type == LB_IMAGE_NONE) {
				lb_log("--image-type: system, data or full, not '%s'", optarg);
				goto done;
			}
			break;
		case O_NAME:
			free(m->name);
			m->name = strdup(optarg);
			break;
		case O_DESC:
			free(m->description);
			m->description = strdup(optarg);
			break;
		case O_LABEL:
			if (lb_cli_pair_add(&labels, optarg, "--label", "KEY=VALUE") < 0)
				goto done;
			break;
		case O_CHUNK:
			if (lb_cli_parse_size(optarg, &chunk_size) < 0 || chunk_size < LB_CHUNK_SIZE_MIN ||
			    chunk_size > LB_CHUNK_SIZE_MAX || (chunk_size & (chunk_size - 1))) {
				lb_log("--chunk-size: a power of two from 4K to 64M, not '%s'", optarg);
				goto done;
			}
			break;
		case O_LEVEL:
			if (lb_cli_parse_level(optarg, &bo.level) < 0)
				goto done;
			break;
		case O_MOUNTED:
			bo.allow_mounted = true;
			break;
		case O_WORKERS:
			if (lb_cli_parse_workers(optarg, &bo.workers) < 0)
				goto done;
			break;
		case O_SIGN:
			sign_path = optarg;
			break;
		case 'h':
			fputs(HELP_backup, stdout);
			rc = LB_EXIT_OK;
			goto done;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 1 || !m->server || disks.n == 0)
		goto usage;
	if (!lb_manifest_server_ok(m->server)) {
		lb_log("--server %s: 1-63 of A-Z a-z 0-9 . _ -, not starting with .", m->server);
		goto done;
	}
	for (size_t i = 0; i < disks.n; i++)
		if (!lb_manifest_disk_name_ok(disks.names[i])) {
			lb_log("--disk %s=...: a disk name is 1-32 of a-z 0-9 _ -", disks.names[i]);
			goto done;
		}
	if (lb_cli_check_labels(&labels) < 0)
		goto done;
	if (m->kind == LB_KIND_BACKUP && (m->image_type != LB_IMAGE_NONE || m->name || m->description)) {
		lb_log("--image-type, --name and --description are for --kind image");
		goto done;
	}
	if (m->kind == LB_KIND_IMAGE && m->image_type == LB_IMAGE_NONE) {
		lb_log("--kind image needs --image-type system, data or full");
		goto done;
	}
	if (!system && lb_cli_pair_find(&disks, "system") >= 0)
		system = "system";
	if (system && lb_cli_pair_find(&disks, system) < 0) {
		lb_log("--system %s: no --disk of that name", system);
		goto done;
	}
	if (!boot)
		boot = system;
	if (boot && lb_cli_pair_find(&disks, boot) < 0) {
		lb_log("--boot %s: no --disk of that name", boot);
		goto done;
	}

	rc = LB_EXIT_FAILURE;
	/* The key before any upload: a wrong key file costs nothing. */
	if (sign_path && *sign_path && lb_key_load(sign_path, true, &sign) < 0)
		goto done;
	/* The writer makes the store's marker and takes the run's start. */
	if (lb_store_open(argv[optind], &sopts, &st) < 0 || lb_store_writable(st) < 0 || lb_writer_new(st, &w) < 0 ||
	    next_time(st, m->server, &t0) < 0)
		goto done;
	if (lb_manifest_new_id(t0, id) < 0)
		goto done;
	m->id = strdup(id);
	m->created = t0;
	m->tool = lb_strdupf("lifeboat %s", LIFEBOAT_VERSION);
	m->n_labels = labels.n;
	m->label_keys = labels.names;
	m->label_values = labels.values;
	labels.names = labels.values = NULL;
	labels.n = 0;
	m->disks = calloc(disks.n, sizeof(*m->disks));
	if (!m->id || !m->tool || !m->disks)
		goto done;
	m->n_disks = disks.n;
	for (size_t i = 0; i < disks.n; i++) {
		m->disks[i].name = strdup(disks.names[i]);
		m->disks[i].system = system && strcmp(system, disks.names[i]) == 0;
		m->disks[i].boot = boot && strcmp(boot, disks.names[i]) == 0;
		m->disks[i].chunk_size = (uint32_t)chunk_size;
		if (!m->disks[i].name)
			goto done;
	}
	bo.chunk_size = (uint32_t)chunk_size;
	bo.writer = w;
	if (lb_backup_new(st, &bo, &b) < 0)
		goto done;

	for (size_t i = 0; i < disks.n; i++) {
		struct lb_backup_stats before = s;

		r = lb_backup_disk(b, disks.values[i], &m->disks[i], &s);
		if (r < 0) {
			lb_log("backup of disk %s (%s) failed; no restore point was written", disks.names[i],
			       disks.values[i]);
			goto done;
		}
		lb_log("disk %s (%s): %" PRIu64 " chunks: %" PRIu64 " uploaded (%" PRIu64 " bytes), %" PRIu64
		       " already stored, %" PRIu64 " zero",
		       disks.names[i], disks.values[i], s.chunks - before.chunks, s.uploaded - before.uploaded,
		       s.bytes_uploaded - before.bytes_uploaded, s.reused - before.reused, s.zero - before.zero);
	}
	/* The manifest last: only now does the point exist. Its signature
	 * just before it, so that a point is never visible unsigned. */
	if (lb_manifest_format(m, &json, &json_len) < 0 || !(key = lb_manifest_key(m)) ||
	    (sign && put_signature(st, sign, key, json, json_len) < 0) || lb_writer_commit(w, key, json, json_len) < 0) {
		lb_log("writing the manifest failed; no restore point was written");
		goto done;
	}
	printf("%s/%s\n", m->server, m->id);
	if (sign)
		lb_log("signed %s with key %.16s (%s)", key, lb_key_id(sign), lb_key_name(sign));
	lb_log("stored %s in %s: %" PRIu64 " bytes read, %" PRIu64 " chunks uploaded (%" PRIu64 " bytes), %" PRIu64
	       " reused (%" PRIu64 " refreshed), %" PRIu64 " zero, %lld s, %u workers",
	       key, lb_store_url(st), s.bytes_read, s.uploaded, s.bytes_uploaded, s.reused,
	       lb_writer_stats(w)->touched, s.zero, (long long)(time(NULL) - t0), lb_backup_workers(b));
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat backup --server NAME --disk NAME=PATH [--disk ...] [options] STORE\n", stderr);
	rc = LB_EXIT_USAGE;
done:
	free(json);
	free(key);
	lb_backup_free(b);
	lb_writer_free(w);
	lb_cli_pairs_clear(&disks);
	lb_cli_pairs_clear(&labels);
	lb_manifest_free(m);
	lb_key_free(sign);
	lb_store_close(st);
	return rc;
}
