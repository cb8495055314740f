/* Small helpers shared by every command. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

const char *lb_root(enum lb_root root)
{
	static const struct {
		const char *env;
		const char *def;
	} roots[] = {
		[LB_ROOT_SYSFS] = { "LIFEBOAT_SYSFS", "/sys" },
		[LB_ROOT_PROC] = { "LIFEBOAT_PROC", "/proc" },
		[LB_ROOT_DEV] = { "LIFEBOAT_DEV", "/dev" },
	};
	const char *v = getenv(roots[root].env);

	return v && *v ? v : roots[root].def;
}

void lb_log(const char *fmt, ...)
{
	va_list ap;

	fputs("lifeboat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *lb_strtrim(char *s)
{
	size_t len, start = 0;

	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	while (start < len && isspace((unsigned char)s[start]))
		start++;
	memmove(s, s + start, len - start);
	s[len - start] = '\0';
	return s;
}

int lb_read_file(const char *path, size_t max, char **ret_buf)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 4096;
			/* +1 leaves room for the NUL; one byte over max tells
			 * us the file is larger than the ceiling. */
			if (cap > max + 1)
				cap = max + 1;
			if (cap <= len) {
				r = -EFBIG;
				goto fail;
			}
			nbuf = realloc(buf, cap + 1);
			if (!nbuf) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -EFBIG;
			goto fail;
		}
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf) {
			r = -ENOMEM;
			goto fail;
		}
	}
	buf[len] = '\0';
	close(fd);
	*ret_buf = buf;
	return (int)len;
fail:
	free(buf);
	close(fd);
	return r;
}

int lb_read_str(const char *path, char **ret)
{
	char *buf = NULL;
	int r;

	/* sysfs attributes are at most a page */
	r = lb_read_file(path, 65536, &buf);
	if (r < 0)
		goto fail;
	/* binary junk after a NUL (some firmware pads with NULs) ends the string */
	lb_strtrim(buf);
	if (!*buf) {
		r = -ENODATA;
		goto fail;
	}
	*ret = buf;
	return 0;
fail:
	free(buf);
	return r;
}

int lb_read_u64(const char *path, uint64_t *ret)
{
	char *s = NULL, *end;
	uint64_t v;
	int r;

	r = lb_read_str(path, &s);
	if (r < 0)
		goto fail;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end) {
		r = -EINVAL;
		goto fail;
	}
	*ret = v;
	r = 0;
fail:
	free(s);
	return r;
}

char *lb_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

bool lb_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int lb_strv_add_unique(struct lb_strv *l, const char *s)
{
	char **nv, *c;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 0;
	c = strdup(s);
	if (!c)
		return -ENOMEM;
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		free(c);
		return -ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = c;
	return 0;
}

void lb_strv_clear(struct lb_strv *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
