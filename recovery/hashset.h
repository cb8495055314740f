/* A set of SHA-256 hashes, each with a one-byte value: the chunks a run
 * has already placed (writer), referenced (gc) or checked (scrub). Open
 * addressing in one array (33 bytes an entry, at most half full), so 10
 * million chunks (40 TiB of 4 MiB chunks) take about 660 MB. The all-zero
 * hash is the empty slot and cannot be stored: it is the index's mark for
 * a zero chunk, which is never stored either. */
#ifndef LB_HASHSET_H
#define LB_HASHSET_H

#include <stddef.h>
#include <stdint.h>

struct lb_hashset;

int lb_hashset_new(struct lb_hashset **ret);
void lb_hashset_free(struct lb_hashset *s);
/* 1 and *ret_value (may be NULL) when h is in the set, else 0. */
int lb_hashset_get(const struct lb_hashset *s, const uint8_t h[32], uint8_t *ret_value);
/* Insert h, or update its value. 0, -ENOMEM, or -EINVAL for the zero hash. */
int lb_hashset_put(struct lb_hashset *s, const uint8_t h[32], uint8_t value);
size_t lb_hashset_count(const struct lb_hashset *s);

#endif
