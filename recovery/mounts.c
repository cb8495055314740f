/* Mount table and swap list parsing. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mounts.h"
#include "util.h"

struct lb_mount {
	int has_devno;
	unsigned major, minor;
	char *source;	  /* basename of the mount source, for /proc/mounts */
	char *mountpoint;
};

struct lb_mounts {
	size_t n;
	struct lb_mount *v;
};

struct lb_swaps {
	size_t n;
	char **names;
};

void lb_unescape_octal(char *s)
{
	char *w = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

static const char *basename_of(const char *path)
{
	const char *p = strrchr(path, '/');

	return p ? p + 1 : path;
}

/* Split line into whitespace separated fields, in place; returns count. */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \t", &save); tok && n < max; tok = strtok_r(NULL, " \t", &save))
		fields[n++] = tok;
	return n;
}

int lb_mounts_parse(const char *text, int is_mountinfo, struct lb_mounts **ret)
{
	struct lb_mounts *m = NULL;
	char *copy = NULL, *line, *save = NULL;
	size_t cap = 0;
	int r;

	m = calloc(1, sizeof(*m));
	copy = strdup(text);
	if (!m || !copy) {
		r = -ENOMEM;
		goto fail;
	}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[64];
		size_t nf = split_fields(line, f, 64);
		struct lb_mount e = { 0 };
		const char *src, *mp;

		if (is_mountinfo) {
			/* id parent major:minor root mountpoint opts [optional...] - fstype source superopts */
			size_t sep;

			if (nf < 7 || sscanf(f[2], "%u:%u", &e.major, &e.minor) != 2)
				continue;
			for (sep = 6; sep < nf && strcmp(f[sep], "-") != 0; sep++)
				;
			src = sep + 2 < nf ? f[sep + 2] : "";
			mp = f[4];
			e.has_devno = 1;
		} else {
			/* source mountpoint fstype opts freq passno */
			if (nf < 2)
				continue;
			src = f[0];
			mp = f[1];
		}
		if (m->n == cap) {
			struct lb_mount *nv;

			cap = cap ? cap * 2 : 32;
			nv = realloc(m->v, cap * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				goto fail;
			}
			m->v = nv;
		}
		e.source = strdup(basename_of(src));
		e.mountpoint = strdup(mp);
		if (!e.source || !e.mountpoint) {
			free(e.source);
			free(e.mountpoint);
			r = -ENOMEM;
			goto fail;
		}
		lb_unescape_octal(e.source);
		lb_unescape_octal(e.mountpoint);
		m->v[m->n++] = e;
	}
	free(copy);
	*ret = m;
	return 0;
fail:
	free(copy);
	lb_mounts_free(m);
	return r;
}

int lb_mounts_load(struct lb_mounts **ret)
{
	char *path = NULL, *text = NULL;
	int is_mountinfo = 1, r;

	path = lb_strdupf("%s/self/mountinfo", lb_root(LB_ROOT_PROC));
	if (!path) {
		r = -ENOMEM;
		goto fail;
	}
	r = lb_read_file(path, LB_READ_MAX, &text);
	if (r == -ENOENT) {
		free(path);
		path = lb_strdupf("%s/mounts", lb_root(LB_ROOT_PROC));
		if (!path) {
			r = -ENOMEM;
			goto fail;
		}
		is_mountinfo = 0;
		r = lb_read_file(path, LB_READ_MAX, &text);
	}
	if (r < 0) {
		lb_log("read %s: %s", path, strerror(-r));
		goto fail;
	}
	r = lb_mounts_parse(text, is_mountinfo, ret);
	if (r < 0)
		lb_log("parse %s: %s", path, strerror(-r));
fail:
	free(text);
	free(path);
	return r;
}

void lb_mounts_free(struct lb_mounts *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].source);
		free(m->v[i].mountpoint);
	}
	free(m->v);
	free(m);
}

const char *lb_mounts_next(const struct lb_mounts *m, unsigned major, unsigned minor,
			   const char *name, size_t *iter)
{
	if (!m)
		return NULL;
	while (*iter < m->n) {
		const struct lb_mount *e = &m->v[(*iter)++];

		if (e->has_devno ? (e->major == major && e->minor == minor)
				 : strcmp(e->source, name) == 0)
			return e->mountpoint;
	}
	return NULL;
}

int lb_swaps_parse(const char *text, struct lb_swaps **ret)
{
	struct lb_swaps *s = NULL;
	char *copy = NULL, *line, *save = NULL;
	size_t cap = 0;
	int r;

	s = calloc(1, sizeof(*s));
	copy = strdup(text);
	if (!s || !copy) {
		r = -ENOMEM;
		goto fail;
	}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[8];
		size_t nf = split_fields(line, f, 8);

		/* header line: "Filename Type Size Used Priority"; swap files
		 * (Type "file") are not block devices */
		if (nf < 2 || strcmp(f[1], "partition") != 0)
			continue;
		if (s->n == cap) {
			char **nv;

			cap = cap ? cap * 2 : 8;
			nv = realloc(s->names, cap * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				goto fail;
			}
			s->names = nv;
		}
		lb_unescape_octal(f[0]);
		s->names[s->n] = strdup(basename_of(f[0]));
		if (!s->names[s->n]) {
			r = -ENOMEM;
			goto fail;
		}
		s->n++;
	}
	free(copy);
	*ret = s;
	return 0;
fail:
	free(copy);
	lb_swaps_free(s);
	return r;
}

int lb_swaps_load(struct lb_swaps **ret)
{
	char *path = NULL, *text = NULL;
	int r;

	path = lb_strdupf("%s/swaps", lb_root(LB_ROOT_PROC));
	if (!path) {
		r = -ENOMEM;
		goto fail;
	}
	r = lb_read_file(path, LB_READ_MAX, &text);
	if (r == -ENOENT) {
		/* kernels without CONFIG_SWAP have no /proc/swaps */
		r = lb_swaps_parse("", ret);
		goto fail;
	}
	if (r < 0) {
		lb_log("read %s: %s", path, strerror(-r));
		goto fail;
	}
	r = lb_swaps_parse(text, ret);
fail:
	free(text);
	free(path);
	return r;
}

void lb_swaps_free(struct lb_swaps *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s);
}

int lb_swaps_contains(const struct lb_swaps *s, const char *name)
{
	if (!s)
		return 0;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}
