/* console - the interactive restore, step by step, on a serial or VGA console
 * usage: lifeboat console [--config FILE]
 *
 * What `lifeboat` with no arguments runs when stdin is a terminal, and what
 * the Lifeboat boot environment offers on its consoles. One question at a
 * time, one line each, numbered choices, at most 80 columns, no cursor
 * addressing and no colours: it reads the same on a VGA screen, over IPMI
 * serial-over-LAN and in a SOL log. The steps:
 *   1 network   interfaces (MAC, link, addresses), default route, DNS;
 *               keep them, DHCP again on one interface, or a static address
 *   2 store     s3://bucket/prefix or the directory of a copy; endpoint,
 *               region, access key, secret key, CA bundle, with defaults
 *               from the config file; checked at once: a refusal says why
 *               and goes back to the field to correct
 *   3 server    the servers that have restore points in the store
 *   4 point     the server's restore points, newest first: time, kind, disks
 *   5 disks     for each disk of the point, a local target: proposed when the
 *               source's serial, WWN or slot matches, or only one free disk is
 *               large enough, never by order; each choice is checked at once
 *               (size, sector size, in use, boot medium); s skips a disk
 *   6 confirm   the plan, then type each target's name (not y/n)
 *   7 restore   a progress line every 5 s per disk, then the result; then
 *               reboot, power off, a shell, or another restore
 * Every question takes b (back), q (leave), ! (a shell, exit returns to the
 * question) and ? (the keys). Nothing is written before step 6 is typed.
 *
 * With trusted keys (embedded in the image under /etc/lifeboat/trusted-keys,
 * or trust_key in the config) step 4 offers only points whose signature by
 * one of them verifies; the others are listed as refused.
 *
 * The secret key is read with echo off, never printed or logged, and never
 * put in argv or an environment: a shell started from here does not see
 * it. It is wiped from memory when the console ends.
 *
 * In the Lifeboat boot environment (its root is the initramfs) step 1 can
 * change the network (BusyBox ip and udhcpc) and the last step offers
 * reboot and power off; elsewhere step 1 only shows the network and the
 * console ends by leaving.
 *
 * Options:
 *   --config FILE   defaults for step 2 (default /etc/lifeboat/lifeboat.conf,
 *                   the deploy format: store, endpoint, region, ca_bundle,
 *                   access_key_id, secret_access_key, session_token,
 *                   trust_key)
 *   -h, --help      this text
 *
 * Exit status: 0 a restore finished, 1 the last restore failed, 2 usage
 * error, 3 left without restoring anything.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "config.h"
#include "disk.h"
#include "help.h"
#include "key.h"
#include "hints.h"
#include "lifeboat.h"
#include "manifest.h"
#include "net.h"
#include "point.h"
#include "restore.h"
#include "store.h"
#include "ui.h"
#include "util.h"

#define STEPS 7
#define EXIT_LEFT 3
#define POINTS_SHOWN 20     /* newest points listed; older ones by id */
#define PROGRESS_EVERY 5.0  /* seconds between progress lines per disk */
#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994

enum step { NET, STORE, SERVER, POINT, MAP, CONFIRM, RESTORE, AFTER, LEAVE };
enum field { F_STORE, F_ENDPOINT, F_REGION, F_ACCESS, F_SECRET, F_CA, N_FIELDS };

struct console {
	struct lb_ui *ui;
	bool boot_env;
	struct lb_config conf;
	char line[LB_UI_LINE];
	char f[N_FIELDS][LB_UI_LINE]; /* the store step's answers */
	enum field field;             /* where the store step resumes */
	struct lb_store *st;          /* checked store, for browsing */
	char **servers;
	size_t n_servers;
	char *server;
	struct lb_keyring *trust;     /* with any key, only points it signed are offered */
	struct lb_manifest *m;        /* the chosen point */
	char **targets;               /* per disk of m: a path, or NULL (skipped) */
	size_t map_at;                /* the disk of m step 5 asks about */
	struct lb_store *st_run;      /* the store the restore reads (full retries) */
	struct lb_restore *plan;
	bool restored, failed;
};

/* ---- small formatting helpers ---- */

static const char *kind_str(const struct lb_manifest *m)
{
	static const char *types[] = { "image", "image:system", "image:data", "image:full" };

	return m->kind == LB_KIND_BACKUP ? "backup" : types[m->image_type];
}

static void utc(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, 32, "?");
}

