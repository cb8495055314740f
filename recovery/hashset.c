/* Hash set of SHA-256 hashes; see hashset.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hashset.h"

struct entry {
	uint8_t h[32];
	uint8_t value;
};

struct lb_hashset {
	size_t cap, n; /* cap a power of two */
	struct entry *e;
};

static bool is_zero(const uint8_t h[32])
{
	for (int i = 0; i < 32; i++)
		if (h[i])
			return false;
	return true;
}

/* The hashes are SHA-256: their first bytes are already uniform. */
static size_t slot(const struct lb_hashset *s, const uint8_t h[32])
{
	size_t v = 0;

	memcpy(&v, h, sizeof(v));
	return v & (s->cap - 1);
}

static struct entry *find(const struct lb_hashset *s, const uint8_t h[32])
{
	size_t i;

	if (!s->cap)
		return NULL;
	for (i = slot(s, h); !is_zero(s->e[i].h); i = (i + 1) & (s->cap - 1))
		if (memcmp(s->e[i].h, h, 32) == 0)
			return &s->e[i];
	return &s->e[i];
}

int lb_hashset_new(struct lb_hashset **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void lb_hashset_free(struct lb_hashset *s)
{
	if (!s)
		return;
	free(s->e);
	free(s);
}

int lb_hashset_get(const struct lb_hashset *s, const uint8_t h[32], uint8_t *ret_value)
{
	const struct entry *e = find(s, h);

	if (!e || is_zero(e->h))
		return 0;
	if (ret_value)
		*ret_value = e->value;
	return 1;
}

static int grow(struct lb_hashset *s)
{
	struct lb_hashset bigger = { .cap = s->cap ? 2 * s->cap : 1024 };

	bigger.e = calloc(bigger.cap, sizeof(*bigger.e));
	if (!bigger.e)
		return -ENOMEM;
	for (size_t k = 0; k < s->cap; k++)
		if (!is_zero(s->e[k].h))
			*find(&bigger, s->e[k].h) = s->e[k];
	bigger.n = s->n;
	free(s->e);
	*s = bigger;
	return 0;
}

int lb_hashset_put(struct lb_hashset *s, const uint8_t h[32], uint8_t value)
{
	struct entry *e;
	int r;

	if (is_zero(h))
		return -EINVAL;
	if (2 * (s->n + 1) > s->cap && (r = grow(s)) < 0)
		return r;
	e = find(s, h);
	if (is_zero(e->h)) {
		memcpy(e->h, h, 32);
		s->n++;
	}
	e->value = value;
	return 0;
}

size_t lb_hashset_count(const struct lb_hashset *s)
{
	return s->n;
}
