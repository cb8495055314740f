/* The source stage of `lifeboat write`: the bytes of an image as served,
 * streamed in order to a sink, from
 *   http://... or https://...   (a presigned S3 URL, a web server)
 *   s3://BUCKET/KEY             presigned here with the usual credentials
 *                               and endpoint, then fetched like a URL
 *   a local path                a file (or a block device) read in 1 MiB pieces
 * Nothing is stored on the way: memory is bounded whatever the size.
 *
 * A transfer that breaks (connection reset, timeout, 5xx, 429) is retried
 * with backoff (LIFEBOAT_RETRIES, as for S3). Once bytes were delivered it
 * resumes where it stopped with a Range request, and only when the server
 * proves it is the same object (If-Match on its ETag, 206 of the expected
 * length); otherwise it fails rather than deliver a byte twice or splice
 * two versions. The sink never sees a repeated or missing byte.
 *
 * URLs are logged without their query: a presigned query is a secret. */
#ifndef LB_IMAGESRC_H
#define LB_IMAGESRC_H

#include <stddef.h>
#include <stdint.h>

#define LB_IMAGESRC_SIZE_UNKNOWN UINT64_MAX

struct lb_imagesrc_opts {
	const char *endpoint;  /* s3://: default $AWS_ENDPOINT_URL */
	const char *region;    /* s3://: default $AWS_REGION */
	const char *ca_bundle; /* https: PEM CAs; s3:// defaults to $AWS_CA_BUNDLE */
};

struct lb_imagesrc_sink {
	/* Once, before any data: the size as served (Content-Length, the
	 * file's size) or LB_IMAGESRC_SIZE_UNKNOWN. < 0 stops with that value. */
	int (*on_begin)(uint64_t size, void *userdata);
	/* The next served bytes. < 0 stops with that value. */
	int (*on_data)(const void *data, size_t len, void *userdata);
	void *userdata;
};

struct lb_imagesrc;

/* Parse SOURCE and prepare its client (s3://: credentials, presigning);
 * no request is made yet. -EINVAL (logged) for what is none of the above. */
int lb_imagesrc_open(const char *source, const struct lb_imagesrc_opts *opts, struct lb_imagesrc **ret);
void lb_imagesrc_free(struct lb_imagesrc *s);

/* For logs: the URL without query, s3://BUCKET/KEY, or the path. */
const char *lb_imagesrc_name(const struct lb_imagesrc *s);

/* Stream the whole image into sink. 0 when every byte arrived (and as
 * many as announced), a sink's value, or -errno, logged: -ENOENT (HTTP 404,
 * a missing file), -EACCES (401, 403), -EIO (other refusals), transport
 * errors as in http.h once the retries are spent. Callable once. */
int lb_imagesrc_read(struct lb_imagesrc *s, const struct lb_imagesrc_sink *sink);

#endif
