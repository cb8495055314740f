/* Restore points by name: listing servers and points, resolving latest. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "hash.h"
#include "point.h"
#include "sig.h"
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

void lb_point_auth_describe(const struct lb_point_auth *a, char *buf, size_t size)
{
	switch (a->state) {
	case LB_POINT_VERIFIED:
		snprintf(buf, size, "signed by trusted key %.16s (%s), verified", a->key_id, lb_key_name(a->key));
		break;
	case LB_POINT_SIGNED:
		snprintf(buf, size, "signed by key %.16s, not verified (no trusted key configured)", a->key_id);
		break;
	case LB_POINT_SIG_INVALID:
		snprintf(buf, size, "has a signature object that does not match it (see above), not verified");
		break;
	default:
		snprintf(buf, size, "unsigned");
	}
}

/* A refusal of this one point (damaged, unsigned, badly signed): latest
 * skips it. Anything else (the store unreachable) is no verdict on it. */
static bool refusal(int r)
{
	return r == -EBADMSG || r == -EFBIG || r == -ENOKEY || r == -EKEYREJECTED || r == -ENOENT;
}

/* The signature of the manifest bytes buf under key: required and verified
 * with trusted keys, else only described (fetched only when asked). */
static int check_sig(struct lb_store *st, const char *key, const void *buf, size_t len,
		     const struct lb_keyring *trust, struct lb_point_auth *auth)
{
	struct lb_sig_check c;
	char *sig_key = lb_sig_key(key);
	void *sig = NULL;
	size_t sig_len = 0;
	int r;

	if (!sig_key)
		return -ENOMEM;
	r = lb_store_get(st, sig_key, LB_SIG_OBJECT_MAX, &sig, &sig_len);
	if (r == -ENOENT && lb_keyring_count(trust) > 0) {
		lb_log("restore point %s is not signed (no %s), and signatures are required: %zu trusted key%s "
		       "configured",
		       key, sig_key, lb_keyring_count(trust), lb_keyring_count(trust) == 1 ? " is" : "s are");
		r = -ENOKEY;
	} else if (r == -ENOENT) {
		r = 0;
	} else if (r == -EFBIG && lb_keyring_count(trust) == 0) {
		auth->state = LB_POINT_SIG_INVALID; /* logged by the store */
		r = 0;
	} else if (r == 0) {
		r = lb_sig_check(sig, sig_len, sig_key, key, buf, len, trust, &c);
		auth->state = c.key ? LB_POINT_VERIFIED : r == 0 ? LB_POINT_SIGNED : LB_POINT_SIG_INVALID;
		auth->key = c.key;
		memcpy(auth->key_id, c.key_id, sizeof(auth->key_id));
		if (c.key)
			lb_log("%s: signature verified: trusted key %.16s (%s)", key, c.key_id, lb_key_name(c.key));
		/* without trusted keys a broken signature is reported, not fatal */
		if (lb_keyring_count(trust) == 0 && r != -ENOMEM)
			r = 0;
	}
	free(sig);
	free(sig_key);
	return r;
}

static int load_key(struct lb_store *st, const char *key, const struct lb_keyring *trust, struct lb_manifest **ret,
		    struct lb_point_auth *ret_auth);

int lb_point_load_key(struct lb_store *st, const char *key, struct lb_manifest **ret)
{
	return load_key(st, key, NULL, ret, NULL);
}

static int load_key(struct lb_store *st, const char *key, const struct lb_keyring *trust, struct lb_manifest **ret,
		    struct lb_point_auth *ret_auth)
{
	struct lb_point_auth auth = { .state = LB_POINT_UNSIGNED };
	void *buf = NULL;
	size_t len = 0;
	int r = lb_store_get(st, key, LB_MANIFEST_MAX, &buf, &len);

	if (r == -ENOENT)
		lb_log("store %s: no restore point %s", lb_store_url(st), key);
	/* With trusted keys, the bytes are authenticated before they are
	 * parsed: nothing unsigned reaches the JSON parser. */
	if (r == 0 && (lb_keyring_count(trust) > 0 || ret_auth))
		r = check_sig(st, key, buf, len, trust, &auth);
	if (r == 0)
		r = lb_manifest_parse(buf, len, key, ret);
	if (r == 0 && ret_auth)
		*ret_auth = auth;
	free(buf);
	return r;
}

int lb_point_load(struct lb_store *st, const char *spec, const struct lb_keyring *trust, struct lb_manifest **ret,
		  struct lb_point_auth *ret_auth)
{
	const char *slash = strchr(spec, '/');
	char *key = NULL, *server = NULL, **keys = NULL;
	size_t n = 0, skipped = 0;
	int r;

