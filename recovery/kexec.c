/* kexec into a restored system (kexec.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "disk.h"
#include "kexec.h"
#include "util.h"

#ifndef KEXEC_FILE_NO_INITRAMFS
#define KEXEC_FILE_NO_INITRAMFS 0x00000004
#endif
#ifndef RB_KEXEC
#define RB_KEXEC 0x45584543
#endif

/* Ceilings: a grub.cfg is a few KiB, a command line at most a page on x86
 * (COMMAND_LINE_SIZE 2048), a kernel tens of MiB. */
#define GRUB_CFG_MAX (1u << 20)
#define CMDLINE_MAX 2048
#define MAX_VARS 64
#define MAX_INITRDS 8

void lb_kexec_entry_free(struct lb_kexec_entry *e)
{
	if (!e)
		return;
	free(e->title);
	free(e->kernel);
	free(e->initrd);
	free(e->cmdline);
	free(e->fs_uuid);
	free(e->source);
	free(e);
}

/* ---- GRUB config: just enough of its shell-like language ---- */

struct word {
	char *s;
	bool quoted_single; /* no variable expansion inside '...' */
};

struct gvars {
	size_t n;
	char *names[MAX_VARS], *values[MAX_VARS];
};

static const char *gvar_get(const struct gvars *v, const char *name, size_t len)
{
	for (size_t i = v->n; i-- > 0;)
		if (strlen(v->names[i]) == len && !strncmp(v->names[i], name, len))
			return v->values[i];
	return NULL;
}

static void gvar_set(struct gvars *v, const char *name, const char *value)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->names[i], name)) {
			char *nv = strdup(value);

			if (nv) {
				free(v->values[i]);
				v->values[i] = nv;
			}
			return;
		}
	if (v->n < MAX_VARS && (v->names[v->n] = strdup(name))) {
		if ((v->values[v->n] = strdup(value)))
			v->n++;
		else
			free(v->names[v->n]);
	}
}

static void gvars_clear(struct gvars *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->names[i]);
		free(v->values[i]);
	}
	v->n = 0;
}

/* Split one line into words: quotes removed, $name and ${name} expanded
 * (unknown ones empty, as GRUB does), '#' at a word's start ends the line.
 * Returns the word count (at most max), or -ENOMEM. */
static int split(const char *line, const struct gvars *vars, char **words, int max)
{
	int n = 0;
	const char *p = line;

	while (*p && n < max) {
		char buf[CMDLINE_MAX];
		size_t len = 0;
		char q = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			break;
		while (*p && (q || (*p != ' ' && *p != '\t'))) {
			if (!q && (*p == '\'' || *p == '"')) {
				q = *p++;
				continue;
			}
			if (q && *p == q) {
				q = 0;
				p++;
				continue;
			}
			if (*p == '\\' && p[1] && q != '\'') {
				p++;
			} else if (*p == '$' && q != '\'' && (p[1] == '{' || isalpha((unsigned char)p[1]) || p[1] == '_')) {
				const char *name = p + 1, *end;
				const char *val;

				if (*name == '{') {
					name++;
					end = strchr(name, '}');
					if (!end)
						end = name + strlen(name);
					p = *end ? end + 1 : end;
				} else {
					end = name;
					while (isalnum((unsigned char)*end) || *end == '_')
						end++;
					p = end;
				}
				val = gvar_get(vars, name, (size_t)(end - name));
				for (; val && *val && len < sizeof(buf) - 1; val++)
					buf[len++] = *val;
				continue;
			}
			if (len < sizeof(buf) - 1)
				buf[len++] = *p;
			p++;
		}
		buf[len] = '\0';
		if (!(words[n] = strdup(buf))) {
			while (n > 0)
				free(words[--n]);
			return -ENOMEM;
		}
		n++;
	}
	return n;
}

/* "(hd0,gpt2)/boot/vmlinuz" and "($root)/x" name a path on a device GRUB
 * knows; the path part is what matters here. */
