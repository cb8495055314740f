/* SHA-256 in hash.c: both implementations (the CPU's SHA extensions and
 * mbedTLS's portable code) against the NIST vectors, and against mbedTLS
 * itself for every length 0..2100 at every alignment 0..15, long buffers,
 * and incremental updates split at random places. With LB_HASH_SPEED=1
 * each implementation's speed is printed (build with SANITIZE=0 for a
 * figure that means anything). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/sha256.h>

#include "hash.h"
#include "tap.h"

static const struct {
	const char *msg;
	size_t repeat;
	const char *hex;
} nist[] = {
	{ "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	  1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	{ "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
};

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void reference(const uint8_t *p, size_t n, uint8_t out[32])
{
	mbedtls_sha256(p, n, out, 0);
}

static int sha_ni_available;

/* Runs body once per implementation, selected through the test hook. */
#define FOR_EACH_IMPL(...)                                                                           \
	for (int portable_ = 1; portable_ >= 0; portable_--) {                                       \
		if (!portable_ && !sha_ni_available)                                                 \
			continue;                                                                    \
		CHECK_INT(lb_sha256_select(portable_), 0);                                           \
		CHECK_STR(lb_sha256_impl(), portable_ ? "portable" : "sha-ni");                      \
		__VA_ARGS__                                                                          \
	}

TEST(nist_vectors)
{
	FOR_EACH_IMPL({
		for (size_t v = 0; v < sizeof(nist) / sizeof(nist[0]); v++) {
			size_t l = strlen(nist[v].msg), n = l * nist[v].repeat;
			uint8_t *buf = malloc(n + 1), md[32];
			char hex[65];
			struct lb_sha256_ctx *c = NULL;

			for (size_t i = 0; i < nist[v].repeat; i++)
				memcpy(buf + i * l, nist[v].msg, l);
			CHECK_INT(lb_sha256(buf, n, md), 0);
			lb_hex(md, 32, hex);
			CHECK_STR(hex, nist[v].hex);
			CHECK_INT(lb_sha256_hex(buf, n, hex), 0);
			CHECK_STR(hex, nist[v].hex);
			/* the same, fed one message at a time */
			CHECK_INT(lb_sha256_begin(&c), 0);
			for (size_t i = 0; i < nist[v].repeat; i++)
				CHECK_INT(lb_sha256_update(c, nist[v].msg, l), 0);
			CHECK_INT(lb_sha256_end(c, md), 0);
			lb_hex(md, 32, hex);
			CHECK_STR(hex, nist[v].hex);
			free(buf);
		}
	})
}

/* Every length across the padding boundaries (55, 56, 63, 64, ...) and
 * every misalignment of the input. */
TEST(every_length_and_alignment)
{
	enum { MAXLEN = 2100 };
	uint8_t *buf = malloc(MAXLEN + 16);
	int mismatches = 0;

	fill(buf, MAXLEN + 16);
	FOR_EACH_IMPL({
		for (size_t len = 0; len <= MAXLEN; len++)
			for (size_t off = 0; off < 16; off++) {
				uint8_t want[32], got[32];

				reference(buf + off, len, want);
				CHECK_INT(lb_sha256(buf + off, len, got), 0);
				if (memcmp(want, got, 32) != 0 && mismatches++ < 5)
					printf("#   %s: length %zu offset %zu differs from mbedTLS\n", lb_sha256_impl(), len, off);
			}
	})
	CHECK_INT(mismatches, 0);
	free(buf);
}

TEST(long_buffers)
{
	static const size_t lens[] = { 65536, 1048575, 1048576, 4194304, 4194304 + 37, 9000001 };
	uint8_t *buf = malloc(9000001 + 8);

	fill(buf, 9000001 + 8);
	FOR_EACH_IMPL({
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			uint8_t want[32], got[32];
			size_t off = i % 8;

			reference(buf + off, lens[i], want);
			CHECK_INT(lb_sha256(buf + off, lens[i], got), 0);
			CHECK(memcmp(want, got, 32) == 0);
		}
	})
	free(buf);
}

TEST(incremental_random_splits)
{
	enum { N = 300000 };
	uint8_t *buf = malloc(N);

	fill(buf, N);
	FOR_EACH_IMPL({
		for (int round = 0; round < 40; round++) {
			size_t len = rnd() % N, done = 0;
			uint8_t want[32], got[32];
			struct lb_sha256_ctx *c = NULL;

			reference(buf, len, want);
			CHECK_INT(lb_sha256_begin(&c), 0);
			while (done < len) {
				/* short pieces (inside one block) and long ones */
				size_t piece = rnd() % 2 ? rnd() % 70 : rnd() % 20000;

				if (piece > len - done)
					piece = len - done;
				CHECK_INT(lb_sha256_update(c, buf + done, piece), 0);
				done += piece;
			}
			CHECK_INT(lb_sha256_end(c, got), 0);
			CHECK(memcmp(want, got, 32) == 0);
		}
	})
	free(buf);
}

/* A context keeps the code it began with, so a switch cannot mix them. */
TEST(context_keeps_its_implementation)
{
	struct lb_sha256_ctx *c = NULL;
	uint8_t want[32], got[32], buf[1000];

	if (!sha_ni_available)
		return;
	fill(buf, sizeof(buf));
	reference(buf, sizeof(buf), want);
	CHECK_INT(lb_sha256_select(false), 0);
	CHECK_INT(lb_sha256_begin(&c), 0);
	CHECK_INT(lb_sha256_update(c, buf, 500), 0);
	CHECK_INT(lb_sha256_select(true), 0);
	CHECK_INT(lb_sha256_update(c, buf + 500, 500), 0);
	CHECK_INT(lb_sha256_end(c, got), 0);
	CHECK(memcmp(want, got, 32) == 0);
}

static double speed(size_t chunk, int rounds)
{
	uint8_t *buf = malloc(chunk), md[32];
	struct timespec a, b;
	double s;

	fill(buf, chunk);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < rounds; i++)
		lb_sha256(buf, chunk, md);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	free(buf);
	return (double)chunk * rounds / s / 1e6;
}

int main(void)
{
	const char *sp = getenv("LB_HASH_SPEED");

	sha_ni_available = lb_sha256_select(false) == 0;
	printf("# SHA extensions on this CPU: %s\n", sha_ni_available ? "yes" : "no (portable code only)");
	RUN(nist_vectors);
	RUN(every_length_and_alignment);
	RUN(long_buffers);
	RUN(incremental_random_splits);
	RUN(context_keeps_its_implementation);
	if (sp && *sp == '1') {
		lb_sha256_select(true);
		printf("# sha256 portable (mbedTLS): %.0f MB/s (4 MiB buffers, one core)\n", speed(4u << 20, 64));
		if (sha_ni_available) {
			lb_sha256_select(false);
			printf("# sha256 sha-ni: %.0f MB/s (4 MiB buffers, one core)\n", speed(4u << 20, 256));
		}
	}
	return tap_done();
}
