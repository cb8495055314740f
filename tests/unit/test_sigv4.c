/* SigV4 against the published AWS vectors in tests/fixtures/sigv4 (see its
 * README for where each comes from), plus the S3-specific rules. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "tap.h"
#include "util.h"

static char fixtures[4096];

static char *slurp(const char *name, const char *ext)
{
	char path[8192];
	char *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s/%s.%s", fixtures, name, name, ext);
	if (lb_read_file(path, 1 << 20, &buf) < 0) {
		printf("#   cannot read %s\n", path);
		return NULL;
	}
	return buf;
}

#define MAXP 16

struct vec {
	char *text; /* .req, cut into pieces in place */
	struct lb_sigv4_request req;
	struct lb_sigv4_pair q[MAXP], h[MAXP];
	struct lb_sigv4_creds creds;
	char payload[65];
	time_t now;
	unsigned expires;
};

/* Parse a .req file: "METHOD URI HTTP/1.1", "Name:value" lines, blank line,
 * body. Host, X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256 and
 * X-Amz-Expires feed the signer's own inputs, not the header list. */
static int parse_req(const char *name, struct vec *v)
{
	char *line, *next, *uri, *body = NULL, *qs;

	bool s3 = strncmp(name, "s3-", 3) == 0;

	memset(v, 0, sizeof(*v));
	v->text = slurp(name, "req");
	if (!v->text)
		return -ENOENT;
	v->req.region = "us-east-1";
	v->req.service = s3 ? "s3" : "service";
	v->creds.access_key = s3 ? "AKIAIOSFODNN7EXAMPLE" : "AKIDEXAMPLE";
	v->creds.secret_key = s3 ? "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
				 : "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

	line = v->text;
	next = strchr(line, '\n');
	if (next)
		*next++ = '\0';
	/* "METHOD URI HTTP/1.1"; the URI may hold a space (get-space) */
	uri = strchr(line, ' ');
	qs = strstr(line, " HTTP/1.1");
	if (!uri || !qs || qs <= uri)
		return -EINVAL;
	*uri++ = '\0';
	*qs = '\0';
	v->req.method = line;
	qs = strchr(uri, '?');
	if (qs) {
		*qs++ = '\0';
		for (char *p = strtok(qs, "&"); p; p = strtok(NULL, "&")) {
			char *eq = strchr(p, '=');

			if (eq)
				*eq++ = '\0';
			v->q[v->req.n_query].name = p;
			v->q[v->req.n_query++].value = eq;
		}
	}
	v->req.path = uri;

	for (line = next; line; line = next) {
		char *colon;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line) {
			body = next; /* after the blank line */
			break;
		}
		colon = strchr(line, ':');
		if (!colon)
			return -EINVAL;
		*colon = '\0';
		if (strcasecmp(line, "host") == 0)
			v->req.host = colon + 1;
		else if (strcasecmp(line, "x-amz-date") == 0)
			lb_sigv4_parse_time(colon + 1, &v->now);
		else if (strcasecmp(line, "x-amz-security-token") == 0)
			v->creds.session_token = colon + 1;
		else if (strcasecmp(line, "x-amz-content-sha256") == 0)
			snprintf(v->payload, sizeof(v->payload), "%s", colon + 1);
		else if (strcasecmp(line, "x-amz-expires") == 0)
			v->expires = (unsigned)atoi(colon + 1);
		else {
			v->h[v->req.n_headers].name = line;
			v->h[v->req.n_headers++].value = colon + 1;
		}
	}
	if (!v->payload[0])
		lb_sha256_hex(body ? body : "", body ? strlen(body) : 0, v->payload);
	v->req.query = v->q;
	v->req.headers = v->h;
	v->req.payload_hash = v->payload;
	return 0;
}

static void check_vector(const char *name)
{
	struct lb_sigv4_result *res = NULL;
	char *creq = slurp(name, "creq"), *sts = slurp(name, "sts"), *authz = slurp(name, "authz");
	struct vec v;
	int r;

	CHECK_INT(parse_req(name, &v), 0);
	r = lb_sigv4_sign(&v.req, &v.creds, v.now, &res);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_STR(res->canonical_request, creq);
		CHECK_STR(res->string_to_sign, sts);
		CHECK_STR(res->authorization, authz);
	}
	if (tap_case_failed)
		printf("#   vector %s\n", name);
	lb_sigv4_result_free(res);
	free(v.text);
	free(creq);
	free(sts);
	free(authz);
}

