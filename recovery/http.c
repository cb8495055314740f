/* libcurl wrapper; see http.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "backoff.h"
#include "http.h"
#include "util.h"

struct lb_http {
	CURL *curl;
	char *ca_bundle;
	long connect_timeout_s, stall_timeout_s, timeout_s;
	const int *cancel; /* lb_http_set_cancel */
	/* The certificate check of the connection being made: what mbedTLS
	 * found (every certificate of the chain, ORed) and whether dates are
	 * to be ignored. Here, not in the transfer: the verify callback stays
	 * with the connection (a renegotiation calls it again), so it must
	 * point at something that lives as long as the connection cache. */
	uint32_t tls_flags;
	bool tls_any_time;
	int64_t tls_not_before, tls_not_after; /* the chain's common validity */
};

struct xfer {
	CURL *curl;
	const struct lb_http_request *req;
	struct lb_http_response *resp;
	size_t sent;
	bool overflow;
	/* streaming (lb_http_stream): NULL for lb_http_perform */
	const struct lb_http_sink *sink;
	int cb_err;        /* a callback's refusal, returned as is */
	bool begun;        /* on_begin ran */
	struct lb_http_headers hdr; /* of the current answer */
	/* the stall watch (on_progress): bytes seen either way, and when
	 * they last moved */
	struct lb_http *h;
	curl_off_t moved;
	uint64_t moved_ms;
	bool stalled;
};

int lb_http_new(const struct lb_http_config *cfg, struct lb_http **ret)
{
	static bool global_done;
	struct lb_http *h;

	if (!global_done) {
		CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);

		if (c != CURLE_OK) {
			lb_log("curl init: %s", curl_easy_strerror(c));
			return -EIO;
		}
		global_done = true;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->curl = curl_easy_init();
	if (!h->curl || (cfg->ca_bundle && !(h->ca_bundle = strdup(cfg->ca_bundle)))) {
		lb_http_free(h);
		return -ENOMEM;
	}
	h->connect_timeout_s = cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s : 10;
	h->stall_timeout_s = cfg->stall_timeout_s;
	if (h->stall_timeout_s <= 0 && lb_stall_timeout_env(&h->stall_timeout_s) < 0) {
		lb_http_free(h);
		return -EINVAL;
	}
	h->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 0;
	*ret = h;
	return 0;
}

int lb_http_clone(const struct lb_http *h, struct lb_http **ret)
{
	struct lb_http_config cfg = { h->ca_bundle, h->connect_timeout_s, h->stall_timeout_s, h->timeout_s };

	return lb_http_new(&cfg, ret);
}

void lb_http_set_cancel(struct lb_http *h, const int *flag)
{
	h->cancel = flag;
}

static bool cancelled(const struct lb_http *h)
{
	return h->cancel && __atomic_load_n(h->cancel, __ATOMIC_RELAXED);
}

/* Called by curl while a transfer runs (at least once a second): a
 * non-zero return aborts it, so a cancelled worker does not finish
 * fetching a chunk nobody will use, and an attempt that has moved no byte
 * for stall_timeout_s ends then. (curl's own low-speed limit averages the
 * speed over the last five seconds, so a stall after a burst of data would
 * be caught only seconds late; it stays set as a backstop.) */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = ud;
	uint64_t now = lb_mono_ms();

	(void)dltotal, (void)ultotal;
	if (cancelled(x->h))
		return 1;
	if (dlnow + ulnow != x->moved) {
		x->moved = dlnow + ulnow;
		x->moved_ms = now;
	} else if (now - x->moved_ms >= (uint64_t)x->h->stall_timeout_s * 1000) {
		x->stalled = true;
		return 1;
	}
	return 0;
}

void lb_http_free(struct lb_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->ca_bundle);
	free(h);
}

bool lb_http_transient(int r)
{
	return r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT || r == -EHOSTUNREACH ||
	       r == -EAGAIN || r == -EPIPE;
}

