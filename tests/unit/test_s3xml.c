/* The bounded XML scanner behind S3 error bodies and ListObjectsV2 pages:
 * real-shaped answers (AWS and Ceph RGW), entities, and the malformed or
 * oversized bodies a broken or hostile server could send. Also the retry
 * jitter seam. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "s3.h"
#include "tap.h"

struct seen {
	int n;
	char keys[8][128];
	uint64_t sizes[8];
	char etags[8][64];
	int prefixes;
};

static int collect(const struct lb_s3_entry *e, void *ud)
{
	struct seen *s = ud;

	if (s->n < 8) {
		snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", e->key);
		s->sizes[s->n] = e->size;
		snprintf(s->etags[s->n], sizeof(s->etags[0]), "%s", e->etag);
	}
	s->prefixes += e->is_prefix;
	s->n++;
	return 0;
}

static int parse(const char *xml, struct seen *s, struct lb_s3_list_page *page)
{
	memset(s, 0, sizeof(*s));
	return lb_s3_parse_list(xml, strlen(xml), collect, s, page);
}

TEST(error_body_aws)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we "
		"calculated does not match the signature you provided. Check your key and signing "
		"method.</Message><AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId>"
		"<StringToSign>AWS4-HMAC-SHA256&#10;20130524T000000Z</StringToSign>"
		"<RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>";
	struct lb_s3_error e;

	CHECK_INT(lb_s3_parse_error(xml, strlen(xml), &e), 0);
	CHECK_STR(e.code, "SignatureDoesNotMatch");
	CHECK(strncmp(e.message, "The request signature", 21) == 0);
	CHECK_STR(e.request_id, "4442587FB7D0A2F9");
}

TEST(error_body_rgw)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>"
		"<Message></Message><BucketName>nope</BucketName>"
		"<RequestId>tx00000a1b2c3d4e5f-0065-1234-default</RequestId>"
		"<HostId>1234-default-default</HostId></Error>";
	struct lb_s3_error e;

	CHECK_INT(lb_s3_parse_error(xml, strlen(xml), &e), 0);
	CHECK_STR(e.code, "NoSuchBucket");
	CHECK_STR(e.message, "");
	CHECK_STR(e.request_id, "tx00000a1b2c3d4e5f-0065-1234-default");
}

TEST(error_body_refused_when_not_an_error)
{
	struct lb_s3_error e;
	static const char *const bad[] = {
		"",
		"<html><body>502 Bad Gateway</body></html>",
		"<Error><Message>no code</Message></Error>",
		"<Error><Code>Truncated</Code>",
		"Service Unavailable",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(lb_s3_parse_error(bad[i], strlen(bad[i]), &e), -EBADMSG);
		CHECK_STR(e.code, "");
	}
}

TEST(list_page_with_entities_and_prefixes)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
		"  <Name>bucket</Name><Prefix>a/</Prefix><KeyCount>3</KeyCount>\n"
		"  <MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>\n"
		"  <!-- a comment -->\n"
		"  <Contents>\n"
		"    <Key>a/x&amp;y&lt;z&gt;&quot;q&quot;&apos;</Key>\n"
		"    <LastModified>2024-01-02T03:04:05.000Z</LastModified>\n"
		"    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>\n"
		"    <Size>18446744073709551615</Size><StorageClass>STANDARD</StorageClass>\n"
		"  </Contents>\n"
		"  <Contents><Key>a/&#233;&#x1F600;</Key><Size>0</Size><Owner><ID>x</ID></Owner></Contents>\n"
		"  <CommonPrefixes><Prefix>a/sub/</Prefix></CommonPrefixes>\n"
		"  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
		"</ListBucketResult>\n";
	struct lb_s3_list_page page;
	struct seen s;

	CHECK_INT(parse(xml, &s, &page), 3);
	CHECK(page.truncated);
	CHECK_STR(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	CHECK_STR(s.keys[0], "a/x&y<z>\"q\"'");
	CHECK(s.sizes[0] == UINT64_MAX);
	CHECK_STR(s.etags[0], "\"9b2cf535f27731c974343645a3985328\"");
	CHECK_STR(s.keys[1], "a/\xc3\xa9\xf0\x9f\x98\x80");
	CHECK_INT(s.sizes[1], 0);
	CHECK_STR(s.keys[2], "a/sub/");
	CHECK_INT(s.prefixes, 1);
	free(page.next_token);
}

TEST(list_last_page_and_empty_listing)
{
	struct lb_s3_list_page page;
	struct seen s;

	CHECK_INT(parse("<ListBucketResult><IsTruncated>false</IsTruncated>"
			"<Contents><Key>k</Key><Size>5</Size></Contents></ListBucketResult>",
			&s, &page),
		  1);
	CHECK(!page.truncated);
	CHECK(page.next_token == NULL);
	CHECK_INT(parse("<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>"
			"<IsTruncated>false</IsTruncated><Prefix/></ListBucketResult>",
			&s, &page),
		  0);
}

static int stop_at_two(const struct lb_s3_entry *e, void *ud)
{
	(void)e;
	return ++*(int *)ud == 2 ? -ECANCELED : 0;
}

TEST(list_callback_stops_the_walk)
{
	static const char xml[] = "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>"
				  "<Contents><Key>b</Key><Size>1</Size></Contents>"
				  "<Contents><Key>c</Key><Size>1</Size></Contents></ListBucketResult>";
	struct lb_s3_list_page page;
	int n = 0;

	CHECK_INT(lb_s3_parse_list(xml, strlen(xml), stop_at_two, &n, &page), -ECANCELED);
	CHECK_INT(n, 2);
}

TEST(malformed_listings_are_refused)
{
	static const char *const bad[] = {
		"",
		"   ",
		"<ListBucketResult>",                                          /* truncated */
		"<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>", /* cut */
		"<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Content></ListBucketResult>",
		"<ListBucketResult></ListBucketResultX>",
		"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", /* no key */
		"<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>", /* no size */
		"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>18446744073709551616</Size></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>1x</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a & b</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>&#0;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>&#xD800;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>&#x110000;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>&#;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>&#x;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<?xml version=\"1.0\"?><!DOCTYPE lol [<!ENTITY lol \"lol\">]><ListBucketResult>&lol;"
		"</ListBucketResult>",
		"<ListBucketResult><Key><![CDATA[x]]></Key></ListBucketResult>",
		"<ListBucketResult/><ListBucketResult/>",                       /* two roots */
		"text<ListBucketResult/>",
		"<ListBucketResult a=\"1></ListBucketResult>",
		"<ListBucketResult a=1></ListBucketResult>",
		"<Error><Code>x</Code></Error>",                                /* wrong root */
		"<ListBucketResult><Key>a\001b</Key></ListBucketResult>",      /* control char */
		"<1ListBucketResult/>",
		"<ListBucketResult><!-- unterminated </ListBucketResult>",
	};
	struct lb_s3_list_page page;
	struct seen s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &s, &page);

		if (r != -EBADMSG)
			printf("#   case %zu: %d\n", i, r);
		CHECK_INT(r, -EBADMSG);
		CHECK(page.next_token == NULL);
	}
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *p = s;

	memcpy(p, head, hl), p += hl;
	for (size_t i = 0; i < n; i++)
		memcpy(p, unit, ul), p += ul;
	memcpy(p, tail, tl + 1);
	return s;
}

