/* AWS Signature Version 4 as a pure function: request in, Authorization
 * header (or presigned query) out. No I/O, no clock, no globals, so the
 * published AWS test vectors can check every intermediate string.
 * Hashing goes through hash.h, the one wrapper around mbedTLS. */
#ifndef LB_SIGV4_H
#define LB_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hash.h"

#define LB_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define LB_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct lb_sigv4_pair {
	const char *name;
	const char *value; /* query: NULL for a bare "?uploads" (signed as "uploads=") */
};

struct lb_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL or "" without STS credentials */
};

/* Everything the signature covers. Strings are raw (not URI-encoded): the
 * signer encodes path segments and query names/values exactly once, and
 * hands back the encoded forms so the URL sent is the URL signed. */
struct lb_sigv4_request {
	const char *method;       /* "GET", "PUT", ... */
	const char *host;         /* Host header value, with ":port" if not default */
	const char *path;         /* "/bucket/key": '/' separates segments, kept as is,
	                           * never normalized ("a//b", "." and ".." are literal
	                           * S3 key bytes) */
	const struct lb_sigv4_pair *query;
	size_t n_query;
	/* Further headers to sign (e.g. range, content-type). Names any case;
	 * values are trimmed and inner runs of spaces collapsed; repeated names
	 * are joined with ',' in the given order. host, x-amz-date,
	 * x-amz-content-sha256 and x-amz-security-token are added by the
	 * signer and refused here (-EINVAL), as are values with CR or LF. */
	const struct lb_sigv4_pair *headers;
	size_t n_headers;
	const char *payload_hash; /* hex SHA-256 of the body, or LB_SIGV4_UNSIGNED_PAYLOAD */
	const char *region;       /* "us-east-1" */
	const char *service;      /* "s3": also signs x-amz-content-sha256 */
};

struct lb_sigv4_result {
	char *canonical_uri;     /* encoded path, e.g. "/test%24file.text" */
	char *canonical_query;   /* encoded, sorted query ("" when none); for a
	                          * presigned URL this includes X-Amz-Signature */
	char *canonical_request; /* for tests and debugging; never logged */
	char *string_to_sign;
	char *signed_headers;    /* "host;x-amz-date" */
	char *authorization;     /* header value; NULL for presigned */
	char amz_date[17];       /* "20150830T123600Z": send as x-amz-date */
	char signature[65];
};

/* Header-based signing (the Authorization header). */
int lb_sigv4_sign(const struct lb_sigv4_request *req, const struct lb_sigv4_creds *creds,
		  time_t now, struct lb_sigv4_result **ret);

/* Query-string signing: a URL valid for expires seconds (1..604800) that
 * needs no headers. payload_hash is ignored (always UNSIGNED-PAYLOAD).
 * The result's canonical_query is the complete query string to send. */
int lb_sigv4_presign(const struct lb_sigv4_request *req, const struct lb_sigv4_creds *creds,
		     time_t now, unsigned expires, struct lb_sigv4_result **ret);

/* Wipes the signature material before freeing; accepts NULL. */
void lb_sigv4_result_free(struct lb_sigv4_result *r);

/* The signing clock: time(NULL), unless LIFEBOAT_TEST_TIME holds an
 * ISO 8601 basic UTC time such as 20150830T123600Z. A test seam like curl's
 * CURL_FORCETIME, so signatures in tests are golden; an unparsable value is
 * ignored with a log line rather than signing with a wrong clock silently. */
time_t lb_sigv4_now(void);

/* "20150830T123600Z" -> time_t (UTC); -EINVAL when malformed. */
int lb_sigv4_parse_time(const char *s, time_t *ret);

/* URI-encode per AWS rules: A-Za-z0-9-._~ kept, every other byte %XX
 * (uppercase); '/' kept only when keep_slash. Malloc'ed, NULL on ENOMEM. */
char *lb_sigv4_uri_encode(const char *s, int keep_slash);

#endif
