/* An S3 client (AWS S3, Ceph RGW, MinIO, Huawei OBS) for one bucket: HEAD,
 * ranged GET, PUT, DELETE and ListObjectsV2, signed with SigV4, retried with
 * exponential backoff and full jitter on connection errors, 5xx, 429 and
 * the 400s that mean the body was damaged on the way (BadDigest,
 * XAmzContentSHA256Mismatch, IncompleteBody), within the retry policy of
 * backoff.h.
 *
 * Every operation returns 0 (or a count) or -errno and logs one line naming
 * the operation, the object, the HTTP status and S3's error code, message
 * and request id. The errno says what a caller may act on:
 *   -ENOENT  404 (NoSuchKey, NoSuchBucket)
 *   -EACCES  403 (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId)
 *   -EIO     any other refusal or a malformed answer
 *   -EMSGSIZE a body longer than its ceiling; -EBADMSG a short one
 *   transport errors as in http.h, after the retries are spent.
 * Secrets (secret key, session token, Authorization, presigned queries)
 * are never logged. */
#ifndef LB_S3_H
#define LB_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backoff.h"

#define LB_S3_LIST_BODY_MAX (8u * 1024u * 1024u) /* one ListObjectsV2 page */
/* the retry policy is backoff.h's (LIFEBOAT_RETRIES, LIFEBOAT_RETRY_TIME) */
#define LB_S3_RETRIES_DEFAULT LB_RETRIES_DEFAULT
#define LB_S3_RETRY_BASE_MS LB_RETRY_BASE_MS
#define LB_S3_RETRY_CAP_MS LB_RETRY_CAP_MS

enum lb_s3_addressing {
	LB_S3_ADDR_AUTO,  /* path-style with an endpoint, virtual-host for AWS */
	LB_S3_ADDR_PATH,  /* http://endpoint/bucket/key (IP endpoints need it) */
	LB_S3_ADDR_VHOST, /* http://bucket.endpoint/key */
};

struct lb_s3_credentials {
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL without STS */
};

/* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
 * profile AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE
 * (default ~/.aws/credentials). -ENOKEY (logged) when neither has a key. */
int lb_s3_credentials_load(struct lb_s3_credentials *ret);
/* Wipes and frees; the struct may be reused. Accepts zeroed structs. */
void lb_s3_credentials_clear(struct lb_s3_credentials *c);

struct lb_s3_config {
	const char *endpoint;   /* "http(s)://host[:port]"; NULL = AWS for region */
	const char *bucket;
	const char *region;     /* NULL = us-east-1 */
	enum lb_s3_addressing addressing;
	const struct lb_s3_credentials *creds;
	const char *ca_bundle;  /* NULL = system CAs; verification is always on */
	long connect_timeout_s; /* 0 = 10 */
	long stall_timeout_s;   /* 0 = LIFEBOAT_STALL_TIMEOUT, else 60 */
	int retries;            /* < 0: LIFEBOAT_RETRIES, else LB_S3_RETRIES_DEFAULT */
	/* Retries stop once this long has passed since a request's first
	 * attempt; 0: LIFEBOAT_RETRY_TIME, else 120 s. */
	uint64_t retry_time_ms;
	unsigned list_page;     /* 0: LIFEBOAT_LIST_PAGE, else 1000 (keys per page) */
};

struct lb_s3;

/* Copies everything it needs from cfg (secrets included). */
int lb_s3_new(const struct lb_s3_config *cfg, struct lb_s3 **ret);
void lb_s3_free(struct lb_s3 *s3);
/* Another client for the same bucket with the same configuration and
 * credentials, and its own connection: one per thread (lb_http_clone). */
int lb_s3_clone(const struct lb_s3 *s3, struct lb_s3 **ret);
/* Requests stop with -ECANCELED (not logged) while *flag is non-zero:
 * transfers in flight are aborted, retry backoffs cut short (http.h). */
void lb_s3_set_cancel(struct lb_s3 *s3, const int *flag);

/* ret_etag (malloc'ed, with its quotes) may be NULL. A missing object (or
 * bucket: a HEAD answer has no body to tell them apart) is -ENOENT and not
 * logged. */
int lb_s3_head(struct lb_s3 *s3, const char *key, uint64_t *ret_size, char **ret_etag);

/* What a HEAD tells about an object, for garbage collection. */
struct lb_s3_stat {
	uint64_t size;
	int64_t mtime; /* Last-Modified, seconds since the epoch (whole seconds) */
};

