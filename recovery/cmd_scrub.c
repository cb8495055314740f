/* scrub - check restore points in the store without restoring them
 * usage: lifeboat scrub [options] STORE [POINT|SERVER]
 *
 * Checks every point of the store, of one SERVER, or one POINT (SERVER/ID
 * or SERVER/latest): its manifest parses, each disk's chunk index is there
 * and matches the manifest, and every chunk is present and right: fetched,
 * decompressed and its SHA-256 compared with the index, as a restore would.
 * --quick only asks the store whether each chunk exists (HEAD): it finds
 * missing chunks, not corrupt ones, at a fraction of the traffic. A chunk
 * shared by several points is checked once; every point that uses a
 * damaged chunk is reported damaged.
 *
 * Options:
 *   --quick                existence only (HEAD per chunk), no download
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Prints, per point, "ok" or "DAMAGED", and for a damaged one a line per
 * bad chunk naming the disk, the chunk number, its key and what is wrong
 * (missing, corrupt, wrong content); then the totals and the speed in
 * chunks per second.
 *
 * Exit status: 0 every point checked is whole, 3 damage found, 1 the check
 * itself failed (the store could not be read), 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "cli.h"
#include "hashset.h"
#include "help.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "store.h"
#include "util.h"

#define LB_EXIT_DAMAGED 3

/* A chunk's verdict, kept in the hash set so shared chunks are checked once. */
enum { C_OK = 1, C_MISSING, C_CORRUPT, C_WRONG };

static const char *verdict(uint8_t v)
{
	switch (v) {
	case C_MISSING:
		return "missing";
	case C_CORRUPT:
		return "corrupt (not a valid zstd frame of its length)";
	case C_WRONG:
		return "wrong content (its bytes do not hash to its name)";
	default:
		return "ok";
	}
}

struct totals {
	uint64_t points, damaged, chunks, checked, bad, bytes;
	struct lb_hashset *seen;
	uint8_t *buf;
	size_t buf_len;
	bool quick;
};

/* Check one chunk (or recall its verdict). -errno only when the check
 * itself failed: damage is a verdict, not an error. */
static int check_chunk(struct lb_store *st, struct totals *t, const struct lb_manifest_disk *d,
		       const uint8_t h[32], uint32_t len, uint64_t i, uint8_t *ret)
{
	char key[96], name[96];
	size_t zlen = 0;
	int r;

	if (lb_hashset_get(t->seen, h, ret))
		return 0;
	if (t->quick) {
		struct lb_store_stat s;

		lb_chunk_key(h, key);
		r = lb_store_stat(st, key, &s);
		if (r < 0)
			return r;
		*ret = r == 0 ? C_MISSING : s.size == 0 || s.size > lb_chunk_stored_max(len) ? C_CORRUPT : C_OK;
	} else {
		if (len > t->buf_len) {
			free(t->buf);
			t->buf = malloc(len);
			t->buf_len = t->buf ? len : 0;
			if (!t->buf)
				return -ENOMEM;
		}
		snprintf(name, sizeof(name), "disk %s, chunk %" PRIu64, d->name, i);
		r = lb_point_fetch(st, h, len, t->buf, name, &zlen);
		*ret = r == 0 ? C_OK : r == -ENOENT ? C_MISSING : r == -EBADMSG || r == -EFBIG ? C_CORRUPT : r == -EILSEQ ? C_WRONG : 0;
		if (!*ret)
			return r;
		t->bytes += zlen;
	}
	t->checked++;
	return lb_hashset_put(t->seen, h, *ret);
}

/* One point. 1 when it is damaged, 0 when whole, -errno when it could not
 * be checked. */