/* The 2xx headers are in: tell the sink, once, before any data. */
static int stream_begin(struct xfer *x)
{
	int r = 0;

	x->begun = true;
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->resp->status);
	x->resp->has_content_length = x->hdr.has_content_length;
	x->resp->content_length = x->hdr.content_length;
	if (x->sink->on_begin)
		r = x->sink->on_begin(x->resp, x->sink->userdata);
	if (r < 0)
		x->cb_err = r;
	return r;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	struct lb_http_response *resp = x->resp;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		/* keep the start of an error body, drop the rest */
		size_t room = LB_HTTP_ERROR_BODY_MAX - resp->error_len;
		size_t take = len < room ? len : room;

		memcpy(resp->error_body + resp->error_len, p, take);
		resp->error_len += take;
		resp->error_body[resp->error_len] = '\0';
		return len;
	}
	if (x->sink) {
		int r = x->begun ? 0 : stream_begin(x);

		if (r == 0)
			r = x->sink->on_data(p, len, x->sink->userdata);
		if (r < 0) {
			x->cb_err = r;
			return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
		}
		return len;
	}
	/* a request without a buffer (PUT, DELETE) wants no body: whatever
	 * comes is dropped, never stored */
	if (!x->req->buf)
		return len;
	if (len > x->req->buf_max - resp->body_len) {
		x->overflow = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	memcpy((char *)x->req->buf + resp->body_len, p, len);
	resp->body_len += len;
	return len;
}

static void header_value(const char *p, size_t len, char *out, size_t out_size)
{
	while (len > 0 && (*p == ' ' || *p == '\t'))
		p++, len--;
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
		len--;
	if (len >= out_size)
		len = out_size - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

enum lb_http_line lb_http_header_line(const char *p, size_t len, struct lb_http_headers *h)
{
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		memset(h, 0, sizeof(*h));
		return LB_HTTP_LINE_STATUS;
	}
	if (len == 0 || p[0] == '\r' || p[0] == '\n')
		return LB_HTTP_LINE_END;
	if (len > 15 && strncasecmp(p, "content-length:", 15) == 0) {
		char v[32], *end;

		header_value(p + 15, len - 15, v, sizeof(v));
		errno = 0;
		h->content_length = strtoull(v, &end, 10);
		h->has_content_length = v[0] >= '0' && v[0] <= '9' && !*end && errno == 0;
	} else if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		header_value(p + 5, len - 5, h->etag, sizeof(h->etag));
	} else if (len > 17 && strncasecmp(p, "x-amz-request-id:", 17) == 0) {
		header_value(p + 17, len - 17, h->request_id, sizeof(h->request_id));
	} else if (len > 5 && strncasecmp(p, "date:", 5) == 0) {
		header_value(p + 5, len - 5, h->date, sizeof(h->date));
	} else if (len > 14 && strncasecmp(p, "last-modified:", 14) == 0) {
		header_value(p + 14, len - 14, h->last_modified, sizeof(h->last_modified));
	}
	return LB_HTTP_LINE_FIELD;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	enum lb_http_line kind = lb_http_header_line(p, len, &x->hdr);

	memcpy(x->resp->etag, x->hdr.etag, sizeof(x->resp->etag));
	memcpy(x->resp->request_id, x->hdr.request_id, sizeof(x->resp->request_id));
	memcpy(x->resp->date, x->hdr.date, sizeof(x->resp->date));
	memcpy(x->resp->last_modified, x->hdr.last_modified, sizeof(x->resp->last_modified));
	if (kind == LB_HTTP_LINE_END && x->sink && !x->begun) {
		/* the blank line after the headers: start the sink now, so
		 * that an empty body and a refusal by size both happen here */
		long status = 0;

		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status <= 299 && stream_begin(x) < 0)
			return 0; /* aborts the transfer */
	}
	return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t left = x->req->body_len - x->sent;
	size_t take = size * n < left ? size * n : left;

	memcpy(p, (const char *)x->req->body + x->sent, take);
	x->sent += take;
	return take;
}

/* curl rewinds the upload when it must resend (auth, 100-continue, reuse) */
static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct xfer *x = ud;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->req->body_len)
		return CURL_SEEKFUNC_FAIL;
	x->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EAGAIN; /* DNS may come up later (DHCP still running) */
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SEND_ERROR:
		return -EPIPE;
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
		return -EPROTO;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

