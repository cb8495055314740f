/* A store: where restore points live (docs/FORMAT.md), named by URL.
 *
 *   s3://bucket/prefix     an S3-compatible object store (s3.c)
 *   file:///path, /path    a directory laid out the same way: a copy of a
 *                          bucket on a USB disk or NFS, and the tests' store
 *   http(s)://host/path    such a directory on a web server: read-only, and
 *                          without listings (points named SERVER/ID)
 *
 * Keys are relative to the prefix ("chunks/abcd/...", "points/web01/...").
 * Objects are immutable, so there is no overwrite, rename or locking; the
 * times below (an object's age, the store's clock) are what garbage
 * collection and writers coordinate by (docs/FORMAT.md, "Garbage
 * collection"). */
#ifndef LB_STORE_H
#define LB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lb_store;

struct lb_store_opts {
	const char *endpoint;   /* S3: overrides AWS_ENDPOINT_URL */
	const char *region;     /* S3: overrides AWS_REGION */
	const char *ca_bundle;  /* S3: overrides AWS_CA_BUNDLE */
	int addressing;         /* S3: 0 auto, 1 path-style, 2 virtual-host */
	/* S3: credentials typed by an operator, used instead of the environment
	 * and ~/.aws/credentials when both keys are set; copied at open. */
	const char *access_key, *secret_key, *session_token;
	/* S3: someone waits at a prompt: one retry and a 5 s connect timeout,
	 * so a wrong endpoint is said in seconds, not after two minutes of
	 * backoff. */
	bool interactive;
};

int lb_store_open(const char *url, const struct lb_store_opts *opts, struct lb_store **ret);
void lb_store_close(struct lb_store *st);
/* "s3://bucket/prefix" or "/path": for messages. */
const char *lb_store_url(const struct lb_store *st);
/* S3's error code for the last refused request (lb_s3_last_error), "" for
 * a directory store or when the last request was not refused. */
const char *lb_store_last_error(const struct lb_store *st);

/* A second handle on the same store for another thread: a handle holds
 * one connection and must be used by one thread at a time. */
int lb_store_clone(const struct lb_store *st, struct lb_store **ret);
/* While *flag is non-zero, requests in flight stop and new ones fail with
 * -ECANCELED, not logged (s3.h); NULL detaches. A directory store reads
 * local files and has nothing to abort. */
void lb_store_set_cancel(struct lb_store *st, const int *flag);

/* 1 when key exists, 0 when not, -errno on failure (logged). */
int lb_store_exists(struct lb_store *st, const char *key);

struct lb_store_stat {
	uint64_t size;
	int64_t mtime; /* when the object was last written (or touched), UTC seconds */
};
/* Like lb_store_exists, and fills ret when the key exists. */
int lb_store_stat(struct lb_store *st, const char *key, struct lb_store_stat *ret);

/* The store's clock, UTC seconds: the S3 server's (its Date header, so a
 * wrong local clock does not matter), the local clock for a directory.
 * Object times compare with this clock only. 0 or -errno. */
int lb_store_now(struct lb_store *st, int64_t *ret);

/* Make key's mtime now without changing its bytes (S3: a server-side copy
 * onto itself; nothing is uploaded). -ENOENT when it is gone. */
int lb_store_touch(struct lb_store *st, const char *key);

/* Remove key; a key already gone is not an error. deadline_ms (a
 * lb_mono_ms() time, 0 = none): the request is neither sent nor retried
 * from then on (-ETIMEDOUT). */
int lb_store_delete(struct lb_store *st, const char *key, uint64_t deadline_ms);
/* The whole object into a malloc'ed buffer; -EFBIG (logged) when it is
 * larger than max, -ENOENT (not logged) when it does not exist. */
int lb_store_get(struct lb_store *st, const char *key, size_t max, void **ret, size_t *ret_len);
/* The same into the caller's buffer of cap bytes (a worker reuses one
 * per chunk instead of a fresh allocation): -EFBIG when larger. */
int lb_store_get_into(struct lb_store *st, const char *key, void *buf, size_t cap, size_t *ret_len);
/* 0, or -EROFS (logged) for a store that cannot take objects (http). */
int lb_store_writable(const struct lb_store *st);
/* Create key with these bytes (all or nothing: readers never see a part). */
int lb_store_put(struct lb_store *st, const char *key, const void *data, size_t len);

/* One listed key: relative to the store; a directory ("points/web01/",
 * with delim) has size 0 and mtime -1. */
struct lb_store_entry {
	const char *key;
	uint64_t size;
	int64_t mtime;
};
/* Calls cb for each key below `dir` ("points/" lists "points/web01/" when
 * delim, else every key under it). Stops and returns cb's value when it is
 * non-zero. */
typedef int (*lb_store_list_cb)(const struct lb_store_entry *e, void *userdata);
int lb_store_list(struct lb_store *st, const char *dir, bool delim, lb_store_list_cb cb, void *userdata);

#endif
