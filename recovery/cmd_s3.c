/* s3 - talk to an S3 object store: check connectivity and credentials
 * usage: lifeboat s3 [options] ls s3://BUCKET[/PREFIX]
 *        lifeboat s3 [options] get s3://BUCKET/KEY [--range A-B] [-o FILE]
 *        lifeboat s3 [options] put FILE s3://BUCKET/KEY
 *        lifeboat s3 [options] head s3://BUCKET/KEY
 *        lifeboat s3 [options] rm s3://BUCKET/KEY
 *        lifeboat s3 [options] presign s3://BUCKET/KEY [--expires SECONDS]
 *
 * A low-level tool for operators: every request is signed with AWS
 * Signature Version 4 and works against AWS S3, Ceph RGW, MinIO and Huawei
 * OBS. Refusals print one line with the HTTP status, S3's error code,
 * message and request id.
 *
 *   ls       list keys under PREFIX, one level ("PRE name/" for deeper
 *            levels); -r lists everything. Columns: date, size, key.
 *   get      write the object (or bytes A-B of it, inclusive) to FILE or
 *            stdout; a partial FILE is removed on failure
 *   put      upload FILE as one PUT (up to 5 GiB), SHA-256 and MD5 checked
 *   head     print the object's size and ETag
 *   rm       delete the object
 *   presign  print a GET URL valid for SECONDS (default 3600, at most
 *            604800) that needs no credentials, e.g. for a restore
 *
 * Options:
 *   --endpoint URL   http(s)://host[:port] (default $AWS_ENDPOINT_URL, else
 *                    AWS for the region)
 *   --region NAME    default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1
 *   --ca-bundle FILE PEM CAs to trust instead of the system's
 *                    (default $AWS_CA_BUNDLE); TLS is always verified
 *   --path-style     http://endpoint/bucket/key (default with --endpoint)
 *   --virtual-host   http://bucket.endpoint/key (default for AWS)
 *   -r, --recursive  ls: no delimiter, list every key under PREFIX
 *   --range A-B      get: bytes A to B inclusive; "A-" to the end
 *   -o, --output FILE  get: write here instead of stdout
 *   --expires SECONDS  presign: lifetime of the URL
 *   -h, --help       this text
 *
 * Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 * else profile $AWS_PROFILE (default "default") of
 * $AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials). Secrets are
 * never printed.
 *
 * Environment: LIFEBOAT_RETRIES (default 6) retries on connection errors,
 * 5xx, 429 and 400s that name damage in transit (BadDigest,
 * XAmzContentSHA256Mismatch, IncompleteBody), with exponential backoff and
 * full jitter, none after LIFEBOAT_RETRY_TIME seconds (default 120) from
 * the first attempt; LIFEBOAT_STALL_TIMEOUT seconds (default 60) without a
 * byte moving abort an attempt; LIFEBOAT_LIST_PAGE keys per listing page
 * (default 1000). Test seams: LIFEBOAT_TEST_TIME
 * (e.g. 20150830T123600Z) fixes the signing clock, LIFEBOAT_TEST_SEED the
 * retry jitter.
 *
 * Exit status: 0 ok, 1 failure, 2 usage error, 3 not found (HTTP 404: no
 * such key or bucket), 4 access denied or bad credentials (HTTP 403).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "help.h"
#include "lifeboat.h"
#include "s3.h"
#include "util.h"

enum {
	EXIT_NOT_FOUND = 3,
	EXIT_DENIED = 4,
};

#define GET_CHUNK (8u * 1024u * 1024u)
#define PUT_MAX (5ull * 1024 * 1024 * 1024) /* S3's limit for one PUT */

static int exit_code(int r)
{
	if (r >= 0)
		return LB_EXIT_OK;
	if (r == -ENOENT)
		return EXIT_NOT_FOUND;
	if (r == -EACCES || r == -EPERM)
		return EXIT_DENIED;
	if (r == -EINVAL)
		return LB_EXIT_USAGE;
	return LB_EXIT_FAILURE;
}

