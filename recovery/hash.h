/* Hashes and hex: the one wrapper around mbedTLS's hash API, so swapping
 * the crypto library (or adding SHA-NI code) touches hash.c only. */
#ifndef LB_HASH_H
#define LB_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 runs on the CPU's SHA extensions (x86 SHA-NI) when CPUID shows
 * them, else on mbedTLS's portable code; LIFEBOAT_SHA256=portable (read at
 * the first hash) forces the portable code. Both give the same digests:
 * tests/unit/test_hash.c checks them against each other. Thread-safe. */
int lb_sha256(const void *data, size_t len, uint8_t ret[32]);

/* "sha-ni" or "portable": what lb_sha256 uses. */
const char *lb_sha256_impl(void);
/* Tests: force the portable code (true) or the SHA extensions (false:
 * -ENOTSUP when the CPU lacks them). Contexts begun before keep theirs. */
int lb_sha256_select(bool portable);

/* Incremental hashing, for data that arrives in pieces. */
struct lb_sha256_ctx;
int lb_sha256_begin(struct lb_sha256_ctx **ret);
int lb_sha256_update(struct lb_sha256_ctx *c, const void *data, size_t len);
int lb_sha256_end(struct lb_sha256_ctx *c, uint8_t ret[32]); /* frees c */
void lb_sha256_free(struct lb_sha256_ctx *c);

/* The same as lowercase hex; 0 or -errno, logged. */
int lb_sha256_hex(const void *data, size_t len, char ret_hex[65]);
int lb_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t ret_mac[32]);
/* base64(MD5(data)), for Content-MD5. */
int lb_md5_base64(const void *data, size_t len, char ret_b64[25]);

/* RFC 4648 base64 with padding, NUL-terminated; -ENOBUFS when out_size
 * is too small. */
int lb_base64_encode(const void *in, size_t n, char *out, size_t out_size);
/* Strict: padding required, no whitespace; -EINVAL for anything else,
 * -ENOBUFS when it decodes to more than out_size bytes. Not logged. */
int lb_base64_decode(const char *in, uint8_t *out, size_t out_size, size_t *ret_len);

/* out gets 2n lowercase hex digits and a NUL. */
void lb_hex(const uint8_t *in, size_t n, char *out);
/* Exactly 2n lowercase hex digits and nothing else; 0 or -EINVAL. */
int lb_unhex(const char *in, uint8_t *out, size_t n);

#endif
