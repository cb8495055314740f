/* disks - list block devices, their partitions and what is using them
 * usage: lifeboat disks [-j|--json] [-a|--all] [-l|--long] [--boot-medium]
 *
 * Lists every disk (also USB sticks, CD/DVD with media, attached loop
 * devices) with its partitions indented below it, and says whether it is in
 * use: mounted, held by dm/md, active swap, or the medium Lifeboat booted
 * from. Never opens a device for writing.
 *
 * Options:
 *   -j, --json   machine-readable output (schema below)
 *   -a, --all    also ram, zram, dm, md, empty loop and CD devices
 *   -l, --long   table: add WWN and BY-PATH columns
 *   --boot-medium  print only the path of the medium Lifeboat booted from
 *                (exit 1 when there is none, e.g. after a PXE boot)
 *   -h, --help   this text
 *
 * JSON schema (stable; fields are only ever added):
 *   {"disks": [disk, ...]}
 *   disk: name, path ("/dev/sda"), type ("disk"|"rom"|"loop"|...), size
 *     (bytes), logical_sector_size, physical_sector_size, model, vendor,
 *     serial, wwn, transport ("sata"|"sas"|"nvme"|"virtio"|"usb"|"scsi"|
 *     "mmc"|"loop"|...), by_path (as udev's /dev/disk/by-path), rotational,
 *     removable, read_only, backing_file (loop), pttype, ptuuid, fs_type,
 *     label, uuid (whole-disk file system, e.g. iso9660), boot_medium,
 *     mountpoints [..], holders [..], swap, in_use, partitions [part, ...]
 *   part: name, path, number, start (bytes), size (bytes), by_path, fs_type,
 *     label, uuid, part_uuid, part_label, mountpoints [..], holders [..],
 *     swap, in_use
 *   Unknown strings are null. A disk's in_use is true when the disk, any of
 *   its partitions, or the boot medium is in use; a partition's in_use only
 *   covers that partition.
 *
 * Exit status: 0 listed, 1 could not scan, 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "help.h"
#include "json.h"
#include "lifeboat.h"

static void json_strv(struct lb_json *j, const char *key, const struct lb_strv *l)
{
	lb_json_key(j, key);
	lb_json_array_begin(j);
	for (size_t i = 0; i < l->n; i++)
		lb_json_string(j, l->v[i]);
	lb_json_array_end(j);
}

static void json_usage(struct lb_json *j, const struct lb_usage *u)
{
	json_strv(j, "mountpoints", &u->mountpoints);
	json_strv(j, "holders", &u->holders);
	lb_json_key(j, "swap");
	lb_json_bool(j, u->swap);
}

#define KS(k, v) (lb_json_key(j, k), lb_json_string(j, v))
#define KU(k, v) (lb_json_key(j, k), lb_json_u64(j, v))
#define KB(k, v) (lb_json_key(j, k), lb_json_bool(j, v))

static int print_json(const struct lb_disk_list *l)
{
	struct lb_json *j = NULL;
	int r;

	r = lb_json_new(stdout, true, &j);
	if (r < 0)
		return r;
	lb_json_object_begin(j);
	lb_json_key(j, "disks");
	lb_json_array_begin(j);
	for (size_t i = 0; i < l->n; i++) {
		const struct lb_disk *d = &l->disks[i];

		lb_json_object_begin(j);
		KS("name", d->name);
		KS("path", d->path);
		KS("type", d->type);
		KU("size", d->size);
		KU("logical_sector_size", d->logical_sector_size);
		KU("physical_sector_size", d->physical_sector_size);
		KS("model", d->model);
		KS("vendor", d->vendor);
		KS("serial", d->serial);
		KS("wwn", d->wwn);
		KS("transport", d->transport);
		KS("by_path", d->by_path);
		KB("rotational", d->rotational);
		KB("removable", d->removable);
		KB("read_only", d->read_only);
		KS("backing_file", d->backing_file);
		KS("pttype", d->probe.pttype);
		KS("ptuuid", d->probe.ptuuid);
		KS("fs_type", d->probe.fs_type);
		KS("label", d->probe.label);
		KS("uuid", d->probe.uuid);
		KB("boot_medium", d->boot_medium);
		json_usage(j, &d->usage);
		KB("in_use", lb_disk_in_use(d));
		lb_json_key(j, "partitions");
		lb_json_array_begin(j);
		for (size_t k = 0; k < d->n_parts; k++) {
			const struct lb_part *p = &d->parts[k];

			lb_json_object_begin(j);
			KS("name", p->name);
			KS("path", p->path);
			KU("number", p->number);
			KU("start", p->start);
			KU("size", p->size);
			KS("by_path", p->by_path);
			KS("fs_type", p->probe.fs_type);
			KS("label", p->probe.label);
			KS("uuid", p->probe.uuid);
			KS("part_uuid", p->probe.part_uuid);
			KS("part_label", p->probe.part_label);
			json_usage(j, &p->usage);
			KB("in_use", lb_usage_any(&p->usage));
			lb_json_object_end(j);
		}
		lb_json_array_end(j);
		lb_json_object_end(j);
	}
	lb_json_array_end(j);
	lb_json_object_end(j);
	return lb_json_free(j);
}

/* ---- table ---- */

