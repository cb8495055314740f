/* Chunk indexes (manifest.c): an accepted index formats back to exactly
 * its bytes, and its digest can be computed. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "manifest.h"

FUZZ_QUIET_LOG()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_index *idx = NULL;
	uint8_t *buf = NULL, digest[32];
	size_t len = 0;

	if (lb_index_parse(data, size, "fuzz", &idx) != 0)
		return 0;
	FUZZ_ASSERT(idx->count == lb_chunk_count(idx->disk_size, idx->chunk_size));
	FUZZ_ASSERT(lb_index_format(idx, &buf, &len) == 0);
	FUZZ_ASSERT(len == size && memcmp(buf, data, size) == 0);
	FUZZ_ASSERT(lb_index_digest(idx, digest) == 0);
	free(buf);
	lb_index_free(idx);
	return 0;
}
