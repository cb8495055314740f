/* Hashes through mbedTLS (its negative error codes end here, logged once)
 * and hex helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/md5.h>
#include <mbedtls/sha256.h>

#include "hash.h"
#include "util.h"

struct lb_sha256_ctx {
	mbedtls_sha256_context c;
};

int lb_sha256(const void *data, size_t len, uint8_t ret[32])
{
	/* mbedtls_sha256() only fails on bad parameters */
	return mbedtls_sha256(data, len, ret, 0) == 0 ? 0 : -EINVAL;
}

int lb_sha256_begin(struct lb_sha256_ctx **ret)
{
	struct lb_sha256_ctx *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	mbedtls_sha256_init(&c->c);
	if (mbedtls_sha256_starts(&c->c, 0) != 0) {
		lb_sha256_free(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int lb_sha256_update(struct lb_sha256_ctx *c, const void *data, size_t len)
{
	return mbedtls_sha256_update(&c->c, data, len) == 0 ? 0 : -EINVAL;
}

int lb_sha256_end(struct lb_sha256_ctx *c, uint8_t ret[32])
{
	int r = mbedtls_sha256_finish(&c->c, ret) == 0 ? 0 : -EINVAL;

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
	int r = mbedtls_sha256(data, len, md, 0);

	if (r != 0) {
		lb_log("sha256: mbedTLS error -0x%04x", (unsigned)-r);
		return -EIO;
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
