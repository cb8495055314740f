/* One chunk's bytes <-> its stored form (one zstd frame), verified.
 * docs/FORMAT.md: a stored chunk is exactly one frame carrying its content
 * size; anything shorter, longer or trailing is corrupt. */
#ifndef LB_CHUNK_H
#define LB_CHUNK_H

#include <stddef.h>
#include <stdint.h>

/* The largest stored chunk a reader accepts for a chunk of len bytes
 * (zstd's worst case): the ceiling for fetching a chunk. */
size_t lb_chunk_stored_max(size_t len);

/* zstd contexts kept between chunks (their tables are megabytes: made
 * once per worker, not per chunk). One per thread; NULL where the
 * functions below take one means a context for that call only. */
struct lb_chunk_codec;
int lb_chunk_codec_new(struct lb_chunk_codec **ret);
void lb_chunk_codec_free(struct lb_chunk_codec *c);

/* Compress len bytes at `level` (1..19) into out (cap bytes, at least
 * lb_chunk_stored_max(len)); *ret_len gets the frame's size. */
int lb_chunk_compress(struct lb_chunk_codec *c, const void *in, size_t len, int level, void *out, size_t cap,
		      size_t *ret_len);

/* Decompress a stored chunk into out, which must hold exactly `len` bytes,
 * and check its SHA-256 against `hash`. `name` is for the log. 0, or
 * -EBADMSG (corrupt frame, wrong length, trailing bytes) or -EILSEQ (the
 * bytes do not hash to `hash`), each logged with the name. */
int lb_chunk_decode(struct lb_chunk_codec *c, const void *in, size_t in_len, void *out, size_t len,
		    const uint8_t hash[32], const char *name);
/* The same, unlogged: what is wrong goes to why ("" for -ENOMEM). */
int lb_chunk_check(struct lb_chunk_codec *c, const void *in, size_t in_len, void *out, size_t len,
		   const uint8_t hash[32], char *why, size_t why_size);

/* zstd frames (not a chunk: qcow2's zstd clusters) decompressed into out
 * until it is full or the input ends, with a window of at most 128 MiB.
 * 0 with *ret_len the bytes out, or -EBADMSG (logged with name). */
int lb_zstd_decompress_bounded(const void *in, size_t in_len, void *out, size_t out_len, const char *name,
			       size_t *ret_len);

/* True when len bytes at p are all zero. */
int lb_chunk_is_zero(const void *p, size_t len);

/* Key of a chunk: "chunks/XXXX/<hex>.zst" into out (at least 81 bytes). */
void lb_chunk_key(const uint8_t hash[32], char *out);

#endif
