/* Image source stage; see imagesrc.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "http.h"
#include "imagesrc.h"
#include "s3.h"
#include "util.h"

#define FILE_PIECE (1u << 20)
/* The URL is made once and used for every retry of a long write, so it
 * lives as long as S3 allows. */
#define PRESIGN_EXPIRES 604800u

enum kind { SRC_URL, SRC_S3, SRC_FILE };

struct lb_imagesrc {
	enum kind kind;
	char *name;
	char *url;  /* secret for s3:// and presigned URLs: wiped on free */
	char *path;
	struct lb_http *http;
	struct lb_http_response *resp; /* large (error body) */
	struct lb_retry_policy policy;
	uint64_t rng;
};

/* What a resumable transfer carries from one attempt to the next. */
struct xfer {
	struct lb_imagesrc *s;
	const struct lb_imagesrc_sink *sink;
	bool begun;           /* sink->on_begin ran */
	uint64_t total;       /* the served size, or LB_IMAGESRC_SIZE_UNKNOWN */
	uint64_t done;        /* bytes delivered to the sink */
	uint64_t offset;      /* where this attempt starts */
	char etag[130];       /* the first answer's, to resume the same object */
	bool bad_resume;      /* the server did not honour a Range request */
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void lb_imagesrc_free(struct lb_imagesrc *s)
{
	if (!s)
		return;
	lb_http_free(s->http);
	free(s->resp);
	wipe_free(s->url);
	free(s->name);
	free(s->path);
	free(s);
}

const char *lb_imagesrc_name(const struct lb_imagesrc *s)
{
	return s->name;
}

static int http_client(struct lb_imagesrc *s, const char *ca)
{
	struct lb_http_config hc = { .ca_bundle = ca };
	int r;

	if ((r = lb_retry_policy_env(&s->policy)) < 0)
		return r;
	s->rng = lb_backoff_seed();
	s->resp = calloc(1, sizeof(*s->resp));
	if (!s->resp)
		return -ENOMEM;
	return lb_http_new(&hc, &s->http);
}

static int open_s3(struct lb_imagesrc *s, const char *source, const struct lb_imagesrc_opts *o)
{
	const char *b = source + 5, *slash = strchr(b, '/');
	const char *ca = o->ca_bundle && *o->ca_bundle ? o->ca_bundle : getenv("AWS_CA_BUNDLE");
	struct lb_s3_config cfg = { .endpoint = o->endpoint, .region = o->region, .ca_bundle = o->ca_bundle,
				    .retries = -1 };
	struct lb_s3 *s3 = NULL;
	char *bucket = NULL;
	int r;

	if (!slash || slash == b || !slash[1]) {
		lb_log("%s: not an s3://BUCKET/KEY address", source);
		return -EINVAL;
	}
	bucket = strndup(b, (size_t)(slash - b));
	if (!bucket)
		return -ENOMEM;
	cfg.bucket = bucket;
	/* A presigned GET is the same SigV4 request a signed one is, and
	 * streams through the one URL code path (retries, resume). */
	r = lb_s3_new(&cfg, &s3);
	if (r == 0)
		r = lb_s3_presign_get(s3, slash + 1, PRESIGN_EXPIRES, &s->url);
	if (r == 0)
		r = http_client(s, ca && *ca ? ca : NULL);
	lb_s3_free(s3);
	free(bucket);
	return r;
}

int lb_imagesrc_open(const char *source, const struct lb_imagesrc_opts *opts, struct lb_imagesrc **ret)
{
	static const struct lb_imagesrc_opts none = { 0 };
	struct lb_imagesrc *s;
	int r;

	if (!opts)
		opts = &none;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (lb_startswith(source, "s3://")) {
		s->kind = SRC_S3;
		s->name = strdup(source);
		r = s->name ? open_s3(s, source, opts) : -ENOMEM;
	} else if (lb_startswith(source, "http://") || lb_startswith(source, "https://")) {
		size_t n = strcspn(source, "?#");

		s->kind = SRC_URL;
		s->url = strdup(source);
		s->name = lb_strdupf("%.*s%s", (int)n, source, source[n] ? "?..." : "");
		r = s->url && s->name ? http_client(s, opts->ca_bundle) : -ENOMEM;
	} else if (strstr(source, "://")) {
		lb_log("%s: unknown scheme (http://, https://, s3:// or a local path)", source);
		r = -EINVAL;
	} else {
		s->kind = SRC_FILE;
		s->name = strdup(source);
		s->path = strdup(source);
		r = s->name && s->path ? 0 : -ENOMEM;
	}
	if (r < 0) {
		lb_imagesrc_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* ---- local files ---- */

static int read_file(struct lb_imagesrc *s, const struct lb_imagesrc_sink *sink)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd, r;

	fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		lb_log("open %s: %s", s->path, strerror(-r));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		lb_log("%s: is a directory, not an image", s->path);
		r = -EISDIR;
		goto fail;
	}
	buf = malloc(FILE_PIECE);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	r = sink->on_begin ? sink->on_begin(S_ISREG(st.st_mode) ? (uint64_t)st.st_size : LB_IMAGESRC_SIZE_UNKNOWN,
					    sink->userdata)
			   : 0;
	while (r == 0) {
		ssize_t n = read(fd, buf, FILE_PIECE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			lb_log("read %s: %s", s->path, strerror(-r));
			break;
		}
		if (n == 0)
			break;
		r = sink->on_data(buf, (size_t)n, sink->userdata);
	}
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- URLs ---- */

static int on_begin(const struct lb_http_response *resp, void *ud)
{
	struct xfer *x = ud;
	uint64_t len = resp->has_content_length ? resp->content_length : LB_IMAGESRC_SIZE_UNKNOWN;

	if (x->begun) {
		/* A retry must continue the same bytes: a 200 to a Range request
		 * would start over, another length means another object. */
		if ((x->offset > 0 && resp->status != 206) || len == LB_IMAGESRC_SIZE_UNKNOWN ||
		    x->offset + len != x->total) {
			x->bad_resume = true;
			return -EIO;
		}
		return 0;
	}
	snprintf(x->etag, sizeof(x->etag), "%s", resp->etag);
	x->total = len;
	x->begun = true;
	return x->sink->on_begin ? x->sink->on_begin(len, x->sink->userdata) : 0;
}

static int on_data(const void *data, size_t len, void *ud)
{
	struct xfer *x = ud;

	x->done += len;
	return x->sink->on_data(data, len, x->sink->userdata);
}

/* The one log line for a refused request, with S3's words when it sent some. */
static int refused(struct lb_imagesrc *s, const char *what)
{
	struct lb_http_response *resp = s->resp;
	struct lb_s3_error e;

	if (lb_s3_parse_error(resp->error_body, resp->error_len, &e) == 0)
		lb_log("%s: HTTP %ld %s%s%s%s%s%s", what, resp->status, e.code, e.message[0] ? ": " : "",
		       e.message, e.request_id[0] ? " (request id " : "", e.request_id,
		       e.request_id[0] ? ")" : "");
	else
		lb_log("%s: HTTP %ld%s", what, resp->status,
		       resp->status == 404 ? " Not Found" : resp->status == 403 ? " Forbidden" : "");
	if (resp->status == 404)
		return -ENOENT;
	if (resp->status == 401 || resp->status == 403)
		return -EACCES;
	return -EIO;
}

static int read_url(struct lb_imagesrc *s, const struct lb_imagesrc_sink *sink)
{
	struct xfer x = { .s = s, .sink = sink, .total = LB_IMAGESRC_SIZE_UNKNOWN };
	const struct lb_http_sink hs = { on_begin, on_data, &x };
	char what[1100], range[64], ifmatch[160];
	uint64_t start = lb_mono_ms();
	int r;

	snprintf(what, sizeof(what), "get %s", s->name);
	for (int attempt = 0;; attempt++) {
		const char *hdrs[3] = { NULL, NULL, NULL };
		struct lb_http_request req = { .method = "GET", .url = s->url, .headers = hdrs, .what = what };
		char why[96];
		bool retry;

		x.offset = x.done;
		if (x.offset > 0) {
			snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", x.offset);
			snprintf(ifmatch, sizeof(ifmatch), "If-Match: %s", x.etag);
			hdrs[0] = range;
			hdrs[1] = ifmatch;
		}
		r = lb_http_stream(s->http, &req, &hs, s->resp);
		if (x.bad_resume) {
			lb_log("%s: the server cannot resume at byte %" PRIu64 " (HTTP %ld, no matching range); "
			       "giving up rather than splice",
			       what, x.offset, s->resp->status);
			return -EIO;
		}
		if (r == 0 && s->resp->status >= 200 && s->resp->status <= 299) {
			if (!x.begun) /* not reached: lb_http_stream begins every 2xx */
				return -EIO;
			if (x.total != LB_IMAGESRC_SIZE_UNKNOWN && x.done != x.total) {
				lb_log("%s: %" PRIu64 " of %" PRIu64 " bytes arrived", what, x.done, x.total);
				return -EBADMSG;
			}
			return 0;
		}
		/* a sink's refusal is final; so is anything but a transient
		 * transport error, 5xx or 429 */
		if (r < 0 && !lb_http_transient(r))
			return r;
		retry = r < 0 || s->resp->status >= 500 || s->resp->status == 429;
		/* resuming needs an ETag to pin the object, and a known size */
		if (x.done > 0 && (!x.etag[0] || x.total == LB_IMAGESRC_SIZE_UNKNOWN)) {
			lb_log("%s: broke after %" PRIu64 " bytes; the server gave no ETag and size to resume with",
			       what, x.done);
			return r < 0 ? r : -EIO;
		}
		if (r == 0)
			snprintf(why, sizeof(why), "HTTP %ld", s->resp->status);
		else if (x.done)
			snprintf(why, sizeof(why), "broke after %" PRIu64 " bytes, resuming", x.done);
		if (!retry || !lb_retry_wait(&s->policy, attempt, start, &s->rng, NULL, what,
					     r == 0 || x.done ? why : NULL))
			return r < 0 ? r : refused(s, what);
	}
}

int lb_imagesrc_read(struct lb_imagesrc *s, const struct lb_imagesrc_sink *sink)
{
	return s->kind == SRC_FILE ? read_file(s, sink) : read_url(s, sink);
}
