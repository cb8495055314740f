/* S3's XML answers (s3.c): ListBucketResult pages and <Error> bodies. Every
 * entry handed to the callback is a bounded, terminated string; a
 * continuation token only on a truncated page is the caller's business. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "s3.h"

FUZZ_QUIET_LOG()

static int entry(const struct lb_s3_entry *e, void *userdata)
{
	size_t *n = userdata;

	FUZZ_ASSERT(e->key && strlen(e->key) <= 4096);
	FUZZ_ASSERT(e->etag && e->last_modified);
	FUZZ_ASSERT(!e->is_prefix || e->size == 0);
	(*n)++;
	return *n > 100000 ? -E2BIG : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_s3_list_page page;
	struct lb_s3_error err;
	size_t n = 0;
	int r = lb_s3_parse_list((const char *)data, size, entry, &n, &page);

	FUZZ_ASSERT(r < 0 || (size_t)r == n);
	FUZZ_ASSERT(r >= 0 || page.next_token == NULL);
	free(page.next_token);
	if (lb_s3_parse_error((const char *)data, size, &err) == 0) {
		FUZZ_ASSERT(err.code[0] && memchr(err.code, 0, sizeof(err.code)));
		FUZZ_ASSERT(memchr(err.message, 0, sizeof(err.message)) && memchr(err.request_id, 0, sizeof(err.request_id)));
	}
	return 0;
}
