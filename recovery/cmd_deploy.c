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
 *   retries = N                         (lifeboat.retries=) retries of a request to
 *                                       the store (LIFEBOAT_RETRIES, default 6)
 *   retry_time = SECONDS                (lifeboat.retry_time=) no retry of a
 *                                       request after this long (LIFEBOAT_RETRY_TIME,
 *                                       default 120)
 *   stall_timeout = SECONDS             (lifeboat.stall_timeout=) an attempt with
 *                                       no byte moving for this long is aborted
 *                                       and retried (LIFEBOAT_STALL_TIMEOUT, default 60)
 *   access_key_id, secret_access_key, session_token
 *                                       credentials: config file only (the
 *                                       kernel command line is readable by
 *                                       every process: they are refused there)
 *   trust_key = FILE                    a public key whose signature a point
 *                                       must carry (repeatable; keys embedded
 *                                       in the image by iso/customize
 *                                       --trust-key are always trusted):
 *                                       config only, never the command line
 *   callback = URL                      (lifeboat.callback=) POST status events
 *                                       as JSON to URL (see below)
 *   callback_token = TOKEN              sent as Authorization: Bearer TOKEN;
 *                                       config file only, never logged
 *   callback_interval = SECONDS         between progress events of a disk
 *                                       (default 5)
 *   callback_flush = SECONDS            how long to wait at the end for the
 *                                       receiver to take the last events
 *                                       (default 5); then deploy goes on
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
 * With a callback, events go to the URL as they happen: started (with
 * the machine's inventory: CPU, memory, disks, NICs with MACs and
 * addresses, and the plan), progress per disk every callback_interval
 * seconds (bytes, chunks fetched and found in place, rate, ETA), and
 * finished or failed (with the reason and the last lines of the log). Each
 * carries a machine_id (the first NIC's MAC), a sequence number and a time.
 * They are sent by a thread of their own, retried with backoff while the
 * receiver is down or answers 5xx: the deployment never waits for them,
 * except callback_flush seconds at the end. docs/pxe.md lists the fields.
 *
 * After success: lifeboat.after=kexec (on the kernel command line, which
 * init reads too) makes deploy find the restored boot disk's kernel (GRUB's
 * default entry, else /vmlinuz and /initrd.img) and load it with
 * kexec_file_load; init then starts it (lifeboat kexec --exec) instead of
 * rebooting through the firmware. When that cannot be done, deploy says why
 * and init reboots.
 *
 * Options:
 *   --config FILE          the config file (default /etc/lifeboat/lifeboat.conf)
 *   --cmdline FILE         where kernel parameters are read (default /proc/cmdline)
 *   --dry-run              match the disks, print the plan, write nothing
 *                          (and send no events)
 *   -h, --help             this text
 *
 * Progress is printed as JSON lines (restore --progress=json).
 * Exit status: 0 restored, 1 failed (targets wiped), 2 usage or config
 * error, 3 no unique disk for a hint or an unsuitable target (nothing
 * written).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "cli.h"
#include "clock.h"
#include "backoff.h"
#include "config.h"
#include "disk.h"
#include "hash.h"
#include "http.h"
#include "help.h"
#include "hints.h"
#include "inventory.h"
#include "key.h"
#include "kexec.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "report.h"
#include "restore.h"
#include "store.h"
#include "util.h"

