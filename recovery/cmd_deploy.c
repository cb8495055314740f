/* deploy - unattended restore: a config file and the kernel command line say what goes where
 * usage: lifeboat deploy [--config FILE] [--cmdline FILE] [--dry-run]
 *
 * What PXE and unattended boots run. Settings come from the config file
 * (default /etc/lifeboat/lifeboat.conf, if present) and then from lifeboat.*
 * parameters on the kernel command line, which win:
 *
 *   store = s3://bucket/prefix          (lifeboat.store=)
 *   point = SERVER/latest or SERVER/ID  (lifeboat.point=)
 *   disk.NAME = HINTS                   (lifeboat.disk.NAME=HINTS) for every
 *                                       disk of the point to restore
 *   endpoint, region, ca_bundle         the S3 endpoint, as for restore
 *   workers = N                         (lifeboat.workers=) as restore --workers
 *   access_key_id, secret_access_key, session_token
 *                                       credentials: config file only (the
 *                                       kernel command line is readable by
 *                                       every process: they are refused there)
 *   trust_key = FILE                    a public key whose signature a point
 *                                       must carry (repeatable; keys embedded
 *                                       in the image by iso/customize
 *                                       --trust-key are always trusted):
 *                                       config only, never the command line
 *
 * HINTS select the target disk by what it is (see `lifeboat help deploy`):
 * comma-separated terms KEY OP VALUE, all of which must hold, with KEY one of
 * name, path, serial, wwn, model, vendor, by_path, transport, rotational,
 * removable, size, and OP one of = != >= <= > <. Example:
 *   disk.system = serial=S3Z1NB0K123
 *   disk.data1  = size>=100G,rotational=0,transport=nvme
 * The config can also come from the network: lifeboat.config=URL with
 * lifeboat.config_sha256=HEX (required: on a PXE network the digest is what
 * makes a fetched config trustworthy; it comes with the kernel command line
 * from the same place as the kernel). It is read after the local file and
 * before the other kernel parameters. Use https, or keep credentials out of
 * a config served over plain http.
 *
 * A hint that matches no disk, or more than one, stops the deployment before
 * anything is written and lists every disk with the reason it did not match.
 * Disks in use and the boot medium never match. Lines of the config are
 * KEY = VALUE; '#' starts a comment. A config file holding credentials must
 * not be readable by group or others.
 *
 * Options:
 *   --config FILE          the config file (default /etc/lifeboat/lifeboat.conf)
 *   --cmdline FILE         where kernel parameters are read (default /proc/cmdline)
 *   --dry-run              match the disks, print the plan, write nothing
 *   -h, --help             this text
 *
 * Progress is printed as JSON lines (restore --progress=json).
 * Exit status: 0 restored, 1 failed (targets wiped), 2 usage or config
 * error, 3 no unique disk for a hint (nothing written).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "disk.h"
#include "hash.h"
#include "http.h"
#include "help.h"
#include "hints.h"
#include "lifeboat.h"
#include "util.h"

/* lifeboat.config=URL, checked against lifeboat.config_sha256=HEX. */
static int fetch_config(struct lb_config *s, const char *url, const char *sha)
{
	struct lb_http_config hc = { .ca_bundle = getenv("AWS_CA_BUNDLE") };
	struct lb_http *h = NULL;
	struct lb_http_response *resp = NULL;
	char *buf = NULL, got[65];
	int r;

	if (!sha || strlen(sha) != 64) {
		lb_log("lifeboat.config=%.*s: lifeboat.config_sha256=<64 hex digits> is required with it",
		       (int)strcspn(url, "?"), url);
		return -EINVAL;
	}
	buf = calloc(1, LB_CONFIG_MAX + 1);
	resp = calloc(1, sizeof(*resp));
	if (!buf || !resp) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = lb_http_new(&hc, &h)) < 0)
		goto fail;
	{
		struct lb_http_request req = { .method = "GET", .url = url, .buf = buf, .buf_max = LB_CONFIG_MAX,
					       .what = "config" };

		r = lb_http_perform(h, &req, resp);
	}
	if (r < 0)
		goto fail;
	if (resp->status != 200) {
		lb_log("config %.*s: HTTP %ld", (int)strcspn(url, "?"), url, resp->status);
		r = -EIO;
		goto fail;
	}
	if ((r = lb_sha256_hex(buf, resp->body_len, got)) < 0)
		goto fail;
	if (strcmp(got, sha) != 0) {
		lb_log("config %.*s: SHA-256 %s, lifeboat.config_sha256 says %s: refused", (int)strcspn(url, "?"), url,
		       got, sha);
		r = -EBADMSG;
		goto fail;
	}
	if (memchr(buf, '\0', resp->body_len)) {
		lb_log("config %.*s: contains a NUL byte", (int)strcspn(url, "?"), url);
		r = -EBADMSG;
		goto fail;
	}
	lb_log("config %.*s: %zu bytes, SHA-256 matches", (int)strcspn(url, "?"), url, resp->body_len);
	r = lb_config_parse(s, buf, "(fetched)", true, "");