/* "1:02:03" or "2:03". */
static void hms(double s, char out[24])
{
	unsigned long t = s > 0 && s < 1e9 ? (unsigned long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(out, 24, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(out, 24, "%lu:%02lu", t / 60, t % 60);
}

/* The time in a point id (YYYYMMDDThhmmssZ-...), readable; false if it has none. */
static bool id_time(const char *id, char out[32])
{
	int y, mo, d, h, mi, s;

	if (sscanf(id, "%4d%2d%2dT%2d%2d%2dZ", &y, &mo, &d, &h, &mi, &s) != 6)
		return false;
	snprintf(out, 32, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s);
	return true;
}

/* Booted into Lifeboat: the root is the initramfs that carries its version. */
static bool in_boot_env(void)
{
	struct statfs sf;

	return statfs("/", &sf) == 0 && ((unsigned long)sf.f_type == RAMFS_MAGIC_ || (unsigned long)sf.f_type == TMPFS_MAGIC_) &&
	       access("/etc/lifeboat/version", F_OK) == 0 && access("/init", F_OK) == 0;
}

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

/* ---- step 1: network ---- */

static void show_net(struct console *c, const struct lb_net *n)
{
	char buf[512];

	lb_ui_say(c->ui, "  #  NAME          MAC                LINK         ADDRESSES");
	for (size_t i = 0; i < n->n; i++) {
		const struct lb_netif *f = &n->ifs[i];
		char name[16], mac[20], addrs[256] = "";
		const char *link = f->carrier == 1 ? "up" : f->carrier == 0 ? "no carrier" : "down";

		for (size_t k = 0; k < f->addrs.n; k++)
			snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s", k ? " " : "",
				 f->addrs.v[k]);
		lb_ui_say(c->ui, "%3zu  %-12s  %-17s  %-11s  %s", i + 1, lb_printable(f->name, name, sizeof(name)),
			  lb_printable(f->mac, mac, sizeof(mac)), link, addrs[0] ? addrs : "-");
	}
	if (!n->n)
		lb_ui_say(c->ui, "  (no network interfaces: a NIC without a driver is listed at boot with its PCI ID)");
	buf[0] = '\0';
	for (size_t k = 0; k < n->routes.n; k++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", k ? ", " : "", n->routes.v[k]);
	lb_ui_say(c->ui, "Default route: %s", buf[0] ? buf : "none (only the local network is reachable)");
	buf[0] = '\0';
	for (size_t k = 0; k < n->dns.n; k++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", k ? " " : "", n->dns.v[k]);
	lb_ui_say(c->ui, "DNS servers: %s", buf[0] ? buf : "none (use IP addresses in the endpoint, or set DNS servers)");
}

/* An interface by number or name into name; LB_UI_* */
static int pick_if(struct console *c, const struct lb_net *n, char *name, size_t size)
{
	size_t num, phys = 0;
	char def[24] = "";

	/* the only NIC with a device behind it is the default */
	for (size_t i = 0; i < n->n; i++)
		if (n->ifs[i].physical && ++phys == 1)
			snprintf(def, sizeof(def), "%zu", i + 1);
	if (phys != 1)
		def[0] = '\0';
	for (;;) {
		int r = lb_ui_choose(c->ui, "Interface (number or name)", n->n, def, c->line, sizeof(c->line), &num);

		if (r != LB_UI_VALUE)
			return r;
		for (size_t i = 0; !num && i < n->n; i++)
			if (!strcmp(n->ifs[i].name, c->line))
				num = i + 1;
		if (num) {
			snprintf(name, size, "%s", n->ifs[num - 1].name);
			return LB_UI_VALUE;
		}
		lb_ui_say(c->ui, "There is no interface %s: type a number from the list or its name.", c->line);
	}
}

static enum step net_static(struct console *c, const struct lb_net *n)
{
	char ifn[64], addr[64] = "", gw[64] = "", dns[256] = "", def[64] = "";
	const struct lb_netif *f = NULL;
	int r;

	if ((r = pick_if(c, n, ifn, sizeof(ifn))) != LB_UI_VALUE)
		return r == LB_UI_QUIT ? LEAVE : NET;
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->ifs[i].name, ifn))
			f = &n->ifs[i];
	for (size_t k = 0; f && k < f->addrs.n && !def[0]; k++)
		if (lb_net_ipv4_ok(f->addrs.v[k], true))
			snprintf(def, sizeof(def), "%s", f->addrs.v[k]);
	for (;;) {
		r = lb_ui_ask(c->ui, "Address/prefix, e.g. 192.0.2.10/24", def, 0, addr, sizeof(addr));
		if (r != LB_UI_VALUE)
			return r == LB_UI_QUIT ? LEAVE : NET;
		if (lb_net_ipv4_ok(addr, true))
			break;
		lb_ui_say(c->ui, "%s is not an IPv4 address with a prefix length: type it like 192.0.2.10/24.", addr);
	}
	def[0] = '\0';
	for (size_t k = 0; k < n->routes.n && !def[0]; k++) {
		char *via = strstr(n->routes.v[k], " via ");

		if (via && !strcmp(via + 5, ifn) && (size_t)(via - n->routes.v[k]) < sizeof(def)) {
			snprintf(def, sizeof(def), "%.*s", (int)(via - n->routes.v[k]), n->routes.v[k]);
			if (!lb_net_ipv4_ok(def, false)) /* an IPv6 router */
				def[0] = '\0';
		}
	}
	for (;;) {
		r = lb_ui_ask(c->ui, "Gateway (- for none)", def, LB_UI_OPTIONAL, gw, sizeof(gw));
		if (r != LB_UI_VALUE)
			return r == LB_UI_QUIT ? LEAVE : NET;
		if (!gw[0] || lb_net_ipv4_ok(gw, false))
			break;
		lb_ui_say(c->ui, "%s is not an IPv4 address: type the gateway like 192.0.2.1, or - for none.", gw);
	}
	def[0] = '\0';
	for (size_t k = 0; k < n->dns.n; k++)
		snprintf(def + strlen(def), sizeof(def) - strlen(def), "%s%s", k ? " " : "", n->dns.v[k]);
	r = lb_ui_ask(c->ui, "DNS servers, separated by spaces (- for none)", def, LB_UI_OPTIONAL, dns, sizeof(dns));
	if (r != LB_UI_VALUE)
		return r == LB_UI_QUIT ? LEAVE : NET;
	lb_ui_say(c->ui, "Setting %s on %s%s%s ...", addr, ifn, gw[0] ? ", gateway " : "", gw);
	if (lb_net_static(ifn, addr, gw[0] ? gw : NULL, dns[0] ? dns : NULL) == 0)
		lb_ui_say(c->ui, "Done: %s has %s.", ifn, addr);
	else
		lb_ui_say(c->ui, "That did not work (see above): check the values and try again, or DHCP (2).");
	return NET;
}

static enum step step_net(struct console *c)
{
	struct lb_net *n = NULL;
	enum step next = NET;
	size_t choice;
	char ifn[64];
	int r;

	lb_ui_step(c->ui, 1, STEPS, "network");
	if (lb_net_scan(&n) < 0) {
		lb_ui_say(c->ui, "The network interfaces cannot be listed (see above); going on to the store.");
		return STORE;
	}
	show_net(c, n);
	lb_ui_say(c->ui, "  1  keep this network and go on");
	if (c->boot_env) {
		lb_ui_say(c->ui, "  2  DHCP again on one interface");
		lb_ui_say(c->ui, "  3  a static IPv4 address on one interface");
	} else {
		lb_ui_say(c->ui, "  (changes are offered in the Lifeboat boot environment only)");
	}
	r = lb_ui_choose(c->ui, "Choice", c->boot_env ? 3 : 1, "1", c->line, sizeof(c->line), &choice);
	if (r == LB_UI_QUIT) {
		next = LEAVE;
	} else if (r == LB_UI_BACK) {
		lb_ui_say(c->ui, "This is the first step (q leaves).");
	} else if (choice == 1) {
		next = STORE;
	} else if (choice == 2) {
		if ((r = pick_if(c, n, ifn, sizeof(ifn))) == LB_UI_QUIT) {
			next = LEAVE;
		} else if (r == LB_UI_VALUE) {
			lb_ui_say(c->ui, "DHCP on %s ...", ifn);
			if (lb_net_dhcp(ifn) == 0)
				lb_ui_say(c->ui, "Done: %s has a DHCP lease.", ifn);
			else
				lb_ui_say(c->ui, "No lease on %s (see above): check its cable and the DHCP server, or set a "
						 "static address (3).", ifn);
		}
	} else if (choice == 3) {
		next = net_static(c, n);
	} else {
		lb_ui_say(c->ui, "Type a number from the list.");
	}
	lb_net_free(n);
	return next;
}

/* ---- step 2: the object store ---- */

static bool is_s3(const char *url)
{
	return lb_startswith(url, "s3://");
}

static void close_store(struct console *c)
{
	lb_point_strv_free(c->servers, c->n_servers);
	c->servers = NULL;
	c->n_servers = 0;
	lb_store_close(c->st);
	c->st = NULL;
}

static int open_store(struct console *c, bool interactive, struct lb_store **ret)
{
	struct lb_store_opts o = {
		.endpoint = or_null(c->f[F_ENDPOINT]),
		.region = or_null(c->f[F_REGION]),
		.ca_bundle = or_null(c->f[F_CA]),
		.access_key = or_null(c->f[F_ACCESS]),
		.secret_key = or_null(c->f[F_SECRET]),
		.session_token = or_null(lb_config_get(&c->conf, "session_token")),
		.interactive = interactive,
	};

	return lb_store_open(c->f[F_STORE], &o, ret);
}

/* Why the store said no, in one line with what to do, and the field to
 * correct. */
static enum field explain(struct console *c, int r)
{
	const char *code = c->st ? lb_store_last_error(c->st) : "";
	const char *ep = c->f[F_ENDPOINT][0] ? c->f[F_ENDPOINT] : "AWS S3";
	char now[32];

	if (!strcmp(code, "SignatureDoesNotMatch")) {
		lb_ui_say(c->ui, "Refused: the secret key does not belong to access key %s (SignatureDoesNotMatch). "
				 "Type the secret key again.", c->f[F_ACCESS]);
		return F_SECRET;
	}
	if (!strcmp(code, "InvalidAccessKeyId")) {
		lb_ui_say(c->ui, "Refused: the object store knows no access key %s (InvalidAccessKeyId). Check the "
				 "access key ID.", c->f[F_ACCESS]);
		return F_ACCESS;
	}
	if (!strcmp(code, "AccessDenied") || (r == -EACCES && !code[0])) {
		lb_ui_say(c->ui, "Refused: these keys may not list %s (AccessDenied). Use keys that can read it, or "
				 "check the bucket.", c->f[F_STORE]);
		return F_ACCESS;
	}
	if (!strcmp(code, "RequestTimeTooSkewed")) {
		utc((int64_t)time(NULL), now);
		lb_ui_say(c->ui, "Refused: the clock here (%s UTC) is more than 15 minutes off the object store's. "
				 "Set it in a shell (!, then date -u -s 'YYYY-MM-DD hh:mm:ss'), then Enter to check again.",
			  now);
		return F_CA;
	}
	if (!strcmp(code, "NoSuchBucket")) {
		lb_ui_say(c->ui, "There is no such bucket at %s (NoSuchBucket): check the bucket in the store URL.", ep);
		return F_STORE;
	}
	if (!strcmp(code, "PermanentRedirect") || !strcmp(code, "AuthorizationHeaderMalformed") ||
	    !strcmp(code, "IllegalLocationConstraintException")) {
		lb_ui_say(c->ui, "The bucket is in another region (%s): type the bucket's region.", code);
		return F_REGION;
	}
	if (code[0]) {
		lb_ui_say(c->ui, "The object store refused the listing (%s, see above): check the endpoint, the "
				 "keys and the bucket.", code);
		return F_ENDPOINT;
	}
	switch (r) {
	case -ECONNREFUSED:
		lb_ui_say(c->ui, "Nothing answers at %s (connection refused): check the endpoint's host and port.", ep);
		return F_ENDPOINT;
	case -EAGAIN:
		lb_ui_say(c->ui, "The endpoint's host name does not resolve: check it, or the DNS servers in step 1 "
				 "(b to go back).");
		return F_ENDPOINT;
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		lb_ui_say(c->ui, "No answer from %s: check the endpoint, and the address and route in step 1 (b to go "
				 "back).", ep);
		return F_ENDPOINT;
	case -EPROTO:
		lb_ui_say(c->ui, "TLS with %s failed (see above): its certificate is not signed by a trusted CA (give "
				 "the CA bundle that signed it), or it does not speak https (check the endpoint).", ep);
		return F_CA;
	case -ENOKEY:
		lb_ui_say(c->ui, "No credentials: type the access key ID and the secret key.");
		return F_ACCESS;
	case -EINVAL:
		lb_ui_say(c->ui, "The endpoint or the store URL is malformed (see above): correct it.");
		return is_s3(c->f[F_STORE]) ? F_ENDPOINT : F_STORE;
	case -ENOENT:
		lb_ui_say(c->ui, "%s is not a directory: mount the disk that holds the copy first (! opens a shell: "
				 "mount /dev/sdX1 /mnt), then type its path.", c->f[F_STORE]);
		return F_STORE;
	default:
		lb_ui_say(c->ui, "The store cannot be listed (%s, see above): check the store and the endpoint.",
			  strerror(-r));
		return is_s3(c->f[F_STORE]) ? F_ENDPOINT : F_STORE;
	}
}

/* Check the answers by listing the servers. -1 when it worked, else the
 * field to correct. */
static int check_store(struct console *c)
{
	int r;

	close_store(c);
	lb_ui_say(c->ui, "Checking %s%s%s ...", c->f[F_STORE], is_s3(c->f[F_STORE]) ? " at " : "",
		  is_s3(c->f[F_STORE]) ? (c->f[F_ENDPOINT][0] ? c->f[F_ENDPOINT] : "AWS S3") : "");
	/* in the boot image, when init knew no store to take the time from:
	 * now there is one (nothing on a host) */
	lb_clock_sync_boot(c->f[F_STORE], or_null(c->f[F_ENDPOINT]), or_null(c->f[F_CA]),
			   lb_config_get(&c->conf, "clock_http_date") &&
				   !strcmp(lb_config_get(&c->conf, "clock_http_date"), "yes"));
	r = open_store(c, true, &c->st);
	if (r == 0)
		r = lb_point_servers(c->st, &c->servers, &c->n_servers);
	if (r < 0) {
		enum field f = explain(c, r);

		close_store(c);
		return (int)f;
	}
	if (c->n_servers == 0) {
		lb_ui_say(c->ui, "No restore points in %s: check the bucket and the prefix (the folder that holds "
				 "points/ and chunks/).", c->f[F_STORE]);
		close_store(c);
		return F_STORE;
	}
	lb_ui_say(c->ui, "OK: %zu server%s with restore points.", c->n_servers, c->n_servers == 1 ? "" : "s");
	return -1;
}

/* A field's answer, checked for its form; false says what is wrong. */
static bool field_ok(struct console *c, enum field k, const char *v)
{
	switch (k) {
	case F_STORE:
		if ((is_s3(v) && v[5] && v[5] != '/') || v[0] == '/' || (lb_startswith(v, "file:///")))
			return true;
		lb_ui_say(c->ui, "A store is s3://bucket/prefix or a directory path starting with /.");
		return false;
	case F_ENDPOINT:
		if (!v[0] || lb_startswith(v, "https://") || lb_startswith(v, "http://"))
			return true;
		lb_ui_say(c->ui, "An endpoint is https://host[:port] (or http://); - for AWS S3.");
		return false;
	case F_CA:
		if (!v[0] || access(v, R_OK) == 0)
			return true;
		lb_ui_say(c->ui, "%s cannot be read: type the path of a PEM file (! opens a shell to look), or - for "
				 "none.", v);
		return false;
	default:
		return true;
	}
}

static enum step step_store(struct console *c)
{
	static const struct {
		const char *prompt;
		unsigned flags;
	} q[N_FIELDS] = {
		[F_STORE] = { "Store", 0 },
		[F_ENDPOINT] = { "Endpoint URL (- for AWS S3)", LB_UI_OPTIONAL },
		[F_REGION] = { "Region", 0 },
		[F_ACCESS] = { "Access key ID", 0 },
		[F_SECRET] = { "Secret access key", LB_UI_SECRET },
		[F_CA] = { "CA bundle file for a private CA (- for none)", LB_UI_OPTIONAL },
	};
	int k = (int)c->field, r;

	lb_ui_step(c->ui, 2, STEPS, "object store");
	if (c->field == F_STORE)
		lb_ui_say(c->ui, "Where the restore points are: s3://bucket/prefix on an S3 object store (AWS S3, "
				 "Ceph RGW, MinIO, OBS), or the directory of a copy on a disk mounted here.");
	while (k < N_FIELDS) {
		if (k > F_STORE && !is_s3(c->f[F_STORE]))
			break;
		r = lb_ui_ask(c->ui, q[k].prompt, c->f[k], q[k].flags, c->line, sizeof(c->line));
		if (r == LB_UI_QUIT)
			return LEAVE;
		if (r == LB_UI_BACK) {
			if (k == F_STORE) {
				c->field = F_STORE;
				return NET;
			}
			k--;
			continue;
		}
		if (!field_ok(c, (enum field)k, c->line))
			continue;
		snprintf(c->f[k], sizeof(c->f[k]), "%s", c->line);
		explicit_bzero(c->line, sizeof(c->line));
		k++;
	}
	r = check_store(c);
	if (r >= 0) {
		c->field = (enum field)r;
		return STORE;
	}
	c->field = F_STORE;
	return SERVER;
}

/* ---- steps 3 and 4: server and point ---- */

static enum step step_server(struct console *c)
{
	size_t num = 0;
	int r;

	lb_ui_step(c->ui, 3, STEPS, "server");
	lb_ui_say(c->ui, "  #  SERVER                         POINTS  NEWEST (UTC)");
	for (size_t i = 0; i < c->n_servers; i++) {
		char **keys = NULL, name[64], newest[32] = "-";
		size_t n = 0;

		/* One listing per server; with very many, the names alone. */
		if (c->n_servers <= 100 && lb_point_keys(c->st, c->servers[i], &keys, &n) == 0 && n &&
		    !id_time(strrchr(keys[n - 1], '/') + 1, newest))
			snprintf(newest, sizeof(newest), "?");
		if (c->n_servers <= 100)
			lb_ui_say(c->ui, "%3zu  %-30s %6zu  %s", i + 1, lb_printable(c->servers[i], name, sizeof(name)), n,
				  newest);
		else
			lb_ui_say(c->ui, "%3zu  %s", i + 1, lb_printable(c->servers[i], name, sizeof(name)));
		lb_point_strv_free(keys, n);
	}
	for (;;) {
		r = lb_ui_choose(c->ui, "Server (number or name)", c->n_servers, c->n_servers == 1 ? "1" : NULL, c->line,
				 sizeof(c->line), &num);
		if (r == LB_UI_QUIT)
			return LEAVE;
		if (r == LB_UI_BACK)
			return STORE;
		for (size_t i = 0; !num && i < c->n_servers; i++)
			if (!strcmp(c->servers[i], c->line))
				num = i + 1;
		if (num)
			break;
		lb_ui_say(c->ui, "There is no server %s in the store: type a number from the list or a name.", c->line);
	}
	free(c->server);
	c->server = strdup(c->servers[num - 1]);
	return c->server ? POINT : LEAVE;
}

static void disks_summary(const struct lb_manifest *m, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t d = 0; d < m->n_disks; d++) {
		char h[LB_SIZE_STR], name[40];

		lb_size_str(m->disks[d].size, h);
		snprintf(out + strlen(out), size - strlen(out), "%s%s %s", d ? ", " : "",
			 lb_printable(m->disks[d].name, name, sizeof(name)), h);
	}
}

