/* zstd in one place: chunk frames are made and checked here, and zstd's
 * error codes are turned into messages here and nowhere else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "chunk.h"
#include "hash.h"
#include "util.h"

size_t lb_chunk_stored_max(size_t len)
{
	return ZSTD_compressBound(len);
}

struct lb_chunk_codec {
	ZSTD_CCtx *cc;
	ZSTD_DCtx *dc;
	int level;
};

int lb_chunk_codec_new(struct lb_chunk_codec **ret)
{
	struct lb_chunk_codec *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

void lb_chunk_codec_free(struct lb_chunk_codec *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cc);
	ZSTD_freeDCtx(c->dc);
	free(c);
}

static int compress(struct lb_chunk_codec *c, const void *in, size_t len, int level, void *out, size_t cap,
		    size_t *ret_len)
{
	size_t n;

	if (!c->cc || c->level != level) {
		if (!c->cc && !(c->cc = ZSTD_createCCtx()))
			return -ENOMEM;
		/* One frame that carries its content size, so a reader can
		 * bound the output before decompressing; a checksum is
		 * redundant with SHA-256. */
		ZSTD_CCtx_reset(c->cc, ZSTD_reset_session_and_parameters);
		if (ZSTD_isError(ZSTD_CCtx_setParameter(c->cc, ZSTD_c_compressionLevel, level)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(c->cc, ZSTD_c_contentSizeFlag, 1))) {
			lb_log("zstd: compression level %d refused", level);
			return -EINVAL;
		}
		c->level = level;
	}
	n = ZSTD_compress2(c->cc, out, cap, in, len);
	if (ZSTD_isError(n)) {
		lb_log("zstd: compress: %s", ZSTD_getErrorName(n));
		return -EIO;
	}
	*ret_len = n;
	return 0;
}

int lb_chunk_compress(struct lb_chunk_codec *c, const void *in, size_t len, int level, void *out, size_t cap,
		      size_t *ret_len)
{
	struct lb_chunk_codec tmp = { 0 };
	int r;

	if (c)
		return compress(c, in, len, level, out, cap, ret_len);
	r = compress(&tmp, in, len, level, out, cap, ret_len);
	ZSTD_freeCCtx(tmp.cc);
	return r;
}

/* The checks of lb_chunk_decode, their verdict in why rather than the log:
 * a fetch that will be tried again is not yet a failure to report. */
int lb_chunk_check(struct lb_chunk_codec *c, const void *in, size_t in_len, void *out, size_t len,
		   const uint8_t hash[32], char *why, size_t why_size)
{
	unsigned long long content = ZSTD_getFrameContentSize(in, in_len);
	size_t frame = ZSTD_findFrameCompressedSize(in, in_len), n;
	uint8_t got[32];
	char want_hex[65], got_hex[65];
	int r;

	why[0] = '\0';
	if (content == ZSTD_CONTENTSIZE_ERROR || ZSTD_isError(frame)) {
		snprintf(why, why_size, "not a zstd frame, or truncated (%zu bytes)", in_len);
		return -EBADMSG;
	}
	if (content == ZSTD_CONTENTSIZE_UNKNOWN) {
		snprintf(why, why_size, "the frame does not record its size (not written by lifeboat?)");
		return -EBADMSG;
	}
	if (content != len) {
		snprintf(why, why_size, "frame holds %llu bytes, the index says %zu", content, len);
		return -EBADMSG;
	}
	if (frame != in_len) {
		snprintf(why, why_size, "%zu bytes after the frame", in_len - frame);
		return -EBADMSG;
	}
	/* The output buffer is exactly the chunk: a frame cannot write past it. */
	if (c && !c->dc && !(c->dc = ZSTD_createDCtx()))
		return -ENOMEM;
	n = c ? ZSTD_decompressDCtx(c->dc, out, len, in, in_len) : ZSTD_decompress(out, len, in, in_len);
	if (ZSTD_isError(n) || n != len) {
		snprintf(why, why_size, "corrupt: %s", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short output");
		return -EBADMSG;
	}
	r = lb_sha256(out, len, got);
	if (r < 0)
		return r;
	if (memcmp(got, hash, 32) != 0) {
		lb_hex(hash, 32, want_hex);
		lb_hex(got, 32, got_hex);
		snprintf(why, why_size, "content hashes to %s, not %s", got_hex, want_hex);
		return -EILSEQ;
	}
	return 0;
}

int lb_chunk_decode(struct lb_chunk_codec *c, const void *in, size_t in_len, void *out, size_t len,
		    const uint8_t hash[32], const char *name)
{
	char why[256];
	int r = lb_chunk_check(c, in, in_len, out, len, hash, why, sizeof(why));

	if (r < 0 && why[0])
		lb_log("chunk %s: %s", name, why);
	return r;
}

int lb_zstd_decompress_bounded(const void *in, size_t in_len, void *out, size_t out_len, const char *name,
			       size_t *ret_len)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, in_len, 0 };
	ZSTD_outBuffer ob = { out, out_len, 0 };
	size_t z;
	int r = 0;

	if (!dc)
		return -ENOMEM;
	/* A window beyond 128 MiB is refused, not allocated. */
	z = ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 27);
	while (!ZSTD_isError(z) && ob.pos < ob.size && ib.pos < ib.size) {
		size_t before_in = ib.pos, before_out = ob.pos;

		z = ZSTD_decompressStream(dc, &ob, &ib);
		if (!ZSTD_isError(z) && ib.pos == before_in && ob.pos == before_out)
			break; /* no progress: the input is cut */
	}
	if (ZSTD_isError(z)) {
		lb_log("%s: corrupt zstd data: %s", name, ZSTD_getErrorName(z));
		r = -EBADMSG;
	} else {
		*ret_len = ob.pos;
	}
	ZSTD_freeDCtx(dc);
	return r;
}

int lb_chunk_is_zero(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i = 0;

	/* 64 bytes at a time, OR-ed together: the compiler vectorises it. Not
	 * memcmp(c, c + 1, len - 1): musl's memcmp is a byte loop, and it
	 * was most of a backup's time. */
	for (; i + 64 <= len; i += 64) {
		uint64_t w[8], acc = 0;

		memcpy(w, c + i, 64);
		for (int k = 0; k < 8; k++)
			acc |= w[k];
		if (acc)
			return 0;
	}
	for (; i < len; i++)
		if (c[i])
			return 0;
	return 1;
}

void lb_chunk_key(const uint8_t hash[32], char *out)
{
	char hex[65];

	lb_hex(hash, 32, hex);
	memcpy(out, "chunks/", 7);
	memcpy(out + 7, hex, 4);
	out[11] = '/';
	memcpy(out + 12, hex, 64);
	memcpy(out + 76, ".zst", 5);
}
