/* Stored chunks (chunk.c): input[0..2) is the chunk length the index
 * promises, input[2..34) the hash it names, the rest the zstd frame served.
 * Whatever decodes must be exactly the chunk and hash to its name; and any
 * bytes compress into a frame that decodes back to them. */
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "fuzz.h"
#include "hash.h"

FUZZ_QUIET_LOG()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out, h[32];
	size_t len, zlen = 0;
	void *z = NULL;

	if (size < 34)
		return 0;
	len = 1 + (data[0] | (size_t)data[1] << 8);
	out = malloc(len);
	if (!out)
		return 0;
	if (lb_chunk_decode(data + 34, size - 34, out, len, data + 2, "fuzz") == 0) {
		FUZZ_ASSERT(lb_sha256(out, len, h) == 0 && memcmp(h, data + 2, 32) == 0);
	}
	/* the frame bytes as a chunk of their own */
	if (size > 34 && lb_chunk_compress(data + 34, size - 34, 1, &z, &zlen) == 0) {
		uint8_t *back = malloc(size - 34);

		FUZZ_ASSERT(zlen <= lb_chunk_stored_max(size - 34));
		FUZZ_ASSERT(lb_sha256(data + 34, size - 34, h) == 0);
		FUZZ_ASSERT(back && lb_chunk_decode(z, zlen, back, size - 34, h, "fuzz") == 0);
		FUZZ_ASSERT(memcmp(back, data + 34, size - 34) == 0);
		free(back);
	}
	free(z);
	free(out);
	return 0;
}
