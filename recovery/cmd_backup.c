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
 *   --allow-mounted        back up a mounted disk (its file systems may be
 *                          inconsistent: stop writers or use a snapshot)
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

#include "chunk.h"
#include "cli.h"
#include "disk.h"
#include "hash.h"
#include "help.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "probe.h"
#include "store.h"
#include "target.h"
#include "util.h"

struct stats {
	uint64_t chunks, zero, uploaded, reused;
	uint64_t bytes_read, bytes_uploaded;
};

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
static void describe_source(const char *path, struct lb_manifest_disk *d)
{
	struct lb_disks_opts opts = { .all = true };
	struct lb_disk_list *l = NULL;
	struct lb_probe_info pi = { 0 };
	struct stat sb;
	char *real = stat(path, &sb) == 0 && S_ISBLK(sb.st_mode) ? realpath(path, NULL) : NULL;

	/* Hints (model, serial, ...) exist for block devices only. */
	d->src_path = strdup(path);
	if (lb_probe_node(path, &pi) == 0) {
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

static int backup_disk(struct lb_store *st, const char *path, bool allow_mounted, int level,
		       struct lb_manifest_disk *d, struct seen *seen, struct stats *s)
{
	struct lb_target *src = NULL;
	struct lb_index *idx = NULL;
	uint8_t *buf = NULL, *ib = NULL, h[32];
	void *z = NULL;
	size_t zlen = 0, iblen = 0;
	char key[128], hex[65];
	int r;

	r = lb_target_open_source(path, &src);
	if (r < 0)
		goto fail;
	if (lb_target_is_blockdev(src) && !allow_mounted) {
		r = lb_target_check_unused(path);
		if (r < 0) {
			lb_log("%s: back it up from a snapshot, or pass --allow-mounted to take it as it is", path);
			goto fail;
		}
	}
	d->size = lb_target_size(src);
	d->logical_sector_size = lb_target_logical_sector_size(src);
	d->physical_sector_size = lb_target_physical_sector_size(src);
	if (d->size == 0 || d->size % d->logical_sector_size) {
		lb_log("%s: %" PRIu64 " bytes is not a whole number of %u-byte sectors", path, d->size,
		       d->logical_sector_size);
		r = -EINVAL;
		goto fail;
	}
	describe_source(path, d);
	r = lb_index_new(d->chunk_size, d->size, &idx);
	if (r < 0) {
		lb_log("%s: %" PRIu64 " bytes in %u-byte chunks: %s", path, d->size, d->chunk_size,
		       r == -EFBIG ? "too many chunks; use a larger --chunk-size" : strerror(-r));
		goto fail;
	}
	buf = malloc(d->chunk_size);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	for (uint64_t i = 0; i < idx->count; i++) {
		uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);

		r = lb_target_read(src, i * (uint64_t)d->chunk_size, buf, len);
		if (r < 0)
			goto fail;
		s->chunks++;
		s->bytes_read += len;
		if (lb_chunk_is_zero(buf, len)) {
			d->zero_chunks++;
			s->zero++;
			continue; /* the index entry stays zero */
		}
		if ((r = lb_sha256(buf, len, h)) < 0)
			goto fail;
		memcpy(idx->hash[i], h, 32);
		if (seen_has(seen, h)) {
			s->reused++;
			continue;
		}
		lb_chunk_key(h, key);
		r = lb_store_exists(st, key);
		if (r < 0)
			goto fail;
		if (r == 0) {
			z = malloc(lb_chunk_stored_max(len));
			if (!z) {
				r = -ENOMEM;
				goto fail;
			}
			if ((r = lb_chunk_compress(NULL, buf, len, level, z, lb_chunk_stored_max(len), &zlen)) < 0)
				goto fail;
			r = lb_store_put(st, key, z, zlen);
			free(z);
			z = NULL;
			if (r < 0)
				goto fail;
			s->uploaded++;
			s->bytes_uploaded += zlen;
		} else {
			s->reused++;
		}
		if ((r = seen_add(seen, h)) < 0)
			goto fail;
	}
	d->chunk_count = idx->count;
	if ((r = lb_index_format(idx, &ib, &iblen)) < 0 || (r = lb_sha256(ib, iblen, d->index_sha256)) < 0 ||
	    (r = lb_index_digest(idx, d->digest)) < 0)
		goto fail;
	d->index_size = iblen;
	lb_hex(d->index_sha256, 32, hex);
	d->index_key = lb_strdupf("indexes/%s.lbi", hex);
	if (!d->index_key) {
		r = -ENOMEM;
		goto fail;
	}
	r = lb_store_exists(st, d->index_key);
	if (r == 0)
		r = lb_store_put(st, d->index_key, ib, iblen);
	if (r < 0)
		goto fail;
	r = 0;
fail:
	free(z);
	free(ib);
	free(buf);
	lb_index_free(idx);
	lb_target_close(src);
	return r;
}

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

static int ensure_marker(struct lb_store *st)
{
	static const char marker[] =
		"{\"format\": \"lifeboat-store\", \"version\": 1, \"chunk_hash\": \"sha256\", \"compression\": \"zstd\"}\n";
	int r = lb_store_exists(st, "lifeboat-store.json");

	return r != 0 ? (r < 0 ? r : 0) : lb_store_put(st, "lifeboat-store.json", marker, sizeof(marker) - 1);
}

int cmd_backup(int argc, char **argv)
{
	enum { O_SERVER = 256, O_DISK, O_SYSTEM, O_BOOT, O_KIND, O_ITYPE, O_NAME, O_DESC, O_LABEL, O_CHUNK,
	       O_LEVEL, O_MOUNTED };
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
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_manifest *m = NULL;
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_cli_pairs disks = { 0 }, labels = { 0 };
	struct seen seen = { 0 };
	struct stats s = { 0 };
	const char *system = NULL, *boot = NULL;
	char *json = NULL, *key = NULL, id[26];
	size_t json_len = 0;
	uint64_t chunk_size = LB_CHUNK_SIZE_DEFAULT;
	bool allow_mounted = false;
	int c, level = 3, r, rc = LB_EXIT_USAGE;
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
			level = atoi(optarg);
			if (level < 1 || level > 19) {
				lb_log("--level: 1 to 19, not '%s'", optarg);
				goto done;
			}
			break;
		case O_MOUNTED:
			allow_mounted = true;
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
	for (size_t i = 0; i < labels.n; i++)
		if (strlen(labels.names[i]) > 128 || strlen(labels.values[i]) > 1024) {
			lb_log("--label %s: keys are at most 128 bytes, values 1024", labels.names[i]);
			goto done;
		}
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
	if (lb_store_open(argv[optind], &sopts, &st) < 0 || ensure_marker(st) < 0 || next_time(st, m->server, &t0) < 0)
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

	for (size_t i = 0; i < disks.n; i++) {
		struct stats before = s;

		r = backup_disk(st, disks.values[i], allow_mounted, level, &m->disks[i], &seen, &s);
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
	/* The manifest last: only now does the point exist. */
	if (lb_manifest_format(m, &json, &json_len) < 0 || !(key = lb_manifest_key(m)) ||
	    lb_store_put(st, key, json, json_len) < 0) {
		lb_log("writing the manifest failed; no restore point was written");
		goto done;
	}
	printf("%s/%s\n", m->server, m->id);
	lb_log("stored %s in %s: %" PRIu64 " bytes read, %" PRIu64 " chunks uploaded (%" PRIu64 " bytes), %" PRIu64
	       " reused, %" PRIu64 " zero, %lld s",
	       key, lb_store_url(st), s.bytes_read, s.uploaded, s.bytes_uploaded, s.reused, s.zero,
	       (long long)(time(NULL) - t0));
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat backup --server NAME --disk NAME=PATH [--disk ...] [options] STORE\n", stderr);
	rc = LB_EXIT_USAGE;
done:
	free(json);
	free(key);
	free(seen.h);
	lb_cli_pairs_clear(&disks);
	lb_cli_pairs_clear(&labels);
	lb_manifest_free(m);
	lb_store_close(st);
	return rc;
}