#define TLS_TIME_FLAGS (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)

static int64_t x509_time(const mbedtls_x509_time *t)
{
	struct tm tm = { .tm_year = t->year - 1900, .tm_mon = t->mon - 1, .tm_mday = t->day,
			 .tm_hour = t->hour, .tm_min = t->min, .tm_sec = t->sec };

	return (int64_t)timegm(&tm);
}

/* Replaces curl's verify callback (which only logs and applies
 * VERIFYPEER/VERIFYHOST, both always on here): records what was wrong and,
 * for a request that asked for it, forgives the dates alone. The chain, the
 * signatures and the host name are still checked. */
static int on_verify(void *ud, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct lb_http *h = ud;
	int64_t from = x509_time(&crt->valid_from), to = x509_time(&crt->valid_to);

	(void)depth;
	h->tls_flags |= *flags;
	if (from > h->tls_not_before)
		h->tls_not_before = from;
	if (h->tls_not_after == 0 || to < h->tls_not_after)
		h->tls_not_after = to;
	if (h->tls_any_time)
		*flags &= ~(uint32_t)TLS_TIME_FLAGS;
	return 0;
}

/* CURLOPT_SSL_CTX_FUNCTION: called for every new TLS connection, after
 * curl configured it; with mbedTLS the context is the mbedtls_ssl_config. */
static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *ud)
{
	(void)curl;
	mbedtls_ssl_conf_verify(ssl_ctx, on_verify, ud);
	return CURLE_OK;
}

/* What the certificate check held against the connection, after what this
 * request forgives. */
static uint32_t cert_flags(const struct lb_http *h)
{
	return h->tls_any_time ? h->tls_flags & ~(uint32_t)TLS_TIME_FLAGS : h->tls_flags;
}

/* mbedTLS's words for the flags, on one line: "The certificate validity has
 * expired; ..." */
static void tls_flags_text(uint32_t flags, char *out, size_t size)
{
	char buf[512];
	int n = mbedtls_x509_crt_verify_info(buf, sizeof(buf), "", flags);

	if (n <= 0) {
		snprintf(out, size, "verification flags 0x%08x", (unsigned)flags);
		return;
	}
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ';';
	snprintf(out, size, "%s", buf);
}

/* Logs never carry the query string: a presigned URL's query is a key. */
static void log_url(const char *url, char *out, size_t out_size)
{
	size_t n = strcspn(url, "?");

	snprintf(out, out_size, "%.*s%s", (int)n, url, url[n] ? "?..." : "");
}

