/* Images as served to `lifeboat write` (imagedec.c): raw or zstd told by
 * magic bytes, fed in pieces of the sizes the first byte picks (as the
 * network cuts them). The output count must match what was handed out. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imagedec.h"

FUZZ_QUIET_LOG()

struct sink {
	uint64_t out;
	int formats;
	enum lb_image_format f;
};

static int on_format(enum lb_image_format f, uint64_t sz, void *ud)
{
	struct sink *s = ud;

	(void)sz;
	FUZZ_ASSERT(f == LB_IMAGE_RAW || f == LB_IMAGE_ZSTD);
	s->formats++;
	s->f = f;
	return 0;
}

static int on_output(const void *data, size_t len, void *ud)
{
	struct sink *s = ud;

	FUZZ_ASSERT(s->formats == 1 && data && len > 0);
	s->out += len;
	/* a bomb: refuse, as `write` would at the disk's size */
	return s->out > (16u << 20) ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink s = { 0 };
	struct lb_imagedec_ops ops = { .on_format = on_format, .on_output = on_output, .userdata = &s };
	struct lb_imagedec *d = NULL;
	size_t piece, off = 1;
	int r = 0;

	if (size < 1 || lb_imagedec_new("fuzz", &ops, &d) < 0)
		return 0;
	piece = 1 + data[0];
	while (r == 0 && off < size) {
		size_t n = size - off < piece ? size - off : piece;

		r = lb_imagedec_feed(d, data + off, n);
		off += n;
	}
	if (r == 0)
		r = lb_imagedec_end(d);
	FUZZ_ASSERT(lb_imagedec_output(d) == s.out);
	FUZZ_ASSERT(r != 0 || s.formats == 1);
	/* a raw image passes through unchanged */
	FUZZ_ASSERT(r != 0 || s.f != LB_IMAGE_RAW || s.out == size - 1);
	lb_imagedec_free(d);
	return 0;
}
