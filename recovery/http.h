/* One HTTP(S) request at a time over libcurl: the only file that includes
 * curl.h, so CURLcode becomes -errno here and is logged here, once.
 *
 * TLS verification is always on (there is no switch to turn it off); a
 * custom CA bundle replaces the system one. Redirects are never followed:
 * they would carry the signed request to another host. */
#ifndef LB_HTTP_H
#define LB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error bodies are small XML documents; anything longer is cut (never an
 * error: the status code already says the request failed). */
#define LB_HTTP_ERROR_BODY_MAX (64u * 1024u)

struct lb_http;

struct lb_http_config {
	const char *ca_bundle;    /* PEM file, NULL = curl's built-in default */
	long connect_timeout_s;   /* 0 = 10 s */
	long stall_timeout_s;     /* abort when no byte moves for this long (the
				   * attempt; the caller may retry); 0 =
				   * LIFEBOAT_STALL_TIMEOUT, else 60 s */
	long timeout_s;           /* a whole request, connect to last byte; 0 = none */
};

int lb_http_new(const struct lb_http_config *cfg, struct lb_http **ret);
void lb_http_free(struct lb_http *h);
/* A new handle with h's configuration (and its own connection): an easy
 * handle must not be used by two threads, so each worker has one. */
int lb_http_clone(const struct lb_http *h, struct lb_http **ret);
/* While *flag (read atomically) is non-zero, a transfer in flight is
 * aborted within about a second and new ones are not started: both give
 * -ECANCELED, not logged (whoever set the flag says why). NULL detaches;
 * the flag must outlive its attachment. */
void lb_http_set_cancel(struct lb_http *h, const int *flag);

struct lb_http_request {
	const char *method;           /* GET, HEAD, PUT, POST, DELETE */
	const char *url;              /* logged only up to '?': presigned queries are secrets */
	const char *const *headers;   /* "Name: value", NULL-terminated; never logged */
	const void *body;             /* PUT and POST payload */
	size_t body_len;
	const char *content_type;     /* of the body; NULL: none sent (curl's form
				       * type for POST would mislabel JSON) */
	void *buf;                    /* a 2xx body lands here (NULL: dropped) ... */
	size_t buf_max;               /* ... and more than this is -EMSGSIZE */
	const char *what;             /* for log lines: "get s3://bucket/key" */
	long timeout_ms;              /* the whole request, 0 = none (a stall still
	                               * ends it): for requests that are only safe
	                               * within a deadline (gc's deletes) */
	bool quiet;                   /* transport errors not logged: the caller
				       * retries in the background and sums up */
	bool tls_any_time;            /* a certificate's dates are not checked (its
				       * chain, signatures and host name still
				       * are), on a fresh connection used for this
				       * request only: for reading the server's
				       * clock when ours may be wrong, nothing else */
};

struct lb_http_response {
	long status;
	size_t body_len;              /* bytes written to buf (2xx only) */
	bool has_content_length;
	uint64_t content_length;
	char etag[130];
	char request_id[130];         /* x-amz-request-id, for HEAD errors */
	char date[64];                /* Date: the server's clock ("" if absent) */
	char last_modified[64];       /* Last-Modified ("" if absent) */
	char error_body[LB_HTTP_ERROR_BODY_MAX + 1]; /* non-2xx body, NUL-terminated */
	size_t error_len;
	bool tls_time_only;           /* -EPROTO because a certificate was expired
				       * or not yet valid by our clock, and for no
				       * other reason (see tls_any_time) */
	int64_t tls_not_before;       /* a new TLS connection: the time span in which */
	int64_t tls_not_after;        /* every certificate of its chain is valid
				       * (Unix seconds); 0 otherwise */
};

/* 0 when a response arrived (whatever its status), else -errno: transient
 * transport errors are -ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, -EHOSTUNREACH,
 * -EAGAIN (resolver); permanent ones -EMSGSIZE (body over the ceiling),
 * -EPROTO (TLS handshake or certificate), -EINVAL, -ENOMEM. Logged (unless
 * req->quiet), except -ECANCELED (lb_http_set_cancel). */
int lb_http_perform(struct lb_http *h, const struct lb_http_request *req,
		    struct lb_http_response *ret);

/* True for the -errno values a retry may cure. */
bool lb_http_transient(int r);

/* ---- streaming GET (lifeboat write): a body too large for any buffer ----
 *
 * The body of a 2xx answer is handed to on_data piece by piece as it
 * arrives and never held whole, so memory stays bounded whatever the size.
 * on_begin (optional) runs once, when the 2xx headers are in and before any
 * data, with resp->status and the content length set (a caller refuses an
 * image larger than its disk there, before anything is written). Either
 * callback stops the transfer by returning < 0; lb_http_stream then returns
 * that value unlogged (the callback knows what went wrong and logs it).
 * Non-2xx answers never reach the callbacks: their (bounded) body lands in
 * resp->error_body as with lb_http_perform, and the status says the rest.
 * A transfer that ends short of its Content-Length is -ECONNRESET. req->buf
 * must be NULL; req->method is GET. */
struct lb_http_sink {
	int (*on_begin)(const struct lb_http_response *resp, void *userdata);
	int (*on_data)(const void *data, size_t len, void *userdata);
	void *userdata;
};

int lb_http_stream(struct lb_http *h, const struct lb_http_request *req,
		   const struct lb_http_sink *sink, struct lb_http_response *ret);

/* ---- exposed for tests (and the fuzzer): the response header parser ---- */

/* What is kept of one answer's headers; a new status line (after a 100
 * Continue, or a redirect curl reports) starts it over. */
struct lb_http_headers {
	char etag[130];
	char request_id[130];  /* x-amz-request-id */
	char date[64];         /* Date */
	char last_modified[64]; /* Last-Modified */
	bool has_content_length;
	uint64_t content_length;
};

enum lb_http_line {
	LB_HTTP_LINE_STATUS, /* "HTTP/1.1 200 OK" */
	LB_HTTP_LINE_FIELD,  /* "Name: value" (kept if it matters) */
	LB_HTTP_LINE_END,    /* the blank line after the headers */
};

/* One header line as curl hands it over: len bytes (not NUL-terminated),
 * with its CR LF. Values longer than their field are cut. */
enum lb_http_line lb_http_header_line(const char *p, size_t len, struct lb_http_headers *h);

#endif
