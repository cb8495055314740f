/* Restore points by name: listing servers and points, resolving latest. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "point.h"
#include "util.h"

struct strs {
	char **v;
	size_t n;
	const char *suffix; /* keep only keys ending so; NULL keeps dirs */
	size_t cut;         /* characters of prefix to drop */
};

static int collect(const char *key, uint64_t size, void *userdata)
{
	struct strs *s = userdata;
	size_t kl = strlen(key);
	char **v, *e;

	(void)size;
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

int lb_point_keys(struct lb_store *st, const char *server, char ***ret, size_t *ret_n)
{
	struct strs s = { .suffix = ".json" };
	char *dir = lb_strdupf("points/%s/", server);
	/* ids start with their UTC time: name order is time order */
	int r = list_sorted(st, dir, &s, ret, ret_n);

	free(dir);
	return r;
}

static int load_key(struct lb_store *st, const char *key, struct lb_manifest **ret)
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
		return load_key(st, spec, ret);
	if (!slash || slash == spec || !slash[1] || strchr(slash + 1, '/')) {
		lb_log("restore point '%s': expected SERVER/ID or SERVER/latest", spec);
		return -EINVAL;
	}
	if (strcmp(slash + 1, "latest") != 0) {
		key = lb_strdupf("points/%.*s/%s.json", (int)(slash - spec), spec, slash + 1);
		r = key ? load_key(st, key, ret) : -ENOMEM;
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
	/* The newest point whose manifest is valid: a damaged newest one is
	 * reported and skipped, never restored. */
	for (size_t i = n; r == 0 && i-- > 0;) {
		r = load_key(st, keys[i], ret);
		if (r == 0)
			break;
		if (r == -ENOMEM)
			break;
		lb_log("skipping %s; trying the one before", keys[i]);
		r = i == 0 ? -ENOENT : 0;
	}
	lb_point_strv_free(keys, n);
	free(server);
	return r;
}
