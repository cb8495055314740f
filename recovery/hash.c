/* Hashes through mbedTLS (its negative error codes end here, logged once)
 * and hex helpers. SHA-256 has a second implementation here, on the CPU's
 * SHA extensions (x86 SHA-NI): mbedTLS 3.6 has none for x86, and its
 * portable code (~130 MB/s) would bound every restore and backup, which
 * hash each chunk. The choice is made once, by CPUID; mbedTLS remains the
 * fallback and the reference the unit tests compare against. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/md5.h>
#include <mbedtls/sha256.h>

#include "hash.h"
#include "util.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ---- SHA-256 on the SHA extensions ---- */

#ifdef HAVE_SHA_NI
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* n 64-byte blocks into state. The SHA instructions keep the state as
 * ABEF and CDGH words; the message schedule runs four words at a time in
 * a ring of four registers (W[t-16..t-13] .. W[t-4..t-1]). */
__attribute__((target("sha,sse4.1"))) static void ni_blocks(uint32_t state[8], const uint8_t *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i s0, s1, t;

	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xb1); /* B A D C */
	s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1b); /* H G F E */
	s0 = _mm_alignr_epi8(t, s1, 8);      /* F E B A */
	s1 = _mm_blend_epi16(s1, t, 0xf0);   /* H G D C */
	for (; n > 0; n--, p += 64) {
		__m128i save0 = s0, save1 = s1, w[4];

#pragma GCC unroll 16
		for (int g = 0; g < 16; g++) {
			__m128i m, k;

			if (g < 4) {
				m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
			} else {
				m = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
				m = _mm_add_epi32(m, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
				m = _mm_sha256msg2_epu32(m, w[(g + 3) & 3]);
			}
			w[g & 3] = m;
			k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, k);
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(k, 0x0e));
		}
		s0 = _mm_add_epi32(s0, save0);
		s1 = _mm_add_epi32(s1, save1);
	}
	t = _mm_shuffle_epi32(s0, 0x1b);     /* A B E F */
	s1 = _mm_shuffle_epi32(s1, 0xb1);    /* G H C D */
	_mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(t, s1, 0xf0)); /* A B C D */
	_mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(s1, t, 8));    /* E F G H */
}

static bool cpu_has_sha_ni(void)
{
	unsigned a, b, c, d;

	/* SSSE3 (pshufb, palignr), SSE4.1 (pblendw), SHA */
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
		return false;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}
#endif

enum { IMPL_UNKNOWN, IMPL_PORTABLE, IMPL_NI };
static int impl_chosen; /* read and written atomically: workers hash in threads */

static int impl(void)
{
	int v = __atomic_load_n(&impl_chosen, __ATOMIC_RELAXED);

	if (v == IMPL_UNKNOWN) {
		const char *e = getenv("LIFEBOAT_SHA256");

		v = IMPL_PORTABLE;
#ifdef HAVE_SHA_NI
		if (!(e && strcmp(e, "portable") == 0) && cpu_has_sha_ni())
			v = IMPL_NI;
#else
		(void)e;
#endif
		/* every thread that races here computes the same answer */
		__atomic_store_n(&impl_chosen, v, __ATOMIC_RELAXED);
	}
	return v;
}

const char *lb_sha256_impl(void)
{
	return impl() == IMPL_NI ? "sha-ni" : "portable";
}

int lb_sha256_select(bool portable)
{
	int v = IMPL_PORTABLE;

#ifdef HAVE_SHA_NI
	if (!portable && !cpu_has_sha_ni())
		return -ENOTSUP;
	if (!portable)
		v = IMPL_NI;
#else
	if (!portable)
		return -ENOTSUP;
#endif
	__atomic_store_n(&impl_chosen, v, __ATOMIC_RELAXED);
	return 0;
}

struct lb_sha256_ctx {
	bool ni;
	mbedtls_sha256_context c; /* portable */
	uint32_t h[8];            /* SHA-NI: state, pending bytes, length */
	uint8_t buf[64];
	size_t n;
	uint64_t total;
};

static void ctx_init(struct lb_sha256_ctx *c)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memset(c, 0, sizeof(*c));
	c->ni = impl() == IMPL_NI;
	memcpy(c->h, iv, sizeof(iv));
	mbedtls_sha256_init(&c->c);
}

static int ctx_start(struct lb_sha256_ctx *c)
{
	ctx_init(c);
	/* mbedtls_sha256_* only fail on bad parameters */
	return c->ni || mbedtls_sha256_starts(&c->c, 0) == 0 ? 0 : -EINVAL;
}

static int ctx_update(struct lb_sha256_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!c->ni)
		return mbedtls_sha256_update(&c->c, data, len) == 0 ? 0 : -EINVAL;