	if (strncmp(spec, "points/", 7) == 0)
		return load_key(st, spec, trust, ret, ret_auth);
	if (!slash || slash == spec || !slash[1] || strchr(slash + 1, '/')) {
		lb_log("restore point '%s': expected SERVER/ID or SERVER/latest", spec);
		return -EINVAL;
	}
	if (strcmp(slash + 1, "latest") != 0) {
		key = lb_strdupf("points/%.*s/%s.json", (int)(slash - spec), spec, slash + 1);
		r = key ? load_key(st, key, trust, ret, ret_auth) : -ENOMEM;
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
	/* The newest backup that is accepted: a damaged (or, with trusted
	 * keys, unsigned or badly signed) newest one is reported and skipped,
	 * never restored; images (which may hold only some of the server's
	 * disks) are not backups and are named by id. */
	for (size_t i = n; r == 0 && i-- > 0;) {
		r = load_key(st, keys[i], trust, ret, ret_auth);
		if (r == 0 && (*ret)->kind == LB_KIND_BACKUP)
			break;
		if (r < 0 && !refusal(r))
			break;
		if (r == 0) {
			lb_manifest_free(*ret);
			*ret = NULL;
		} else {
			lb_log("skipping %s; trying the one before", keys[i]);
			skipped++;
		}
		r = 0;
		if (i == 0) {
			lb_log("store %s: server %s has no backup that %s", lb_store_url(st), server,
			       lb_keyring_count(trust) ? "is signed by a trusted key and valid" : "is valid");
			r = -ENOENT;
		}
	}
	if (r == 0 && skipped)
		lb_log("%s: picked %s/%s instead, the newest %s; %zu newer point%s refused (above)", spec, (*ret)->server,
		       (*ret)->id, lb_keyring_count(trust) ? "point signed by a trusted key" : "valid point", skipped,
		       skipped == 1 ? "" : "s");
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

int lb_point_fetch_into(struct lb_store *st, struct lb_chunk_codec *codec, const uint8_t h[32], uint32_t len,
			void *z, size_t zcap, void *buf, const char *name, size_t *ret_stored, unsigned *ret_refetched)
{
	char key[96], why[256];
	size_t zlen = 0;
	unsigned again;
	int r;

	if (ret_refetched)
		*ret_refetched = 0;
	lb_chunk_key(h, key);
	for (again = 0;; again++) {
		r = lb_store_get_into(st, key, z, zcap, &zlen);
		if (r == -ENOENT)
			lb_log("%s: chunk %s is missing from the store", name, key);
		if (r < 0)
			return r;
		r = lb_chunk_check(codec, z, zlen, buf, len, h, why, sizeof(why));
		/* Only damage is worth another fetch: bytes that went bad on the
		 * way (a flipped bit the TCP checksum missed, a proxy that cut
		 * a body short and said it was whole) come right the next time;
		 * a chunk damaged in the store stays wrong and stops the restore
		 * after a few tries. buf's bytes are never taken as good. */
		if (r == 0 || (r != -EBADMSG && r != -EILSEQ))
			break;
		if (again >= LB_POINT_REFETCH_MAX) {
			lb_log("chunk %s (%s): %s; still wrong after %u fetches: giving up", key, name, why,
			       again + 1);
			return r;
		}
		lb_log("%s: chunk %s failed verification; fetching it again (%u/%u)", name, key, again + 1,
		       LB_POINT_REFETCH_MAX);
	}
	if (r < 0)
		return r;
	if (ret_stored)
		*ret_stored = zlen;
	if (ret_refetched)
		*ret_refetched = again;
	return 0;
}

int lb_point_fetch(struct lb_store *st, const uint8_t h[32], uint32_t len, void *buf, const char *name,
		   size_t *ret_stored)
{
	size_t zcap = lb_chunk_stored_max(len);
	void *z = malloc(zcap);
	int r;

	if (!z)
		return -ENOMEM;
	r = lb_point_fetch_into(st, NULL, h, len, z, zcap, buf, name, ret_stored, NULL);
	free(z);
	return r;
}

int lb_point_remove(struct lb_store *st, const char *key)
{
	char *sig = lb_sig_key(key);
	int r = sig ? lb_store_delete(st, key, 0) : -ENOMEM;

	/* The manifest first: a signature left behind by a failure here names
	 * no point (readers look for manifests) and is harmless. */
	if (r == 0 && (r = lb_store_delete(st, sig, 0)) < 0)
		lb_log("%s: removed, but its signature %s was not", key, sig);
	free(sig);
	return r;
}
