/* The decoder stage of `lifeboat write`: the bytes of an image as served
 * in, the bytes of the disk out. The format is told by magic bytes, never
 * by a file name: a zstd frame (28 b5 2f fd, or a skippable frame
 * 5? 2a 4d 18 as pzstd writes first) is decompressed with zstd's streaming
 * API; anything else is a raw image and passes through unchanged.
 *
 * zstd is strict here, as in chunk.c: a stream that ends inside a frame is
 * an error, never a short success, and so are bytes after the last frame
 * that are not another frame (concatenated frames are fine). Frames whose
 * window needs more than 128 MiB (zstd --long=31 and the like) are refused
 * rather than allowed to exhaust the RAM of an initramfs. Every zstd error
 * is turned into -EBADMSG (or -ENOMEM) and logged here, once, with the
 * image's name. */
#ifndef LB_IMAGEDEC_H
#define LB_IMAGEDEC_H

#include <stddef.h>
#include <stdint.h>

#define LB_IMAGEDEC_SIZE_UNKNOWN UINT64_MAX

enum lb_image_format {
	LB_IMAGE_RAW,
	LB_IMAGE_ZSTD,
};

const char *lb_image_format_name(enum lb_image_format f);

struct lb_imagedec_ops {
	/* Once, when the format is known and before any output: for zstd,
	 * size is the first frame's recorded content size (a lower bound when
	 * more frames follow), else LB_IMAGEDEC_SIZE_UNKNOWN; for raw images
	 * always unknown (the served size is the caller's to know). < 0
	 * stops the stream with that value. */
	int (*on_format)(enum lb_image_format f, uint64_t size, void *userdata);
	/* The disk's bytes, in order. < 0 stops the stream with that value. */
	int (*on_output)(const void *data, size_t len, void *userdata);
	void *userdata;
};

struct lb_imagedec;

/* name is for the log (a URL without its query, or a path); copied. */
int lb_imagedec_new(const char *name, const struct lb_imagedec_ops *ops, struct lb_imagedec **ret);
void lb_imagedec_free(struct lb_imagedec *d);

/* The next len served bytes. 0, a callback's value, or -EBADMSG. */
int lb_imagedec_feed(struct lb_imagedec *d, const void *data, size_t len);
/* The served stream ended cleanly: -EBADMSG when it ended inside a zstd
 * frame; a stream too short to tell its format is raw. */
int lb_imagedec_end(struct lb_imagedec *d);

/* Bytes output so far (the disk's size, after lb_imagedec_end). */
uint64_t lb_imagedec_output(const struct lb_imagedec *d);
/* Complete zstd frames so far (0 for raw images). */
uint64_t lb_imagedec_frames(const struct lb_imagedec *d);

#endif
