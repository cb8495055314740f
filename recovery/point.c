/* Restore points by name: listing servers and points, resolving latest. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "hash.h"
#include "point.h"
#include "util.h"

struct strs {
	char **v;
	size_t n;
	const char *suffix; /* keep only keys ending so; NULL keeps dirs */
	size_t cut;         /* characters of prefix to drop */
};

static int collect(const struct lb_store_entry *en, void *userdata)
{
	struct strs *s = userdata;
	const char *key = en->key;
	size_t kl = strlen(key);
	char **v, *e;

	if (s->suffix) {
		size_t sl = strlen(s->suffix);

		if (kl < sl || strcmp(key + kl - sl, s->suffix) != 0)
			return 0;
		e = strdup(key);
	} else {
		if (kl <= s->cut || key[kl - 1] != '/')
			return 0;
		e = strndup(key + s->cut, kl - s->cut - 1);
	}
	if (!e)
		return -ENOMEM;
	v = realloc(s->v, (s->n + 1) * sizeof(char *));
	if (!v) {
		free(e);
		return -ENOMEM;
	}
	s->v = v;
	s->v[s->n++] = e;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void lb_point_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* List dir (one level) through collect, sorted; the entries are s's. */
static int list_sorted(struct lb_store *st, const char *dir, struct strs *s, char ***ret, size_t *ret_n)
{
	int r = dir ? lb_store_list(st, dir, true, collect, s) : -ENOMEM;

	if (r < 0) {
		lb_point_strv_free(s->v, s->n);
		return r;
	}
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(char *), cmp);
	*ret = s->v;
	*ret_n = s->n;
	return 0;
}

int lb_point_servers(struct lb_store *st, char ***ret, size_t *ret_n)
{
	struct strs s = { .cut = strlen("points/") };

	return list_sorted(st, "points/", &s, ret, ret_n);
}

int lb_point_servers_or(struct lb_store *st, const char *server, char ***ret, size_t *ret_n)
{
	char **v;

	if (!server)
		return lb_point_servers(st, ret, ret_n);
	if (!lb_manifest_server_ok(server)) {
		lb_log("server '%s': 1-63 of A-Z a-z 0-9 . _ -, not starting with .", server);
		return -EINVAL;
	}
	v = calloc(1, sizeof(char *));
	if (!v || !(v[0] = strdup(server))) {
		free(v);
		return -ENOMEM;
	}
	*ret = v;
	*ret_n = 1;
	return 0;
}

int lb_point_keys(struct lb_store *st, const char *server, char ***ret, size_t *ret_n)
{
	struct strs s = { .suffix = ".json" };
	char *dir = lb_strdupf("points/%s/", server);
	/* ids start with their UTC time: name order is time order */
	int r = list_sorted(st, dir, &s, ret, ret_n);

	free(dir);
	return r;
}

int lb_point_all_keys(struct lb_store *st, const char *server, char ***ret, size_t *ret_n)
{
	char **servers = NULL, **all = NULL;
	size_t n_servers = 0, n_all = 0;
	int r = server ? 0 : lb_point_servers(st, &servers, &n_servers);

	for (size_t i = 0; r == 0 && i < (server ? 1 : n_servers); i++) {
		char **keys = NULL, **v;
		size_t n = 0;

		r = lb_point_keys(st, server ? server : servers[i], &keys, &n);
		if (r < 0)
			break;
		v = n ? realloc(all, (n_all + n) * sizeof(char *)) : all;
		if (!v) {
			lb_point_strv_free(keys, n);
			r = -ENOMEM;
			break;
		}
		all = v;
		memcpy(all + n_all, keys, n * sizeof(char *));
		n_all += n;
		free(keys);
	}
	lb_point_strv_free(servers, n_servers);
	if (r < 0) {
		lb_point_strv_free(all, n_all);
		return r;
	}
	*ret = all;
	*ret_n = n_all;
	return 0;
}

int lb_point_load_key(struct lb_store *st, const char *key, struct lb_manifest **ret)
{
	void *buf = NULL;
	size_t len = 0;
	int r = lb_store_get(st, key, LB_MANIFEST_MAX, &buf, &len);

	if (r == -ENOENT)
		lb_log("store %s: no restore point %s", lb_store_url(st), key);
	if (r == 0)
		r = lb_manifest_parse(buf, len, key, ret);
	free(buf);
	return r;
}