TEST(oversized_values_and_nesting_are_refused)
{
	struct lb_s3_list_page page;
	struct seen s;
	char *x;

	/* a 64 KiB key: over the value ceiling */
	x = repeat("<ListBucketResult><Contents><Key>", "k", 65536,
		   "</Key><Size>1</Size></Contents></ListBucketResult>");
	CHECK_INT(parse(x, &s, &page), -EBADMSG);
	free(x);
	/* a long element name */
	x = repeat("<ListBucketResult><", "N", 200, "/></ListBucketResult>");
	CHECK_INT(parse(x, &s, &page), -EBADMSG);
	free(x);
	/* deep nesting */
	x = repeat("<ListBucketResult>", "<a>", 100, "");
	CHECK_INT(parse(x, &s, &page), -EBADMSG);
	free(x);
	/* a 1 KiB key is fine */
	x = repeat("<ListBucketResult><Contents><Key>", "k", 1024,
		   "</Key><Size>1</Size></Contents></ListBucketResult>");
	CHECK_INT(parse(x, &s, &page), 1);
	CHECK_INT(strlen(s.keys[0]), 127);
	free(x);
	/* many entries in one page are fine: the page buffer is the ceiling */
	x = repeat("<ListBucketResult>", "<Contents><Key>k</Key><Size>1</Size></Contents>", 5000,
		   "</ListBucketResult>");
	CHECK_INT(parse(x, &s, &page), 5000);
	free(x);
}

TEST(backoff_is_bounded_and_seeded)
{
	uint64_t a, b;
	unsigned first[8];

	setenv("LIFEBOAT_TEST_SEED", "42", 1);
	a = lb_backoff_seed();
	b = lb_backoff_seed();
	CHECK(a == 42 && b == 42);
	for (unsigned i = 0; i < 8; i++)
		first[i] = lb_backoff_ms(i, LB_S3_RETRY_BASE_MS, LB_S3_RETRY_CAP_MS, &a);
	for (unsigned i = 0; i < 8; i++)
		CHECK_INT(lb_backoff_ms(i, LB_S3_RETRY_BASE_MS, LB_S3_RETRY_CAP_MS, &b), first[i]); /* deterministic */
	for (unsigned i = 0; i < 64; i++) {
		unsigned ceiling = i >= 7 ? LB_S3_RETRY_CAP_MS : LB_S3_RETRY_BASE_MS << i;

		if (ceiling > LB_S3_RETRY_CAP_MS)
			ceiling = LB_S3_RETRY_CAP_MS;
		for (int k = 0; k < 50; k++)
			CHECK(lb_backoff_ms(i, LB_S3_RETRY_BASE_MS, LB_S3_RETRY_CAP_MS, &a) <= ceiling);
	}
	unsetenv("LIFEBOAT_TEST_SEED");
}

