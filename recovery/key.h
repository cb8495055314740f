/* Signing keys and the set of keys a restore trusts: the one wrapper around
 * mbedTLS's pk, ecp, ecdsa and RNG APIs, so key parsing, mbedTLS's error
 * codes and their log lines live here and nowhere else.
 *
 * One algorithm: ECDSA over P-256 with SHA-256, signatures deterministic
 * (RFC 6979, MBEDTLS_ECDSA_DETERMINISTIC), so that no weak RNG at signing
 * time can leak the key and the same key signs the same bytes identically.
 * (mbedTLS 3.6 has no Ed25519.) Keys are files in the formats OpenSSL
 * reads and writes: a private key is PEM ("EC PRIVATE KEY" or PKCS#8
 * "PRIVATE KEY"), a public key PEM "PUBLIC KEY" (or the same as DER).
 *
 * A key's id is the lowercase hex SHA-256 of its public key as DER
 * SubjectPublicKeyInfo: `openssl pkey -pubin -in K.pub -outform DER |
 * sha256sum` prints the same. */
#ifndef LB_KEY_H
#define LB_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_KEY_ID_HEX 64
#define LB_KEY_FILE_MAX (16u << 10) /* a key file larger than this is not one */
#define LB_KEY_SIG_MAX 80           /* DER ECDSA-P256 signatures are at most 72 bytes */
/* Where the image keeps the keys it trusts (iso/customize --trust-key). */
#define LB_KEY_TRUST_DIR "/etc/lifeboat/trusted-keys"

struct lb_key;

/* A fresh P-256 key pair. */
int lb_key_generate(struct lb_key **ret);

/* A key from a file's bytes (PEM or DER); name is for the log and is kept.
 * want_private: the key must carry its private half (a signing key);
 * otherwise it must be a public key, and a private key is refused (so a
 * signing key is never copied into an image as a trusted key by mistake).
 * 0, or -EBADMSG (not a key, another curve or algorithm: logged), -ENOMEM. */
int lb_key_parse(const void *data, size_t len, bool want_private, const char *name, struct lb_key **ret);

/* lb_key_parse of a file. A private key file readable by group or others
 * is refused (-EPERM, logged), like a config holding credentials. */
int lb_key_load(const char *path, bool want_private, struct lb_key **ret);

/* Write the private key to path (mode 0600) and the public key to pub_path
 * (0644), both created new (-EEXIST, logged, when either exists: a key is
 * never overwritten). */
int lb_key_save(const struct lb_key *k, const char *path, const char *pub_path);

/* The public key as PEM text (NUL-terminated, malloc'ed). */
int lb_key_public_pem(const struct lb_key *k, char **ret);

const char *lb_key_id(const struct lb_key *k); /* 64 hex digits */
const char *lb_key_name(const struct lb_key *k);

/* ECDSA signature (DER, at most LB_KEY_SIG_MAX bytes) over a SHA-256. */
int lb_key_sign(const struct lb_key *k, const uint8_t hash[32], uint8_t *sig, size_t *ret_len);
/* 0 when sig is k's signature of hash, else -EKEYREJECTED (not logged:
 * the caller names the object that failed). */
int lb_key_verify(const struct lb_key *k, const uint8_t hash[32], const uint8_t *sig, size_t len);

void lb_key_free(struct lb_key *k);

/* ---- the trusted keys ---- */

struct lb_keyring;

int lb_keyring_new(struct lb_keyring **ret);
/* A public key file; the same key twice is kept once. */
int lb_keyring_add_file(struct lb_keyring *kr, const char *path);
/* A parsed key (public or private: only its public half is used); the
 * keyring takes it over, also on failure. */
int lb_keyring_add(struct lb_keyring *kr, struct lb_key *k);
/* Every *.pub in dir, in name order; a missing dir adds nothing. A file
 * there that is not a public key is an error, never skipped: a broken
 * key must not quietly turn signature checking off. */
int lb_keyring_add_dir(struct lb_keyring *kr, const char *dir);
/* What a restore trusts: LB_KEY_TRUST_DIR, the directory named by
 * $LIFEBOAT_TRUSTED_KEYS (both add, neither removes), and files[0..n). */
int lb_keyring_load(const char *const *files, size_t n, struct lb_keyring **ret);
size_t lb_keyring_count(const struct lb_keyring *kr); /* accepts NULL: 0 */
const struct lb_key *lb_keyring_get(const struct lb_keyring *kr, size_t i);
/* The key with this id, or NULL. */
const struct lb_key *lb_keyring_find(const struct lb_keyring *kr, const char *id);
void lb_keyring_free(struct lb_keyring *kr);

#endif
