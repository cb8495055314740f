/* ECDSA P-256 keys through mbedTLS (key.h). mbedTLS's negative codes end
 * here: each is logged once with the key's name and mbedtls_strerror. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>

#include "hash.h"
#include "key.h"
#include "util.h"

struct lb_key {
	mbedtls_pk_context pk;
	bool priv;
	char id[LB_KEY_ID_HEX + 1];
	char *name;
};

struct lb_keyring {
	size_t n;
	struct lb_key **keys;
};

/* Log an mbedTLS failure once and turn it into err. */
static int mbed_fail(int code, const char *name, const char *action, int err)
{
	char msg[160];

	mbedtls_strerror(code, msg, sizeof(msg));
	lb_log("key %s: %s: %s (mbedTLS -0x%04x)", name, action, msg, (unsigned)-code);
	return err;
}

/* A CTR-DRBG seeded from the kernel (getrandom): key generation, and the
 * blinding mbedTLS applies while signing and parsing private keys. */
struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int rng_init(struct rng *g, const char *name)
{
	static const unsigned char pers[] = "lifeboat key";
	int r;

	mbedtls_entropy_init(&g->entropy);
	mbedtls_ctr_drbg_init(&g->drbg);
	r = mbedtls_ctr_drbg_seed(&g->drbg, mbedtls_entropy_func, &g->entropy, pers, sizeof(pers) - 1);
	return r ? mbed_fail(r, name, "seeding the random number generator", -EIO) : 0;
}

static void rng_free(struct rng *g)
{
	mbedtls_ctr_drbg_free(&g->drbg);
	mbedtls_entropy_free(&g->entropy);
}

static struct lb_key *key_new(const char *name)
{
	struct lb_key *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	mbedtls_pk_init(&k->pk);
	k->name = strdup(name);
	if (!k->name) {
		free(k);
		return NULL;
	}
	return k;
}

void lb_key_free(struct lb_key *k)
{
	if (!k)
		return;
	mbedtls_pk_free(&k->pk); /* zeroizes the private half */
	free(k->name);
	free(k);
}

/* Only ECDSA on P-256: the one algorithm docs/FORMAT.md names. */
static int check_curve(struct lb_key *k)
{
	if (mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_ECKEY ||
	    mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(k->pk)) != MBEDTLS_ECP_DP_SECP256R1) {
		lb_log("key %s: not an ECDSA P-256 key (%s); lifeboat signs and verifies with P-256 only", k->name,
		       mbedtls_pk_get_name(&k->pk));
		return -EBADMSG;
	}
	return 0;
}

static int compute_id(struct lb_key *k)
{
	unsigned char der[256];
	uint8_t h[32];
	int n = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof(der));

	if (n < 0)
		return mbed_fail(n, k->name, "encoding the public key", -EIO);
	/* mbedTLS writes DER at the end of the buffer */
	if (lb_sha256(der + sizeof(der) - n, (size_t)n, h) < 0)
		return -EIO;
	lb_hex(h, 32, k->id);
	return 0;
}

int lb_key_generate(struct lb_key **ret)
{
	struct lb_key *k = key_new("(new)");
	struct rng g;
	int r;

	if (!k)
		return -ENOMEM;
	r = rng_init(&g, k->name);
	if (r < 0)
		goto fail;
	r = mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (r == 0)
		r = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk), mbedtls_ctr_drbg_random, &g.drbg);
	rng_free(&g);
	if (r) {
		r = mbed_fail(r, k->name, "generating a P-256 key", -EIO);
		goto fail;
	}
	k->priv = true;
	if ((r = compute_id(k)) < 0)
		goto fail;
	*ret = k;
	return 0;
fail:
	lb_key_free(k);
	return r;
}