/* LIFEBOAT_RETRIES, LIFEBOAT_RETRY_TIME, LIFEBOAT_STALL_TIMEOUT: taken,
 * defaulted, refused when they are not numbers; the time budget ends the
 * retries however many are left. */
TEST(retry_policy)
{
	struct lb_retry_policy p;
	uint64_t rng = 1, t0;
	long stall = 0;

	unsetenv("LIFEBOAT_RETRIES");
	unsetenv("LIFEBOAT_RETRY_TIME");
	unsetenv("LIFEBOAT_STALL_TIMEOUT");
	CHECK_INT(lb_retry_policy_env(&p), 0);
	CHECK_INT(p.retries, LB_RETRIES_DEFAULT);
	CHECK(p.budget_ms == LB_RETRY_TIME_DEFAULT_MS);
	CHECK_INT(lb_stall_timeout_env(&stall), 0);
	CHECK_INT(stall, LB_STALL_TIMEOUT_DEFAULT_S);
	setenv("LIFEBOAT_RETRIES", "3", 1);
	setenv("LIFEBOAT_RETRY_TIME", "0.5", 1);
	setenv("LIFEBOAT_STALL_TIMEOUT", "2", 1);
	CHECK_INT(lb_retry_policy_env(&p), 0);
	CHECK_INT(p.retries, 3);
	CHECK(p.budget_ms == 500);
	CHECK_INT(lb_stall_timeout_env(&stall), 0);
	CHECK_INT(stall, 2);
	setenv("LIFEBOAT_RETRY_TIME", "2m", 1);
	CHECK_INT(lb_retry_policy_env(&p), -EINVAL);
	setenv("LIFEBOAT_RETRY_TIME", "-1", 1);
	CHECK_INT(lb_retry_policy_env(&p), -EINVAL);
	setenv("LIFEBOAT_RETRY_TIME", "0.5", 1);
	setenv("LIFEBOAT_RETRIES", "lots", 1);
	CHECK_INT(lb_retry_policy_env(&p), -EINVAL);
	setenv("LIFEBOAT_STALL_TIMEOUT", "0", 1);
	CHECK_INT(lb_stall_timeout_env(&stall), -EINVAL);
	/* 100 retries allowed, 300 ms of budget: the budget ends them */
	p.retries = 100;
	p.budget_ms = 300;
	t0 = lb_mono_ms();
	for (int attempt = 0; attempt < 100; attempt++)
		if (!lb_retry_wait(&p, attempt, t0, &rng, NULL, "test", NULL))
			break;
	CHECK(lb_mono_ms() - t0 >= 300 && lb_mono_ms() - t0 < 1000);
	/* and the count ends them when there is time left */
	p.retries = 2;
	p.budget_ms = 60000;
	CHECK(lb_retry_wait(&p, 1, lb_mono_ms(), &rng, NULL, "test", "HTTP 503"));
	CHECK(!lb_retry_wait(&p, 2, lb_mono_ms(), &rng, NULL, "test", "HTTP 503"));
	unsetenv("LIFEBOAT_RETRIES");
	unsetenv("LIFEBOAT_RETRY_TIME");
	unsetenv("LIFEBOAT_STALL_TIMEOUT");
}

/* The times gc and writers compare: Date/Last-Modified and LastModified. */
TEST(answer_times)
{
	int64_t t = 0;

	CHECK_INT(lb_s3_parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT", &t), 0);
	CHECK_INT(t, 1445412480);
	CHECK_INT(lb_s3_parse_iso_time("2015-10-21T07:28:00.000Z", &t), 0);
	CHECK_INT(t, 1445412480);
	CHECK_INT(lb_s3_parse_iso_time("2015-10-21T07:28:00Z", &t), 0);
	CHECK_INT(t, 1445412480);
	CHECK_INT(lb_s3_parse_http_date("Wed, 21 Oct 2015 07:28:00 UTC", &t), -EINVAL);
	CHECK_INT(lb_s3_parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT trailing", &t), -EINVAL);
	CHECK_INT(lb_s3_parse_http_date("", &t), -EINVAL);
	CHECK_INT(lb_s3_parse_iso_time("2015-10-21T07:28:00.Z", &t), -EINVAL);
	CHECK_INT(lb_s3_parse_iso_time("2015-10-21T07:28:00+02:00", &t), -EINVAL);
	CHECK_INT(lb_s3_parse_iso_time("", &t), -EINVAL);
}

int main(void)
{
	RUN(error_body_aws);
	RUN(error_body_rgw);
	RUN(error_body_refused_when_not_an_error);
	RUN(list_page_with_entities_and_prefixes);
	RUN(list_last_page_and_empty_listing);
	RUN(list_callback_stops_the_walk);
	RUN(malformed_listings_are_refused);
	RUN(oversized_values_and_nesting_are_refused);
	RUN(backoff_is_bounded_and_seeded);
	RUN(retry_policy);
	RUN(answer_times);
	return tap_done();
}
