/* Stores: the S3 backend (through s3.c) and the directory backend. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "http.h"
#include "s3.h"
#include "store.h"
#include "util.h"

struct lb_store {
	char *url;
	char *dir;              /* directory backend: the root, no trailing slash */
	struct lb_s3 *s3;       /* S3 backend */
	char *prefix;           /* S3: "prefix/" or "" */
	struct lb_s3_credentials creds;
	struct lb_http *http;   /* http(s) backend: read-only, base URL in dir */
	struct lb_http_response *resp;
	struct lb_retry_policy policy;
	uint64_t rng;
	const int *cancel;
};

/* Keys come from manifests and listings: never let one leave the store. */
static bool key_ok(const char *key)
{
	if (!*key || key[0] == '/' || strstr(key, "//") || strlen(key) > 1024)
		return false;
	for (const char *p = key; *p; p++)
		if ((unsigned char)*p < 0x20)
			return false;
	for (const char *seg = key; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (strncmp(seg, "..", 2) == 0 && (seg[2] == '/' || seg[2] == '\0'))
			return false;
	return true;
}

static const char *env(const char *a, const char *b)
{
	const char *v = getenv(a);

	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

static int open_s3(struct lb_store *st, const char *url, const struct lb_store_opts *opts)
{
	const char *b = url + 5, *slash = strchr(b, '/');
	struct lb_s3_config cfg = { 0 };
	char *bucket = NULL;
	int r;

	bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
	st->prefix = lb_strdupf("%s", slash ? slash + 1 : "");
	if (!bucket || !st->prefix) {
		r = -ENOMEM;
		goto fail;
	}
	if (!*bucket) {
		lb_log("store %s: no bucket name", url);
		r = -EINVAL;
		goto fail;
	}
	/* "prefix" and "prefix/" name the same store */
	while (*st->prefix && st->prefix[strlen(st->prefix) - 1] == '/')
		st->prefix[strlen(st->prefix) - 1] = '\0';
	if (*st->prefix) {
		char *p = lb_strdupf("%s/", st->prefix);

		free(st->prefix);
		st->prefix = p;
		if (!p) {
			r = -ENOMEM;
			goto fail;
		}
	}
	if (opts && opts->access_key && *opts->access_key && opts->secret_key && *opts->secret_key) {
		st->creds.access_key = strdup(opts->access_key);
		st->creds.secret_key = strdup(opts->secret_key);
		st->creds.session_token = opts->session_token && *opts->session_token ? strdup(opts->session_token) : NULL;
		r = st->creds.access_key && st->creds.secret_key &&
				    (!opts->session_token || !*opts->session_token || st->creds.session_token) ?
			    0 :
			    -ENOMEM;
	} else {
		r = lb_s3_credentials_load(&st->creds);
	}
	if (r < 0)
		goto fail;
	cfg.endpoint = opts && opts->endpoint ? opts->endpoint : env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
	cfg.bucket = bucket;
	cfg.region = opts && opts->region ? opts->region : env("AWS_REGION", "AWS_DEFAULT_REGION");
	cfg.addressing = opts && opts->addressing == 1 ? LB_S3_ADDR_PATH :
			 opts && opts->addressing == 2 ? LB_S3_ADDR_VHOST :
							 LB_S3_ADDR_AUTO;
	cfg.creds = &st->creds;
	cfg.ca_bundle = opts && opts->ca_bundle ? opts->ca_bundle : env("AWS_CA_BUNDLE", NULL);
	cfg.retries = opts && opts->interactive ? 1 : -1;
	cfg.connect_timeout_s = opts && opts->interactive ? 5 : 0;
	r = lb_s3_new(&cfg, &st->s3);
fail:
	free(bucket);
	return r;
}

/* A copy of a store on a web server (nginx, a CDN): read-only, and no
 * listings, so points are named SERVER/ID. The base URL is kept in dir. */
static int open_http(struct lb_store *st, const char *url, const struct lb_store_opts *opts)
{
	struct lb_http_config hc = { 0 };
	int r;

	if (strchr(url, '?') || strchr(url, '#')) {
		lb_log("store %s: a store URL has no query or fragment", url);
		return -EINVAL;
	}
	st->dir = strdup(url);
	st->resp = calloc(1, sizeof(*st->resp));
	if (!st->dir || !st->resp)
		return -ENOMEM;
	while (strlen(st->dir) > 8 && st->dir[strlen(st->dir) - 1] == '/')
		st->dir[strlen(st->dir) - 1] = '\0';
	hc.ca_bundle = opts && opts->ca_bundle ? opts->ca_bundle : env("AWS_CA_BUNDLE", NULL);
	if ((r = lb_retry_policy_env(&st->policy)) < 0)
		return r;
	st->rng = lb_backoff_seed();
	return lb_http_new(&hc, &st->http);
}

int lb_store_open(const char *url, const struct lb_store_opts *opts, struct lb_store **ret)
{
	struct lb_store *st;
	const char *path = NULL;
	struct stat sb;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->url = strdup(url);
	if (!st->url) {
		r = -ENOMEM;
		goto fail;
	}
	if (strncmp(url, "s3://", 5) == 0) {
		r = open_s3(st, url, opts);
		if (r < 0)
			goto fail;
		*ret = st;
		return 0;
	}
	if (lb_startswith(url, "http://") || lb_startswith(url, "https://")) {
		r = open_http(st, url, opts);
		if (r < 0)
			goto fail;
		*ret = st;
		return 0;
	}
	if (strncmp(url, "file://", 7) == 0)
		path = url + 7;
	else if (url[0] == '/')
		path = url;
	if (!path) {
		lb_log("store %s: not a store URL (s3://bucket/prefix, file:///path or /path)", url);
		r = -EINVAL;
		goto fail;
	}
	if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		lb_log("store %s: not a directory", url);
		r = -ENOENT;
		goto fail;
	}
	st->dir = strdup(path);
	if (!st->dir) {
		r = -ENOMEM;
		goto fail;
	}
	while (strlen(st->dir) > 1 && st->dir[strlen(st->dir) - 1] == '/')
		st->dir[strlen(st->dir) - 1] = '\0';
	*ret = st;
	return 0;
fail:
	lb_store_close(st);
	return r;
}

void lb_store_close(struct lb_store *st)
{
	if (!st)
		return;
	free(st->url);
	free(st->dir);
	free(st->prefix);
	lb_s3_free(st->s3);
	lb_http_free(st->http);
	free(st->resp);
	lb_s3_credentials_clear(&st->creds);
	free(st);
}

const char *lb_store_url(const struct lb_store *st)
{
	return st->url;
}

const char *lb_store_last_error(const struct lb_store *st)
{
	return st->s3 ? lb_s3_last_error(st->s3) : "";
}

int lb_store_clone(const struct lb_store *st, struct lb_store **ret)
{
	struct lb_store *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;

	if (!c)
		return -ENOMEM;
	if (!(c->url = strdup(st->url)) || (st->dir && !(c->dir = strdup(st->dir))) ||
	    (st->prefix && !(c->prefix = strdup(st->prefix))))
		goto fail;
	/* the S3 client carries its own copy of the credentials */
	if (st->s3 && (r = lb_s3_clone(st->s3, &c->s3)) < 0)
		goto fail;
	if (st->http) {
		if (!(c->resp = calloc(1, sizeof(*c->resp))) || (r = lb_http_clone(st->http, &c->http)) < 0)
			goto fail;
		c->policy = st->policy;
		c->rng = st->rng ^ ((uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull);
	}
	*ret = c;
	return 0;
fail:
	lb_store_close(c);
	return r;
}

void lb_store_set_cancel(struct lb_store *st, const int *flag)
{
	st->cancel = flag;
	if (st->s3)
		lb_s3_set_cancel(st->s3, flag);
	if (st->http)
		lb_http_set_cancel(st->http, flag);
}

/* One GET or HEAD of base/key, retried like S3's requests (transport
 * errors, 5xx, 429; full-jitter backoff). 0 with st->resp filled. */
static int http_request(struct lb_store *st, const char *method, const char *key, void *buf, size_t cap)
{
	uint64_t start = lb_mono_ms();
	char *url, what[1200];
	int r;

	if (!key_ok(key)) {
		lb_log("store %s: refusing the key '%s'", st->url, key);
		return -EINVAL;
	}
	url = lb_strdupf("%s/%s", st->dir, key);
	if (!url)
		return -ENOMEM;
	snprintf(what, sizeof(what), "%s %s", strcmp(method, "HEAD") == 0 ? "head" : "get", url);
	for (int attempt = 0;; attempt++) {
		struct lb_http_request req = { .method = method, .url = url, .buf = buf, .buf_max = cap, .what = what };
		char why[32];
		bool retry;

		r = lb_http_perform(st->http, &req, st->resp);
		retry = r < 0 ? lb_http_transient(r) : st->resp->status >= 500 || st->resp->status == 429;
		if (r < 0)
			snprintf(why, sizeof(why), "failed");
		else
			snprintf(why, sizeof(why), "server busy (HTTP %ld)", st->resp->status);
		if (!retry || !lb_retry_wait(&st->policy, attempt, start, &st->rng, st->cancel, what, why))
			break;
		if (st->cancel && __atomic_load_n(st->cancel, __ATOMIC_RELAXED)) {
			r = -ECANCELED;
			break;
		}
	}
	free(url);
	return r;
}

static int http_status(struct lb_store *st, const char *key, const char *op)
{
	long status = st->resp->status;

	if (status == 404 || status == 410)
		return -ENOENT;
	lb_log("store %s: %s %s: HTTP %ld", st->url, op, key, status);
	return status == 401 || status == 403 ? -EACCES : -EIO;
}

static char *path_of(struct lb_store *st, const char *key)
{
	if (!key_ok(key)) {
		lb_log("store %s: refusing the key '%s'", st->url, key);
		return NULL;
	}
	return lb_strdupf("%s/%s", st->dir, key);
}

static char *s3_key(struct lb_store *st, const char *key)
{
	if (!key_ok(key)) {
		lb_log("store %s: refusing the key '%s'", st->url, key);
		return NULL;
	}
	return lb_strdupf("%s%s", st->prefix, key);
}

int lb_store_stat(struct lb_store *st, const char *key, struct lb_store_stat *ret)
{
	if (st->http) {
		int r = http_request(st, "HEAD", key, NULL, 0);

		if (r < 0)
			return r;
		if (st->resp->status == 200) {
			if (ret) {
				ret->size = st->resp->content_length;
				if (lb_s3_parse_http_date(st->resp->last_modified, &ret->mtime) < 0)
					ret->mtime = INT64_MAX; /* no time: as new as can be */
			}
			return 1;
		}
		r = http_status(st, key, "head");
		return r == -ENOENT ? 0 : r;
	}
	if (st->s3) {
		char *k = s3_key(st, key);
		struct lb_s3_stat s;
		int r;

		if (!k)
			return -EINVAL;
		/* Existence alone needs no Last-Modified from the server. */
		r = ret ? lb_s3_stat(st->s3, k, &s) : lb_s3_head(st->s3, k, &s.size, NULL);
		free(k);
		if (r == 0 && ret) {
			ret->size = s.size;
			ret->mtime = s.mtime;
		}
		return r == 0 ? 1 : r == -ENOENT ? 0 : r;
	}

	char *p = path_of(st, key);
	struct stat sb;
	int r;

	if (!p)
		return -EINVAL;
	r = stat(p, &sb) == 0 ? 1 : errno == ENOENT ? 0 : -errno;
	if (r < 0)
		lb_log("store %s: %s: %s", st->url, key, strerror(-r));
	if (r == 1 && ret) {
		ret->size = (uint64_t)sb.st_size;
		ret->mtime = (int64_t)sb.st_mtime;
	}
	free(p);
	return r;
}

int lb_store_exists(struct lb_store *st, const char *key)
{
	return lb_store_stat(st, key, NULL);
}

int lb_store_now(struct lb_store *st, int64_t *ret)
{
	int64_t t;
	int r;

	if (!st->s3) {
		*ret = (int64_t)time(NULL);
		return 0;
	}
	t = lb_s3_server_time(st->s3);
	if (t < 0) {
		/* No answer yet to read the server's clock from: ask once. */
		r = lb_store_exists(st, "lifeboat-store.json");
		if (r < 0)
			return r;
		t = lb_s3_server_time(st->s3);
		if (t < 0) {
			lb_log("store %s: the server's answers carry no Date header", st->url);
			return -EPROTO;
		}
	}
	*ret = t;
	return 0;
}

int lb_store_touch(struct lb_store *st, const char *key)
{
	char *p;
	int r;

	if ((r = lb_store_writable(st)) < 0)
		return r;
	if (st->s3) {
		char *k = s3_key(st, key);

		r = k ? lb_s3_touch(st->s3, k) : -EINVAL;
		free(k);
		return r;
	}
	p = path_of(st, key);
	if (!p)
		return -EINVAL;
	r = utimensat(AT_FDCWD, p, NULL, 0) == 0 ? 0 : -errno;
	if (r < 0 && r != -ENOENT)
		lb_log("store %s: touch %s: %s", st->url, key, strerror(-r));
	free(p);
	return r;
}

int lb_store_delete(struct lb_store *st, const char *key, uint64_t deadline_ms)
{
	char *p;
	int r;

	if ((r = lb_store_writable(st)) < 0)
		return r;
	if (st->s3) {
		char *k = s3_key(st, key);

		r = k ? lb_s3_delete_by(st->s3, k, deadline_ms) : -EINVAL;
		free(k);
		return r;
	}
	p = path_of(st, key);
	if (!p)
		return -EINVAL;
	if (deadline_ms && lb_mono_ms() >= deadline_ms) {
		lb_log("store %s: rm %s: not done: its window closed", st->url, key);
		r = -ETIMEDOUT;
	} else {
		r = unlink(p) == 0 || errno == ENOENT ? 0 : -errno;
		if (r < 0)
			lb_log("store %s: rm %s: %s", st->url, key, strerror(-r));
	}
	free(p);
	return r;
}

static int s3_get_into(struct lb_store *st, const char *key, void *buf, size_t cap, size_t *ret_len)
{
	char *k = s3_key(st, key);
	int r;

	if (!k)
		return -EINVAL;
	/* One GET into a buffer of the ceiling: the ceiling is enforced while
	 * the body arrives, and no HEAD is spent per chunk. */
	r = lb_s3_get_object(st->s3, k, buf, cap, ret_len);
	if (r == -EMSGSIZE) {
		lb_log("store %s: %s is more than the %zu bytes expected", st->url, key, cap);
		r = -EFBIG;
	}
	free(k);
	return r < 0 ? r : 0;
}

static int dir_get_into(struct lb_store *st, const char *key, void *buf, size_t cap, size_t *ret_len)
{
	char *p = path_of(st, key);
	struct stat sb;
	size_t done = 0;
	int fd = -1, r;

	if (!p)
		return -EINVAL;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r != -ENOENT)
			lb_log("store %s: open %s: %s", st->url, key, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		goto fail;
	}
	if ((uint64_t)sb.st_size > cap) {
		lb_log("store %s: %s is %lld bytes, more than the %zu expected", st->url, key, (long long)sb.st_size, cap);
		r = -EFBIG;
		goto fail;
	}
	while (done < (size_t)sb.st_size) {
		ssize_t n = read(fd, (char *)buf + done, (size_t)sb.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			lb_log("store %s: read %s: %s", st->url, key, n < 0 ? strerror(errno) : "file shrank");
			goto fail;
		}
		done += (size_t)n;
	}
	*ret_len = done;
	r = 0;
fail:
	if (fd >= 0)
		close(fd);
	free(p);
	return r;
}

int lb_store_get_into(struct lb_store *st, const char *key, void *buf, size_t cap, size_t *ret_len)
{
	if (cap == 0)
		return -EINVAL;
	if (st->http) {
		int r = http_request(st, "GET", key, buf, cap);

		if (r == -EMSGSIZE) {
			lb_log("store %s: %s is more than the %zu bytes expected", st->url, key, cap);
			return -EFBIG;
		}
		if (r < 0)
			return r;
		if (st->resp->status != 200)
			return http_status(st, key, "get");
		*ret_len = st->resp->body_len;
		return 0;
	}
	return st->s3 ? s3_get_into(st, key, buf, cap, ret_len) : dir_get_into(st, key, buf, cap, ret_len);
}

int lb_store_get(struct lb_store *st, const char *key, size_t max, void **ret, size_t *ret_len)
{
	char *buf;
	size_t len = 0;
	int r;

	/* +1 for the NUL that lets callers treat a manifest as a string */
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	r = lb_store_get_into(st, key, buf, max, &len);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int mkdirs(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*s = '/';
			return -errno;
		}
		*s = '/';
	}
	return 0;
}