/* HEAD key: 0 with st filled, -ENOENT (not logged) when it does not exist. */
int lb_s3_stat(struct lb_s3 *s3, const char *key, struct lb_s3_stat *st);

/* The server's clock now, in seconds since the epoch: the Date header of
 * the latest answer plus the time elapsed since (it is truncated to the
 * second, so this is never ahead of the server by more than the round
 * trip). -1 before the first answer. */
int64_t lb_s3_server_time(struct lb_s3 *s3);

/* Exactly length bytes at offset into buf (which holds length bytes);
 * anything shorter or longer is an error. Returns length. */
int lb_s3_get(struct lb_s3 *s3, const char *key, uint64_t offset, size_t length, void *buf);

/* The whole object in one GET, into buf (max bytes): for objects whose
 * size is only bounded (chunks), a HEAD saved per object. -EMSGSIZE when
 * it is larger than max; -ENOENT (not logged) when it does not exist. */
int lb_s3_get_object(struct lb_s3 *s3, const char *key, void *buf, size_t max, size_t *ret_len);

/* One PUT with the body's real SHA-256 signed and Content-MD5 checked by
 * the server. */
int lb_s3_put(struct lb_s3 *s3, const char *key, const void *data, size_t len);

/* S3 answers 204 for a key that does not exist, so this does too. */
int lb_s3_delete(struct lb_s3 *s3, const char *key);
/* The same, but never sent (or retried) at or after deadline_ms
 * (CLOCK_MONOTONIC, lb_mono_ms()), and cut off by then: -ETIMEDOUT. For
 * deletes that are safe only within a window (gc, docs/FORMAT.md). */
int lb_s3_delete_by(struct lb_s3 *s3, const char *key, uint64_t deadline_ms);

/* Copy the object onto itself (CopyObject with the metadata replaced): the
 * bytes stay, the server-side copy makes Last-Modified now, and nothing
 * is uploaded. How a writer refreshes an old chunk it relies on. */
int lb_s3_touch(struct lb_s3 *s3, const char *key);

struct lb_s3_entry {
	const char *key;           /* the key, or the common prefix */
	bool is_prefix;            /* a CommonPrefixes entry (with a delimiter) */
	uint64_t size;
	const char *etag;          /* "" when absent */
	const char *last_modified; /* "" when absent */
};

/* Return < 0 to stop the listing with that value. */
typedef int (*lb_s3_list_cb)(const struct lb_s3_entry *e, void *userdata);

/* ListObjectsV2 under prefix (NULL = all), following continuation tokens;
 * delimiter NULL = flat. Returns the number of entries seen. */
int lb_s3_list(struct lb_s3 *s3, const char *prefix, const char *delimiter, lb_s3_list_cb cb,
	       void *userdata);

/* S3's error code ("SignatureDoesNotMatch", "NoSuchBucket") of the last
 * request when the server refused it; "" when it succeeded or failed
 * before an answer (a transport error, which the errno tells). For callers
 * that explain a refusal to an operator, e.g. which field to correct. */
const char *lb_s3_last_error(const struct lb_s3 *s3);

/* A presigned GET URL for key, valid for expires seconds (<= 7 days). */
int lb_s3_presign_get(struct lb_s3 *s3, const char *key, unsigned expires, char **ret_url);

/* ---- exposed for tests ---- */

struct lb_s3_error {
	char code[128];
	char message[512];
	char request_id[128];
};

/* Parse an S3 <Error> body. -EBADMSG when it is not one. */
int lb_s3_parse_error(const char *xml, size_t len, struct lb_s3_error *ret);

struct lb_s3_list_page {
	bool truncated;
	char *next_token; /* malloc'ed, NULL on the last page */
};

/* Parse one ListBucketResult page, calling cb per Contents and
 * CommonPrefixes entry in document order. Returns the entry count, or
 * -EBADMSG for malformed XML (truncated, mismatched tags, bad entities,
 * DOCTYPE, nesting or values over their ceilings), or cb's error. */
int lb_s3_parse_list(const char *xml, size_t len, lb_s3_list_cb cb, void *userdata,
		     struct lb_s3_list_page *ret);

/* "Wed, 21 Oct 2015 07:28:00 GMT" (RFC 7231 IMF-fixdate) and
 * "2015-10-21T07:28:00.000Z" (ListObjectsV2's LastModified; fractions are
 * dropped) to seconds since the epoch; -EINVAL for anything else. */
int lb_s3_parse_http_date(const char *s, int64_t *ret);
int lb_s3_parse_iso_time(const char *s, int64_t *ret);

#endif
