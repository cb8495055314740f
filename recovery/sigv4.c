/* AWS Signature Version 4. See sigv4.h; the algorithm is AWS's "Create a
 * signed AWS API request" and the S3 variants ("Signature Calculations for
 * the Authorization Header", "Authenticating Requests: Using Query
 * Parameters"). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "sigv4.h"
#include "util.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* ---- a growable string; an allocation failure sticks until the end ---- */

struct sb {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_addn(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

/* Hands the string over (never NULL unless out of memory). */
static char *sb_take(struct sb *b)
{
	if (!b->oom && !b->p)
		sb_addn(b, "", 0);
	if (b->oom) {
		free(b->p);
		b->p = NULL;
	}
	return b->p;
}

static bool unreserved(unsigned char c)
{
	/* not isalnum(): the set must not depend on the locale */
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

static void sb_encode(struct sb *b, const char *s, bool keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			sb_addn(b, (const char *)p, 1);
		} else {
			char e[3] = { '%', digits[*p >> 4], digits[*p & 15] };

			sb_addn(b, e, 3);
		}
	}
}

char *lb_sigv4_uri_encode(const char *s, int keep_slash)
{
	struct sb b = { 0 };

	sb_encode(&b, s, keep_slash);
	return sb_take(&b);
}

/* ---- clock ---- */

int lb_sigv4_parse_time(const char *s, time_t *ret)
{
	struct tm tm = { 0 };
	const char *end;
	time_t t;

	if (!s || strlen(s) != 16)
		return -EINVAL;
	end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret = t;
	return 0;
}

time_t lb_sigv4_now(void)
{
	const char *v = getenv("LIFEBOAT_TEST_TIME");
	time_t t;

	if (v && *v) {
		if (lb_sigv4_parse_time(v, &t) == 0)
			return t;
		lb_log("LIFEBOAT_TEST_TIME=%s is not like 20150830T123600Z; using the real clock", v);
	}
	return time(NULL);
}

/* ---- canonical request ---- */

struct kv {
	char *name;
	char *value;
	size_t order; /* keeps repeated headers in the order given */
};

static void kv_free(struct kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->value && y->value) {
		c = strcmp(x->value, y->value);
		if (c)
			return c;
	}
	return x->order < y->order ? -1 : x->order > y->order;
}