int lb_store_writable(const struct lb_store *st)
{
	if (st->http) {
		lb_log("store %s: an http(s) store is read-only (back up to s3:// or a directory)", st->url);
		return -EROFS;
	}
	return 0;
}

int lb_store_put(struct lb_store *st, const char *key, const void *data, size_t len)
{
	char *p, *tmp = NULL;
	size_t done = 0;
	int fd = -1, r;

	if ((r = lb_store_writable(st)) < 0)
		return r;
	if (st->s3) {
		char *k = s3_key(st, key);

		/* One PUT: S3 makes the object visible whole or not at all. */
		r = k ? lb_s3_put(st->s3, k, data, len) : -EINVAL;
		free(k);
		return r < 0 ? r : 0;
	}
	p = path_of(st, key);
	if (!p)
		return -EINVAL;
	tmp = lb_strdupf("%s.tmp.%ld", p, (long)getpid());
	if (!tmp) {
		r = -ENOMEM;
		goto fail;
	}
	r = mkdirs(p);
	if (r < 0) {
		lb_log("store %s: creating the directory of %s: %s", st->url, key, strerror(-r));
		goto fail;
	}
	/* Write aside, flush, rename: a reader sees all of it or nothing,
	 * also after a crash. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		lb_log("store %s: create %s: %s", st->url, key, strerror(errno));
		goto fail;
	}
	while (done < len) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			lb_log("store %s: write %s: %s", st->url, key, strerror(errno));
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		r = -errno;
		fd = -1;
		lb_log("store %s: flush %s: %s", st->url, key, strerror(-r));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, p) < 0) {
		r = -errno;
		lb_log("store %s: rename to %s: %s", st->url, key, strerror(errno));
		goto fail;
	}
	r = 0;
fail:
	if (fd >= 0)
		close(fd);
	if (r < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(p);
	return r;
}

static int list_dir(struct lb_store *st, const char *rel, bool delim, lb_store_list_cb cb, void *userdata)
{
	char *p = lb_strdupf("%s/%s", st->dir, rel);
	DIR *d = p ? opendir(p) : NULL;
	struct dirent *e;
	int r = 0;

	if (!d) {
		r = errno == ENOENT ? 0 : -errno;
		if (r < 0)
			lb_log("store %s: list %s: %s", st->url, rel, strerror(errno));
		free(p);
		return r;
	}
	while (r == 0 && (e = readdir(d))) {
		struct stat sb;
		char *key, *full;

		if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp."))
			continue;
		key = lb_strdupf("%s%s", rel, e->d_name);
		full = key ? lb_strdupf("%s/%s", st->dir, key) : NULL;
		if (!full || stat(full, &sb) < 0) {
			free(key);
			free(full);
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			char *sub = lb_strdupf("%s/", key);

			if (sub) {
				struct lb_store_entry en = { sub, 0, -1 };

				r = delim ? cb(&en, userdata) : list_dir(st, sub, false, cb, userdata);
			}
			free(sub);
		} else if (S_ISREG(sb.st_mode)) {
			struct lb_store_entry en = { key, (uint64_t)sb.st_size, (int64_t)sb.st_mtime };

			r = cb(&en, userdata);
		}
		free(key);
		free(full);
	}
	closedir(d);
	free(p);
	return r;
}

struct s3_list {
	size_t cut; /* length of the store prefix */
	lb_store_list_cb cb;
	void *userdata;
};

