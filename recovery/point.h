/* Finding restore points in a store: by id, `latest`, and listings. */
#ifndef LB_POINT_H
#define LB_POINT_H

#include <stddef.h>

#include "manifest.h"
#include "store.h"

/* Load and verify the point named by spec: "SERVER/ID", "SERVER/latest"
 * (the newest backup whose manifest is valid; images are named by id) or
 * "points/SERVER/ID.json". */
int lb_point_load(struct lb_store *st, const char *spec, struct lb_manifest **ret);

/* Server names with points in the store, sorted. */
int lb_point_servers(struct lb_store *st, char ***ret, size_t *ret_n);
/* The same, or just `server` when not NULL (checked: -EINVAL, logged). */
int lb_point_servers_or(struct lb_store *st, const char *server, char ***ret, size_t *ret_n);
/* Manifest keys of one server, oldest first. */
int lb_point_keys(struct lb_store *st, const char *server, char ***ret, size_t *ret_n);
/* Manifest keys of every server (or of one when server is not NULL),
 * by server, oldest first. */
int lb_point_all_keys(struct lb_store *st, const char *server, char ***ret, size_t *ret_n);
void lb_point_strv_free(char **v, size_t n);

/* Load and verify the manifest stored under key ("points/SERVER/ID.json");
 * -ENOENT logged. */
int lb_point_load_key(struct lb_store *st, const char *key, struct lb_manifest **ret);

/* Disk d's chunk index, checked against the manifest (length, SHA-256,
 * chunk and disk sizes). -ENOENT or -EBADMSG, logged. */
int lb_point_index(struct lb_store *st, const struct lb_manifest_disk *d, struct lb_index **ret);

/* The chunk hashing to h (not a zero chunk), len bytes, fetched into buf
 * and verified. name ("disk system, chunk 7") is for the log, which says
 * what is wrong: -ENOENT missing, -EBADMSG a corrupt frame, -EILSEQ the
 * wrong bytes. *ret_stored (may be NULL): the bytes fetched. */
int lb_point_fetch(struct lb_store *st, const uint8_t h[32], uint32_t len, void *buf, const char *name,
		   size_t *ret_stored);

#endif
