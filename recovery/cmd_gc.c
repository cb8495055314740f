/* gc - delete the chunks and indexes no restore point references
 * usage: lifeboat gc [options] STORE
 *
 * Reads every manifest and every chunk index of the store, lists its
 * chunks and indexes, and deletes those that no point references and that
 * are older than the store's grace period (gc_grace_seconds in
 * lifeboat-store.json; 7 days unless the store says otherwise). Backups,
 * image creation and imports may run at the same time: what they upload
 * or reuse survives (docs/FORMAT.md, "Garbage collection", has the
 * protocol). Each object is checked again (HEAD) just before it is
 * deleted, and a delete that cannot be sent at once is left for the next
 * run. A manifest or index that cannot be read stops gc before it deletes
 * anything: its chunks are unknown, and a newer lifeboat's manifest would
 * look the same.
 *
 * Run prune first (it removes manifests); gc then frees what only the
 * removed points used.
 *
 * Options:
 *   --dry-run              say what would be deleted; delete nothing
 *   --grace DURATION       keep unreferenced objects younger than this
 *                          (90s, 30m, 36h, 7d, 2w); only longer than the
 *                          store's own grace, never shorter
 *   -v, --verbose          print every object deleted (or that would be)
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Prints what it found and freed: points, chunks referenced, objects
 * listed and deleted, bytes freed, and the speed in chunks per second.
 *
 * Exit status: 0 done (also when nothing was freed), 1 failure (nothing
 * more deleted), 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hash.h"
#include "hashset.h"
#include "help.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "store.h"
#include "util.h"
#include "writer.h"

struct candidate {
	char key[96];
	uint64_t size;
};

struct scan {
	struct lb_hashset *chunks;  /* referenced chunks */
	struct lb_hashset *indexes; /* referenced indexes, by their hash */
	int64_t cut;                /* older than this is old enough */
	uint64_t listed, referenced, young, foreign;
	struct candidate *c;
	size_t n_c, cap_c;
	uint64_t candidate_bytes;
};

/* "chunks/XXXX/<64 hex>.zst" or "indexes/<64 hex>.lbi" -> the hash. */
static int parse_key(const char *key, bool *is_chunk, uint8_t h[32])
{
	size_t n = strlen(key);

	if (n == 80 && strncmp(key, "chunks/", 7) == 0 && key[11] == '/' && strcmp(key + 76, ".zst") == 0 &&
	    strncmp(key + 7, key + 12, 4) == 0) {
		char hex[65];

		memcpy(hex, key + 12, 64);
		hex[64] = '\0';
		*is_chunk = true;
		return lb_unhex(hex, h, 32);
	}
	if (n == 76 && strncmp(key, "indexes/", 8) == 0 && strcmp(key + 72, ".lbi") == 0) {
		char hex[65];

		memcpy(hex, key + 8, 64);
		hex[64] = '\0';
		*is_chunk = false;
		return lb_unhex(hex, h, 32);
	}
	return -EINVAL;
}