static int s3_list_cb(const struct lb_s3_entry *e, void *userdata)
{
	struct s3_list *l = userdata;
	struct lb_store_entry en = { NULL, e->size, -1 };
	int r;

	if (strlen(e->key) <= l->cut)
		return 0;
	en.key = e->key + l->cut;
	/* An object without a usable time is as new as can be: garbage
	 * collection never takes it for old. */
	if (!e->is_prefix && lb_s3_parse_iso_time(e->last_modified, &en.mtime) < 0)
		en.mtime = INT64_MAX;
	r = l->cb(&en, l->userdata);
	return r > 0 ? -ECANCELED : r;
}

int lb_store_list(struct lb_store *st, const char *dir, bool delim, lb_store_list_cb cb, void *userdata)
{
	if (*dir && !key_ok(dir))
		return -EINVAL;
	if (st->http) {
		lb_log("store %s: a web server gives no listings: name the point as SERVER/ID", st->url);
		return -ENOTSUP;
	}
	if (st->s3) {
		struct s3_list l = { strlen(st->prefix), cb, userdata };
		char *k = lb_strdupf("%s%s", st->prefix, dir);
		int r = k ? lb_s3_list(st->s3, k, delim ? "/" : NULL, s3_list_cb, &l) : -ENOMEM;

		free(k);
		return r < 0 ? r : 0;
	}
	return list_dir(st, dir, delim, cb, userdata);
}