enum { C_NAME, C_SIZE, C_TYPE, C_TRAN, C_MODEL, C_SERIAL, C_FS, C_LABEL, C_WWN, C_BYPATH, C_STATE, N_COLS };

static const char *const headers[N_COLS] = {
	"NAME", "SIZE", "TYPE", "TRAN", "MODEL", "SERIAL", "FS", "LABEL", "WWN", "BY-PATH", "IN-USE",
};

struct table {
	size_t n, cap;
	char *(*rows)[N_COLS];
	bool oom;
};

static char *human(uint64_t b)
{
	static const char units[] = "BKMGTPE";
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		return lb_strdupf("%" PRIu64 "B", b);
	return lb_strdupf(v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

/* Firmware strings go to a serial console: no control characters. */
static char *cell(const char *s)
{
	char *c = strdup(s && *s ? s : "-");

	for (char *p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

static void state_add(char **st, const char *fmt, const char *arg)
{
	char *piece, *n;

	piece = lb_strdupf(fmt, arg);
	if (!piece)
		return;
	n = *st ? lb_strdupf("%s, %s", *st, piece) : strdup(piece);
	free(piece);
	if (n) {
		free(*st);
		*st = n;
	}
}

static char *state(const struct lb_usage *u, bool medium, bool parts_used)
{
	char *st = NULL;

	if (medium)
		state_add(&st, "%s", "boot medium");
	for (size_t i = 0; i < u->mountpoints.n; i++)
		state_add(&st, "mounted %s", u->mountpoints.v[i]);
	for (size_t i = 0; i < u->holders.n; i++)
		state_add(&st, "holder %s", u->holders.v[i]);
	if (u->swap)
		state_add(&st, "%s", "swap");
	if (parts_used && !st)
		state_add(&st, "%s", "partitions in use");
	return st;
}

static void add_row(struct table *t, char *cells[N_COLS])
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void *nv = realloc(t->rows, cap * sizeof(*t->rows));

		if (!nv) {
			t->oom = true;
			for (int i = 0; i < N_COLS; i++)
				free(cells[i]);
			return;
		}
		t->rows = nv;
		t->cap = cap;
	}
	for (int i = 0; i < N_COLS; i++) {
		t->rows[t->n][i] = cell(cells[i]);
		free(cells[i]);
		if (!t->rows[t->n][i])
			t->oom = true;
	}
	t->n++;
}

static int print_table(const struct lb_disk_list *l, bool lng)
{
	struct table t = { 0 };
	size_t width[N_COLS] = { 0 };
	int r = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct lb_disk *d = &l->disks[i];
		bool parts_used = false;
		char *row[N_COLS] = { 0 };

		for (size_t k = 0; k < d->n_parts; k++)
			parts_used = parts_used || lb_usage_any(&d->parts[k].usage);
		row[C_NAME] = d->name ? strdup(d->name) : NULL;
		row[C_SIZE] = human(d->size);
		row[C_TYPE] = strdup(d->type);
		row[C_TRAN] = d->transport ? strdup(d->transport) : NULL;
		row[C_MODEL] = d->model ? strdup(d->model) : NULL;
		row[C_SERIAL] = d->serial ? strdup(d->serial) : NULL;
		/* a disk's FS column shows its partition table, or a whole-disk fs */
		row[C_FS] = d->probe.pttype ? strdup(d->probe.pttype)
					    : d->probe.fs_type ? strdup(d->probe.fs_type) : NULL;
		row[C_LABEL] = d->probe.label ? strdup(d->probe.label) : NULL;
		row[C_WWN] = d->wwn ? strdup(d->wwn) : NULL;
		row[C_BYPATH] = d->by_path ? strdup(d->by_path) : NULL;
		row[C_STATE] = state(&d->usage, d->boot_medium, parts_used);
		add_row(&t, row);
		for (size_t k = 0; k < d->n_parts; k++) {
			const struct lb_part *p = &d->parts[k];
			char *prow[N_COLS] = { 0 };

			prow[C_NAME] = lb_strdupf("  %s", p->name);
			prow[C_SIZE] = human(p->size);
			prow[C_TYPE] = strdup("part");
			prow[C_FS] = p->probe.fs_type ? strdup(p->probe.fs_type) : NULL;
			prow[C_LABEL] = p->probe.label ? strdup(p->probe.label) : NULL;
			prow[C_BYPATH] = p->by_path ? strdup(p->by_path) : NULL;
			prow[C_STATE] = state(&p->usage, false, false);
			for (int c = 0; c < N_COLS; c++)
				if (c != C_NAME && c != C_SIZE && c != C_TYPE && c != C_FS &&
				    c != C_LABEL && c != C_BYPATH && c != C_STATE)
					prow[c] = strdup("");
			add_row(&t, prow);
		}
	}
	if (t.oom) {
		r = -ENOMEM;
		goto fail;
	}
	for (int c = 0; c < N_COLS; c++) {
		width[c] = strlen(headers[c]);
		for (size_t i = 0; i < t.n; i++)
			if (strlen(t.rows[i][c]) > width[c])
				width[c] = strlen(t.rows[i][c]);
	}
	for (size_t i = 0; i <= t.n; i++) {
		for (int c = 0; c < N_COLS; c++) {
			const char *s = i == 0 ? headers[c] : t.rows[i - 1][c];

			if (!lng && (c == C_WWN || c == C_BYPATH))
				continue;
			/* blank partition cells read better than a column of dashes */
			if (i > 0 && strcmp(s, "-") == 0 && strcmp(t.rows[i - 1][C_TYPE], "part") == 0 &&
			    (c == C_TRAN || c == C_MODEL || c == C_SERIAL || c == C_WWN))
				s = "";
			if (c == C_STATE)
				printf("%s\n", s);
			else if (c == C_SIZE)
				printf("%*s  ", (int)width[c], s);
			else
				printf("%-*s  ", (int)width[c], s);
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		r = -EIO;
fail:
	for (size_t i = 0; i < t.n; i++)
		for (int c = 0; c < N_COLS; c++)
			free(t.rows[i][c]);
	free(t.rows);
	return r;
}

int cmd_disks(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "long", no_argument, NULL, 'l' },
		{ "boot-medium", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_disks_opts opts = { 0 };
	struct lb_disk_list *list = NULL;
	bool json = false, lng = false, medium = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jalh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'a':
			opts.all = true;
			break;
		case 'l':
			lng = true;
			break;
		case 'B':
			medium = true;
			break;
		case 'h':
			fputs(HELP_disks, stdout);
			return LB_EXIT_OK;
		default:
			fputs("usage: lifeboat disks [-j|--json] [-a|--all] [-l|--long] [--boot-medium]\n", stderr);
			return LB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lifeboat disks: unexpected argument '%s'\n", argv[optind]);
		return LB_EXIT_USAGE;
	}

	r = lb_disks_scan(&opts, &list);
	if (r < 0)
		return LB_EXIT_FAILURE; /* logged by the scan */
	if (medium) {
		/* init waits on this until a CD or USB stick has shown up */
		r = -ENOENT;
		for (size_t i = 0; i < list->n; i++)
			if (list->disks[i].boot_medium) {
				printf("%s\n", list->disks[i].path);
				r = 0;
			}
		lb_disks_free(list);
		return r < 0 ? LB_EXIT_FAILURE : LB_EXIT_OK;
	}
	r = json ? print_json(list) : print_table(list, lng);
	if (r < 0)
		lb_log("write output: %s", strerror(-r));
	lb_disks_free(list);
	return r < 0 ? LB_EXIT_FAILURE : LB_EXIT_OK;
}