static int apply_retry_settings(const struct lb_config *s)
{
	static const char *const map[][2] = { { "retries", "LIFEBOAT_RETRIES" },
					      { "retry_time", "LIFEBOAT_RETRY_TIME" },
					      { "stall_timeout", "LIFEBOAT_STALL_TIMEOUT" } };
	struct lb_retry_policy p;
	long stall;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (lb_config_get(s, map[i][0]) && setenv(map[i][1], lb_config_get(s, map[i][0]), 1) < 0)
			return -errno;
	return lb_retry_policy_env(&p) < 0 || lb_stall_timeout_env(&stall) < 0 ? -EINVAL : 0;
}

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
		if (r == -EPROTO && resp->tls_time_only) {
			/* The clock is set later, from the store. The digest is
			 * what makes this config trustworthy, and a wrong clock
			 * is all that refused its certificate: ask once more
			 * with the certificate's dates unchecked. */
			lb_log("config: asking again with the certificate's dates unchecked (the SHA-256 is checked)");
			req.tls_any_time = true;
			r = lb_http_perform(h, &req, resp);
		}
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

		r = 0;
		if (!copy) {
			free(buf);
			return -ENOMEM;
		}
		for (w = strtok_r(copy, " \t\n", &sv); w; w = strtok_r(NULL, " \t\n", &sv)) {
			if (!strncmp(w, "lifeboat.config=", 16))
				url = w + 16;
			else if (!strncmp(w, "lifeboat.config_sha256=", 23))
				sha = w + 23;
			else if (!strncmp(w, "lifeboat.callback=", 18) && lb_config_set(s, "callback", w + 18, "kernel command line") < 0)
				r = -ENOMEM;
		}
		/* (the callback is known now, so that a config that cannot be
		 * fetched is reported; the loop below sets it again, over
		 * whatever the fetched config says) */
		if (r == 0 && url)
			r = fetch_config(s, url, sha);
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
		    !strcmp(w + 9, "net_wait") || !strcmp(w + 9, "config") || !strcmp(w + 9, "config_sha256"))
			continue; /* init's, or read above */
		if (!strcmp(w + 9, "trust_key")) {
			/* who can edit the command line must not choose the keys
			 * that make a point trustworthy */
			lb_log("kernel command line: lifeboat.trust_key refused: trusted keys come from the image "
			       "(iso/customize --trust-key) or its config file");
			r = -EPERM;
			break;
		}
		if (!strcmp(w + 9, "after")) {
			/* init's too (it acts on it); deploy reports it and
			 * prepares kexec. A kernel parameter only: init cannot
			 * read a config file. */
			if ((r = lb_cli_pair_find(&s->kv, "after")) >= 0) {
				free(s->kv.values[r]);
				r = (s->kv.values[r] = strdup(eq + 1)) ? 0 : -ENOMEM;
			} else {
				char *arg = lb_strdupf("after=%s", eq + 1);

				r = arg ? lb_cli_pair_add(&s->kv, arg, "kernel command line", "KEY=VALUE") : -ENOMEM;
				free(arg);
			}
			if (r < 0)
				break;
			continue;
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

/* One deployment: what the events need to know as it goes. */
struct deploy {
	struct lb_report *report;
	const struct lb_manifest *m;
	struct json_object *done; /* disk name -> its disk_done counters */
	struct timespec start;
	uint64_t bytes_fetched;
	bool started;             /* the started event went out */
};

static const char *after_action(const struct lb_config *s)
{
	const char *a = lb_config_get(s, "after");

	return a ? a : "reboot";
}

/* started/failed carry the inventory: when a hint matched nothing, the list
 * of disks is what the operator needs to see. */
static struct json_object *with_inventory(struct json_object *o, const struct lb_disk_list *l)
{
	if (o)
		json_object_object_add(o, "inventory", lb_inventory_json(l));
	return o;
}

static void report_failed(struct deploy *d, const struct lb_disk_list *l, const char *stage, int rc,
			  const char *reason)
{
	struct json_object *o, *log;
	struct lb_strv tail = { 0 };

	if (!d->report || !(o = json_object_new_object()))
		return;
	json_object_object_add(o, "stage", json_object_new_string(stage));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	json_object_object_add(o, "exit", json_object_new_int(rc));
	if (d->m) {
		char *p = lb_strdupf("%s/%s", d->m->server, d->m->id);

		json_object_object_add(o, "point", p ? json_object_new_string(p) : NULL);
		free(p);
	}
	log = json_object_new_array();
	if (log && lb_log_tail(&tail) == 0)
		for (size_t i = 0; i < tail.n; i++)
			json_object_array_add(log, json_object_new_string(tail.v[i]));
	lb_strv_clear(&tail);
	json_object_object_add(o, "log", log);
	if (!d->started) {
		/* failed before the disks were listed: list them for the
		 * inventory anyway, it is what the operator needs to see */
		struct lb_disks_opts dopts = { 0 };
		struct lb_disk_list *own = NULL;

		if (!l && lb_disks_scan(&dopts, &own) == 0)
			l = own;
		with_inventory(o, l);
		lb_disks_free(own);
	}
	lb_report_event(d->report, "failed", o);
}

static void report_started(struct deploy *d, const struct lb_config *s, const struct lb_disk_list *l,
			   struct lb_store *st, const struct lb_restore *rs)
{
	struct json_object *o, *disks;
	char *p;

	if (!d->report || !(o = json_object_new_object()))
		return;
	p = lb_strdupf("%s/%s", d->m->server, d->m->id);
	json_object_object_add(o, "point", p ? json_object_new_string(p) : NULL);
	free(p);
	json_object_object_add(o, "kind", json_object_new_string(d->m->kind == LB_KIND_IMAGE ? "image" : "backup"));
	json_object_object_add(o, "store", json_object_new_string(lb_store_url(st)));
	json_object_object_add(o, "after", json_object_new_string(after_action(s)));
	disks = json_object_new_array();
	for (size_t i = 0; disks && i < lb_restore_count(rs); i++) {
		const struct lb_manifest_disk *md = lb_restore_disk(rs, i);
		struct json_object *e = json_object_new_object();
		int k = lb_cli_pair_find(&s->disks, md->name);

		if (!e)
			continue;
		json_object_object_add(e, "name", json_object_new_string(md->name));
		json_object_object_add(e, "hint", k >= 0 ? json_object_new_string(s->disks.values[k]) : NULL);
		json_object_object_add(e, "target", json_object_new_string(lb_restore_target(rs, i)));
		json_object_object_add(e, "target_size", json_object_new_uint64(lb_restore_target_size(rs, i)));
		json_object_object_add(e, "size", json_object_new_uint64(md->size));
		json_object_object_add(e, "chunks", json_object_new_uint64(md->chunk_count));
		json_object_object_add(e, "boot", json_object_new_boolean(md->boot));
		json_object_array_add(disks, e);
	}
	json_object_object_add(o, "disks", disks);
	with_inventory(o, l);
	if (lb_report_event(d->report, "started", o) == 0)
		d->started = true;
}

/* Progress on the console (JSON lines, as restore --progress=json) and to
 * the callback; a disk's final counters kept for the finished event. */
static void on_event(const struct lb_restore_event *e, void *userdata)
{
	struct deploy *d = userdata;
	struct json_object *o = lb_restore_event_json(e);

	if (o) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		fflush(stdout);
	}
	if (e->type == LB_RESTORE_DISK_DONE && o && d->done) {
		json_object_object_del(o, "event");
		json_object_object_add(d->done, e->disk, json_object_get(o));
		d->bytes_fetched += e->bytes_fetched;
	}
	json_object_put(o);
	lb_report_restore_event(e, d->report);
}

