/* Restore-point signatures (docs/FORMAT.md, "Signatures"): the object
 * points/SERVER/ID.sig beside the manifest, holding ECDSA signatures over
 *
 *   "lifeboat-signature-v1\n" <manifest key> "\n" <the manifest's exact bytes>
 *
 * The manifest binds its server, id and creation time (and a reader refuses
 * one stored under another name), the SHA-256 of every chunk index, and the
 * indexes the hash of every chunk: a valid signature vouches for the whole
 * point. Readers of format version 1 without signature support ignore the
 * object (listings keep only *.json). */
#ifndef LB_SIG_H
#define LB_SIG_H

#include <stdbool.h>
#include <stddef.h>

#include "key.h"

#define LB_SIG_OBJECT_MAX (64u << 10) /* ceiling for fetching a .sig */
#define LB_SIG_ENTRIES_MAX 16
#define LB_SIG_ALGORITHM "ecdsa-p256-sha256"

/* "points/S/ID.json" -> "points/S/ID.sig" (malloc'ed); NULL for a key
 * that does not end in .json, or without memory. */
char *lb_sig_key(const char *manifest_key);

/* The signature object, signed by k, for the manifest bytes stored (or to
 * be stored) under manifest_key. */
int lb_sig_format(const struct lb_key *k, const char *manifest_key, const void *manifest, size_t len,
		  char **ret, size_t *ret_len);

struct lb_sig_check {
	size_t n_entries;               /* signatures in the object */
	char key_id[LB_KEY_ID_HEX + 1]; /* the verifying key, else the first signer */
	const struct lb_key *key;       /* the trusted key that verified, else NULL */
};

/* Parse the signature object sig (read from sig_name) and check it against
 * the manifest bytes stored under manifest_key: it must be for that key and
 * those bytes, and, when trust holds keys, carry a signature by one of them
 * that verifies. With an empty (or NULL) trust, no signature is verified
 * and ret->key stays NULL: a well-formed object for these bytes is 0.
 *   -EBADMSG       not a signature object (malformed, over its limits)
 *   -EKEYREJECTED  for another manifest, or for other bytes, or a trusted
 *                  key's signature that does not verify (tampering)
 *   -ENOKEY        no signature by a trusted key (signers named)
 * each logged once, naming sig_name. */
int lb_sig_check(const void *sig, size_t sig_len, const char *sig_name, const char *manifest_key,
		 const void *manifest, size_t len, const struct lb_keyring *trust, struct lb_sig_check *ret);

#endif