/* "serial S1, model M" from what the backup recorded about d's source. */
static void source_text(const struct lb_manifest_disk *d, char *out, size_t size)
{
	const struct {
		const char *what, *v;
	} f[] = { { "serial", d->src_serial }, { "wwn", d->src_wwn }, { "model", d->src_model },
		  { "slot", d->src_by_path } };
	char v[96];

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v && *f[i].v)
			snprintf(out + strlen(out), size - strlen(out), "%s%s %s", out[0] ? ", " : "", f[i].what,
				 lb_printable(f[i].v, v, sizeof(v)));
	if (!out[0])
		snprintf(out, size, "nothing recorded");
}

static void show_point(struct console *c, const struct lb_manifest *m)
{
	char when[32], name[64], src[512];

	utc(m->created, when);
	lb_ui_say(c->ui, "Point %s/%s: %s of %s UTC%s%s", m->server, m->id, kind_str(m), when, m->name ? ", " : "",
		  m->name ? lb_printable(m->name, name, sizeof(name)) : "");
	for (size_t i = 0; i < m->n_disks; i++) {
		const struct lb_manifest_disk *d = &m->disks[i];
		char h[LB_SIZE_STR];

		lb_size_str(d->size, h);
		source_text(d, src, sizeof(src));
		lb_ui_say(c->ui, "  %-10s %8s  %s%s, %s; source: %s", d->name, h, d->system ? "system" : "data",
			  d->boot ? ", boot" : "", d->pttype ? d->pttype : "no partition table", src);
	}
}

