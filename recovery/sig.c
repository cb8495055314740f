/* The signature object of a restore point (sig.h): written by backup,
 * checked where points are loaded. JSON through json-c in strict mode,
 * every member bounded; the cryptography is key.c's. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hash.h"
#include "json.h"
#include "key.h"
#include "sig.h"
#include "util.h"

#define SIG_PREFIX "lifeboat-signature-v1\n"
#define SIG_DEPTH 4
#define SIG_B64_MAX 128 /* base64 of LB_KEY_SIG_MAX bytes fits */

char *lb_sig_key(const char *manifest_key)
{
	size_t n = strlen(manifest_key);

	if (n < 5 || strcmp(manifest_key + n - 5, ".json") != 0)
		return NULL;
	return lb_strdupf("%.*s.sig", (int)(n - 5), manifest_key);
}

/* SHA-256 of the signed message: the prefix, the key and the bytes. */
static int message_hash(const char *manifest_key, const void *manifest, size_t len, uint8_t ret[32])
{
	struct lb_sha256_ctx *c = NULL;
	int r = lb_sha256_begin(&c);

	if (r == 0)
		r = lb_sha256_update(c, SIG_PREFIX, strlen(SIG_PREFIX));
	if (r == 0)
		r = lb_sha256_update(c, manifest_key, strlen(manifest_key));
	if (r == 0)
		r = lb_sha256_update(c, "\n", 1);
	if (r == 0)
		r = lb_sha256_update(c, manifest, len);
	if (r < 0) {
		lb_sha256_free(c);
		return r;
	}
	return lb_sha256_end(c, ret);
}

int lb_sig_format(const struct lb_key *k, const char *manifest_key, const void *manifest, size_t len,
		  char **ret, size_t *ret_len)
{
	struct lb_json *j = NULL;
	uint8_t h[32], sig[LB_KEY_SIG_MAX];
	char hex[65], b64[SIG_B64_MAX + 1], *buf = NULL;
	size_t siglen = 0, blen = 0;
	FILE *f = NULL;
	int r;

	if ((r = lb_sha256(manifest, len, h)) < 0)
		return r;
	lb_hex(h, 32, hex);
	if ((r = message_hash(manifest_key, manifest, len, h)) < 0 || (r = lb_key_sign(k, h, sig, &siglen)) < 0 ||
	    (r = lb_base64_encode(sig, siglen, b64, sizeof(b64))) < 0)
		return r;
	f = open_memstream(&buf, &blen);
	if (!f)
		return -errno;
	if ((r = lb_json_new(f, true, &j)) < 0)
		goto fail;
	lb_json_object_begin(j);
	lb_json_key(j, "format"), lb_json_string(j, "lifeboat-signature");
	lb_json_key(j, "version"), lb_json_u64(j, 1);
	lb_json_key(j, "manifest"), lb_json_string(j, manifest_key);
	lb_json_key(j, "manifest_sha256"), lb_json_string(j, hex);
	lb_json_key(j, "signatures"), lb_json_array_begin(j);
	lb_json_object_begin(j);
	lb_json_key(j, "algorithm"), lb_json_string(j, LB_SIG_ALGORITHM);
	lb_json_key(j, "key_id"), lb_json_string(j, lb_key_id(k));
	lb_json_key(j, "signature"), lb_json_string(j, b64);
	lb_json_object_end(j);
	lb_json_array_end(j);
	lb_json_object_end(j);
	r = lb_json_free(j);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	f = NULL;
	if (r < 0)
		goto fail;
	*ret = buf;
	*ret_len = blen;
	buf = NULL;
fail:
	if (f)
		fclose(f);
	free(buf);
	return r;
}

/* A string member of o of at most max bytes, without NULs; NULL if not. */
static const char *str_member(json_object *o, const char *name, size_t max)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	if ((size_t)json_object_get_string_len(v) > max ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return NULL;
	return json_object_get_string(v);
}

static bool hex_id_ok(const char *s)
{
	uint8_t b[32];

	return s && lb_unhex(s, b, 32) == 0;
}

/* Each entry: the trusted key it names verifies it, or it is skipped.
 * *ret_tried tells whether some entry named a trusted key. */
static int check_entries(json_object *sigs, const char *name, const uint8_t msg[32], const struct lb_keyring *trust,
			 struct lb_sig_check *ret)
{
	size_t n = json_object_array_length(sigs);
	char signers[LB_SIG_ENTRIES_MAX * 18 + 1] = "";

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(sigs, i);
		const char *alg, *id, *b64;
		uint8_t sig[LB_KEY_SIG_MAX];
		size_t siglen = 0;
		const struct lb_key *k;