int lb_key_parse(const void *data, size_t len, bool want_private, const char *name, struct lb_key **ret)
{
	struct lb_key *k = NULL;
	unsigned char *buf = NULL;
	size_t blen;
	struct rng g;
	bool pem;
	int r;

	if (len == 0 || len > LB_KEY_FILE_MAX) {
		lb_log("key %s: %zu bytes is not a key", name, len);
		return -EBADMSG;
	}
	k = key_new(name);
	/* mbedTLS reads PEM only from a NUL-terminated buffer whose length
	 * counts the NUL, and DER from one that does not end in a NUL. */
	buf = malloc(len + 1);
	if (!k || !buf) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(buf, data, len);
	buf[len] = '\0';
	pem = memmem(buf, len, "-----BEGIN", 10) != NULL;
	blen = pem ? len + 1 : len;
	if (want_private) {
		if ((r = rng_init(&g, name)) < 0)
			goto fail;
		r = mbedtls_pk_parse_key(&k->pk, buf, blen, NULL, 0, mbedtls_ctr_drbg_random, &g.drbg);
		rng_free(&g);
		if (r == MBEDTLS_ERR_PK_PASSWORD_REQUIRED || r == MBEDTLS_ERR_PK_PASSWORD_MISMATCH) {
			lb_log("key %s: encrypted with a passphrase, which lifeboat does not ask for: keep it on a "
			       "machine only its owner reads (mode 0600) instead",
			       name);
			r = -EBADMSG;
			goto fail;
		}
		if (r) {
			r = mbed_fail(r, name, "not a private key", -EBADMSG);
			goto fail;
		}
		k->priv = true;
	} else {
		r = mbedtls_pk_parse_public_key(&k->pk, buf, blen);
		if (r && pem && memmem(buf, len, "PRIVATE KEY-----", 16)) {
			lb_log("key %s: is a private key; trust its public half (the .pub file) instead", name);
			r = -EBADMSG;
			goto fail;
		}
		if (r) {
			r = mbed_fail(r, name, "not a public key", -EBADMSG);
			goto fail;
		}
	}
	if ((r = check_curve(k)) < 0 || (r = compute_id(k)) < 0)
		goto fail;
	*ret = k;
	k = NULL;
	r = 0;
fail:
	if (buf)
		explicit_bzero(buf, len + 1);
	free(buf);
	lb_key_free(k);
	return r;
}

int lb_key_load(const char *path, bool want_private, struct lb_key **ret)
{
	struct stat st;
	char *buf = NULL;
	int n, r;

	n = lb_read_file(path, LB_KEY_FILE_MAX, &buf);
	if (n < 0) {
		lb_log("key %s: %s", path, n == -EFBIG ? "larger than a key file can be" : strerror(-n));
		return n;
	}
	if (want_private && stat(path, &st) < 0) {
		r = -errno;
		lb_log("key %s: %s", path, strerror(-r));
		goto fail;
	}
	if (want_private && (st.st_mode & 077)) {
		lb_log("key %s: a private key readable by group or others (mode %03o) is refused: chmod 600 it", path,
		       (unsigned)(st.st_mode & 0777));
		r = -EPERM;
		goto fail;
	}
	r = lb_key_parse(buf, (size_t)n, want_private, path, ret);
fail:
	explicit_bzero(buf, (size_t)n);
	free(buf);
	return r;
}

static int write_new(const char *path, mode_t mode, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode), r = 0;

	if (fd < 0) {
		r = -errno;
		lb_log("key %s: %s%s", path, strerror(-r), r == -EEXIST ? " (keys are never overwritten)" : "");
		return r;
	}
	/* the umask may have taken bits from a public key; never adds any */
	if (fchmod(fd, mode) < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		lb_log("key %s: writing: %s", path, strerror(-r));
		unlink(path);
	}
	return r;
}

int lb_key_public_pem(const struct lb_key *k, char **ret)
{
	unsigned char *buf = malloc(1024);
	int r;

	if (!buf)
		return -ENOMEM;
	r = mbedtls_pk_write_pubkey_pem((mbedtls_pk_context *)&k->pk, buf, 1024);
	if (r) {
		free(buf);
		return mbed_fail(r, k->name, "encoding the public key", -EIO);
	}
	*ret = (char *)buf;
	return 0;
}

int lb_key_save(const struct lb_key *k, const char *path, const char *pub_path)
{
	unsigned char priv[1024];
	char *pub = NULL;
	int r;

	if (!k->priv)
		return -EINVAL;
	/* both names free before either is written */
	if (access(path, F_OK) == 0 || access(pub_path, F_OK) == 0) {
		lb_log("key %s: %s exists (keys are never overwritten)", path, access(path, F_OK) == 0 ? path : pub_path);
		return -EEXIST;
	}
	r = mbedtls_pk_write_key_pem((mbedtls_pk_context *)&k->pk, priv, sizeof(priv));
	if (r) {
		r = mbed_fail(r, path, "encoding the private key", -EIO);
		goto fail;
	}
	if ((r = lb_key_public_pem(k, &pub)) < 0)
		goto fail;
	if ((r = write_new(path, 0600, priv, strlen((char *)priv))) < 0)
		goto fail;
	if ((r = write_new(pub_path, 0644, pub, strlen(pub))) < 0)
		unlink(path);
fail:
	explicit_bzero(priv, sizeof(priv));
	free(pub);
	return r;
}