static void free_targets(struct console *c)
{
	for (size_t i = 0; c->targets && c->m && i < c->m->n_disks; i++)
		free(c->targets[i]);
	free(c->targets);
	c->targets = NULL;
	c->map_at = 0;
}

static enum step step_point(struct console *c)
{
	struct lb_manifest *shown[POINTS_SHOWN] = { 0 };
	char **keys = NULL;
	size_t n = 0, k = 0, num = 0;
	enum step next = LEAVE;
	int r;

	free_targets(c);
	lb_manifest_free(c->m);
	c->m = NULL;
	lb_ui_step(c->ui, 4, STEPS, "restore point");
	if (lb_point_keys(c->st, c->server, &keys, &n) < 0 || n == 0) {
		lb_ui_say(c->ui, "The points of %s cannot be listed (see above): pick the server again.", c->server);
		return SERVER;
	}
	lb_ui_say(c->ui, "Restore points of %s, newest first:", c->server);
	lb_ui_say(c->ui, "  #  CREATED (UTC)        KIND          DISKS");
	/* keys are oldest first; show the newest */
	for (k = 0; k < n && k < POINTS_SHOWN; k++) {
		const char *key = keys[n - 1 - k];
		char when[32], disks[512];

		if (lb_point_load(c->st, key, c->trust, &shown[k], NULL) < 0) {
			lb_ui_say(c->ui, "%3zu  (%s, see above: not offered)", k + 1,
				  lb_keyring_count(c->trust) ? "refused" : "damaged or unreadable");
			continue;
		}
		utc(shown[k]->created, when);
		disks_summary(shown[k], disks, sizeof(disks));
		lb_ui_say(c->ui, "%3zu  %-19s  %-12s  %s", k + 1, when, kind_str(shown[k]), disks);
	}
	if (n > POINTS_SHOWN)
		lb_ui_say(c->ui, "%zu older points are not shown: type the ID of one to pick it.", n - POINTS_SHOWN);
	for (;;) {
		r = lb_ui_choose(c->ui, "Point (number, or an ID)", k, shown[0] ? "1" : NULL, c->line, sizeof(c->line),
				 &num);
		if (r == LB_UI_QUIT)
			goto done;
		if (r == LB_UI_BACK) {
			next = SERVER;
			goto done;
		}
		if (num && shown[num - 1]) {
			c->m = shown[num - 1];
			shown[num - 1] = NULL;
			break;
		}
		if (num) {
			lb_ui_say(c->ui, "Point %zu was refused (see above): pick another.", num);
			continue;
		}
		{
			char *spec = lb_strdupf("%s/%s", c->server, c->line);

			if (spec && strcmp(c->line, "latest") && !strchr(c->line, '/') && lb_point_load(c->st, spec, c->trust, &c->m, NULL) == 0) {
				free(spec);
				break;
			}
			free(spec);
			lb_ui_say(c->ui, "%s is not a point of %s that can be read: type a number from the list or an ID.",
				  c->line, c->server);
		}
	}
	show_point(c, c->m);
	c->targets = calloc(c->m->n_disks, sizeof(char *));
	next = c->targets ? MAP : LEAVE;
done:
	for (size_t i = 0; i < POINTS_SHOWN; i++)
		lb_manifest_free(shown[i]);
	lb_point_strv_free(keys, n);
	return next;
}

