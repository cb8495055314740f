/* Image decoder stage; see imagedec.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "imagedec.h"
#include "util.h"

/* Enough of the stream to tell the format and read a frame header's
 * content size (zstd's ZSTD_FRAMEHEADERSIZE_MAX, which is not public API). */
#define HEAD_BYTES 18
/* 128 MiB: zstd's own default limit, stated so it cannot drift upwards. */
#define WINDOW_LOG_MAX 27
#define OUT_BUF (1u << 20)

struct lb_imagedec {
	char *name;
	struct lb_imagedec_ops ops;
	bool decided;
	enum lb_image_format format;
	uint8_t head[HEAD_BYTES];
	size_t head_len;
	ZSTD_DStream *ds;
	uint8_t *out;
	size_t out_size;
	size_t last;          /* ZSTD_decompressStream's last answer: 0 = between frames */
	bool fed;             /* any input reached zstd */
	uint64_t since_frame; /* input bytes since the last complete frame */
	uint64_t frames, output;
};

const char *lb_image_format_name(enum lb_image_format f)
{
	return f == LB_IMAGE_ZSTD ? "zstd" : "raw";
}

int lb_imagedec_new(const char *name, const struct lb_imagedec_ops *ops, struct lb_imagedec **ret)
{
	struct lb_imagedec *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->name = strdup(name);
	if (!d->name) {
		free(d);
		return -ENOMEM;
	}
	d->ops = *ops;
	*ret = d;
	return 0;
}

void lb_imagedec_free(struct lb_imagedec *d)
{
	if (!d)
		return;
	ZSTD_freeDStream(d->ds);
	free(d->out);
	free(d->name);
	free(d);
}

uint64_t lb_imagedec_output(const struct lb_imagedec *d)
{
	return d->output;
}

uint64_t lb_imagedec_frames(const struct lb_imagedec *d)
{
	return d->frames;
}

static bool zstd_magic(const uint8_t *p)
{
	/* a frame, or a skippable frame (0x184D2A50..5F, little-endian) */
	return (p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) ||
	       ((p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18);
}

static int emit(struct lb_imagedec *d, const void *p, size_t len)
{
	if (len == 0)
		return 0;
	d->output += len;
	return d->ops.on_output(p, len, d->ops.userdata);
}

/* Called with the first min(HEAD_BYTES, everything) bytes of the stream. */
static int decide(struct lb_imagedec *d)
{
	uint64_t size = LB_IMAGEDEC_SIZE_UNKNOWN;
	size_t z;

	d->decided = true;
	d->format = d->head_len >= 4 && zstd_magic(d->head) ? LB_IMAGE_ZSTD : LB_IMAGE_RAW;
	if (d->format == LB_IMAGE_ZSTD) {
		/* a skippable frame would report its content as 0 bytes */
		if (d->head[0] == 0x28) {
			unsigned long long cs = ZSTD_getFrameContentSize(d->head, d->head_len);

			if (cs != ZSTD_CONTENTSIZE_ERROR && cs != ZSTD_CONTENTSIZE_UNKNOWN)
				size = cs;
		}
		d->ds = ZSTD_createDStream();
		d->out_size = OUT_BUF;
		d->out = malloc(d->out_size);
		if (!d->ds || !d->out)
			return -ENOMEM;
		z = ZSTD_DCtx_setParameter(d->ds, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
		if (ZSTD_isError(z)) {
			lb_log("%s: zstd: %s", d->name, ZSTD_getErrorName(z));
			return -EIO;
		}
	}
	if (d->ops.on_format)
		return d->ops.on_format(d->format, size, d->ops.userdata);
	return 0;
}

static int zfeed(struct lb_imagedec *d, const void *data, size_t len)
{
	ZSTD_inBuffer in = { data, len, 0 };
	bool full = false;
	int r;

	while (in.pos < in.size || full) {
		ZSTD_outBuffer out = { d->out, d->out_size, 0 };
		size_t before = in.pos, z;

		z = ZSTD_decompressStream(d->ds, &out, &in);
		if (ZSTD_isError(z)) {
			if (ZSTD_getErrorCode(z) == ZSTD_error_prefix_unknown && d->frames > 0 && d->since_frame == 0)
				lb_log("%s: trailing garbage: the bytes after zstd frame %llu are not a zstd frame",
				       d->name, (unsigned long long)d->frames);
			else if (ZSTD_getErrorCode(z) == ZSTD_error_frameParameter_windowTooLarge)
				lb_log("%s: a zstd frame needs a window over %u MiB; recompress without --long",
				       d->name, (1u << WINDOW_LOG_MAX) >> 20);
			else
				lb_log("%s: corrupt zstd stream after %llu bytes out: %s", d->name,
				       (unsigned long long)d->output, ZSTD_getErrorName(z));
			return ZSTD_getErrorCode(z) == ZSTD_error_memory_allocation ? -ENOMEM : -EBADMSG;
		}
		d->fed = true;
		d->since_frame += in.pos - before;
		d->last = z;
		if (z == 0) {
			d->frames++;
			d->since_frame = 0;
		}
		/* a full buffer may hold more; a finished frame is fully flushed */
		full = out.pos == out.size && z != 0;
		r = emit(d, d->out, out.pos);
		if (r < 0)
			return r;
	}
	return 0;
}

static int pass(struct lb_imagedec *d, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return d->format == LB_IMAGE_ZSTD ? zfeed(d, data, len) : emit(d, data, len);
}

int lb_imagedec_feed(struct lb_imagedec *d, const void *data, size_t len)
{
	const uint8_t *p = data;
	int r;

	if (!d->decided) {
		size_t take = HEAD_BYTES - d->head_len < len ? HEAD_BYTES - d->head_len : len;

		memcpy(d->head + d->head_len, p, take);
		d->head_len += take;
		p += take;
		len -= take;
		if (d->head_len < HEAD_BYTES)
			return 0;
		r = decide(d);
		if (r == 0)
			r = pass(d, d->head, d->head_len);
		if (r < 0)
			return r;
	}
	return pass(d, p, len);
}

int lb_imagedec_end(struct lb_imagedec *d)
{
	int r;

	if (!d->decided) {
		r = decide(d);
		if (r == 0)
			r = pass(d, d->head, d->head_len);
		if (r < 0)
			return r;
	}
	if (d->format != LB_IMAGE_ZSTD)
		return 0;
	if (!d->fed || d->last != 0 || d->frames == 0) {
		lb_log("%s: the stream ends inside zstd frame %llu (%llu bytes into it): truncated%s", d->name,
		       (unsigned long long)d->frames + 1, (unsigned long long)d->since_frame,
		       d->frames > 0 && d->since_frame < 4 ? ", or trailing bytes after the last frame" : "");
		return -EBADMSG;
	}
	return 0;
}