static const char *strip_device(const char *path)
{
	if (path[0] == '(') {
		const char *e = strchr(path, ')');

		return e ? e + 1 : path;
	}
	return path;
}

/* search [--no-floppy] [--fs-uuid|-u] [--set=root|--set root] [--hint...] UUID */
static char *search_uuid(char **w, int n)
{
	bool by_uuid = !strcmp(w[0], "search.fs_uuid");
	bool sets_root = by_uuid; /* search.fs_uuid UUID [VAR]: VAR, default root */
	const char *uuid = NULL;

	for (int i = 1; i < n; i++) {
		if (!strcmp(w[i], "--fs-uuid") || !strcmp(w[i], "-u"))
			by_uuid = true;
		else if (!strcmp(w[i], "--set=root") || (!strcmp(w[i], "--set") && i + 1 < n && !strcmp(w[i + 1], "root")))
			sets_root = true;
		else if (!strcmp(w[i], "--set") || !strncmp(w[i], "--set=", 6))
			sets_root = sets_root && !strcmp(w[0], "search.fs_uuid");
		else if (w[i][0] != '-' && !uuid && (i == 1 || strcmp(w[i - 1], "--set")))
			uuid = w[i];
	}
	if (!strcmp(w[0], "search.fs_uuid") && n >= 3 && strcmp(w[2], "root"))
		sets_root = false;
	return by_uuid && sets_root && uuid ? strdup(uuid) : NULL;
}

static char *join(char **w, int from, int n)
{
	size_t len = 1;
	char *s;

	for (int i = from; i < n; i++)
		len += strlen(w[i]) + 1;
	if (!(s = calloc(1, len)))
		return NULL;
	for (int i = from; i < n; i++) {
		if (i > from)
			strcat(s, " ");
		strcat(s, w[i]);
	}
	return s;
}

/* One menu entry as parsed: its place ("2", or "1>0" inside a submenu),
 * title and id, and what it boots. */
struct gentry {
	char place[24];
	char *id;
	struct lb_kexec_entry *e;
};

#define MAX_ENTRIES 64

static bool entry_matches(const struct gentry *g, const char *def)
{
	return !strcmp(def, g->place) || !strcmp(def, g->e->title) || (g->id && !strcmp(def, g->id));
}

