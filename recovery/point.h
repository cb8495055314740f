/* Finding restore points in a store: by id, `latest`, and listings. */
#ifndef LB_POINT_H
#define LB_POINT_H

#include <stddef.h>

#include "manifest.h"
#include "store.h"

/* Load and verify the point named by spec: "SERVER/ID", "SERVER/latest"
 * (the newest whose manifest is valid) or "points/SERVER/ID.json". */
int lb_point_load(struct lb_store *st, const char *spec, struct lb_manifest **ret);

/* Server names with points in the store, sorted. */
int lb_point_servers(struct lb_store *st, char ***ret, size_t *ret_n);
/* Manifest keys of one server, oldest first. */
int lb_point_keys(struct lb_store *st, const char *server, char ***ret, size_t *ret_n);
void lb_point_strv_free(char **v, size_t n);

#endif
