/* clock - set the system clock from NTP or the object store's Date header
 * usage: lifeboat clock [--dry-run] [--ntp SERVER] [--endpoint URL] [--store STORE]
 *                       [--ca-bundle FILE] [--http-date] [--config FILE] [--cmdline FILE]
 *
 * For a machine whose RTC is dead or years off: TLS certificates and SigV4
 * signatures both need the right time. Init runs it once the network is up.
 * The time comes, in order, from:
 *   1. NTP, when a server is known (--ntp, ntp = in the config,
 *      lifeboat.ntp= on the kernel command line; init adds DHCP's);
 *   2. the Date header of the object store's answer to one unsigned HEAD
 *      of the bucket (any answer will do, a 403 too). Over HTTPS the answer
 *      is authenticated; when the certificate is refused only for its dates
 *      (what a wrong clock does), it is asked once more with the dates
 *      unchecked (its chain, signatures and name still are), and the time
 *      it gives must lie inside the certificate's validity and after this
 *      image was built (/etc/lifeboat/build-epoch). Over plain HTTP the
 *      Date is unauthenticated: taken only when no NTP server was named,
 *      or when allowed (--http-date, clock_http_date = yes,
 *      lifeboat.clock_http_date=yes), and the log says so.
 * The endpoint is --endpoint, else the config's (or lifeboat.endpoint=),
 * else AWS_ENDPOINT_URL; the bucket that of --store or store = (an
 * https:// store is its own endpoint). The log names the source and the
 * step (old -> new time). A Date step under a second is left alone.
 *
 * Prints, for scripts: source=ntp|https-date|http-date, from=..., step=SECONDS,
 * set=yes|no, one per line.
 *
 * Options:
 *   --dry-run              find the time, print it, leave the clock alone
 *   --ntp SERVER           an NTP server, host[:port]
 *   --endpoint URL         the object store, http(s)://host[:port]
 *   --store STORE          s3://bucket/prefix (for the bucket), or an https:// store
 *   --ca-bundle FILE       CA certificates for https (else AWS_CA_BUNDLE, the config's)
 *   --http-date            accept a plain-HTTP Date even when NTP was tried
 *   --config FILE          site config (default /etc/lifeboat/lifeboat.conf, if present)
 *   --cmdline FILE         kernel parameters (default /proc/cmdline)
 *   -h, --help             this text
 *
 * Exit status: 0 the time was found (and set, unless --dry-run), 1 no source
 * gave it or it was refused (the clock is unchanged), 2 usage or config error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "help.h"
#include "lifeboat.h"
#include "util.h"

static bool yes(const char *v)
{
	return v && (!strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "true"));
}

/* lifeboat.ntp, .endpoint, .store, .ca_bundle, .clock_http_date: the rest
 * is deploy's. Never credentials: deploy refuses them there. */
static int read_cmdline(struct lb_config *c, const char *path)
{
	static const char *const keys[] = { "ntp", "endpoint", "store", "ca_bundle", "clock_http_date" };
	char *buf = NULL, *w, *save = NULL;
	int r = lb_read_file(path, LB_CONFIG_MAX, &buf);

	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		lb_log("kernel command line %s: %s", path, strerror(-r));
		return r;
	}
	r = 0;
	for (w = strtok_r(buf, " \t\n", &save); w && r == 0; w = strtok_r(NULL, " \t\n", &save)) {
		char *eq = strchr(w, '=');

		if (strncmp(w, "lifeboat.", 9) || !eq)
			continue;
		*eq = '\0';
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(w + 9, keys[i]))
				r = lb_config_set(c, keys[i], eq + 1, "kernel command line");
	}
	free(buf);
	return r;
}

int cmd_clock(int argc, char **argv)
{
	enum { O_DRY = 256, O_NTP, O_ENDPOINT, O_STORE, O_CA, O_HTTP, O_CONFIG, O_CMDLINE };
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "ntp", required_argument, NULL, O_NTP },
		{ "endpoint", required_argument, NULL, O_ENDPOINT },
		{ "store", required_argument, NULL, O_STORE },
		{ "ca-bundle", required_argument, NULL, O_CA },
		{ "http-date", no_argument, NULL, O_HTTP },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "cmdline", required_argument, NULL, O_CMDLINE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_config conf = { 0 };
	struct lb_clock_opts o = { 0 };
	struct lb_clock_result res;
	const char *ntp = NULL, *endpoint = NULL, *store = NULL, *ca = NULL, *config = NULL, *cmdline = NULL;
	char *own = NULL, proc_cmdline[512];
	bool http = false;
	int c, r, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_DRY:
			o.dry_run = true;
			break;
		case O_NTP:
			ntp = optarg;
			break;
		case O_ENDPOINT:
			endpoint = optarg;
			break;
		case O_STORE:
			store = optarg;
			break;
		case O_CA:
			ca = optarg;
			break;
		case O_HTTP:
			http = true;
			break;
		case O_CONFIG:
			config = optarg;
			break;
		case O_CMDLINE:
			cmdline = optarg;
			break;
		case 'h':
			fputs(HELP_clock, stdout);
			return LB_EXIT_OK;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if (lb_config_read(&conf, config ? config : LB_CONFIG_DEFAULT, config != NULL) < 0)
		goto done;
	if (!cmdline) {
		snprintf(proc_cmdline, sizeof(proc_cmdline), "%s/cmdline", lb_root(LB_ROOT_PROC));
		cmdline = proc_cmdline;
	}
	if (read_cmdline(&conf, cmdline) < 0)
		goto done;
	ntp = ntp ? ntp : lb_config_get(&conf, "ntp");
	store = store ? store : lb_config_get(&conf, "store");
	endpoint = endpoint ? endpoint : lb_config_get(&conf, "endpoint");
	ca = ca ? ca : lb_config_get(&conf, "ca_bundle");
	o.http_date_ok = http || yes(lb_config_get(&conf, "clock_http_date"));
	if (lb_clock_opts_store(&o, store, endpoint, &own) < 0)
		goto done;
	o.ntp = ntp;
	o.ca_bundle = ca ? ca : getenv("AWS_CA_BUNDLE");
	o.floor = lb_clock_build_epoch();
	rc = LB_EXIT_FAILURE;
	r = lb_clock_sync(&o, &res);
	if (r < 0)
		goto done;
	printf("source=%s\nfrom=%s%s\nstep=%.3f\nset=%s\n", lb_clock_source_name(res.source), res.from,
	       res.dates_unchecked ? " (certificate dates unchecked)" : "", res.step, res.set ? "yes" : "no");
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat clock [--dry-run] [--ntp SERVER] [--endpoint URL] [--store STORE] "
	      "[--ca-bundle FILE] [--http-date] [--config FILE] [--cmdline FILE]\n",
	      stderr);
done:
	lb_config_clear(&conf);
	free(own);
	return rc;
}