/* ---- step 5: which local disk takes which disk of the point ---- */

static void usage_text(const struct lb_usage *u, char *out, size_t size)
{
	for (size_t i = 0; i < u->mountpoints.n; i++)
		snprintf(out + strlen(out), size - strlen(out), " [mounted %s]", u->mountpoints.v[i]);
	for (size_t i = 0; i < u->holders.n; i++)
		snprintf(out + strlen(out), size - strlen(out), " [held by %s]", u->holders.v[i]);
	if (u->swap)
		snprintf(out + strlen(out), size - strlen(out), " [swap]");
}

/* What is on a disk now, and whether it may be written, on one line. */
static void contents(const struct lb_disk *d, const char *taken_by, char *out, size_t size)
{
	char a[64], b[64], h[LB_SIZE_STR];

	out[0] = '\0';
	if (!lb_hints_writable(d))
		snprintf(out, size, "NOT A TARGET (%s): ",
			 d->boot_medium ? "the boot medium" : lb_disk_in_use(d) ? "in use" :
			 d->read_only ? "read-only" : strcmp(d->type, "rom") == 0 ? "CD/DVD" : d->type);
	if (taken_by)
		snprintf(out + strlen(out), size - strlen(out), "[target of %s] ", taken_by);
	if (!d->probed) {
		snprintf(out + strlen(out), size - strlen(out), "cannot be read");
	} else if (d->probe.pttype) {
		snprintf(out + strlen(out), size - strlen(out), "%s:%s", d->probe.pttype, d->n_parts ? "" : " no partitions");
		for (size_t i = 0; i < d->n_parts; i++) {
			const struct lb_part *p = &d->parts[i];

			lb_size_str(p->size, h);
			snprintf(out + strlen(out), size - strlen(out), "%s %s %s %s%s%s%s", i ? ";" : "", p->name, h,
				 p->probe.fs_type ? p->probe.fs_type : "(no fs)", p->probe.label ? "\"" : "",
				 p->probe.label ? lb_printable(p->probe.label, a, sizeof(a)) : "", p->probe.label ? "\"" : "");
			usage_text(&p->usage, out, size);
		}
	} else if (d->probe.fs_type) {
		snprintf(out + strlen(out), size - strlen(out), "%s %s%s%s, no partition table", d->probe.fs_type,
			 d->probe.label ? "\"" : "", d->probe.label ? lb_printable(d->probe.label, b, sizeof(b)) : "",
			 d->probe.label ? "\"" : "");
	} else {
		snprintf(out + strlen(out), size - strlen(out), "empty: no partition table or file system found");
	}
	usage_text(&d->usage, out, size);
}

/* The disk of m (other than skip) that already has path as its target. */
static const char *taken_by(const struct console *c, const char *path, size_t skip)
{
	for (size_t j = 0; j < c->m->n_disks; j++)
		if (j != skip && c->targets[j] && !strcmp(c->targets[j], path))
			return c->m->disks[j].name;
	return NULL;
}