#ifdef HAVE_SHA_NI
	c->total += len;
	if (c->n > 0) {
		size_t take = 64 - c->n < len ? 64 - c->n : len;

		memcpy(c->buf + c->n, p, take);
		c->n += take;
		p += take;
		len -= take;
		if (c->n < 64)
			return 0;
		ni_blocks(c->h, c->buf, 1);
		c->n = 0;
	}
	if (len >= 64) {
		ni_blocks(c->h, p, len / 64);
		p += len & ~(size_t)63;
		len &= 63;
	}
	memcpy(c->buf, p, len);
	c->n = len;
#endif
	return 0;
}

static int ctx_finish(struct lb_sha256_ctx *c, uint8_t out[32])
{
	if (!c->ni)
		return mbedtls_sha256_finish(&c->c, out) == 0 ? 0 : -EINVAL;
#ifdef HAVE_SHA_NI
	{
		uint64_t bits = c->total * 8;

		c->buf[c->n++] = 0x80;
		if (c->n > 56) {
			memset(c->buf + c->n, 0, 64 - c->n);
			ni_blocks(c->h, c->buf, 1);
			c->n = 0;
		}
		memset(c->buf + c->n, 0, 56 - c->n);
		for (int i = 0; i < 8; i++)
			c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
		ni_blocks(c->h, c->buf, 1);
		for (int i = 0; i < 8; i++) {
			out[4 * i] = (uint8_t)(c->h[i] >> 24);
			out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
			out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
			out[4 * i + 3] = (uint8_t)c->h[i];
		}
	}
#endif
	return 0;
}

int lb_sha256(const void *data, size_t len, uint8_t ret[32])
{
	struct lb_sha256_ctx c;
	int r = ctx_start(&c);

	if (r == 0)
		r = ctx_update(&c, data, len);
	if (r == 0)
		r = ctx_finish(&c, ret);
	mbedtls_sha256_free(&c.c);
	return r;
}

int lb_sha256_begin(struct lb_sha256_ctx **ret)
{
	struct lb_sha256_ctx *c = malloc(sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = ctx_start(c);
	if (r < 0) {
		lb_sha256_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int lb_sha256_update(struct lb_sha256_ctx *c, const void *data, size_t len)
{
	return ctx_update(c, data, len);
}

int lb_sha256_end(struct lb_sha256_ctx *c, uint8_t ret[32])
{
	int r = ctx_finish(c, ret);

	lb_sha256_free(c);
	return r;
}

void lb_sha256_free(struct lb_sha256_ctx *c)
{
	if (!c)
		return;
	mbedtls_sha256_free(&c->c);
	free(c);
}

void lb_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int lb_unhex(const char *in, uint8_t *out, size_t n)
{
	if (strlen(in) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int lb_sha256_hex(const void *data, size_t len, char ret_hex[65])
{
	uint8_t md[32];
	int r = lb_sha256(data, len, md);

	if (r < 0) {
		lb_log("sha256: %s", strerror(-r));
		return r;
	}
	lb_hex(md, sizeof(md), ret_hex);
	return 0;
}

int lb_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t ret_mac[32])
{
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	int r;

	if (!info) {
		lb_log("hmac-sha256: SHA-256 missing from mbedTLS");
		return -ENOSYS;
	}
	r = mbedtls_md_hmac(info, key, key_len, data, len, ret_mac);
	if (r != 0) {
		lb_log("hmac-sha256: mbedTLS error -0x%04x", (unsigned)-r);
		return -EIO;
	}
	return 0;
}

int lb_md5_base64(const void *data, size_t len, char ret_b64[25])
{
	uint8_t md[16];
	size_t olen;
	int r = mbedtls_md5(data, len, md);

	if (r == 0)
		r = mbedtls_base64_encode((unsigned char *)ret_b64, 25, &olen, md, sizeof(md));
	if (r != 0) {
		lb_log("md5: mbedTLS error -0x%04x", (unsigned)-r);
		return -EIO;
	}
	return 0;
}

int lb_base64_encode(const void *in, size_t n, char *out, size_t out_size)
{
	size_t olen;
	int r = mbedtls_base64_encode((unsigned char *)out, out_size, &olen, in, n);

	return r == 0 ? 0 : r == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL ? -ENOBUFS : -EINVAL;
}

int lb_base64_decode(const char *in, uint8_t *out, size_t out_size, size_t *ret_len)
{
	size_t n = strlen(in), olen = 0;
	int r;

	/* mbedTLS skips line breaks and spaces; a signature is one token */
	if (n == 0 || n % 4 || strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != n)
		return -EINVAL;
	r = mbedtls_base64_decode(out, out_size, &olen, (const unsigned char *)in, n);
	if (r == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
		return -ENOBUFS;
	if (r != 0)
		return -EINVAL;
	*ret_len = olen;
	return 0;
}
