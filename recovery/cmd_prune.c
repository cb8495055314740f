/* prune - remove old backups by a retention policy
 * usage: lifeboat prune [options] STORE [SERVER]
 *
 * Applies the policy to the backups of each server (of SERVER only, when
 * given) on its own and removes the backups no rule keeps. Removing a
 * point deletes its manifest; its chunks stay until `lifeboat gc` frees
 * those no other point uses. The newest backup of a server is always
 * kept. Images are never pruned, and neither is a point whose manifest
 * cannot be read (it is reported; lifeboat scrub says more).
 *
 * The rules, as in restic and borg: each --keep-X N keeps the newest
 * backup of each of the N most recent hours, days, ISO weeks, months or
 * years (UTC) that have backups; --keep-last N the N newest;
 * --keep-within D every backup less than D older than the newest. A
 * backup is kept when any rule keeps it, and the output says which.
 * Ages are measured from the newest backup, not from the clock: a server
 * whose backups stopped does not lose its last ones as time passes.
 *
 * Options:
 *   --keep-last N          the N newest backups
 *   --keep-hourly N        the newest backup of each of the last N hours that have one
 *   --keep-daily N         ... days
 *   --keep-weekly N        ... ISO weeks (Monday to Sunday)
 *   --keep-monthly N       ... months
 *   --keep-yearly N        ... years
 *   --keep-within D        all backups within D of the newest (90m, 36h, 7d, 2w)
 *   --dry-run              say what would be removed; remove nothing
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Prints one line per point, newest first: "keep" with the rules that
 * keep it, or "remove" ("would remove" with --dry-run), then a summary
 * per server.
 *
 * Exit status: 0 done, 1 failure (a manifest could not be deleted, or the
 * store could not be read), 2 usage error (also: no --keep option).
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
#include "help.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "store.h"
#include "util.h"

enum { R_LAST, R_HOURLY, R_DAILY, R_WEEKLY, R_MONTHLY, R_YEARLY, N_RULES };

static const char *const rule_names[N_RULES] = { "last", "hourly", "daily", "weekly", "monthly", "yearly" };
/* strftime formats whose value names a point's bucket; last: none */
static const char *const rule_buckets[N_RULES] = { NULL, "%Y%m%d%H", "%Y%m%d", "%G%V", "%Y%m", "%Y" };

struct policy {
	long keep[N_RULES]; /* 0: rule off */
	int64_t within;     /* seconds; 0: off */
	char within_arg[48]; /* "within 7d" */
};

struct point {
	char *key;
	char *name; /* SERVER/ID */
	int64_t created;
	bool image, unreadable;
	char why[192];
	bool keep;
};

static int parse_count(const char *opt, const char *arg, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > 1000000) {
		lb_log("%s: a count from 1 to 1000000, not '%s'", opt, arg);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static void add_why(struct point *p, const char *why)
{
	size_t l = strlen(p->why);

	snprintf(p->why + l, sizeof(p->why) - l, "%s%s", l ? ", " : "", why);
}

/* The rules over one server's backups, newest first (pts[0] the newest). */
static void apply(const struct policy *pol, struct point *pts, size_t n)
{
	char last[N_RULES][32] = { { 0 } };
	long left[N_RULES];
	int64_t newest = -1;

	memcpy(left, pol->keep, sizeof(left));
	for (size_t i = 0; i < n; i++) {
		struct point *p = &pts[i];

		if (p->image || p->unreadable)
			continue;
		if (newest < 0) {
			newest = p->created;
			p->keep = true;
			add_why(p, "newest");
		}
		if (pol->within && p->created >= newest - pol->within) {
			p->keep = true;
			add_why(p, pol->within_arg);
		}
		for (int k = 0; k < N_RULES; k++) {
			char b[32];
			time_t t = (time_t)p->created;
			struct tm tm;

			if (!left[k])
				continue;
			if (rule_buckets[k])
				strftime(b, sizeof(b), rule_buckets[k], gmtime_r(&t, &tm));
			else
				snprintf(b, sizeof(b), "%zu", i);
			if (strcmp(b, last[k]) == 0)
				continue;
			memcpy(last[k], b, sizeof(b));
			left[k]--;
			p->keep = true;
			snprintf(b, sizeof(b), "%s #%ld", rule_names[k], pol->keep[k] - left[k]);
			add_why(p, b);
		}
	}
}

static void points_free(struct point *pts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(pts[i].key);
		free(pts[i].name);
	}
	free(pts);
}