static int kv_cmp_stable(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Lowercase name; value trimmed, runs of blanks collapsed to one space. */
static int header_kv(const char *name, const char *value, size_t order, struct kv *ret)
{
	size_t n = strlen(value), o = 0;
	char *v;

	if (!*name || strpbrk(name, "\r\n: \t") || strpbrk(value, "\r\n"))
		return -EINVAL;
	ret->name = strdup(name);
	v = malloc(n + 1);
	if (!ret->name || !v) {
		free(ret->name);
		ret->name = NULL;
		free(v);
		return -ENOMEM;
	}
	for (char *p = ret->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (size_t i = 0; i < n; i++) {
		bool blank = value[i] == ' ' || value[i] == '\t';

		if (blank && (o == 0 || v[o - 1] == ' '))
			continue;
		v[o++] = blank ? ' ' : value[i];
	}
	while (o > 0 && v[o - 1] == ' ')
		o--;
	v[o] = '\0';
	ret->value = v;
	ret->order = order;
	return 0;
}

static bool reserved_header(const char *lname)
{
	return strcmp(lname, "host") == 0 || strcmp(lname, "x-amz-date") == 0 ||
	       strcmp(lname, "x-amz-content-sha256") == 0 ||
	       strcmp(lname, "x-amz-security-token") == 0 || strcmp(lname, "authorization") == 0;
}

static bool has_token(const struct lb_sigv4_creds *c)
{
	return c->session_token && *c->session_token;
}

void lb_sigv4_result_free(struct lb_sigv4_result *r)
{
	if (!r)
		return;
	/* The presigned query and the Authorization value are bearer
	 * credentials until they expire. */
	if (r->canonical_query)
		explicit_bzero(r->canonical_query, strlen(r->canonical_query));
	if (r->authorization)
		explicit_bzero(r->authorization, strlen(r->authorization));
	free(r->canonical_uri);
	free(r->canonical_query);
	free(r->canonical_request);
	free(r->string_to_sign);
	free(r->signed_headers);
	free(r->authorization);
	explicit_bzero(r, sizeof(*r));
	free(r);
}

static int signing_key(const char *secret, const char *date, const char *region,
		       const char *service, uint8_t ret_key[32])
{
	struct sb k = { 0 };
	uint8_t a[32], b[32];
	char *key;
	int r;

	sb_add(&k, "AWS4");
	sb_add(&k, secret);
	key = sb_take(&k);
	if (!key)
		return -ENOMEM;
	r = lb_hmac_sha256(key, strlen(key), date, strlen(date), a);
	if (r == 0)
		r = lb_hmac_sha256(a, 32, region, strlen(region), b);
	if (r == 0)
		r = lb_hmac_sha256(b, 32, service, strlen(service), a);
	if (r == 0)
		r = lb_hmac_sha256(a, 32, "aws4_request", 12, ret_key);
	explicit_bzero(key, strlen(key));
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	free(key);
	return r;
}

static int do_sign(const struct lb_sigv4_request *req, const struct lb_sigv4_creds *creds,
		   time_t now, unsigned expires, bool presign, struct lb_sigv4_result **ret)
{
	struct lb_sigv4_result *res = NULL;
	struct kv *q = NULL, *h = NULL;
	size_t nq = 0, nh = 0;
	struct sb b = { 0 };
	char date[9], scope_buf[256], hash[65], expires_s[16];
	const char *payload;
	uint8_t key[32] = { 0 }, mac[32];
	struct tm tm;
	bool s3;
	int r;

	if (!req->method || !req->host || !*req->host || !req->path || !req->region ||
	    !req->service || !creds->access_key || !*creds->access_key || !creds->secret_key ||
	    (!presign && !req->payload_hash) || (presign && (expires < 1 || expires > 604800)))
		return -EINVAL;
	if (!gmtime_r(&now, &tm))
		return -EINVAL;
	s3 = strcmp(req->service, "s3") == 0;
	payload = presign ? LB_SIGV4_UNSIGNED_PAYLOAD : req->payload_hash;

	res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	strftime(res->amz_date, sizeof(res->amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, res->amz_date, 8);
	date[8] = '\0';
	if (snprintf(scope_buf, sizeof(scope_buf), "%s/%s/%s/aws4_request", date, req->region,
		     req->service) >= (int)sizeof(scope_buf)) {
		r = -EINVAL;
		goto fail;
	}

	/* Canonical URI: each segment encoded once, '/' kept, nothing
	 * normalized, an empty path is "/". */
	if (req->path[0] != '/' && req->path[0] != '\0') {
		r = -EINVAL;
		goto fail;
	}
	res->canonical_uri = lb_sigv4_uri_encode(req->path[0] ? req->path : "/", 1);
	if (!res->canonical_uri) {
		r = -ENOMEM;
		goto fail;
	}

	/* Headers: the ones we always sign, then the caller's. */
	h = calloc(req->n_headers + 4, sizeof(*h));
	if (!h) {
		r = -ENOMEM;
		goto fail;
	}
	r = header_kv("host", req->host, nh, &h[nh]);
	if (r < 0)
		goto fail;
	nh++;
	if (!presign) {
		r = header_kv("x-amz-date", res->amz_date, nh, &h[nh]);
		if (r < 0)
			goto fail;
		nh++;
		/* S3 requires the payload hash as a header and signs it;
		 * other services (the generic test suite) do not. */
		if (s3) {
			r = header_kv("x-amz-content-sha256", payload, nh, &h[nh]);
			if (r < 0)
				goto fail;
			nh++;
		}
		if (has_token(creds)) {
			r = header_kv("x-amz-security-token", creds->session_token, nh, &h[nh]);
			if (r < 0)
				goto fail;
			nh++;
		}
	}
	for (size_t i = 0; i < req->n_headers; i++) {
		if (!req->headers[i].name || !req->headers[i].value) {
			r = -EINVAL;
			goto fail;
		}
		r = header_kv(req->headers[i].name, req->headers[i].value, nh, &h[nh]);
		if (r < 0)
			goto fail;
		nh++;
		if (reserved_header(h[nh - 1].name)) {
			r = -EINVAL;
			goto fail;
		}
	}
	qsort(h, nh, sizeof(*h), kv_cmp_stable);
	for (size_t i = 0; i < nh; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0)
			continue;
		if (i > 0)
			sb_add(&b, ";");
		sb_add(&b, h[i].name);
	}
	res->signed_headers = sb_take(&b);
	memset(&b, 0, sizeof(b));
	if (!res->signed_headers) {
		r = -ENOMEM;
		goto fail;
	}

	/* Query: encoded names and values, sorted by name then value. */
	q = calloc(req->n_query + 6, sizeof(*q));
	if (!q) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < req->n_query + (presign ? 6 : 0); i++) {
		const char *name, *value;
		char cred[512];

		if (i < req->n_query) {
			name = req->query[i].name;
			value = req->query[i].value ? req->query[i].value : "";
			if (!name || !*name) {
				r = -EINVAL;
				goto fail;
			}
		} else {
			switch (i - req->n_query) {
			case 0:
				name = "X-Amz-Algorithm", value = ALGORITHM;
				break;
			case 1:
				snprintf(cred, sizeof(cred), "%s/%s", creds->access_key, scope_buf);
				name = "X-Amz-Credential", value = cred;
				break;
			case 2:
				name = "X-Amz-Date", value = res->amz_date;
				break;
			case 3:
				snprintf(expires_s, sizeof(expires_s), "%u", expires);
				name = "X-Amz-Expires", value = expires_s;
				break;
			case 4:
				name = "X-Amz-SignedHeaders", value = res->signed_headers;
				break;
			default:
				if (!has_token(creds))
					continue;
				name = "X-Amz-Security-Token", value = creds->session_token;
				break;
			}
		}
		q[nq].name = lb_sigv4_uri_encode(name, 0);
		q[nq].value = lb_sigv4_uri_encode(value, 0);
		q[nq].order = nq;
		nq++;
		if (!q[nq - 1].name || !q[nq - 1].value) {
			r = -ENOMEM;
			goto fail;
		}
	}
	qsort(q, nq, sizeof(*q), kv_cmp);
	for (size_t i = 0; i < nq; i++) {
		if (i > 0)
			sb_add(&b, "&");
		sb_add(&b, q[i].name);
		sb_add(&b, "=");
		sb_add(&b, q[i].value);
	}
	res->canonical_query = sb_take(&b);
	memset(&b, 0, sizeof(b));
	if (!res->canonical_query) {
		r = -ENOMEM;
		goto fail;
	}

	/* The canonical request. */
	sb_add(&b, req->method);
	sb_add(&b, "\n");
	sb_add(&b, res->canonical_uri);
	sb_add(&b, "\n");
	sb_add(&b, res->canonical_query);
	sb_add(&b, "\n");
	for (size_t i = 0; i < nh; i++) {
		bool first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
		bool last = i + 1 == nh || strcmp(h[i].name, h[i + 1].name) != 0;

		if (first) {
			sb_add(&b, h[i].name);
			sb_add(&b, ":");
		} else {
			sb_add(&b, ",");
		}
		sb_add(&b, h[i].value);
		if (last)
			sb_add(&b, "\n");
	}
	sb_add(&b, "\n");
	sb_add(&b, res->signed_headers);
	sb_add(&b, "\n");
	sb_add(&b, payload);
	res->canonical_request = sb_take(&b);
	memset(&b, 0, sizeof(b));
	if (!res->canonical_request) {
		r = -ENOMEM;
		goto fail;
	}

	r = lb_sha256_hex(res->canonical_request, strlen(res->canonical_request), hash);
	if (r < 0)
		goto fail;
	sb_add(&b, ALGORITHM "\n");
	sb_add(&b, res->amz_date);
	sb_add(&b, "\n");
	sb_add(&b, scope_buf);
	sb_add(&b, "\n");
	sb_add(&b, hash);
	res->string_to_sign = sb_take(&b);
	memset(&b, 0, sizeof(b));
	if (!res->string_to_sign) {
		r = -ENOMEM;
		goto fail;
	}

	r = signing_key(creds->secret_key, date, req->region, req->service, key);
	if (r < 0)
		goto fail;
	r = lb_hmac_sha256(key, sizeof(key), res->string_to_sign, strlen(res->string_to_sign), mac);
	if (r < 0)
		goto fail;
	lb_hex(mac, sizeof(mac), res->signature);

	if (presign) {
		char *qs;

		sb_add(&b, res->canonical_query);
		sb_add(&b, "&X-Amz-Signature=");
		sb_add(&b, res->signature);
		qs = sb_take(&b);
		if (!qs) {
			r = -ENOMEM;
			goto fail;
		}
		free(res->canonical_query);
		res->canonical_query = qs;
	} else {
		sb_add(&b, ALGORITHM " Credential=");
		sb_add(&b, creds->access_key);
		sb_add(&b, "/");
		sb_add(&b, scope_buf);
		sb_add(&b, ", SignedHeaders=");
		sb_add(&b, res->signed_headers);
		sb_add(&b, ", Signature=");
		sb_add(&b, res->signature);
		res->authorization = sb_take(&b);
		if (!res->authorization) {
			r = -ENOMEM;
			goto fail;
		}
	}
	explicit_bzero(key, sizeof(key));
	explicit_bzero(mac, sizeof(mac));
	kv_free(q, nq);
	kv_free(h, nh);
	*ret = res;
	return 0;

fail:
	explicit_bzero(key, sizeof(key));
	free(b.p);
	kv_free(q, nq);
	kv_free(h, nh);
	lb_sigv4_result_free(res);
	return r;
}

int lb_sigv4_sign(const struct lb_sigv4_request *req, const struct lb_sigv4_creds *creds,
		  time_t now, struct lb_sigv4_result **ret)
{
	return do_sign(req, creds, now, 0, false, ret);
}

int lb_sigv4_presign(const struct lb_sigv4_request *req, const struct lb_sigv4_creds *creds,
		     time_t now, unsigned expires, struct lb_sigv4_result **ret)
{
	return do_sign(req, creds, now, expires, true, ret);
}