const char *lb_key_id(const struct lb_key *k)
{
	return k->id;
}

const char *lb_key_name(const struct lb_key *k)
{
	return k->name;
}

int lb_key_sign(const struct lb_key *k, const uint8_t hash[32], uint8_t *sig, size_t *ret_len)
{
	struct rng g;
	int r;

	if (!k->priv)
		return -EINVAL;
	if ((r = rng_init(&g, k->name)) < 0)
		return r;
	r = mbedtls_pk_sign((mbedtls_pk_context *)&k->pk, MBEDTLS_MD_SHA256, hash, 32, sig, LB_KEY_SIG_MAX, ret_len,
			    mbedtls_ctr_drbg_random, &g.drbg);
	rng_free(&g);
	return r ? mbed_fail(r, k->name, "signing", -EIO) : 0;
}

int lb_key_verify(const struct lb_key *k, const uint8_t hash[32], const uint8_t *sig, size_t len)
{
	/* Anything but 0 is a refusal, including SIG_LEN_MISMATCH (a valid
	 * signature followed by extra bytes: not what was written). */
	return mbedtls_pk_verify((mbedtls_pk_context *)&k->pk, MBEDTLS_MD_SHA256, hash, 32, sig, len) == 0 ?
		       0 :
		       -EKEYREJECTED;
}

/* ---- the keyring ---- */

int lb_keyring_new(struct lb_keyring **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void lb_keyring_free(struct lb_keyring *kr)
{
	if (!kr)
		return;
	for (size_t i = 0; i < kr->n; i++)
		lb_key_free(kr->keys[i]);
	free(kr->keys);
	free(kr);
}

size_t lb_keyring_count(const struct lb_keyring *kr)
{
	return kr ? kr->n : 0;
}

const struct lb_key *lb_keyring_get(const struct lb_keyring *kr, size_t i)
{
	return kr && i < kr->n ? kr->keys[i] : NULL;
}

const struct lb_key *lb_keyring_find(const struct lb_keyring *kr, const char *id)
{
	for (size_t i = 0; kr && i < kr->n; i++)
		if (strcmp(kr->keys[i]->id, id) == 0)
			return kr->keys[i];
	return NULL;
}

int lb_keyring_add_file(struct lb_keyring *kr, const char *path)
{
	struct lb_key *k = NULL;
	int r = lb_key_load(path, false, &k);

	return r < 0 ? r : lb_keyring_add(kr, k);
}

int lb_keyring_add(struct lb_keyring *kr, struct lb_key *k)
{
	struct lb_key **v;

	if (lb_keyring_find(kr, k->id)) {
		lb_key_free(k);
		return 0;
	}
	v = realloc(kr->keys, (kr->n + 1) * sizeof(*v));
	if (!v) {
		lb_key_free(k);
		return -ENOMEM;
	}
	kr->keys = v;
	kr->keys[kr->n++] = k;
	return 0;
}

static int pub_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 4 && strcmp(e->d_name + n - 4, ".pub") == 0;
}

int lb_keyring_add_dir(struct lb_keyring *kr, const char *dir)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, pub_file, alphasort), r = 0;

	if (n < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		lb_log("trusted keys %s: %s", dir, strerror(-r));
		return r;
	}
	for (int i = 0; i < n; i++) {
		char *path = r == 0 ? lb_strdupf("%s/%s", dir, list[i]->d_name) : NULL;

		if (r == 0)
			r = path ? lb_keyring_add_file(kr, path) : -ENOMEM;
		free(path);
		free(list[i]);
	}
	free(list);
	return r;
}

int lb_keyring_load(const char *const *files, size_t n, struct lb_keyring **ret)
{
	struct lb_keyring *kr = NULL;
	const char *extra = getenv("LIFEBOAT_TRUSTED_KEYS");
	int r = lb_keyring_new(&kr);

	if (r == 0)
		r = lb_keyring_add_dir(kr, LB_KEY_TRUST_DIR);
	if (r == 0 && extra && *extra)
		r = lb_keyring_add_dir(kr, extra);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = lb_keyring_add_file(kr, files[i]);
	if (r < 0) {
		lb_keyring_free(kr);
		return r;
	}
	*ret = kr;
	return 0;
}