static int on_object(const struct lb_store_entry *e, void *userdata)
{
	struct scan *s = userdata;
	uint8_t h[32];
	bool chunk;

	/* Only what this format names is ever touched: a stranger's object
	 * under the prefix is left alone. */
	if (parse_key(e->key, &chunk, h) < 0 || lb_hash_is_zero(h)) {
		s->foreign++;
		return 0;
	}
	s->listed++;
	if (lb_hashset_get(chunk ? s->chunks : s->indexes, h, NULL)) {
		s->referenced++;
		return 0;
	}
	if (e->mtime >= s->cut) {
		s->young++;
		return 0;
	}
	if (s->n_c == s->cap_c) {
		size_t cap = s->cap_c ? 2 * s->cap_c : 256;
		struct candidate *c = realloc(s->c, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		s->c = c;
		s->cap_c = cap;
	}
	snprintf(s->c[s->n_c].key, sizeof(s->c[s->n_c].key), "%s", e->key);
	s->c[s->n_c].size = e->size;
	s->n_c++;
	s->candidate_bytes += e->size;
	return 0;
}

/* Every chunk and index some point references. Any manifest or index that
 * cannot be read is counted in *ret_unreadable: gc must not delete then. */
static int collect_roots(struct lb_store *st, struct scan *s, size_t *ret_points, size_t *ret_unreadable)
{
	char **keys = NULL;
	size_t n = 0;
	int r = lb_point_all_keys(st, NULL, &keys, &n);

	*ret_points = n;
	*ret_unreadable = 0;
	for (size_t k = 0; r == 0 && k < n; k++) {
		struct lb_manifest *m = NULL;

		r = lb_point_load_key(st, keys[k], &m);
		if (r == -ENOMEM)
			break;
		if (r == -ENOENT) {
			/* Removed (by prune) since the listing: it protects
			 * nothing any more, and writers protect themselves. */
			r = 0;
			continue;
		}
		if (r < 0) {
			lb_log("gc: %s cannot be read: its chunks are unknown", keys[k]);
			(*ret_unreadable)++;
			r = 0;
			continue;
		}
		for (size_t d = 0; r == 0 && d < m->n_disks; d++) {
			struct lb_index *idx = NULL;

			r = lb_point_index(st, &m->disks[d], &idx);
			if (r == -ENOMEM)
				break;
			if (r < 0) {
				lb_log("gc: %s, disk %s: the index cannot be read: its chunks are unknown", keys[k],
				       m->disks[d].name);
				(*ret_unreadable)++;
				r = 0;
				continue;
			}
			r = lb_hashset_put(s->indexes, m->disks[d].index_sha256, 1);
			for (uint64_t i = 0; r == 0 && i < idx->count; i++)
				if (!lb_hash_is_zero(idx->hash[i]))
					r = lb_hashset_put(s->chunks, idx->hash[i], 1);
			lb_index_free(idx);
		}
		lb_manifest_free(m);
	}
	lb_point_strv_free(keys, n);
	return r;
}

static double rate(uint64_t n, uint64_t ms)
{
	return ms ? (double)n * 1000.0 / (double)ms : (double)n * 1000.0;
}

int cmd_gc(int argc, char **argv)
{
	enum { O_DRY = 256, O_GRACE };
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "grace", required_argument, NULL, O_GRACE },
		{ "verbose", no_argument, NULL, 'v' },
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct scan s = { 0 };
	struct lb_gc_times t;
	bool dry = false, verbose = false;
	int64_t grace = 0, store_grace = 0, t0 = 0;
	uint64_t ms0, ms_list, ms_del, deleted = 0, freed = 0, revived = 0, skipped = 0;
	size_t n_points = 0, unreadable = 0;
	char cut_s[32];
	struct tm tm;
	time_t cut_t;
	int c, r, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case O_DRY:
			dry = true;
			break;
		case O_GRACE:
			if (lb_cli_parse_duration(optarg, &grace) < 0) {
				lb_log("--grace: a duration like 36h or 7d, not '%s'", optarg);
				goto done;
			}
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			fputs(HELP_gc, stdout);
			return LB_EXIT_OK;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	rc = LB_EXIT_FAILURE;
	if (lb_store_open(argv[optind], &sopts, &st) < 0 || lb_writer_grace(st, &store_grace) < 0)
		goto done;
	/* A shorter grace than the writers use would break their half of the
	 * protocol: only ever a longer one. */
	if (grace && grace < store_grace) {
		lb_log("--grace %" PRId64 " s is shorter than the store's %" PRId64
		       " s (gc_grace_seconds in %s); writers rely on that one",
		       grace, store_grace, LB_MARKER_KEY);
		rc = LB_EXIT_USAGE;
		goto done;
	}
	lb_gc_times(grace > store_grace ? grace : store_grace, &t);
	if (lb_hashset_new(&s.chunks) < 0 || lb_hashset_new(&s.indexes) < 0)
		goto done;
	/* The start, by the store's clock, before the first manifest is
	 * listed: a point written after it may rely on objects this run sees
	 * unreferenced, and the cut keeps those. */
	if (lb_store_now(st, &t0) < 0)
		goto done;
	s.cut = t0 - t.grace;
	ms0 = lb_mono_ms();
	if (collect_roots(st, &s, &n_points, &unreadable) < 0)
		goto done;
	if (unreadable) {
		lb_log("gc: %zu manifests or indexes cannot be read; nothing is deleted (repair or remove them: "
		       "lifeboat scrub names them)",
		       unreadable);
		goto done;
	}
	if (lb_store_list(st, "chunks/", false, on_object, &s) < 0 ||
	    lb_store_list(st, "indexes/", false, on_object, &s) < 0)
		goto done;
	ms_list = lb_mono_ms() - ms0;
	cut_t = (time_t)s.cut;
	strftime(cut_s, sizeof(cut_s), "%Y-%m-%d %H:%M:%S", gmtime_r(&cut_t, &tm));
	printf("store %s: %zu points reference %zu chunks and %zu indexes\n", lb_store_url(st), n_points,
	       lb_hashset_count(s.chunks), lb_hashset_count(s.indexes));
	printf("listed %" PRIu64 " objects in %.1f s (%.0f chunks/s): %" PRIu64 " referenced, %" PRIu64
	       " unreferenced but younger than the grace period (%" PRId64 " s, before %s UTC), %zu to delete (%" PRIu64
	       " bytes)\n",
	       s.listed, (double)ms_list / 1000.0, rate(s.listed, ms_list), s.referenced, s.young, t.grace, cut_s,
	       s.n_c, s.candidate_bytes);
	if (s.foreign)
		printf("left alone: %" PRIu64 " objects under chunks/ and indexes/ that lifeboat does not name\n",
		       s.foreign);

	ms0 = lb_mono_ms();
	for (size_t i = 0; i < s.n_c; i++) {
		struct lb_store_stat ss;
		uint64_t asked = lb_mono_ms();

		if (dry) {
			if (verbose)
				printf("would delete %s (%" PRIu64 " bytes)\n", s.c[i].key, s.c[i].size);
			continue;
		}
		/* Ask again right before: a writer may have touched or
		 * re-uploaded it since the listing. */
		r = lb_store_stat(st, s.c[i].key, &ss);
		if (r < 0)
			goto done;
		if (r == 0 || ss.mtime >= s.cut) {
			revived += r != 0;
			continue;
		}
		/* The DELETE must land within W/2 of this HEAD: writers wait
		 * W before they check what they rely on. */
		r = lb_store_delete(st, s.c[i].key, asked + (uint64_t)t.window * 500);
		if (r == -ETIMEDOUT) {
			skipped++;
			continue;
		}
		if (r < 0)
			goto done;
		deleted++;
		freed += ss.size;
		if (verbose)
			printf("deleted %s (%" PRIu64 " bytes)\n", s.c[i].key, ss.size);
	}
	ms_del = lb_mono_ms() - ms0;
	if (dry)
		printf("dry run: would free %zu objects, %" PRIu64 " bytes\n", s.n_c, s.candidate_bytes);
	else
		printf("freed %" PRIu64 " objects, %" PRIu64 " bytes in %.1f s (%.0f objects/s)\n", deleted, freed,
		       (double)ms_del / 1000.0, rate(deleted, ms_del));
	if (revived)
		printf("kept %" PRIu64 " that a writer refreshed since the listing\n", revived);
	if (skipped)
		printf("left %" PRIu64 " for the next run (their deletes could not be sent in time)\n", skipped);
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat gc [options] STORE\n", stderr);
done:
	free(s.c);
	lb_hashset_free(s.chunks);
	lb_hashset_free(s.indexes);
	lb_store_close(st);
	return rc;
}