/* Returns 0, or -errno after a failure to read or delete (logged). */
static int prune_server(struct lb_store *st, const char *server, const struct policy *pol, bool dry,
			uint64_t *ret_removed, uint64_t *ret_failed)
{
	char **keys = NULL;
	size_t n = 0, kept = 0, removed = 0, images = 0, unreadable = 0;
	struct point *pts = NULL;
	int r = lb_point_keys(st, server, &keys, &n);

	if (r < 0)
		return r;
	pts = calloc(n ? n : 1, sizeof(*pts));
	if (!pts) {
		r = -ENOMEM;
		goto done;
	}
	/* newest first */
	for (size_t i = 0; i < n; i++) {
		struct point *p = &pts[i];
		struct lb_manifest *m = NULL;

		p->key = strdup(keys[n - 1 - i]);
		p->name = lb_cli_point_name(keys[n - 1 - i]);
		if (!p->key || !p->name) {
			r = -ENOMEM;
			goto done;
		}
		r = lb_point_load_key(st, p->key, &m);
		if (r == -ENOMEM)
			goto done;
		if (r < 0) {
			p->unreadable = true;
			r = 0;
			continue;
		}
		p->created = m->created;
		p->image = m->kind == LB_KIND_IMAGE;
		lb_manifest_free(m);
	}
	apply(pol, pts, n);
	for (size_t i = 0; i < n; i++) {
		struct point *p = &pts[i];
		char when[32] = "-";
		time_t t = (time_t)p->created;
		struct tm tm;

		if (!p->unreadable)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
		if (p->unreadable) {
			printf("skip    %-40s %-19s  manifest cannot be read (left alone)\n", p->name, when);
			unreadable++;
		} else if (p->image) {
			printf("keep    %-40s %-19s  image (images are not pruned)\n", p->name, when);
			images++;
		} else if (p->keep) {
			printf("keep    %-40s %-19s  %s\n", p->name, when, p->why);
			kept++;
		} else if (dry) {
			printf("would remove %-35s %-19s\n", p->name, when);
			removed++;
		} else {
			r = lb_point_remove(st, p->key);
			if (r < 0) {
				printf("FAILED  %-40s %-19s  could not be removed (see above)\n", p->name, when);
				(*ret_failed)++;
				r = 0;
				continue;
			}
			printf("remove  %-40s %-19s\n", p->name, when);
			removed++;
		}
		fflush(stdout);
	}
	lb_log("%s: %zu backups kept, %zu %sremoved, %zu images, %zu unreadable", server, kept, removed,
	       dry ? "would be " : "", images, unreadable);
	*ret_removed += removed;
done:
	points_free(pts, n);
	lb_point_strv_free(keys, n);
	return r;
}

int cmd_prune(int argc, char **argv)
{
	enum { O_DRY = 256, O_WITHIN, O_LAST };
	static const struct option longopts[] = {
		{ "keep-last", required_argument, NULL, O_LAST + R_LAST },
		{ "keep-hourly", required_argument, NULL, O_LAST + R_HOURLY },
		{ "keep-daily", required_argument, NULL, O_LAST + R_DAILY },
		{ "keep-weekly", required_argument, NULL, O_LAST + R_WEEKLY },
		{ "keep-monthly", required_argument, NULL, O_LAST + R_MONTHLY },
		{ "keep-yearly", required_argument, NULL, O_LAST + R_YEARLY },
		{ "keep-within", required_argument, NULL, O_WITHIN },
		{ "dry-run", no_argument, NULL, O_DRY },
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct policy pol = { { 0 }, 0, "" };
	char **servers = NULL;
	size_t n_servers = 0;
	uint64_t removed = 0, failed = 0;
	bool dry = false, any = false;
	int c, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c >= O_LAST + R_LAST && c < O_LAST + N_RULES) {
			char opt[32];

			snprintf(opt, sizeof(opt), "--keep-%s", rule_names[c - O_LAST]);
			if (parse_count(opt, optarg, &pol.keep[c - O_LAST]) < 0)
				goto done;
			any = true;
			continue;
		}
		switch (c) {
		case O_WITHIN:
			if (lb_cli_parse_duration(optarg, &pol.within) < 0 || pol.within == 0) {
				lb_log("--keep-within: a duration like 36h or 7d, not '%s'", optarg);
				goto done;
			}
			snprintf(pol.within_arg, sizeof(pol.within_arg), "within %.32s", optarg);
			any = true;
			break;
		case O_DRY:
			dry = true;
			break;
		case 'h':
			fputs(HELP_prune, stdout);
			return LB_EXIT_OK;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 1 && optind != argc - 2)
		goto usage;
	if (!any) {
		/* Without a rule only the newest would stay: surely not meant. */
		lb_log("prune: give at least one --keep-... rule");
		goto done;
	}
	rc = LB_EXIT_FAILURE;
	if (lb_store_open(argv[optind], &sopts, &st) < 0)
		goto done;
	if (lb_point_servers_or(st, optind == argc - 2 ? argv[optind + 1] : NULL, &servers, &n_servers) < 0)
		goto done;
	for (size_t i = 0; i < n_servers; i++)
		if (prune_server(st, servers[i], &pol, dry, &removed, &failed) < 0)
			goto done;
	if (!dry && removed)
		lb_log("%" PRIu64 " points removed; `lifeboat gc` frees the chunks only they used", removed);
	rc = failed ? LB_EXIT_FAILURE : LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat prune [options] STORE [SERVER]\n", stderr);
done:
	lb_point_strv_free(servers, n_servers);
	lb_store_close(st);
	return rc;
}
