/* Small helpers shared by every command. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

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

/* The hold of the calling thread, if any (lb_log_hold). */
static __thread struct lb_log_hold *held;

/* The last lines printed (lb_log_tail). */
static struct {
	pthread_mutex_t lock;
	char lines[LB_LOG_TAIL_LINES][LB_LOG_LINE_MAX];
	unsigned next, n;
} ring = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void ring_add(const char *line, size_t len)
{
	if (len >= LB_LOG_LINE_MAX)
		len = LB_LOG_LINE_MAX - 1;
	pthread_mutex_lock(&ring.lock);
	memcpy(ring.lines[ring.next], line, len);
	ring.lines[ring.next][len] = '\0';
	ring.next = (ring.next + 1) % LB_LOG_TAIL_LINES;
	if (ring.n < LB_LOG_TAIL_LINES)
		ring.n++;
	pthread_mutex_unlock(&ring.lock);
}

void lb_log(const char *fmt, ...)
{
	struct lb_log_hold *h = held;
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (h) {
		size_t len = strlen(line);

		if (sizeof(h->buf) - h->len < len + 12) {
			h->dropped++;
			return;
		}
		memcpy(h->buf + h->len, "lifeboat: ", 10);
		memcpy(h->buf + h->len + 10, line, len);
		h->buf[h->len + 10 + len] = '\n';
		h->len += len + 11;
		return;
	}
	ring_add(line, strlen(line));
	/* one write per line: lines of threads that log at once do not mix */
	fprintf(stderr, "lifeboat: %s\n", line);
}

void lb_log_hold(struct lb_log_hold *h)
{
	if (h) {
		h->len = 0;
		h->dropped = 0;
	}
	held = h;
}

void lb_log_release(struct lb_log_hold *h, bool print)
{
	if (held == h)
		held = NULL;
	if (!h || !print)
		return;
	/* printed now: into the ring too, without the prefix */
	for (size_t i = 0; i < h->len;) {
		const char *nl = memchr(h->buf + i, '\n', h->len - i);
		size_t end = nl ? (size_t)(nl - h->buf) : h->len;

		if (end - i > 10)
			ring_add(h->buf + i + 10, end - i - 10);
		i = end + 1;
	}
	fwrite(h->buf, 1, h->len, stderr);
	if (h->dropped)
		fprintf(stderr, "lifeboat: (%u more lines not shown)\n", h->dropped);
	fflush(stderr);
	h->len = 0;
	h->dropped = 0;
}

int lb_log_tail(struct lb_strv *ret)
{
	int r = 0;

	pthread_mutex_lock(&ring.lock);
	for (unsigned i = 0; i < ring.n && r == 0; i++) {
		const char *l = ring.lines[(ring.next + LB_LOG_TAIL_LINES - ring.n + i) % LB_LOG_TAIL_LINES];
		char **nv = realloc(ret->v, (ret->n + 1) * sizeof(*nv));

		if (!nv || !(nv[ret->n] = strdup(l))) {
			if (nv)
				ret->v = nv;
			r = -ENOMEM;
			break;
		}
		ret->v = nv;
		ret->n++;
	}
	pthread_mutex_unlock(&ring.lock);
	return r;
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

void lb_size_str(uint64_t bytes, char out[LB_SIZE_STR])
{
	const char *u = "BKMGTPE";
	double d = (double)bytes;

	while (d >= 1024 && u[1]) {
		d /= 1024;
		u++;
	}
	if (*u == 'B')
		snprintf(out, LB_SIZE_STR, "%" PRIu64 "B", bytes);
	else
		snprintf(out, LB_SIZE_STR, "%.1f%c", d, *u);
}

const char *lb_printable(const char *s, char *out, size_t size)
{
	size_t i = 0;

	if (!size)
		return out;
	if (!s || !*s)
		s = "-";
	for (; s[i] && i + 1 < size; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[i] = '\0';
	return out;
}

int lb_run(const char *const *argv)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	posix_spawnattr_t attr;
	sigset_t def;
	pid_t pid;
	int r, status;

	if ((r = posix_spawnattr_init(&attr)) != 0)
		return -r;
	/* The child gets the default actions back; we ignore the keyboard's
	 * signals while we wait, as system(3) does. */
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGQUIT);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	fflush(NULL);
	r = posix_spawnp(&pid, argv[0], NULL, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		lb_log("run %s: %s", argv[0], strerror(r));
		r = -r;
		goto done;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = -errno;
			lb_log("wait for %s: %s", argv[0], strerror(errno));
			goto done;
		}
	}
	r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
done:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return r;
}

uint64_t lb_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


void lb_env_blank(const char *name)
{
	extern char **environ;
	size_t n = strlen(name);

	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			explicit_bzero(*e + n + 1, strlen(*e + n + 1));
}