int lb_kexec_parse_grub(const char *cfg, struct lb_kexec_entry **ret)
{
	struct gvars vars = { 0 };
	struct gentry ents[MAX_ENTRIES];
	size_t n_ents = 0;
	char *text = strdup(cfg), *line, *save = NULL, *def = NULL;
	int depth = 0, r = -ENOENT, top = -1, sub = -1, submenu_depth = -1;
	struct gentry *cur = NULL; /* the entry whose body we are in */
	int cur_depth = -1;
	const struct gentry *pick = NULL;

	if (!text)
		return -ENOMEM;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *w[64];
		int n = split(line, &vars, w, 64);
		bool opens;

		if (n < 0) {
			r = -ENOMEM;
			goto fail;
		}
		if (n == 0)
			continue;
		opens = !strcmp(w[n - 1], "{");
		if (!strcmp(w[0], "menuentry") || !strcmp(w[0], "submenu")) {
			char place[24];

			if (submenu_depth >= 0 && depth > submenu_depth) {
				snprintf(place, sizeof(place), "%d>%d", top, ++sub);
			} else {
				snprintf(place, sizeof(place), "%d", ++top);
				sub = -1;
			}
			if (!strcmp(w[0], "submenu")) {
				submenu_depth = depth;
			} else if (n_ents < MAX_ENTRIES) {
				struct gentry *g = &ents[n_ents];
				const char *id = NULL;

				memset(g, 0, sizeof(*g));
				for (int i = 2; i < n; i++)
					if (!strcmp(w[i], "--id") && i + 1 < n)
						id = w[i + 1];
					else if (!strncmp(w[i], "--id=", 5))
						id = w[i] + 5;
				snprintf(g->place, sizeof(g->place), "%s", place);
				g->e = calloc(1, sizeof(*g->e));
				if (!g->e || !(g->e->title = strdup(n > 1 ? w[1] : "")) || (id && !(g->id = strdup(id)))) {
					lb_kexec_entry_free(g->e);
					free(g->id);
					for (int i = 0; i < n; i++)
						free(w[i]);
					r = -ENOMEM;
					goto fail;
				}
				n_ents++;
				cur = g;
				cur_depth = depth + 1;
			}
		} else if (!strcmp(w[0], "}")) {
			if (depth > 0)
				depth--;
			if (cur && depth < cur_depth)
				cur = NULL;
			if (submenu_depth >= 0 && depth <= submenu_depth)
				submenu_depth = -1;
		} else if (cur) {
			struct lb_kexec_entry *e = cur->e;

			if ((!strcmp(w[0], "linux") || !strcmp(w[0], "linuxefi") || !strcmp(w[0], "linux16")) && n >= 2) {
				free(e->kernel);
				free(e->cmdline);
				e->kernel = strdup(strip_device(w[1]));
				e->cmdline = join(w, 2, n);
			} else if ((!strcmp(w[0], "initrd") || !strcmp(w[0], "initrdefi") || !strcmp(w[0], "initrd16")) &&
				   n >= 2) {
				for (int i = 1; i < n; i++) {
					const char *t = strip_device(w[i]);

					memmove(w[i], t, strlen(t) + 1);
				}
				free(e->initrd);
				e->initrd = join(w, 1, n);
			} else if (!strncmp(w[0], "search", 6)) {
				char *u = search_uuid(w, n);

				if (u) {
					free(e->fs_uuid);
					e->fs_uuid = u;
				}
			}
		} else if (depth == 0 && !strcmp(w[0], "set") && n >= 2 && strchr(w[1], '=')) {
			char *eq = strchr(w[1], '=');

			*eq = '\0';
			gvar_set(&vars, w[1], eq + 1);
			if (!strcmp(w[1], "default")) {
				free(def);
				def = strdup(eq + 1);
			}
		}
		if (opens)
			depth++;
		for (int i = 0; i < n; i++)
			free(w[i]);
	}
	/* The default: by place, title or id; "N" naming a submenu means its
	 * first entry; anything unknown (a saved_entry that expanded to
	 * nothing) means the first, as GRUB does. */
	for (size_t i = 0; def && *def && !pick && i < n_ents; i++)
		if (ents[i].e->kernel && entry_matches(&ents[i], def))
			pick = &ents[i];
	if (def && *def && !pick) {
		char sub0[32];

		snprintf(sub0, sizeof(sub0), "%s>0", def);
		for (size_t i = 0; !pick && i < n_ents; i++)
			if (ents[i].e->kernel && !strcmp(ents[i].place, sub0))
				pick = &ents[i];
	}
	for (size_t i = 0; !pick && i < n_ents; i++)
		if (ents[i].e->kernel)
			pick = &ents[i];
	if (pick && !pick->e->cmdline) {
		r = -ENOMEM;
		goto fail;
	}
	if (pick) {
		*ret = pick->e;
		((struct gentry *)pick)->e = NULL;
		r = 0;
	}
fail:
	for (size_t i = 0; i < n_ents; i++) {
		lb_kexec_entry_free(ents[i].e);
		free(ents[i].id);
	}
	gvars_clear(&vars);
	free(def);
	free(text);
	return r;
}

/* ---- finding the entry on a disk and loading it ---- */

/* A file system of the disk, mounted read-only under a directory of ours. */
struct fsmount {
	const char *dev, *uuid, *type;
	char dir[64];
	bool mounted;
};

static int mount_ro(struct fsmount *f)
{
	/* ext3/4: noload, or a read-only mount still replays the journal and
	 * writes to the disk that was just verified byte for byte */
	const char *data = !strcmp(f->type, "ext4") || !strcmp(f->type, "ext3") ? "noload" : NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/lifeboat-kexec.XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	if (mount(f->dev, f->dir, f->type, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data) < 0) {
		int r = -errno;

		rmdir(f->dir);
		f->dir[0] = '\0';
		return r;
	}
	f->mounted = true;
	return 0;
}