fail:
	lb_http_free(h);
	free(resp);
	free(buf);
	return r;
}

static int read_cmdline(struct lb_config *s, const char *path)
{
	char *buf = NULL, *w, *save = NULL;
	int r = lb_read_file(path, LB_CONFIG_MAX, &buf);

	if (r < 0) {
		lb_log("kernel command line %s: %s", path, strerror(-r));
		return r;
	}
	/* A fetched config first: the other parameters override it. */
	{
		char *copy = strdup(buf), *url = NULL, *sha = NULL, *sv = NULL;

		if (!copy) {
			free(buf);
			return -ENOMEM;
		}
		for (w = strtok_r(copy, " \t\n", &sv); w; w = strtok_r(NULL, " \t\n", &sv)) {
			if (!strncmp(w, "lifeboat.config=", 16))
				url = w + 16;
			else if (!strncmp(w, "lifeboat.config_sha256=", 23))
				sha = w + 23;
		}
		r = url ? fetch_config(s, url, sha) : 0;
		free(copy);
		if (r < 0) {
			free(buf);
			return r;
		}
	}
	for (w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		char *eq = strchr(w, '=');

		if (strncmp(w, "lifeboat.", 9) || !eq)
			continue;
		*eq = '\0';
		if (!strcmp(w + 9, "action") || !strcmp(w + 9, "boot") || !strcmp(w + 9, "ntp") ||
		    !strcmp(w + 9, "net_wait") || !strcmp(w + 9, "after") || !strcmp(w + 9, "config") ||
		    !strcmp(w + 9, "config_sha256"))
			continue; /* init's, or read above */
		if (!strcmp(w + 9, "trust_key")) {
			/* who can edit the command line must not choose the keys
			 * that make a point trustworthy */
			lb_log("kernel command line: lifeboat.trust_key refused: trusted keys come from the image "
			       "(iso/customize --trust-key) or its config file");
			r = -EPERM;
			break;
		}
		if (lb_config_is_secret(w + 9)) {
			lb_log("kernel command line: lifeboat.%s refused: every process can read /proc/cmdline; put "
			       "credentials in the config file",
			       w + 9);
			r = -EPERM;
			break;
		}
		if ((r = lb_config_set(s, w + 9, eq + 1, "kernel command line")) < 0)
			break;
	}
	free(buf);
	return r;
}

/* One disk for each hint, or a report of why not. */
static int match_disks(const struct lb_config *s, const struct lb_disk_list *l, const char **ret_paths)
{
	int bad = 0;

	for (size_t i = 0; i < s->disks.n; i++) {
		const char *found = NULL;
		int n = 0;

		for (size_t k = 0; k < l->n; k++) {
			const struct lb_disk *d = &l->disks[k];
			char why[300];
			int r = lb_hints_match(s->disks.values[i], d, why, sizeof(why));

			if (r < 0)
				return LB_EXIT_USAGE;
			if (r == 1 && !lb_hints_writable(d)) {
				snprintf(why, sizeof(why), "%s", d->boot_medium ? "the boot medium" : lb_disk_in_use(d) ? "in use" :
								  d->read_only ? "read-only" : "not a disk");
				r = 0;
			}
			if (r == 1) {
				found = d->path;
				n++;
			} else {
				lb_log("disk %s (hint %s): %s does not match: %s", s->disks.names[i], s->disks.values[i],
				       d->path, why);
			}
		}
		if (n == 1) {
			for (size_t j = 0; j < i; j++)
				if (!strcmp(ret_paths[j], found)) {
					lb_log("disks %s and %s both match %s: make the hints tell them apart",
					       s->disks.names[j], s->disks.names[i], found);
					bad = 1;
				}
			ret_paths[i] = found;
			lb_log("disk %s (hint %s) -> %s", s->disks.names[i], s->disks.values[i], found);
		} else {
			lb_log("disk %s (hint %s): %s; nothing was written", s->disks.names[i], s->disks.values[i],
			       n ? "matches more than one disk" : "matches no disk");
			bad = 1;
		}
	}
	return bad ? 3 : 0;
}