static int perform(struct lb_http *h, const struct lb_http_request *req,
		   const struct lb_http_sink *sink, struct lb_http_response *ret)
{
	struct curl_slist *list = NULL, *nl;
	char errbuf[CURL_ERROR_SIZE] = "", ctype[160];
	struct xfer x = { .curl = h->curl, .req = req, .resp = ret, .sink = sink, .h = h, .moved_ms = lb_mono_ms() };
	char where[512];
	curl_off_t cl = -1;
	CURLcode c;
	CURL *cu = h->curl;
	int r;

	memset(ret, 0, offsetof(struct lb_http_response, error_body));
	ret->error_body[0] = '\0';
	ret->error_len = 0;
	ret->tls_time_only = false;
	ret->tls_not_before = ret->tls_not_after = 0;
	for (const char *const *p = req->headers; p && *p; p++) {
		nl = curl_slist_append(list, *p);
		if (!nl) {
			r = -ENOMEM;
			goto fail;
		}
		list = nl;
	}
	if (req->content_type) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", req->content_type);
		nl = curl_slist_append(list, ctype);
		if (!nl) {
			r = -ENOMEM;
			goto fail;
		}
		list = nl;
	}
	/* Without this curl adds "Expect: 100-continue" to large PUTs and
	 * waits a second for servers that never answer it. */
	nl = curl_slist_append(list, "Expect:");
	if (!nl) {
		r = -ENOMEM;
		goto fail;
	}
	list = nl;

	if (cancelled(h)) {
		r = -ECANCELED;
		goto fail;
	}
	curl_easy_reset(cu); /* keeps the connection cache */
	h->tls_flags = 0;
	h->tls_not_before = h->tls_not_after = 0;
	h->tls_any_time = req->tls_any_time;
	curl_easy_setopt(cu, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	curl_easy_setopt(cu, CURLOPT_SSL_CTX_DATA, h);
	if (req->tls_any_time) {
		/* A connection whose dates went unchecked serves this request
		 * only: never one reused, kept, or resumed from its session. */
		curl_easy_setopt(cu, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(cu, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(cu, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}
	curl_easy_setopt(cu, CURLOPT_URL, req->url);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, h->connect_timeout_s);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, h->stall_timeout_s);
	/* A deadline of the request's own (gc's deletes), else the handle's
	 * limit for every request (callbacks); 0 is none either way. */
	if (req->timeout_ms > 0)
		curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	else
		curl_easy_setopt(cu, CURLOPT_TIMEOUT, h->timeout_s);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(cu, CURLOPT_HEADERDATA, &x);
	if (h->ca_bundle)
		curl_easy_setopt(cu, CURLOPT_CAINFO, h->ca_bundle);
	curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(cu, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(cu, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(cu, CURLOPT_READDATA, &x);
		curl_easy_setopt(cu, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(cu, CURLOPT_SEEKDATA, &x);
		curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "POST") == 0) {
		/* the body is sent from the caller's buffer, not copied */
		curl_easy_setopt(cu, CURLOPT_POST, 1L);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, req->method);
	}

	c = curl_easy_perform(cu);
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &ret->status);
	if (c != CURLE_OK && cancelled(h)) {
		r = -ECANCELED; /* the canceller logged why */
		goto fail;
	}
	if (c != CURLE_OK && x.cb_err < 0) {
		r = x.cb_err; /* the sink said why, and logged it */
		goto fail;
	}
	if (c != CURLE_OK) {
		log_url(req->url, where, sizeof(where));
		if (x.stalled) {
			if (!req->quiet)
				lb_log("%s: %s: no byte moved for %ld s (LIFEBOAT_STALL_TIMEOUT): attempt aborted",
				       req->what, where, h->stall_timeout_s);
			r = -ETIMEDOUT;
		} else if (x.overflow) {
			lb_log("%s: %s: response longer than the %zu bytes expected", req->what,
			       where, req->buf_max);
			r = -EMSGSIZE;
		} else if (cert_flags(h) && (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CONNECT_ERROR)) {
			char why[512];

			/* curl's own text for this is "peer certificate could not be
			 * verified": say what was wrong with it */
			tls_flags_text(cert_flags(h), why, sizeof(why));
			ret->tls_time_only = !h->tls_any_time && !(h->tls_flags & ~(uint32_t)TLS_TIME_FLAGS);
			if (!req->quiet)
				lb_log("%s: %s: server certificate refused: %s%s", req->what, where, why,
				       ret->tls_time_only ? " (by this machine's clock, which may be wrong)" : "");
			r = -EPROTO;
		} else {
			if (!req->quiet)
				lb_log("%s: %s: %s", req->what, where, errbuf[0] ? errbuf : curl_easy_strerror(c));
			r = curl_errno(c);
		}
		goto fail;
	}
	ret->tls_not_before = h->tls_not_before;
	ret->tls_not_after = h->tls_not_after;
	if (curl_easy_getinfo(cu, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl >= 0) {
		ret->has_content_length = true;
		ret->content_length = (uint64_t)cl;
	}
	r = 0;
fail:
	/* the handle must not keep pointers into this call's stack */
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(list);
	return r;
}

int lb_http_perform(struct lb_http *h, const struct lb_http_request *req,
		    struct lb_http_response *ret)
{
	return perform(h, req, NULL, ret);
}

int lb_http_stream(struct lb_http *h, const struct lb_http_request *req,
		   const struct lb_http_sink *sink, struct lb_http_response *ret)
{
	if (req->buf || !sink || !sink->on_data)
		return -EINVAL;
	return perform(h, req, sink, ret);
}