/* "s3://bucket/key" -> bucket, key ("" when absent); both malloc'ed. */
static int parse_uri(const char *uri, char **ret_bucket, char **ret_key)
{
	const char *b, *slash;

	if (!lb_startswith(uri, "s3://")) {
		fprintf(stderr, "lifeboat s3: '%s' is not an s3://BUCKET/KEY address\n", uri);
		return -EINVAL;
	}
	b = uri + 5;
	slash = strchr(b, '/');
	*ret_bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
	*ret_key = strdup(slash ? slash + 1 : "");
	if (!*ret_bucket || !*ret_key)
		return -ENOMEM;
	if (!**ret_bucket) {
		fprintf(stderr, "lifeboat s3: no bucket in '%s'\n", uri);
		return -EINVAL;
	}
	return 0;
}

static int print_entry(const struct lb_s3_entry *e, void *userdata)
{
	(void)userdata;
	if (e->is_prefix)
		printf("%-24s %12s %s\n", "", "PRE", e->key);
	else
		printf("%-24s %12" PRIu64 " %s\n", e->last_modified, e->size, e->key);
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static int parse_range(const char *s, uint64_t *a, uint64_t *b, bool *open_end)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	*a = strtoull(s, &end, 10);
	if (errno || *end != '-')
		return -EINVAL;
	s = end + 1;
	*open_end = !*s;
	if (*open_end)
		return 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	*b = strtoull(s, &end, 10);
	if (errno || *end || *b < *a)
		return -EINVAL;
	return 0;
}

static int do_get(struct lb_s3 *s3, const char *key, const char *range, const char *out)
{
	uint64_t a = 0, b = 0, size = 0, pos;
	bool open_end = true;
	char *buf = NULL;
	int fd = STDOUT_FILENO, r;

	if (range && parse_range(range, &a, &b, &open_end) < 0) {
		fprintf(stderr, "lifeboat s3: --range wants A-B or A- (bytes, inclusive)\n");
		return -EINVAL;
	}
	if (!range || open_end) {
		r = lb_s3_head(s3, key, &size, NULL);
		if (r == -ENOENT)
			lb_log("s3 get s3://.../%s: not found (HTTP 404: no such key or bucket)", key);
		if (r < 0)
			return r;
		if (a > size || (range && a == size)) {
			lb_log("s3 get s3://.../%s: range starts at %" PRIu64 ", object has %" PRIu64
			       " bytes",
			       key, a, size);
			return -EINVAL;
		}
		b = size ? size - 1 : 0;
	}
	if (out && strcmp(out, "-") != 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			r = -errno;
			lb_log("open %s: %s", out, strerror(-r));
			return r;
		}
	}
	buf = malloc(GET_CHUNK);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	/* an empty object has no byte range to ask for */
	for (pos = a; range || size > 0;) {
		size_t n = b - pos + 1 < GET_CHUNK ? (size_t)(b - pos + 1) : GET_CHUNK;

		r = lb_s3_get(s3, key, pos, n, buf);
		if (r < 0)
			goto fail;
		r = write_all(fd, buf, n);
		if (r < 0) {
			lb_log("write %s: %s", out ? out : "stdout", strerror(-r));
			goto fail;
		}
		if (b - pos < n)
			break;
		pos += n;
	}
	if (fd != STDOUT_FILENO && close(fd) < 0) {
		r = -errno;
		fd = -1;
		lb_log("close %s: %s", out, strerror(-r));
		goto fail;
	}
	free(buf);
	return 0;
fail:
	if (fd != STDOUT_FILENO) {
		if (fd >= 0)
			close(fd);
		/* a partial file must not pass for the object */
		unlink(out);
	}
	free(buf);
	return r;
}

static int do_put(struct lb_s3 *s3, const char *file, const char *key)
{
	void *map = NULL;
	struct stat st;
	int fd, r;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		lb_log("open %s: %s", file, strerror(-r));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > PUT_MAX) {
		lb_log("put %s: must be a regular file of at most 5 GiB (one PUT)", file);
		r = -EINVAL;
		goto fail;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			r = -errno;
			lb_log("mmap %s: %s", file, strerror(-r));
			goto fail;
		}
	}
	r = lb_s3_put(s3, key, map ? map : "", (size_t)st.st_size);
fail:
	if (map)
		munmap(map, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	return r;
}