static void umount_fs(struct fsmount *f)
{
	if (f->mounted && umount2(f->dir, MNT_DETACH) < 0)
		lb_log("kexec: unmount %s: %s", f->dir, strerror(errno));
	if (f->dir[0])
		rmdir(f->dir);
	f->mounted = false;
	f->dir[0] = '\0';
}

/* Open path (inside the mounted f) without following links out of it:
 * a restored /vmlinuz is usually a relative symlink, which is fine, but
 * an absolute one would point into Lifeboat's own root. */
static int open_in(const struct fsmount *f, const char *path)
{
	char full[PATH_MAX], link[1024];
	ssize_t len;

	while (*path == '/')
		path++;
	snprintf(full, sizeof(full), "%s/%s", f->dir, path);
	len = readlink(full, link, sizeof(link) - 1);
	if (len > 0) {
		char *slash;

		link[len] = '\0';
		if (link[0] == '/') {
			snprintf(full, sizeof(full), "%s%s", f->dir, link);
		} else {
			snprintf(full, sizeof(full), "%s/%s", f->dir, path);
			slash = strrchr(full, '/');
			snprintf(slash + 1, sizeof(full) - (size_t)(slash + 1 - full), "%s", link);
		}
	}
	return open(full, O_RDONLY | O_CLOEXEC);
}

/* The initrds, one after the other, in a memfd: kexec_file_load takes one
 * fd, and the kernel unpacks concatenated archives in order (GRUB does the
 * same with several initrd arguments; microcode comes first). */
static int initrd_fd(const struct fsmount *f, const char *list)
{
	char *copy = strdup(list), *p, *save = NULL;
	int out = -1, r = 0, count = 0;

	if (!copy)
		return -ENOMEM;
	for (p = strtok_r(copy, " ", &save); p && r == 0; p = strtok_r(NULL, " ", &save)) {
		int in = open_in(f, p);
		char buf[65536];
		ssize_t n;

		if (in < 0) {
			r = -errno;
			lb_log("kexec: initrd %s on %s: %s", p, f->dev, strerror(errno));
			break;
		}
		if (++count > MAX_INITRDS) {
			close(in);
			r = -E2BIG;
			break;
		}
		if (out < 0 && (out = memfd_create("initrd", MFD_CLOEXEC)) < 0) {
			r = -errno;
			close(in);
			break;
		}
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n) {
				r = -EIO;
				break;
			}
		if (n < 0)
			r = -errno;
		close(in);
	}
	free(copy);
	if (r < 0) {
		if (out >= 0)
			close(out);
		return r;
	}
	return out;
}

/* console= (and earlycon=) of the running kernel, for a command line that
 * has none of its own: the restored system then talks where Lifeboat did. */
static void running_consoles(char *buf, size_t size)
{
	char path[PATH_MAX], *cl = NULL, *w, *save = NULL;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/cmdline", lb_root(LB_ROOT_PROC));
	if (lb_read_file(path, CMDLINE_MAX, &cl) < 0)
		return;
	for (w = strtok_r(cl, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		if (!strncmp(w, "console=", 8) || !strncmp(w, "earlycon", 8))
			snprintf(buf + strlen(buf), size - strlen(buf), " %s", w);
	free(cl);
}

static int load(const struct fsmount *kfs, const struct lb_kexec_entry *e)
{
	int kfd = -1, ifd = -1, r;

	kfd = open_in(kfs, e->kernel);
	if (kfd < 0) {
		r = -errno;
		lb_log("kexec: kernel %s on %s: %s", e->kernel, kfs->dev, strerror(errno));
		goto fail;
	}
	if (e->initrd && (ifd = initrd_fd(kfs, e->initrd)) < 0) {
		r = ifd;
		goto fail;
	}
	if (strlen(e->cmdline) + 1 > CMDLINE_MAX) {
		lb_log("kexec: the command line is longer than %u bytes", CMDLINE_MAX);
		r = -E2BIG;
		goto fail;
	}
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(e->cmdline) + 1, e->cmdline,
		    ifd < 0 ? KEXEC_FILE_NO_INITRAMFS : 0) < 0) {
		r = -errno;
		if (r == -ENOSYS)
			lb_log("kexec: this kernel has no kexec_file_load (built without CONFIG_KEXEC_FILE)");
		else if (r == -ENOEXEC)
			lb_log("kexec: %s: not a kernel image this kernel can load (bzImage, x86-64)", e->kernel);
		else
			lb_log("kexec: kexec_file_load %s: %s", e->kernel, strerror(-r));
		goto fail;
	}
	r = 0;
fail:
	if (kfd >= 0)
		close(kfd);
	if (ifd >= 0)
		close(ifd);
	return r;
}