		if (!json_object_is_type(e, json_type_object) || !(alg = str_member(e, "algorithm", 64)) ||
		    !hex_id_ok(id = str_member(e, "key_id", 64)) || !(b64 = str_member(e, "signature", SIG_B64_MAX)) ||
		    lb_base64_decode(b64, sig, sizeof(sig), &siglen) < 0) {
			lb_log("signature %s: signatures[%zu] is not {algorithm, key_id (64 hex digits), signature "
			       "(base64)}",
			       name, i);
			return -EBADMSG;
		}
		if (i == 0)
			snprintf(ret->key_id, sizeof(ret->key_id), "%s", id);
		snprintf(signers + strlen(signers), sizeof(signers) - strlen(signers), "%s%.16s", i ? ", " : "", id);
		/* an algorithm of a later version is someone else's to check */
		if (strcmp(alg, LB_SIG_ALGORITHM) != 0 || !(k = lb_keyring_find(trust, id)))
			continue;
		if (lb_key_verify(k, msg, sig, siglen) < 0) {
			lb_log("signature %s: the signature by trusted key %.16s (%s) does not verify: the manifest or "
			       "its signature was altered",
			       name, id, lb_key_name(k));
			return -EKEYREJECTED;
		}
		snprintf(ret->key_id, sizeof(ret->key_id), "%s", id);
		ret->key = k;
		return 0;
	}
	if (lb_keyring_count(trust) == 0)
		return 0;
	lb_log("signature %s: signed by key%s %s, none of them trusted (%zu trusted key%s)", name, n > 1 ? "s" : "",
	       signers, lb_keyring_count(trust), lb_keyring_count(trust) == 1 ? "" : "s");
	return -ENOKEY;
}

/* Only white space after the document. The object is not NUL-terminated
 * (it is the fetched bytes as they are): no str* function may run on it. */
static bool only_space(const void *sig, size_t len, struct json_tokener *tok)
{
	const char *p = sig;

	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!strchr(" \t\r\n", p[i]) || !p[i])
			return false;
	return true;
}

int lb_sig_check(const void *sig, size_t sig_len, const char *sig_name, const char *manifest_key,
		 const void *manifest, size_t len, const struct lb_keyring *trust, struct lb_sig_check *ret)
{
	struct json_tokener *tok = NULL;
	json_object *root = NULL, *v = NULL, *sigs = NULL;
	const char *s;
	uint8_t h[32], want[32];
	char hex[65];
	size_t n;
	int r = -EBADMSG;

	memset(ret, 0, sizeof(*ret));
	if (sig_len > LB_SIG_OBJECT_MAX || memchr(sig, '\0', sig_len) || !lb_json_utf8_valid(sig, sig_len)) {
		lb_log("signature %s: larger than %u bytes or not UTF-8 text", sig_name, LB_SIG_OBJECT_MAX);
		return -EBADMSG;
	}
	tok = json_tokener_new_ex(SIG_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, sig, (int)sig_len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success || !only_space(sig, sig_len, tok)) {
		lb_log("signature %s: not a JSON document", sig_name);
		goto fail;
	}
	if (!json_object_is_type(root, json_type_object) || !(s = str_member(root, "format", 64)) ||
	    strcmp(s, "lifeboat-signature") != 0 || !json_object_object_get_ex(root, "version", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		lb_log("signature %s: not a Lifeboat signature object", sig_name);
		goto fail;
	}
	if (json_object_get_int64(v) != 1) {
		lb_log("signature %s: version %s; this lifeboat reads version 1 (upgrade it)", sig_name,
		       json_object_get_string(v));
		goto fail;
	}
	if (!(s = str_member(root, "manifest", 1024))) {
		lb_log("signature %s: manifest: missing or not a string", sig_name);
		goto fail;
	}
	if (strcmp(s, manifest_key) != 0) {
		lb_log("signature %s: is for %s, not %s (copied from another point?)", sig_name, s, manifest_key);
		r = -EKEYREJECTED;
		goto fail;
	}
	s = str_member(root, "manifest_sha256", 64);
	if (!s || lb_unhex(s, want, 32) < 0) {
		lb_log("signature %s: manifest_sha256: missing or not 64 lowercase hex digits", sig_name);
		goto fail;
	}
	if ((r = lb_sha256(manifest, len, h)) < 0)
		goto fail;
	if (memcmp(h, want, 32) != 0) {
		lb_hex(h, 32, hex);
		lb_log("signature %s: %s hashes to %.16s, but %.16s was signed: the manifest was changed after signing",
		       sig_name, manifest_key, hex, s);
		r = -EKEYREJECTED;
		goto fail;
	}
	r = -EBADMSG;
	if (!json_object_object_get_ex(root, "signatures", &sigs) || !json_object_is_type(sigs, json_type_array) ||
	    (n = json_object_array_length(sigs)) < 1 || n > LB_SIG_ENTRIES_MAX) {
		lb_log("signature %s: signatures: must be an array of 1 to %d entries", sig_name, LB_SIG_ENTRIES_MAX);
		goto fail;
	}
	ret->n_entries = n;
	if ((r = message_hash(manifest_key, manifest, len, h)) < 0)
		goto fail;
	r = check_entries(sigs, sig_name, h, trust, ret);
fail:
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}