static int scrub_point(struct lb_store *st, struct totals *t, const char *key, const struct lb_manifest *given)
{
	struct lb_manifest *m = NULL;
	char *name = lb_cli_point_name(key);
	uint64_t chunks = 0, bad = 0, before = t->checked;
	int r = 0;

	if (!name)
		return -ENOMEM;
	t->points++;
	if (!given) {
		r = lb_point_load_key(st, key, &m);
		if (r == -ENOMEM)
			goto done;
		if (r < 0) {
			printf("damaged  %s  manifest %s cannot be read\n", name, key);
			bad++;
			r = 0;
			goto verdict;
		}
		given = m;
	}
	for (size_t k = 0; k < given->n_disks; k++) {
		const struct lb_manifest_disk *d = &given->disks[k];
		struct lb_index *idx = NULL;

		r = lb_point_index(st, d, &idx);
		if (r == -ENOMEM)
			goto done;
		if (r < 0) {
			printf("damaged  %s  disk %s  index %s: %s\n", name, d->name, d->index_key,
			       r == -ENOENT ? "missing" : "does not match the manifest");
			bad++;
			r = 0;
			continue;
		}
		for (uint64_t i = 0; i < idx->count; i++) {
			uint8_t v = 0;
			char ck[96];

			if (lb_hash_is_zero(idx->hash[i]))
				continue;
			chunks++;
			r = check_chunk(st, t, d, idx->hash[i], lb_chunk_len(d->size, d->chunk_size, i), i, &v);
			if (r < 0) {
				lb_index_free(idx);
				goto done;
			}
			if (v == C_OK)
				continue;
			lb_chunk_key(idx->hash[i], ck);
			printf("damaged  %s  disk %s  chunk %" PRIu64 "  %s  %s\n", name, d->name, i, ck, verdict(v));
			bad++;
		}
		lb_index_free(idx);
	}
verdict:
	t->chunks += chunks;
	t->bad += bad;
	if (bad) {
		t->damaged++;
		printf("DAMAGED  %s: %" PRIu64 " bad of %" PRIu64 " chunks%s\n", name, bad, chunks,
		       given ? "" : " (no manifest)");
	} else {
		printf("ok       %s: %" PRIu64 " chunks whole (%" PRIu64 " checked here, the rest shared with points "
		       "checked before)\n",
		       name, chunks, t->checked - before);
	}
	fflush(stdout);
	r = bad ? 1 : 0;
done:
	lb_manifest_free(m);
	free(name);
	return r;
}

int cmd_scrub(int argc, char **argv)
{
	enum { O_QUICK = 256 };
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, O_QUICK },
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_manifest *one = NULL;
	struct totals t = { 0 };
	char **keys = NULL, *one_key = NULL;
	size_t n = 0;
	uint64_t ms;
	int c, r, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_QUICK:
			t.quick = true;
			break;
		case 'h':
			fputs(HELP_scrub, stdout);
			return LB_EXIT_OK;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 1 && optind != argc - 2)
		goto usage;
	rc = LB_EXIT_FAILURE;
	if (lb_store_open(argv[optind], &sopts, &st) < 0 || lb_hashset_new(&t.seen) < 0)
		goto done;
	ms = lb_mono_ms();
	if (optind == argc - 2 && strchr(argv[optind + 1], '/')) {
		/* One point: a manifest that does not load is the damage. */
		r = lb_point_load(st, argv[optind + 1], NULL, &one, NULL);
		if (r == -ENOMEM)
			goto done;
		if (r < 0) {
			printf("DAMAGED  %s: its manifest cannot be read (see above)\n", argv[optind + 1]);
			rc = LB_EXIT_DAMAGED;
			goto done;
		}
		one_key = lb_manifest_key(one);
		r = one_key ? scrub_point(st, &t, one_key, one) : -ENOMEM;
	} else {
		const char *server = optind == argc - 2 ? argv[optind + 1] : NULL;

		if (server && !lb_manifest_server_ok(server)) {
			lb_log("server '%s': 1-63 of A-Z a-z 0-9 . _ -, not starting with .", server);
			rc = LB_EXIT_USAGE;
			goto done;
		}
		r = lb_point_all_keys(st, server, &keys, &n);
		if (r == 0 && n == 0)
			lb_log("store %s: no restore points%s%s", lb_store_url(st), server ? " of " : "", server ? server : "");
		for (size_t i = 0; r >= 0 && i < n; i++)
			r = scrub_point(st, &t, keys[i], NULL);
	}
	if (r < 0) {
		lb_log("scrub stopped: the store could not be read (%s); what was checked is above", strerror(-r));
		goto done;
	}
	ms = lb_mono_ms() - ms;
	printf("scrubbed %" PRIu64 " points, %" PRIu64 " damaged: %" PRIu64 " chunks referenced, %" PRIu64
	       " distinct %s in %.1f s (%.0f chunks/s%s",
	       t.points, t.damaged, t.chunks, t.checked, t.quick ? "asked for (HEAD)" : "fetched and verified",
	       (double)ms / 1000.0, ms ? (double)t.checked * 1000.0 / (double)ms : (double)t.checked,
	       t.quick ? "" : ", ");
	if (!t.quick)
		printf("%.1f MB/s stored bytes", ms ? (double)t.bytes / 1000.0 / (double)ms : 0.0);
	printf("), %" PRIu64 " bad\n", t.bad);
	rc = t.damaged ? LB_EXIT_DAMAGED : LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat scrub [options] STORE [POINT|SERVER]\n", stderr);
done:
	free(t.buf);
	free(one_key);
	lb_manifest_free(one);
	lb_point_strv_free(keys, n);
	lb_hashset_free(t.seen);
	lb_store_close(st);
	return rc;
}
