/* Response header lines (http.c), as curl hands them over one by one: the
 * input is cut at each newline, and what is kept must stay terminated. */
#include <string.h>

#include "fuzz.h"
#include "http.h"

FUZZ_QUIET_LOG()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_http_headers h = { 0 };
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		enum lb_http_line k = lb_http_header_line(p, len, &h);

		FUZZ_ASSERT(k == LB_HTTP_LINE_STATUS || k == LB_HTTP_LINE_FIELD || k == LB_HTTP_LINE_END);
		FUZZ_ASSERT(memchr(h.etag, 0, sizeof(h.etag)) && memchr(h.request_id, 0, sizeof(h.request_id)));
		p += len;
	}
	return 0;
}