/* The disk the firmware would boot: the point's boot disk, else its system
 * disk, else the only one. NULL when that does not say. */
static const char *boot_target(const struct lb_restore *rs)
{
	size_t n = lb_restore_count(rs);

	for (size_t i = 0; i < n; i++)
		if (lb_restore_disk(rs, i)->boot)
			return lb_restore_target(rs, i);
	for (size_t i = 0; i < n; i++)
		if (lb_restore_disk(rs, i)->system)
			return lb_restore_target(rs, i);
	return n == 1 ? lb_restore_target(rs, 0) : NULL;
}

/* after=kexec: load the restored system's kernel now, while deploy still
 * reports; init starts it. On failure init reboots, and the finished event
 * says why. disk: the boot disk's target, closed by now (the kernel will
 * not re-read the partition table of a disk someone holds O_EXCL). */
static void prepare_kexec(const char *disk, struct json_object *fin)
{
	struct lb_kexec_entry *k = NULL;
	struct json_object *o = json_object_new_object();
	int r;

	if (!o)
		return;
	if (!disk) {
		lb_log("kexec: the point marks no boot or system disk; rebooting instead");
		r = -ENOENT;
	} else if ((r = lb_kexec_load_disk(disk, false, &k)) < 0) {
		lb_log("kexec: %s: nothing loaded (%s); rebooting instead", disk, strerror(-r));
	}
	json_object_object_add(o, "disk", disk ? json_object_new_string(disk) : NULL);
	json_object_object_add(o, "loaded", json_object_new_boolean(r == 0));
	if (r == 0) {
		json_object_object_add(o, "source", json_object_new_string(k->source));
		json_object_object_add(o, "kernel", json_object_new_string(k->kernel));
		json_object_object_add(o, "initrd", k->initrd ? json_object_new_string(k->initrd) : NULL);
		json_object_object_add(o, "cmdline", json_object_new_string(k->cmdline));
	} else {
		json_object_object_add(o, "error", json_object_new_string(strerror(-r)));
	}
	json_object_object_add(fin, "after", json_object_new_string(r == 0 ? "kexec" : "reboot"));
	json_object_object_add(fin, "kexec", o);
	lb_kexec_entry_free(k);
}

/* Start the callback sender, if one is configured. A bad setting is a
 * config error; a receiver that is down is not (the sender retries). */