int lb_point_load(struct lb_store *st, const char *spec, struct lb_manifest **ret)
{
	const char *slash = strchr(spec, '/');
	char *key = NULL, *server = NULL, **keys = NULL;
	size_t n = 0;
	int r;

	if (strncmp(spec, "points/", 7) == 0)
		return lb_point_load_key(st, spec, ret);
	if (!slash || slash == spec || !slash[1] || strchr(slash + 1, '/')) {
		lb_log("restore point '%s': expected SERVER/ID or SERVER/latest", spec);
		return -EINVAL;
	}
	if (strcmp(slash + 1, "latest") != 0) {
		key = lb_strdupf("points/%.*s/%s.json", (int)(slash - spec), spec, slash + 1);
		r = key ? lb_point_load_key(st, key, ret) : -ENOMEM;
		free(key);
		return r;
	}
	server = strndup(spec, (size_t)(slash - spec));
	if (!server)
		return -ENOMEM;
	r = lb_point_keys(st, server, &keys, &n);
	if (r == 0 && n == 0) {
		lb_log("store %s: server %s has no restore points", lb_store_url(st), server);
		r = -ENOENT;
	}
	/* The newest backup whose manifest is valid: a damaged newest one is
	 * reported and skipped, never restored; images (which may hold only
	 * some of the server's disks) are not backups and are named by id. */
	for (size_t i = n; r == 0 && i-- > 0;) {
		r = lb_point_load_key(st, keys[i], ret);
		if (r == 0 && (*ret)->kind == LB_KIND_BACKUP)
			break;
		if (r == -ENOMEM)
			break;
		if (r == 0) {
			lb_manifest_free(*ret);
			*ret = NULL;
		} else {
			lb_log("skipping %s; trying the one before", keys[i]);
		}
		r = 0;
		if (i == 0) {
			lb_log("store %s: server %s has no valid backup", lb_store_url(st), server);
			r = -ENOENT;
		}
	}
	lb_point_strv_free(keys, n);
	free(server);
	return r;
}

int lb_point_index(struct lb_store *st, const struct lb_manifest_disk *d, struct lb_index **ret)
{
	uint8_t h[32];
	void *ib = NULL;
	size_t iblen = 0;
	int r;

	r = lb_store_get(st, d->index_key, d->index_size, &ib, &iblen);
	if (r == -ENOENT)
		lb_log("disk %s: its chunk index %s is missing from the store", d->name, d->index_key);
	if (r < 0)
		goto fail;
	if ((r = lb_sha256(ib, iblen, h)) < 0)
		goto fail;
	if (iblen != d->index_size || memcmp(h, d->index_sha256, 32) != 0) {
		lb_log("disk %s: chunk index %s does not match the manifest (corrupt or replaced)", d->name, d->index_key);
		r = -EBADMSG;
		goto fail;
	}
	if ((r = lb_index_parse(ib, iblen, d->index_key, ret)) < 0)
		goto fail;
	if ((*ret)->chunk_size != d->chunk_size || (*ret)->disk_size != d->size) {
		lb_log("disk %s: chunk index %s disagrees with the manifest", d->name, d->index_key);
		lb_index_free(*ret);
		*ret = NULL;
		r = -EBADMSG;
	}
fail:
	free(ib);
	return r;
}

int lb_point_fetch(struct lb_store *st, const uint8_t h[32], uint32_t len, void *buf, const char *name,
		   size_t *ret_stored)
{
	char key[96], what[224];
	void *z = NULL;
	size_t zlen = 0;
	int r;

	lb_chunk_key(h, key);
	r = lb_store_get(st, key, lb_chunk_stored_max(len), &z, &zlen);
	if (r == -ENOENT)
		lb_log("%s: chunk %s is missing from the store", name, key);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "%s (%s)", key, name);
	r = lb_chunk_decode(NULL, z, zlen, buf, len, h, what);
	free(z);
	if (r == 0 && ret_stored)
		*ret_stored = zlen;
	return r;
}
