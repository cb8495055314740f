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
 *   --workers N            chunks fetched, verified and written at once, each
 *                          over its own connection (default: one per CPU, 1-64)
 *   --trust-key FILE       accept only points signed by this public key (or by
 *                          another trusted one); repeatable. Keys in
 *                          /etc/lifeboat/trusted-keys (embedded in the
 *                          image) are always trusted: with any trusted key, an
 *                          unsigned or badly signed point is refused
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Faults of the network or the store: every request is retried on
 * connection errors, stalls, 5xx and 429, at most LIFEBOAT_RETRIES times
 * (default 6) and never after LIFEBOAT_RETRY_TIME seconds (default 120)
 * from its first attempt; an attempt with no byte moving for
 * LIFEBOAT_STALL_TIMEOUT seconds (default 60) is aborted. A chunk that
 * arrives but fails verification (damaged on the way) is fetched again up
 * to 3 times, each logged with the disk, chunk and offset; its bad bytes
 * are never written.
 *
 * Exit status: 0 restored, 1 failed (targets wiped; also a point refused:
 * damaged, or not signed by a trusted key), 2 usage error, 3 refused (a
 * target is unsuitable, or the operator said no).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "help.h"
#include "key.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "restore.h"
#include "store.h"
#include "util.h"

#define EXIT_REFUSED 3

struct show {
	bool json, tty;
};

/* JSON lines for machines (deploy's console, callbacks), a bar for people. */
static void show_event(const struct lb_restore_event *e, void *userdata)
{
	const struct show *s = userdata;

	if (e->type == LB_RESTORE_DISK_START)
		return;
	if (s->json) {
		struct json_object *o = lb_restore_event_json(e);

		if (o)
			puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		fflush(stdout);
	} else if (s->tty || e->type == LB_RESTORE_DISK_DONE) {
		bool final = e->type == LB_RESTORE_DISK_DONE;

		fprintf(stderr, "%s%s: %3.0f%% %" PRIu64 "/%" PRIu64 " chunks: %" PRIu64 " fetched (%.1f MiB), %" PRIu64
				" in place, %" PRIu64 " zero; %.1f MiB/s, %s %.0f s%s",
			s->tty ? "\r" : "", e->disk, e->chunks ? 100.0 * (double)e->chunks_done / (double)e->chunks : 100.0,
			e->chunks_done, e->chunks, e->fetched, (double)e->bytes_fetched / 1048576.0, e->in_place, e->zero,
			e->rate / 1048576.0, final ? "took" : "ETA", final ? e->seconds : e->eta, final ? "\n" : "");
	}
}

int cmd_restore(int argc, char **argv)
{
	enum { O_DISK = 256, O_DRY, O_PROGRESS, O_NODELTA, O_WORKERS };
	static const struct option longopts[] = {
		{ "disk", required_argument, NULL, O_DISK },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "yes", no_argument, NULL, 'y' },
		{ "progress", required_argument, NULL, O_PROGRESS },
		{ "no-delta", no_argument, NULL, O_NODELTA },
		{ "workers", required_argument, NULL, O_WORKERS },
		LB_CLI_STORE_OPTIONS,
		LB_CLI_TRUST_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_manifest *m = NULL;
	struct lb_keyring *trust = NULL;
	struct lb_point_auth auth = { 0 };
	struct lb_strv trust_files = { 0 };
	struct lb_cli_pairs map = { 0 };
	struct lb_restore *rs = NULL;
	struct lb_restore_opts ro = { 0 };
	struct show sh = { 0 };
	bool dry = false, yes = false;
	FILE *info;
	char how[256];
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
			sh.json = true;
			break;
		case O_NODELTA:
			ro.no_delta = true;
			break;
		case O_WORKERS:
			if (lb_cli_parse_workers(optarg, &ro.workers) < 0)
				goto done;
			break;
		case LB_OPT_TRUST_KEY:
			if (lb_strv_add_unique(&trust_files, optarg) < 0)
				goto done;
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
	if (lb_keyring_load((const char *const *)trust_files.v, trust_files.n, &trust) < 0 ||
	    lb_store_open(argv[optind], &sopts, &st) < 0 ||
	    lb_point_load(st, argv[optind + 1], trust, &m, lb_keyring_count(trust) ? &auth : NULL) < 0)
		goto done;

	r = lb_restore_new(st, m, (const char *const *)map.names, (const char *const *)map.values, map.n, &rs);
	if (r < 0) {
		rc = r == -EBUSY || r == -ENOENT || r == -EINVAL ? EXIT_REFUSED : LB_EXIT_FAILURE;
		goto done;
	}
	info = sh.json ? stderr : stdout;
	/* Without trusted keys a restore is what it was: the signature is not
	 * even fetched (`show` says whether there is one). */
	how[0] = '\0';
	if (lb_keyring_count(trust)) {
		how[0] = ',', how[1] = ' ';
		lb_point_auth_describe(&auth, how + 2, sizeof(how) - 2);
	}
	fprintf(info, "restore %s/%s (%s, created %s%s) from %s:\n", m->server, m->id,
		m->kind == LB_KIND_IMAGE ? "image" : "backup", m->id, how, lb_store_url(st));
	lb_restore_print_plan(rs, info);
	if (dry) {
		fprintf(info, "dry run: nothing written\n");
		rc = LB_EXIT_OK;
		goto done;
	}
	if (!yes) {
		const char **paths;

		rc = EXIT_REFUSED;
		if (!isatty(STDIN_FILENO)) {
			lb_log("not a terminal: pass --yes to restore without confirmation");
			goto done;
		}
		paths = calloc(lb_restore_count(rs), sizeof(*paths));
		if (!paths)
			goto done;
		for (size_t i = 0; i < lb_restore_count(rs); i++)
			paths[i] = lb_restore_target(rs, i);
		r = lb_cli_confirm(paths, lb_restore_count(rs));
		free(paths);
		if (r < 0)
			goto done;
	}

	rc = LB_EXIT_FAILURE;
	sh.tty = !sh.json && isatty(STDERR_FILENO);
	ro.on_event = show_event;
	ro.userdata = &sh;
	if (lb_restore_run(rs, &ro) < 0) {
		if (sh.json)
			printf("{\"event\":\"failed\",\"point\":\"%s/%s\"}\n", m->server, m->id);
		goto done;
	}
	if (sh.json)
		printf("{\"event\":\"finished\",\"point\":\"%s/%s\"}\n", m->server, m->id);
	lb_log("restored %s/%s", m->server, m->id);
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat restore --disk NAME=PATH [--disk ...] [options] STORE POINT\n", stderr);
	rc = LB_EXIT_USAGE;
done:
	lb_restore_free(rs);
	lb_keyring_free(trust);
	lb_strv_clear(&trust_files);
	lb_cli_pairs_clear(&map);
	lb_manifest_free(m);
	lb_store_close(st);
	return rc;
}