static int start_report(const struct lb_config *s, struct lb_report **ret)
{
	struct lb_report_opts ro = { 0 };
	const char *v;

	*ret = NULL;
	if (!(ro.url = lb_config_get(s, "callback")))
		return 0;
	ro.token = lb_config_get(s, "callback_token");
	ro.ca_bundle = lb_config_get(s, "ca_bundle") ? lb_config_get(s, "ca_bundle") : getenv("AWS_CA_BUNDLE");
	if ((v = lb_config_get(s, "callback_interval")) && (ro.progress_interval = strtod(v, NULL)) <= 0) {
		lb_log("callback_interval = %s: not a number of seconds", v);
		return -EINVAL;
	}
	return lb_report_new(&ro, ret);
}

static double flush_seconds(const struct lb_config *s)
{
	const char *v = lb_config_get(s, "callback_flush");
	double t = v ? strtod(v, NULL) : 5;

	return t >= 0 && t <= 600 ? t : 5;
}

int cmd_deploy(int argc, char **argv)
{
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
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_keyring *trust = NULL;
	struct lb_manifest *m = NULL;
	struct lb_restore *rs = NULL;
	struct lb_restore_opts ro = { .interval = 1 };
	struct deploy d = { 0 };
	const char *config = NULL, *cmdline = NULL, **paths = NULL, *stage = "config", *reason = NULL;
	bool dry = false;
	int c, r, rc = LB_EXIT_USAGE;

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
	clock_gettime(CLOCK_MONOTONIC, &d.start);
	reason = "the config could not be read";
	if (lb_config_read(&s, config ? config : LB_CONFIG_DEFAULT, config != NULL) < 0)
		goto fail;
	if (!cmdline) {
		static char proc_cmdline[512];

		snprintf(proc_cmdline, sizeof(proc_cmdline), "%s/cmdline", lb_root(LB_ROOT_PROC));
		cmdline = proc_cmdline;
	}
	reason = "the kernel command line or the fetched config was refused";
	r = read_cmdline(&s, cmdline);
	/* Events from here on, when a receiver is configured: even a config
	 * that failed is worth a report (the callback may come from the
	 * kernel command line). */
	if (!dry && start_report(&s, &d.report) < 0)
		goto done;
	if (r < 0)
		goto fail;
	reason = "store, point or disk.NAME missing";
	if (!lb_config_get(&s, "store") || !lb_config_get(&s, "point") || s.disks.n == 0) {
		lb_log("deploy needs store, point and at least one disk.NAME (config file or lifeboat.* parameters)");
		goto fail;
	}
	r = lb_cli_pair_find(&s.kv, "after");
	if (r >= 0 && strcmp(s.kv.values[r], "reboot") && strcmp(s.kv.values[r], "poweroff") &&
	    strcmp(s.kv.values[r], "shell") && strcmp(s.kv.values[r], "kexec")) {
		lb_log("lifeboat.after=%s: one of reboot, poweroff, shell, kexec", s.kv.values[r]);
		reason = "lifeboat.after is not reboot, poweroff, shell or kexec";
		goto fail;
	}
	/* Credentials reach the S3 client directly: never argv, nor the
	 * environment (/proc/PID/environ) */
	sopts.access_key = lb_config_get(&s, "access_key_id");
	sopts.secret_key = lb_config_get(&s, "secret_access_key");
	sopts.session_token = lb_config_get(&s, "session_token");
	/* The retry settings reach every client (store, callback) the way the
	 * environment would give them, and are checked here, before anything
	 * is done, so a typo is a config error and not a long wait. */
	if (apply_retry_settings(&s) < 0) {
		reason = "retries, retry_time or stall_timeout is not a number";
		goto fail;
	}
	sopts.endpoint = lb_config_get(&s, "endpoint");
	sopts.region = lb_config_get(&s, "region");
	sopts.ca_bundle = lb_config_get(&s, "ca_bundle");
	if (lb_config_get(&s, "workers") && lb_cli_parse_workers(lb_config_get(&s, "workers"), &ro.workers) < 0) {
		reason = "workers is not a number of workers";
		goto fail;
	}

	rc = LB_EXIT_FAILURE;
	stage = "disks";
	reason = "the disks could not be listed";
	paths = calloc(s.disks.n, sizeof(*paths));
	if (!paths || lb_disks_scan(&opts, &l) < 0)
		goto fail;
	rc = match_disks(&s, l, paths);
	if (rc != 0) {
		reason = rc == 3 ? "a hint matches no disk or more than one; nothing was written" : "a hint is malformed";
		goto fail;
	}

	rc = LB_EXIT_FAILURE;
	stage = "store";
	reason = "the restore point could not be loaded from the store";
	if (lb_keyring_load((const char *const *)s.trust_keys.v, s.trust_keys.n, &trust) < 0) {
		reason = "a trusted key could not be read";
		goto fail;
	}
	/* the clock first, when init could not set it (no source known
	 * before the config was complete) */
	lb_clock_sync_boot(lb_config_get(&s, "store"), sopts.endpoint, sopts.ca_bundle,
			   lb_config_get(&s, "clock_http_date") && !strcmp(lb_config_get(&s, "clock_http_date"), "yes"));
	if (lb_store_open(lb_config_get(&s, "store"), &sopts, &st) < 0 ||
	    lb_point_load(st, lb_config_get(&s, "point"), trust, &m, NULL) < 0)
		goto fail;
	d.m = m;
	stage = "plan";
	r = lb_restore_new(st, m, (const char *const *)s.disks.names, paths, s.disks.n, &rs);
	if (r < 0) {
		reason = r == -ENOMEM ? "out of memory" : "a target is unsuitable (see the log); nothing was written";
		rc = r == -ENOMEM ? LB_EXIT_FAILURE : 3;
		goto fail;
	}
	fprintf(stderr, "deploy %s/%s (%s) from %s:\n", m->server, m->id, m->kind == LB_KIND_IMAGE ? "image" : "backup",
		lb_store_url(st));
	lb_restore_print_plan(rs, stderr);
	if (dry) {
		fprintf(stderr, "dry run: nothing written\n");
		rc = LB_EXIT_OK;
		goto done;
	}
	report_started(&d, &s, l, st, rs);

	stage = "restore";
	reason = "the restore failed (see the log); the targets' partition tables were wiped";
	d.done = json_object_new_object();
	ro.on_event = on_event;
	ro.userdata = &d;
	if ((r = lb_restore_run(rs, &ro)) < 0) {
		printf("{\"event\":\"failed\",\"point\":\"%s/%s\"}\n", m->server, m->id);
		rc = LB_EXIT_FAILURE;
		goto fail;
	}
	printf("{\"event\":\"finished\",\"point\":\"%s/%s\"}\n", m->server, m->id);
	fflush(stdout);
	lb_log("restored %s/%s", m->server, m->id);
	{
		struct json_object *fin = json_object_new_object();
		char *p = lb_strdupf("%s/%s", m->server, m->id);

		if (fin) {
			json_object_object_add(fin, "point", p ? json_object_new_string(p) : NULL);
			json_object_object_add(fin, "seconds",
					       json_object_new_double((double)(int64_t)(lb_cli_secs_since(&d.start) * 10 + 0.5) / 10));
			json_object_object_add(fin, "bytes_fetched", json_object_new_uint64(d.bytes_fetched));
			json_object_object_add(fin, "disks", json_object_get(d.done));
			if (!strcmp(after_action(&s), "kexec")) {
				char *boot = boot_target(rs) ? strdup(boot_target(rs)) : NULL;

				lb_restore_free(rs); /* the targets closed */
				rs = NULL;
				prepare_kexec(boot, fin);
				free(boot);
			} else
				json_object_object_add(fin, "after", json_object_new_string(after_action(&s)));
			if (d.report)
				lb_report_event(d.report, "finished", json_object_get(fin));
		}
		json_object_put(fin);
		free(p);
	}
	rc = LB_EXIT_OK;
	goto done;
fail:
	if (rc == LB_EXIT_OK)
		rc = LB_EXIT_FAILURE;
	report_failed(&d, l, stage, rc, reason);
done:
	if (d.report) {
		struct lb_report_stats rst;
		double t = flush_seconds(&s);

		lb_report_close(d.report, t);
		lb_report_stats(d.report, &rst);
		lb_log("callback: %u event(s) delivered, %u refused, %u dropped, %u retries", rst.delivered, rst.refused,
		       rst.dropped, rst.retries);
	}
	lb_report_free(d.report);
	json_object_put(d.done);
	lb_restore_free(rs);
	lb_manifest_free(m);
	lb_store_close(st);
	lb_keyring_free(trust);
	free(paths);
	lb_disks_free(l);
	lb_config_clear(&s);
	return rc;
}