static void show_disks(struct console *c, const struct lb_disk_list *l, size_t at)
{
	lb_ui_say(c->ui, "Local disks:");
	lb_ui_say(c->ui, "  #  NAME          SIZE  TRAN    MODEL                 SERIAL");
	for (size_t i = 0; i < l->n; i++) {
		const struct lb_disk *d = &l->disks[i];
		char name[16], h[LB_SIZE_STR], tran[8], model[22], serial[24], what[1024];

		lb_size_str(d->size, h);
		lb_ui_say(c->ui, "%3zu  %-10s %7s  %-6s  %-21s %s", i + 1, lb_printable(d->name, name, sizeof(name)), h,
			  lb_printable(d->transport, tran, sizeof(tran)), lb_printable(d->model, model, sizeof(model)),
			  lb_printable(d->serial, serial, sizeof(serial)));
		contents(d, taken_by(c, d->path, at), what, sizeof(what));
		lb_ui_say(c->ui, "       %s", what);
	}
	if (!l->n)
		lb_ui_say(c->ui, "  (none: a controller without a driver is listed at boot with its PCI ID)");
}

/* The target the operator typed: a number, a disk name, its path, or the
 * path of an image file. NULL (said) when none fits. */
static const char *typed_target(struct console *c, const struct lb_disk_list *l, size_t num)
{
	if (num)
		return l->disks[num - 1].path;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->disks[i].name, c->line) || !strcmp(l->disks[i].path, c->line))
			return l->disks[i].path;
	if (c->line[0] == '/')
		return c->line;
	lb_ui_say(c->ui, "There is no disk %s: type a number from the list, a name (sdb), a path (/dev/sdb or an "
			 "image file), or s to skip this disk.", c->line);
	return NULL;
}

static enum step step_map(struct console *c)
{
	const struct lb_manifest_disk *d = &c->m->disks[c->map_at];
	struct lb_disk_list *l = NULL;
	bool *taken = NULL;
	char title[96], why[160], h[LB_SIZE_STR], src[512], def[LB_UI_LINE] = "";
	size_t num;
	enum step next = LEAVE;
	int prop, r;

	snprintf(title, sizeof(title), "disks (%zu of %zu of the point)", c->map_at + 1, c->m->n_disks);
	lb_ui_step(c->ui, 5, STEPS, title);
	/* Scanned afresh for every question: a USB disk plugged in or a file
	 * system mounted from the shell shows at once. */
	if (lb_disks_scan(&(struct lb_disks_opts){ 0 }, &l) < 0) {
		lb_ui_say(c->ui, "The disks cannot be listed (see above): b goes back, ! opens a shell to look.");
		r = lb_ui_ask(c->ui, "Enter tries again", NULL, LB_UI_OPTIONAL, c->line, sizeof(c->line));
		return r == LB_UI_QUIT ? LEAVE : r == LB_UI_BACK ? POINT : MAP;
	}
	lb_size_str(d->size, h);
	source_text(d, src, sizeof(src));
	lb_ui_say(c->ui, "Disk %s of the point: %s, %s%s; source: %s.", d->name, h, d->system ? "system" : "data",
		  d->boot ? ", boot" : "", src);
	show_disks(c, l, c->map_at);
	taken = calloc(l->n ? l->n : 1, sizeof(bool));
	if (!taken)
		goto done;
	for (size_t i = 0; i < l->n; i++)
		taken[i] = taken_by(c, l->disks[i].path, c->map_at) != NULL;
	prop = lb_hints_propose(d, l, taken, why, sizeof(why));
	/* Back here from the next disk or the confirmation: the choice made
	 * before is the default, by its number when it is in the list. */
	if (c->targets[c->map_at]) {
		snprintf(def, sizeof(def), "%s", c->targets[c->map_at]);
		for (size_t i = 0; i < l->n; i++)
			if (!strcmp(c->targets[c->map_at], l->disks[i].path))
				snprintf(def, sizeof(def), "%zu", i + 1);
		lb_ui_say(c->ui, "Chosen before: %s.", c->targets[c->map_at]);
	} else if (prop >= 0) {
		snprintf(def, sizeof(def), "%d", prop + 1);
		lb_ui_say(c->ui, "Proposed: %d (%s): %s.", prop + 1, l->disks[prop].name, why);
	} else {
		lb_ui_say(c->ui, "No proposal (%s): pick the target.", why);
	}
	for (;;) {
		const char *path;
		char prompt[128];

		snprintf(prompt, sizeof(prompt), "Target for %s (number, name or path; s skips it)", d->name);
		r = lb_ui_choose(c->ui, prompt, l->n, def, c->line, sizeof(c->line), &num);
		if (r == LB_UI_QUIT)
			goto done;
		if (r == LB_UI_BACK) {
			if (c->map_at == 0) {
				next = POINT;
			} else {
				c->map_at--;
				next = MAP;
			}
			goto done;
		}
		if (!num && (!strcmp(c->line, "s") || !strcmp(c->line, "S"))) {
			free(c->targets[c->map_at]);
			c->targets[c->map_at] = NULL;
			lb_ui_say(c->ui, "Disk %s is skipped: it will not be restored.", d->name);
			break;
		}
		if (!(path = typed_target(c, l, num)))
			continue;
		if (taken_by(c, path, c->map_at)) {
			lb_ui_say(c->ui, "%s is already the target of disk %s: pick another (b goes back to change that).",
				  path, taken_by(c, path, c->map_at));
			continue;
		}
		if (lb_restore_check(d, path) < 0) {
			lb_ui_say(c->ui, "%s cannot take disk %s (the reason is above): pick another, or s to skip it.", path,
				  d->name);
			continue;
		}
		free(c->targets[c->map_at]);
		if (!(c->targets[c->map_at] = strdup(path)))
			goto done;
		lb_ui_say(c->ui, "Disk %s -> %s.", d->name, path);
		break;
	}
	if (c->map_at + 1 < c->m->n_disks) {
		c->map_at++;
		next = MAP;
	} else {
		next = MAP;
		for (size_t i = 0; i < c->m->n_disks; i++)
			if (c->targets[i])
				next = CONFIRM;
		if (next == MAP)
			lb_ui_say(c->ui, "Every disk is skipped: there is nothing to restore. Choose a target for at least "
					 "one (or b to pick another point).");
	}
done:
	free(taken);
	lb_disks_free(l);
	return next;
}

/* ---- steps 6 and 7: confirm and restore ---- */