int cmd_s3(int argc, char **argv)
{
	enum { OPT_ENDPOINT = 256, OPT_REGION, OPT_CA, OPT_PATH, OPT_VHOST, OPT_RANGE, OPT_EXPIRES };
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "ca-bundle", required_argument, NULL, OPT_CA },
		{ "path-style", no_argument, NULL, OPT_PATH },
		{ "virtual-host", no_argument, NULL, OPT_VHOST },
		{ "range", required_argument, NULL, OPT_RANGE },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "output", required_argument, NULL, 'o' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_s3_config cfg = { .retries = -1 };
	const char *range = NULL, *out = NULL, *verb, *uri, *file = NULL;
	char *bucket = NULL, *key = NULL, *etag = NULL, *url = NULL, *end;
	unsigned long expires = 3600;
	bool recursive = false;
	struct lb_s3 *s3 = NULL;
	uint64_t size;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:rh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ENDPOINT:
			cfg.endpoint = optarg;
			break;
		case OPT_REGION:
			cfg.region = optarg;
			break;
		case OPT_CA:
			cfg.ca_bundle = optarg;
			break;
		case OPT_PATH:
			cfg.addressing = LB_S3_ADDR_PATH;
			break;
		case OPT_VHOST:
			cfg.addressing = LB_S3_ADDR_VHOST;
			break;
		case OPT_RANGE:
			range = optarg;
			break;
		case OPT_EXPIRES:
			errno = 0;
			expires = strtoul(optarg, &end, 10);
			if (errno || *end || expires < 1 || expires > 604800) {
				fprintf(stderr, "lifeboat s3: --expires wants 1..604800 seconds\n");
				return LB_EXIT_USAGE;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			recursive = true;
			break;
		case 'h':
			fputs(HELP_s3, stdout);
			return LB_EXIT_OK;
		default:
			fputs("see 'lifeboat s3 --help'\n", stderr);
			return LB_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs("lifeboat s3: which of ls, get, put, head, rm, presign? see 'lifeboat s3 --help'\n",
		      stderr);
		return LB_EXIT_USAGE;
	}
	verb = argv[optind++];
	if (strcmp(verb, "put") == 0 && optind < argc)
		file = argv[optind++];
	if (optind + 1 != argc) {
		fprintf(stderr, "lifeboat s3 %s: wrong arguments; see 'lifeboat s3 --help'\n", verb);
		return LB_EXIT_USAGE;
	}
	uri = argv[optind];
	if (strcmp(verb, "ls") && strcmp(verb, "get") && strcmp(verb, "put") &&
	    strcmp(verb, "head") && strcmp(verb, "rm") && strcmp(verb, "presign")) {
		fprintf(stderr, "lifeboat s3: unknown operation '%s'\n", verb);
		return LB_EXIT_USAGE;
	}
	r = parse_uri(uri, &bucket, &key);
	if (r < 0)
		goto done;
	if (strcmp(verb, "ls") != 0 && !*key) {
		fprintf(stderr, "lifeboat s3 %s: '%s' names no object\n", verb, uri);
		r = -EINVAL;
		goto done;
	}
	cfg.bucket = bucket;
	r = lb_s3_new(&cfg, &s3);
	if (r < 0) {
		/* no credentials is an authentication problem, not a usage one */
		if (r == -ENOKEY)
			r = -EACCES;
		goto done;
	}

	if (strcmp(verb, "ls") == 0) {
		r = lb_s3_list(s3, key, recursive ? NULL : "/", print_entry, NULL);
	} else if (strcmp(verb, "get") == 0) {
		r = do_get(s3, key, range, out);
	} else if (strcmp(verb, "put") == 0) {
		r = do_put(s3, file, key);
	} else if (strcmp(verb, "head") == 0) {
		r = lb_s3_head(s3, key, &size, &etag);
		if (r == -ENOENT)
			lb_log("s3 head s3://%s/%s: not found (HTTP 404: no such key or bucket)", bucket, key);
		if (r == 0)
			printf("size %" PRIu64 "\netag %s\n", size, etag[0] ? etag : "-");
	} else if (strcmp(verb, "rm") == 0) {
		r = lb_s3_delete(s3, key);
	} else {
		r = lb_s3_presign_get(s3, key, (unsigned)expires, &url);
		if (r == 0)
			puts(url);
	}
	if (fflush(stdout) != 0 && r >= 0) {
		r = -errno;
		lb_log("write stdout: %s", strerror(-r));
	}
done:
	lb_s3_free(s3);
	free(bucket);
	free(key);
	free(etag);
	if (url)
		explicit_bzero(url, strlen(url));
	free(url);
	return exit_code(r);
}
