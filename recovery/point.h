/* Finding restore points in a store: by id, `latest`, and listings. */
#ifndef LB_POINT_H
#define LB_POINT_H

#include <stddef.h>

#include "key.h"
#include "manifest.h"
#include "store.h"

/* How a loaded point was authenticated (its signature object, sig.h). */
enum lb_point_auth_state {
	LB_POINT_UNSIGNED,    /* no signature object (no trusted key configured) */
	LB_POINT_SIGNED,      /* signed, not verified: no trusted key configured */
	LB_POINT_SIG_INVALID, /* a signature object that does not fit (ditto) */
	LB_POINT_VERIFIED,    /* signed by a trusted key, verified */
};

struct lb_point_auth {
	enum lb_point_auth_state state;
	char key_id[LB_KEY_ID_HEX + 1]; /* the signer (VERIFIED, SIGNED) */
	const struct lb_key *key;       /* VERIFIED: the trusted key (trust's) */
};

/* Load and verify the point named by spec: "SERVER/ID", "SERVER/latest"
 * (the newest backup accepted; images are named by id) or
 * "points/SERVER/ID.json".
 *
 * With trusted keys (lb_keyring_count(trust) > 0) a point is accepted only
 * with a valid signature by one of them, checked over the manifest's bytes
 * before they are parsed: an unsigned point, a signature by another key,
 * a manifest or signature altered, or a point copied under another name
 * are refused (-ENOKEY, -EKEYREJECTED, -EBADMSG; logged). Without trusted
 * keys any valid manifest is accepted, and ret_auth (if not NULL) says
 * whether it was signed.
 *
 * latest is the newest point that is accepted: newer ones that are
 * refused (damaged, or not signed by a trusted key) are each logged and
 * skipped, and the log says which point was picked instead. A failure to
 * read the store is not a refusal: it stops the search (an older point is
 * never restored because the network hiccuped). */
int lb_point_load(struct lb_store *st, const char *spec, const struct lb_keyring *trust, struct lb_manifest **ret,
		  struct lb_point_auth *ret_auth);

/* "signed by trusted key ID (FILE)", "unsigned", ... for messages. */
void lb_point_auth_describe(const struct lb_point_auth *a, char *buf, size_t size);

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

/* Load and verify the manifest stored under key ("points/SERVER/ID.json"),
 * its signature not checked (store upkeep: gc, prune, scrub);
 * -ENOENT logged. */
int lb_point_load_key(struct lb_store *st, const char *key, struct lb_manifest **ret);

/* Remove the point stored under key: its manifest, then its signature
 * object (if any). 0 or -errno, logged. The chunks stay for gc. */
int lb_point_remove(struct lb_store *st, const char *key);

/* Disk d's chunk index, checked against the manifest (length, SHA-256,
 * chunk and disk sizes). -ENOENT or -EBADMSG, logged. */
int lb_point_index(struct lb_store *st, const struct lb_manifest_disk *d, struct lb_index **ret);

/* The chunk hashing to h (not a zero chunk), len bytes, fetched into buf
 * and verified. name ("disk system, chunk 7 at offset 7340032") is for the
 * log, which says what is wrong: -ENOENT missing, -EBADMSG a corrupt
 * frame, -EILSEQ the wrong bytes. A chunk that arrives but fails
 * verification is fetched again, up to LB_POINT_REFETCH_MAX times (each
 * logged, naming the chunk); only the last verdict is reported as the
 * failure. *ret_stored (may be NULL): the bytes fetched. */
#define LB_POINT_REFETCH_MAX 3u
int lb_point_fetch(struct lb_store *st, const uint8_t h[32], uint32_t len, void *buf, const char *name,
		   size_t *ret_stored);
/* The same for a worker: its own zstd context (codec, may be NULL) and
 * frame buffer (z, zcap >= lb_chunk_stored_max(len)); *ret_refetched (may
 * be NULL) gets how many fetches past the first it took. */
struct lb_chunk_codec;
int lb_point_fetch_into(struct lb_store *st, struct lb_chunk_codec *codec, const uint8_t h[32], uint32_t len,
			void *z, size_t zcap, void *buf, const char *name, size_t *ret_stored, unsigned *ret_refetched);

#endif