int cmd_deploy(int argc, char **argv)
{
	static const struct {
		const char *key, *env;
	} to_env[] = {
		{ "access_key_id", "AWS_ACCESS_KEY_ID" }, { "secret_access_key", "AWS_SECRET_ACCESS_KEY" },
		{ "session_token", "AWS_SESSION_TOKEN" }, { "endpoint", "AWS_ENDPOINT_URL" },
		{ "region", "AWS_REGION" },		  { "ca_bundle", "AWS_CA_BUNDLE" },
	};
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "cmdline", required_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_config s = { 0 };
	struct lb_disks_opts opts = { 0 };
	struct lb_disk_list *l = NULL;
	const char *config = NULL, *cmdline = NULL, **paths = NULL;
	char **rargv = NULL;
	bool dry = false;
	int c, rc = LB_EXIT_USAGE, rargc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			cmdline = optarg;
			break;
		case 'n':
			dry = true;
			break;
		case 'h':
			fputs(HELP_deploy, stdout);
			return LB_EXIT_OK;
		default:
			fputs("usage: lifeboat deploy [--config FILE] [--cmdline FILE] [--dry-run]\n", stderr);
			return LB_EXIT_USAGE;
		}
	}
	if (optind != argc)
		goto done;
	if (lb_config_read(&s, config ? config : LB_CONFIG_DEFAULT, config != NULL) < 0)
		goto done;
	if (!cmdline) {
		static char proc_cmdline[512];

		snprintf(proc_cmdline, sizeof(proc_cmdline), "%s/cmdline", lb_root(LB_ROOT_PROC));
		cmdline = proc_cmdline;
	}
	if (read_cmdline(&s, cmdline) < 0)
		goto done;
	if (!lb_config_get(&s, "store") || !lb_config_get(&s, "point") || s.disks.n == 0) {
		lb_log("deploy needs store, point and at least one disk.NAME (config file or lifeboat.* parameters)");
		goto done;
	}
	/* Credentials reach the S3 client through its environment, never argv. */
	for (size_t i = 0; i < sizeof(to_env) / sizeof(to_env[0]); i++)
		if (lb_config_get(&s, to_env[i].key))
			setenv(to_env[i].env, lb_config_get(&s, to_env[i].key), 1);

	rc = LB_EXIT_FAILURE;
	paths = calloc(s.disks.n, sizeof(*paths));
	if (!paths || lb_disks_scan(&opts, &l) < 0)
		goto done;
	rc = match_disks(&s, l, paths);
	if (rc != 0)
		goto done;

	/* restore does the rest, with every check it makes on its own. */
	rc = LB_EXIT_FAILURE;
	rargv = calloc(2 * s.disks.n + 2 * s.trust_keys.n + 8, sizeof(char *));
	if (!rargv)
		goto done;
	rargv[rargc++] = strdup("restore");
	rargv[rargc++] = strdup(dry ? "--dry-run" : "--yes");
	rargv[rargc++] = strdup("--progress=json");
	if (lb_config_get(&s, "workers"))
		rargv[rargc++] = lb_strdupf("--workers=%s", lb_config_get(&s, "workers"));
	for (size_t i = 0; i < s.disks.n; i++) {
		rargv[rargc++] = strdup("--disk");
		rargv[rargc++] = lb_strdupf("%s=%s", s.disks.names[i], paths[i]);
	}
	for (size_t i = 0; i < s.trust_keys.n; i++) {
		rargv[rargc++] = strdup("--trust-key");
		rargv[rargc++] = strdup(s.trust_keys.v[i]);
	}
	rargv[rargc++] = strdup(lb_config_get(&s, "store"));
	rargv[rargc++] = strdup(lb_config_get(&s, "point"));
	for (int i = 0; i < rargc; i++)
		if (!rargv[i])
			goto done;
	rc = cmd_restore(rargc, rargv);
done:
	for (int i = 0; rargv && i < rargc; i++)
		free(rargv[i]);
	free(rargv);
	free(paths);
	lb_disks_free(l);
	lb_config_clear(&s);
	return rc;
}