static void end_plan(struct console *c)
{
	lb_restore_free(c->plan);
	c->plan = NULL;
	lb_store_close(c->st_run);
	c->st_run = NULL;
}

static enum step step_confirm(struct console *c)
{
	const char **names = calloc(c->m->n_disks, sizeof(char *)), **paths = calloc(c->m->n_disks, sizeof(char *));
	char when[32], h[LB_SIZE_STR], th[LB_SIZE_STR];
	enum step next = LEAVE;
	size_t n = 0;
	int r;

	lb_ui_step(c->ui, 6, STEPS, "confirm");
	end_plan(c);
	if (!names || !paths)
		goto done;
	for (size_t i = 0; i < c->m->n_disks; i++)
		if (c->targets[i]) {
			names[n] = c->m->disks[i].name;
			paths[n++] = c->targets[i];
		}
	/* The restore reads through a store with the full retries: a
	 * transient error an hour in must not end it. */
	next = MAP;
	c->map_at = 0;
	if (open_store(c, false, &c->st_run) < 0 ||
	    lb_restore_new(c->st_run, c->m, names, paths, n, &c->plan) < 0) {
		lb_ui_say(c->ui, "The plan was refused (see above); nothing was written. Back to the disks.");
		end_plan(c);
		goto done;
	}
	utc(c->m->created, when);
	lb_ui_say(c->ui, "The plan: %s/%s (%s of %s UTC) from %s", c->m->server, c->m->id, kind_str(c->m), when,
		  c->f[F_STORE]);
	for (size_t i = 0; i < lb_restore_count(c->plan); i++) {
		const struct lb_manifest_disk *d = lb_restore_disk(c->plan, i);

		lb_size_str(d->size, h);
		lb_size_str(lb_restore_target_size(c->plan, i), th);
		lb_ui_say(c->ui, "  %zu. disk %-10s %8s -> %s (%s)%s", i + 1, d->name, h, lb_restore_target(c->plan, i), th,
			  d->boot ? ", boot: last" : "");
	}
	for (size_t i = 0; i < c->m->n_disks; i++)
		if (!c->targets[i])
			lb_ui_say(c->ui, "  -  disk %-10s not restored (skipped)", c->m->disks[i].name);
	lb_ui_say(c->ui, "EVERYTHING on %s will be overwritten. Type each target's name to go on; anything else goes "
			 "back to the disks, and nothing is written.", n == 1 ? "this disk" : "these disks");
	for (size_t i = 0; i < lb_restore_count(c->plan); i++) {
		const char *t = lb_restore_target(c->plan, i);
		char prompt[LB_UI_LINE + 32];

		snprintf(prompt, sizeof(prompt), "Type %s to confirm", t);
		r = lb_ui_ask(c->ui, prompt, NULL, 0, c->line, sizeof(c->line));
		if (r == LB_UI_QUIT) {
			next = LEAVE;
			end_plan(c);
			goto done;
		}
		if (r == LB_UI_BACK || strcmp(c->line, t) != 0) {
			if (r != LB_UI_BACK)
				lb_ui_say(c->ui, "'%s' is not %s: nothing was written. Back to the disks.", c->line, t);
			c->map_at = c->m->n_disks - 1;
			end_plan(c);
			goto done;
		}
	}
	next = RESTORE;
done:
	free(names);
	free(paths);
	return next;
}

static void on_event(const struct lb_restore_event *e, void *userdata)
{
	struct console *c = userdata;
	char done[LB_SIZE_STR], total[LB_SIZE_STR], fetched[LB_SIZE_STR], t[24];

	lb_size_str(e->disk_bytes_done, done);
	lb_size_str(e->disk_bytes, total);
	lb_size_str(e->bytes_fetched, fetched);
	switch (e->type) {
	case LB_RESTORE_DISK_START:
		lb_ui_say(c->ui, "Disk %s -> %s (%zu of %zu): %s in %" PRIu64 " chunks.", e->disk, e->target, e->index + 1,
			  e->count, total, e->chunks);
		break;
	case LB_RESTORE_PROGRESS:
		/* One line of at most 80 columns: a SOL log keeps every one. */
		hms(e->eta, t);
		lb_ui_say(c->ui, "  %s %3.0f%% %s/%s, %.1f MiB/s, ETA %s; %" PRIu64 " fetched (%s), %" PRIu64 " in place",
			  e->disk, e->disk_bytes ? 100.0 * (double)e->disk_bytes_done / (double)e->disk_bytes : 100.0, done,
			  total, e->rate / 1048576.0, t, e->fetched, fetched, e->in_place);
		break;
	case LB_RESTORE_DISK_DONE:
		hms(e->seconds, t);
		lb_ui_say(c->ui, "  %s done: %s in %s, %.1f MiB/s, verified and synced", e->disk, total, t,
			  e->rate / 1048576.0);
		lb_ui_say(c->ui, "  %s chunks: %" PRIu64 " fetched (%s), %" PRIu64 " in place, %" PRIu64 " zero", e->disk,
			  e->fetched, fetched, e->in_place, e->zero);
		break;
	}
}

static enum step step_restore(struct console *c)
{
	struct lb_restore_opts o = { .interval = PROGRESS_EVERY, .on_event = on_event, .userdata = c };
	struct timespec t0;
	size_t num;
	char t[24];
	int r;

	lb_ui_step(c->ui, 7, STEPS, "restore");
	lb_ui_say(c->ui, "Restoring %zu disk%s; a line every %.0f s per disk. Do not reboot or power off until it "
			 "says it is done.", lb_restore_count(c->plan), lb_restore_count(c->plan) == 1 ? "" : "s",
		  PROGRESS_EVERY);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = lb_restore_run(c->plan, &o);
	hms(lb_cli_secs_since(&t0), t);
	if (r == 0) {
		lb_log("restored %s/%s", c->m->server, c->m->id);
		lb_ui_say(c->ui, "Done: %s/%s is restored (%s), every chunk verified.", c->m->server, c->m->id, t);
		c->restored = true;
		c->failed = false;
		end_plan(c);
		return AFTER;
	}
	c->failed = true;
	lb_ui_say(c->ui, "The restore FAILED after %s (the cause is above). The partition tables of the disks it had "
			 "begun are wiped again, so none of them boots half-restored.", t);
	lb_ui_say(c->ui, "  1  try again (what is already on the disks is not fetched again)");
	lb_ui_say(c->ui, "  2  back to the disks");
	lb_ui_say(c->ui, "  3  leave (reboot, power off, shell)");
	for (;;) {
		r = lb_ui_choose(c->ui, "Choice", 3, NULL, c->line, sizeof(c->line), &num);
		if (r == LB_UI_QUIT) {
			end_plan(c);
			return LEAVE;
		}
		if (r == LB_UI_VALUE && num == 1)
			return RESTORE;
		if (r == LB_UI_BACK || (r == LB_UI_VALUE && num == 2)) {
			end_plan(c);
			return MAP;
		}
		if (r == LB_UI_VALUE && num == 3) {
			end_plan(c);
			return AFTER;
		}
		lb_ui_say(c->ui, "Type 1, 2 or 3.");
	}
}