static const char *const suite[] = {
	"get-header-key-duplicate",
	"get-header-value-order",
	"get-header-value-trim",
	"get-space",
	"get-unreserved",
	"get-utf8",
	"get-vanilla",
	"get-vanilla-empty-query-key",
	"get-vanilla-query",
	"get-vanilla-query-order-key",
	"get-vanilla-query-order-key-case",
	"get-vanilla-query-order-value",
	"get-vanilla-query-unreserved",
	"get-vanilla-utf8-query",
	"post-header-key-case",
	"post-header-key-sort",
	"post-header-value-case",
	"post-sts-header-before",
	"post-vanilla",
	"post-vanilla-empty-query-value",
	"post-vanilla-query",
	"post-x-www-form-urlencoded",
	"post-x-www-form-urlencoded-parameters",
};

TEST(aws_sigv4_test_suite)
{
	for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++)
		check_vector(suite[i]);
}

TEST(s3_doc_get_object_range)
{
	check_vector("s3-get-object");
}

TEST(s3_doc_put_object)
{
	check_vector("s3-put-object");
}

TEST(s3_doc_get_bucket_lifecycle)
{
	check_vector("s3-get-bucket-lifecycle");
}

TEST(s3_doc_list_objects)
{
	check_vector("s3-list-objects");
}

TEST(s3_doc_presigned_get)
{
	const char *name = "s3-presigned-get";
	char *creq = slurp(name, "creq"), *sts = slurp(name, "sts"), *url = slurp(name, "url");
	struct lb_sigv4_result *res = NULL;
	struct vec v;
	char *got;

	CHECK_INT(parse_req(name, &v), 0);
	CHECK_INT(lb_sigv4_presign(&v.req, &v.creds, v.now, v.expires, &res), 0);
	if (res) {
		CHECK_STR(res->canonical_request, creq);
		CHECK_STR(res->string_to_sign, sts);
		CHECK(res->authorization == NULL);
		got = lb_strdupf("https://%s%s?%s", v.req.host, res->canonical_uri,
				 res->canonical_query);
		CHECK_STR(got, url);
		free(got);
	}
	lb_sigv4_result_free(res);
	free(v.text);
	free(creq);
	free(sts);
	free(url);
}

static const struct lb_sigv4_creds s3creds = {
	"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL
};

TEST(s3_keys_are_encoded_once_never_normalized)
{
	struct lb_sigv4_pair q[] = { { "prefix", "a/b c" }, { "uploads", NULL },
				     { "continuation-token", "x+y=" } };
	struct lb_sigv4_request req = {
		.method = "GET", .host = "127.0.0.1:7480", .path = "/bucket/a//b/../c%d é",
		.query = q, .n_query = 3, .payload_hash = LB_SIGV4_EMPTY_SHA256,
		.region = "us-east-1", .service = "s3",
	};
	struct lb_sigv4_result *res = NULL;

	CHECK_INT(lb_sigv4_sign(&req, &s3creds, 0, &res), 0);
	if (res) {
		CHECK_STR(res->canonical_uri, "/bucket/a//b/../c%25d%20%C3%A9");
		CHECK_STR(res->canonical_query,
			  "continuation-token=x%2By%3D&prefix=a%2Fb%20c&uploads=");
		CHECK_STR(res->signed_headers, "host;x-amz-content-sha256;x-amz-date");
		CHECK_STR(res->amz_date, "19700101T000000Z");
	}
	lb_sigv4_result_free(res);
}