static const struct lb_disk *find_disk(const struct lb_disk_list *l, const char *path)
{
	char want[PATH_MAX];

	if (!realpath(path, want))
		snprintf(want, sizeof(want), "%s", path);
	for (size_t i = 0; i < l->n; i++) {
		char have[PATH_MAX];

		if (!strcmp(l->disks[i].path, path) ||
		    (realpath(l->disks[i].path, have) && !strcmp(have, want)))
			return &l->disks[i];
	}
	return NULL;
}

static bool mountable(const char *type)
{
	return type && (!strcmp(type, "ext4") || !strcmp(type, "ext3") || !strcmp(type, "ext2") ||
			!strcmp(type, "vfat") || !strcmp(type, "xfs") || !strcmp(type, "btrfs"));
}

int lb_kexec_load_disk(const char *disk, bool dry_run, struct lb_kexec_entry **ret)
{
	static const char *const cfgs[] = { "boot/grub/grub.cfg", "grub/grub.cfg", "boot/grub2/grub.cfg",
					    "grub2/grub.cfg" };
	struct lb_disks_opts dopts = { 0 };
	struct lb_disk_list *l = NULL;
	const struct lb_disk *d;
	struct fsmount fs[16];
	size_t n_fs = 0;
	struct lb_kexec_entry *e = NULL;
	const struct fsmount *kfs = NULL;
	int fd, r;

	memset(fs, 0, sizeof(fs));
	/* The restore wrote a new partition table behind the kernel's back:
	 * make it read it, so the partitions have devices. */
	fd = open(disk, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		lb_log("kexec: open %s: %s", disk, strerror(errno));
		goto fail;
	}
	if (ioctl(fd, BLKRRPART) < 0 && errno != EINVAL && errno != ENOTTY)
		lb_log("kexec: %s: re-reading the partition table: %s", disk, strerror(errno));
	close(fd);
	if ((r = lb_disks_scan(&dopts, &l)) < 0)
		goto fail;
	if (!(d = find_disk(l, disk))) {
		lb_log("kexec: %s is not among the disks", disk);
		r = -ENOENT;
		goto fail;
	}
	if (mountable(d->probe.fs_type))
		fs[n_fs++] = (struct fsmount){ .dev = d->path, .uuid = d->probe.uuid, .type = d->probe.fs_type };
	for (size_t i = 0; i < d->n_parts && n_fs < sizeof(fs) / sizeof(fs[0]); i++)
		if (mountable(d->parts[i].probe.fs_type))
			fs[n_fs++] = (struct fsmount){ .dev = d->parts[i].path, .uuid = d->parts[i].probe.uuid,
						       .type = d->parts[i].probe.fs_type };
	for (size_t i = 0; i < n_fs; i++) {
		r = mount_ro(&fs[i]);
		if (r < 0)
			lb_log("kexec: mount %s (%s) read-only: %s", fs[i].dev, fs[i].type, strerror(-r));
	}
	/* GRUB's default entry, on the first file system that has a config
	 * with one */
	for (size_t i = 0; i < n_fs && !e; i++) {
		for (size_t c = 0; fs[i].mounted && c < sizeof(cfgs) / sizeof(cfgs[0]) && !e; c++) {
			char path[PATH_MAX], *text = NULL;

			snprintf(path, sizeof(path), "%s/%s", fs[i].dir, cfgs[c]);
			if (lb_read_file(path, GRUB_CFG_MAX, &text) < 0)
				continue;
			if (lb_kexec_parse_grub(text, &e) == 0) {
				free(e->source);
				e->source = lb_strdupf("%s:/%s", fs[i].dev, cfgs[c]);
				kfs = &fs[i];
				/* the kernel is where the entry's search put root */
				for (size_t k = 0; e->fs_uuid && k < n_fs; k++)
					if (fs[k].uuid && !strcasecmp(fs[k].uuid, e->fs_uuid) && fs[k].mounted)
						kfs = &fs[k];
			}
			free(text);
		}
	}
	/* else the links Debian and others keep at the top of the root */
	for (size_t i = 0; i < n_fs && !e; i++) {
		static const char *const pairs[][2] = { { "vmlinuz", "initrd.img" }, { "boot/vmlinuz", "boot/initrd.img" } };

		for (size_t p = 0; fs[i].mounted && p < 2 && !e; p++) {
			char cons[512];
			int k = open_in(&fs[i], pairs[p][0]), ii;

			if (k < 0)
				continue;
			close(k);
			if (!(e = calloc(1, sizeof(*e)))) {
				r = -ENOMEM;
				goto fail;
			}
			ii = open_in(&fs[i], pairs[p][1]);
			if (ii >= 0)
				close(ii);
			running_consoles(cons, sizeof(cons));
			e->title = lb_strdupf("/%s", pairs[p][0]);
			e->kernel = strdup(pairs[p][0]);
			e->initrd = ii >= 0 ? strdup(pairs[p][1]) : NULL;
			e->cmdline = fs[i].uuid ? lb_strdupf("root=UUID=%s ro%s", fs[i].uuid, cons) : NULL;
			e->source = lb_strdupf("%s:/%s", fs[i].dev, pairs[p][0]);
			kfs = &fs[i];
			if (!e->title || !e->kernel || !e->cmdline || !e->source || (ii >= 0 && !e->initrd)) {
				r = -ENOMEM;
				goto fail;
			}
		}
	}
	if (!e) {
		lb_log("kexec: %s: no file system with a GRUB config or /vmlinuz (%zu file system(s) looked at)", disk,
		       n_fs);
		r = -ENOENT;
		goto fail;
	}
	lb_log("kexec: %s: '%s': kernel %s%s%s, command line: %s", e->source, e->title, e->kernel,
	       e->initrd ? ", initrd " : "", e->initrd ? e->initrd : "", e->cmdline);
	if (!dry_run) {
		if ((r = load(kfs, e)) < 0)
			goto fail;
		lb_log("kexec: loaded; it starts with lifeboat kexec --exec");
	}
	*ret = e;
	e = NULL;
	r = 0;
fail:
	for (size_t i = 0; i < n_fs; i++)
		umount_fs(&fs[i]);
	lb_kexec_entry_free(e);
	lb_disks_free(l);
	return r;
}

bool lb_kexec_loaded(void)
{
	char path[PATH_MAX], *v = NULL;
	bool yes;

	snprintf(path, sizeof(path), "%s/kernel/kexec_loaded", lb_root(LB_ROOT_SYSFS));
	yes = lb_read_str(path, &v) == 0 && !strcmp(v, "1");
	free(v);
	return yes;
}

int lb_kexec_exec(void)
{
	if (!lb_kexec_loaded()) {
		lb_log("kexec: no kernel is loaded");
		return -ENOENT;
	}
	sync();
	reboot(RB_KEXEC);
	lb_log("kexec: reboot(RB_KEXEC): %s", strerror(errno));
	return -errno;
}