static enum step step_after(struct console *c)
{
	size_t num;
	int r;

	lb_ui_say(c->ui, "%s", "");
	lb_ui_say(c->ui, "=== What next ===");
	if (c->boot_env) {
		lb_ui_say(c->ui, "  1  reboot (take the Lifeboat medium out first if the firmware boots it)");
		lb_ui_say(c->ui, "  2  power off");
		lb_ui_say(c->ui, "  3  a shell (exit comes back here)");
		lb_ui_say(c->ui, "  4  restore another point");
	} else {
		lb_ui_say(c->ui, "  1  leave");
		lb_ui_say(c->ui, "  2  restore another point");
	}
	r = lb_ui_choose(c->ui, "Choice", c->boot_env ? 4 : 2, NULL, c->line, sizeof(c->line), &num);
	if (r == LB_UI_QUIT)
		return LEAVE;
	if (r == LB_UI_BACK || num == (c->boot_env ? 4u : 2u))
		return SERVER;
	if (!c->boot_env)
		return num == 1 ? LEAVE : AFTER;
	switch (num) {
	case 1:
	case 2:
		lb_ui_say(c->ui, "%s now.", num == 1 ? "Rebooting" : "Powering off");
		sync();
		if (reboot(num == 1 ? RB_AUTOBOOT : RB_POWER_OFF) < 0)
			lb_log("%s: %s", num == 1 ? "reboot" : "power off", strerror(errno));
		lb_ui_say(c->ui, "That did not work (see above): use the shell (3), or the server's power button.");
		return AFTER;
	case 3:
		lb_ui_shell(c->ui);
		return AFTER;
	default:
		lb_ui_say(c->ui, "Type a number from the list.");
		return AFTER;
	}
}

/* ---- the command ---- */

static void defaults(struct console *c)
{
	static const struct {
		enum field f;
		const char *key, *env;
	} d[] = {
		{ F_STORE, "store", NULL },
		{ F_ENDPOINT, "endpoint", "AWS_ENDPOINT_URL" },
		{ F_REGION, "region", "AWS_REGION" },
		{ F_ACCESS, "access_key_id", "AWS_ACCESS_KEY_ID" },
		{ F_SECRET, "secret_access_key", "AWS_SECRET_ACCESS_KEY" },
		{ F_CA, "ca_bundle", "AWS_CA_BUNDLE" },
	};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		const char *v = lb_config_get(&c->conf, d[i].key);

		if (!v && d[i].env)
			v = getenv(d[i].env);
		snprintf(c->f[d[i].f], sizeof(c->f[d[i].f]), "%s", v ? v : "");
	}
	/* copied: out of /proc/PID/environ */
	lb_env_blank("AWS_SECRET_ACCESS_KEY");
	if (!c->f[F_REGION][0])
		snprintf(c->f[F_REGION], sizeof(c->f[F_REGION]), "us-east-1");
}

int cmd_console(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct console *c = NULL;
	const char *config = NULL;
	enum step step = NET;
	int o, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			fputs(HELP_console, stdout);
			return LB_EXIT_OK;
		default:
			fputs("usage: lifeboat console [--config FILE]\n", stderr);
			return LB_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs("usage: lifeboat console [--config FILE]\n", stderr);
		return LB_EXIT_USAGE;
	}
	rc = LB_EXIT_FAILURE;
	c = calloc(1, sizeof(*c));
	if (!c || lb_ui_new(stdin, stdout, true, &c->ui) < 0)
		goto done;
	c->boot_env = in_boot_env();
	/* A config that cannot be used still leaves the console usable: its
	 * problem is said, and the fields start empty. */
	if (lb_config_read(&c->conf, config ? config : LB_CONFIG_DEFAULT, config != NULL) < 0) {
		lb_ui_say(c->ui, "The config file is not used (see above): type the store's details instead.");
		lb_config_clear(&c->conf);
	}
	/* The image's trusted keys (and the config's trust_key): a broken one
	 * stops the console rather than quietly letting unsigned points in. */
	if (lb_keyring_load((const char *const *)c->conf.trust_keys.v, c->conf.trust_keys.n, &c->trust) < 0) {
		lb_ui_say(c->ui, "A trusted key cannot be read (see above): nothing is restored until it is fixed.");
		goto done;
	}
	if (lb_keyring_count(c->trust))
		lb_ui_say(c->ui, "Signatures are checked: only points signed by %s trusted key%s are offered.",
			  lb_keyring_count(c->trust) == 1 ? "the" : "a", lb_keyring_count(c->trust) == 1 ? "" : "s");
	defaults(c);
	lb_ui_say(c->ui, "Lifeboat %s: restore disks from a restore point, step by step. Nothing is written to any "
			 "disk before you type its name in step 6.", LIFEBOAT_VERSION);
	lb_ui_keys(c->ui);
	while (step != LEAVE) {
		switch (step) {
		case NET: step = step_net(c); break;
		case STORE: step = step_store(c); break;
		case SERVER: step = step_server(c); break;
		case POINT: step = step_point(c); break;
		case MAP: step = step_map(c); break;
		case CONFIRM: step = step_confirm(c); break;
		case RESTORE: step = step_restore(c); break;
		case AFTER: step = step_after(c); break;
		case LEAVE: break;
		}
	}
	rc = c->failed ? LB_EXIT_FAILURE : c->restored ? LB_EXIT_OK : EXIT_LEFT;
	lb_ui_say(c->ui, "Leaving the restore console%s.", c->restored ? "" : "; nothing was restored");
done:
	if (c) {
		end_plan(c);
		free_targets(c);
		lb_manifest_free(c->m);
		free(c->server);
		close_store(c);
		lb_keyring_free(c->trust);
		lb_config_clear(&c->conf);
		lb_ui_free(c->ui);
		explicit_bzero(c, sizeof(*c));
		free(c);
	}
	return rc;
}
