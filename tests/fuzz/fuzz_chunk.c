/* Stored chunks (chunk.c): input[0..2) is the chunk length the index
 * promises, input[2..34) the hash it names, the rest the zstd frame served.
 * Whatever decodes must be exactly the chunk and hash to its name; any
 * bytes compress into a frame that decodes back to them; and the zero test
 * agrees with a byte loop. One codec (zstd contexts) serves every input, as
 * a restore worker's serves every chunk: state left over from a bad frame
 * must not spoil the next. */
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "fuzz.h"
#include "hash.h"

FUZZ_QUIET_LOG()

static int zero_loop(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lb_chunk_codec *codec;
	uint8_t *out, h[32];
	size_t len, n, zlen = 0;
	void *z = NULL;

	FUZZ_ASSERT(!lb_chunk_is_zero(data, size) == !zero_loop(data, size));
	if (size < 34)
		return 0;
	if (!codec && lb_chunk_codec_new(&codec) < 0)
		abort();
	len = 1 + (data[0] | (size_t)data[1] << 8);
	out = malloc(len);
	if (!out)
		return 0;
	if (lb_chunk_decode(codec, data + 34, size - 34, out, len, data + 2, "fuzz") == 0)
		FUZZ_ASSERT(lb_sha256(out, len, h) == 0 && memcmp(h, data + 2, 32) == 0);
	/* the frame bytes as a chunk of their own */
	n = size - 34;
	if (n > 0 && (z = malloc(lb_chunk_stored_max(n))) &&
	    lb_chunk_compress(codec, data + 34, n, 1, z, lb_chunk_stored_max(n), &zlen) == 0) {
		uint8_t *back = malloc(n);

		FUZZ_ASSERT(zlen <= lb_chunk_stored_max(n));
		FUZZ_ASSERT(lb_sha256(data + 34, n, h) == 0);
		FUZZ_ASSERT(back && lb_chunk_decode(codec, z, zlen, back, n, h, "fuzz") == 0);
		FUZZ_ASSERT(memcmp(back, data + 34, n) == 0);
		free(back);
	}
	free(z);
	free(out);
	return 0;
}
