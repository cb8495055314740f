/* Raw deflate (RFC 1951) decoding into a bounded buffer: what qcow2's
 * compressed clusters need, and nothing more (no zlib or gzip wrapper, no
 * streaming, no dictionary). zlib is not in the static link, and a
 * decoder whose output is one fixed buffer is small enough to own: about
 * 300 lines against a hostile input that can only ever make it stop.
 *
 * Every code, length and distance is checked: a distance before the start
 * of the output, an over-subscribed or incomplete code, a stored block
 * whose length check fails, or input that runs out is -EBADMSG. Memory is
 * fixed (the caller's buffer and a few KiB of tables on the stack). */
#ifndef LB_INFLATE_H
#define LB_INFLATE_H

#include <stddef.h>

/* Decode the stream in `in` into out. Stops at the end of the final block
 * or when out_len bytes are out (qemu writes compressed clusters that way:
 * the cluster is full before the stream's end is seen, and the rest of the
 * last sector is padding). 0 with *ret_len the bytes out, or -EBADMSG. */
int lb_inflate(const void *in, size_t in_len, void *out, size_t out_len, size_t *ret_len);

#endif