TEST(s3_session_token_and_range_are_signed)
{
	struct lb_sigv4_creds c = s3creds;
	struct lb_sigv4_pair h[] = { { "Range", "bytes=0-9" } };
	struct lb_sigv4_request req = {
		.method = "GET", .host = "examplebucket.s3.amazonaws.com", .path = "/test.txt",
		.headers = h, .n_headers = 1, .payload_hash = LB_SIGV4_EMPTY_SHA256,
		.region = "us-east-1", .service = "s3",
	};
	struct lb_sigv4_result *res = NULL;

	c.session_token = "tok/en+=";
	CHECK_INT(lb_sigv4_sign(&req, &c, 1369353600, &res), 0);
	if (res) {
		CHECK_STR(res->signed_headers,
			  "host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token");
		CHECK(strstr(res->canonical_request, "\nx-amz-security-token:tok/en+=\n") != NULL);
	}
	lb_sigv4_result_free(res);

	res = NULL;
	CHECK_INT(lb_sigv4_presign(&req, &c, 1369353600, 60, &res), 0);
	if (res)
		CHECK(strstr(res->canonical_query, "X-Amz-Security-Token=tok%2Fen%2B%3D") != NULL);
	lb_sigv4_result_free(res);
}

TEST(bad_input_is_refused)
{
	struct lb_sigv4_pair crlf[] = { { "x-meta", "a\r\nInjected: 1" } };
	struct lb_sigv4_pair dup[] = { { "X-Amz-Date", "20000101T000000Z" } };
	struct lb_sigv4_request req = {
		.method = "GET", .host = "h", .path = "/", .payload_hash = LB_SIGV4_EMPTY_SHA256,
		.region = "us-east-1", .service = "s3",
	};
	struct lb_sigv4_result *res = NULL;

	req.headers = crlf, req.n_headers = 1;
	CHECK_INT(lb_sigv4_sign(&req, &s3creds, 0, &res), -EINVAL);
	req.headers = dup;
	CHECK_INT(lb_sigv4_sign(&req, &s3creds, 0, &res), -EINVAL);
	req.n_headers = 0;
	req.path = "no-slash";
	CHECK_INT(lb_sigv4_sign(&req, &s3creds, 0, &res), -EINVAL);
	req.path = "/";
	CHECK_INT(lb_sigv4_presign(&req, &s3creds, 0, 0, &res), -EINVAL);
	CHECK_INT(lb_sigv4_presign(&req, &s3creds, 0, 604801, &res), -EINVAL);
	CHECK(res == NULL);
}

TEST(test_time_seam)
{
	time_t t = 0;

	CHECK_INT(lb_sigv4_parse_time("20150830T123600Z", &t), 0);
	CHECK_INT(t, 1440938160);
	CHECK_INT(lb_sigv4_parse_time("2015-08-30T12:36:00Z", &t), -EINVAL);
	CHECK_INT(lb_sigv4_parse_time("20150830T123600", &t), -EINVAL);
	setenv("LIFEBOAT_TEST_TIME", "20130524T000000Z", 1);
	CHECK_INT(lb_sigv4_now(), 1369353600);
	unsetenv("LIFEBOAT_TEST_TIME");
	CHECK(lb_sigv4_now() > 1369353600);
}

TEST(hash_helpers)
{
	char hexs[65], b64[25];

	CHECK_INT(lb_sha256_hex("", 0, hexs), 0);
	CHECK_STR(hexs, LB_SIGV4_EMPTY_SHA256);
	CHECK_INT(lb_md5_base64("", 0, b64), 0);
	CHECK_STR(b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
}

int main(void)
{
	const char *env = getenv("LB_SIGV4_FIXTURES");
	char src[4096];

	if (env) {
		snprintf(fixtures, sizeof(fixtures), "%s", env);
	} else {
		/* the Makefile compiles tests/unit/test_sigv4.c by absolute path */
		snprintf(src, sizeof(src), "%s", __FILE__);
		snprintf(fixtures, sizeof(fixtures), "%s/../fixtures/sigv4", dirname(src));
	}
	RUN(aws_sigv4_test_suite);
	RUN(s3_doc_get_object_range);
	RUN(s3_doc_put_object);
	RUN(s3_doc_get_bucket_lifecycle);
	RUN(s3_doc_list_objects);
	RUN(s3_doc_presigned_get);
	RUN(s3_keys_are_encoded_once_never_normalized);
	RUN(s3_session_token_and_range_are_signed);
	RUN(bad_input_is_refused);
	RUN(test_time_seam);
	RUN(hash_helpers);
	return tap_done();
}
