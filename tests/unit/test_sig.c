/* key.c and sig.c: keys (OpenSSL-made vectors: id and a signature),
 * deterministic signing, key files and their modes, the keyring, and the
 * signature object: accepted when right, and each refusal with its errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "key.h"
#include "sig.h"
#include "tap.h"

/* openssl ecparam -name prime256v1 -genkey -noout; openssl pkey -pubout */
static const char *fixed_priv = "-----BEGIN EC PRIVATE KEY-----\n"
				"MHcCAQEEIEXTstTFJM1/b8OtzgmTYA1zzvc18qF8+C5UR32G2ip3oAoGCCqGSM49\n"
				"AwEHoUQDQgAEKcNWBRuJqXezULq/AND1+zGGrq4KFz8AcQPd7iuJosX0qz8XlBjN\n"
				"cm7X9xyjuPFYMxbfBlYfNDXa1bKcbbIaUg==\n"
				"-----END EC PRIVATE KEY-----\n";
static const char *fixed_pub = "-----BEGIN PUBLIC KEY-----\n"
			       "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEKcNWBRuJqXezULq/AND1+zGGrq4K\n"
			       "Fz8AcQPd7iuJosX0qz8XlBjNcm7X9xyjuPFYMxbfBlYfNDXa1bKcbbIaUg==\n"
			       "-----END PUBLIC KEY-----\n";
/* openssl pkey -pubin -outform DER | sha256sum */
static const char *fixed_id = "c398289d73c2bf9207f7cc83e41efd17b8d1d48e7c7d34bfe4c6f14ad935971e";
/* printf 'lifeboat test vector\n' | openssl dgst -sha256 -sign fixed.pem */
static const char *openssl_sig_hex = "3045022100feafdcfc6496b081f6700abe761886bd033ef01fb876c9e15b6805b0c2d237b1022059b741"
				     "b9d5cf62432ff35cbd3669614ca57c2f9415fd63d4dfbc0a93928e795e";
static const char *p384_pub = "-----BEGIN PUBLIC KEY-----\n"
			      "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEbWHsgcRL3xfEs6kkqbKqVyHYm652zpMu\n"
			      "yZg9VKYLCbw8KSPm6ttkmNozoi/dyGuzYv5JUzO6w/N7V0Fhs8a/5Qcpy1I6MmUR\n"
			      "tWW4wmy9SUcB6G3uncxujLiIua3NhxbS\n"
			      "-----END PUBLIC KEY-----\n";
static const char *ed25519_pub = "-----BEGIN PUBLIC KEY-----\n"
				 "MCowBQYDK2VwAyEAv4YynUgIqpWwiRjIBi/38qQat+jirfMBi1Qk32EItKc=\n"
				 "-----END PUBLIC KEY-----\n";

static const char *mkey = "points/web01/20261126T143000Z-3f9a0c1e.json";
static const char *mbytes = "{\"id\": \"20261126T143000Z-3f9a0c1e\", \"server\": \"web01\"}\n";

static char tmpdir[64];

static char *tmp_path(const char *name)
{
	static char buf[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0)
			perror(path);
		fchmod(fd, mode);
		close(fd);
	}
}

TEST(openssl_vectors)
{
	struct lb_key *pub = NULL, *priv = NULL;
	uint8_t h[32], sig[80];
	const char *msg = "lifeboat test vector\n";

	CHECK_INT(lb_key_parse(fixed_pub, strlen(fixed_pub), false, "fixed.pub", &pub), 0);
	CHECK_INT(lb_key_parse(fixed_priv, strlen(fixed_priv), true, "fixed.pem", &priv), 0);
	if (!pub || !priv)
		return;
	CHECK_STR(lb_key_id(pub), fixed_id);
	CHECK_STR(lb_key_id(priv), fixed_id); /* a private key's id is its public half's */
	CHECK_INT(lb_sha256(msg, strlen(msg), h), 0);
	CHECK_INT(lb_unhex(openssl_sig_hex, sig, 71), 0);
	CHECK_INT(lb_key_verify(pub, h, sig, 71), 0);
	sig[10] ^= 1;
	CHECK_INT(lb_key_verify(pub, h, sig, 71), -EKEYREJECTED);
	sig[10] ^= 1;
	h[0] ^= 1;
	CHECK_INT(lb_key_verify(pub, h, sig, 71), -EKEYREJECTED);
	h[0] ^= 1;
	/* a valid signature with a byte after it is not the one written */
	sig[71] = 0;
	CHECK_INT(lb_key_verify(pub, h, sig, 72), -EKEYREJECTED);
	lb_key_free(pub);
	lb_key_free(priv);
}

TEST(deterministic_signatures)
{
	struct lb_key *priv = NULL, *pub = NULL;
	uint8_t h[32] = { 1, 2, 3 }, a[80], b[80];
	size_t la = 0, lb = 0;

	CHECK_INT(lb_key_parse(fixed_priv, strlen(fixed_priv), true, "fixed.pem", &priv), 0);
	CHECK_INT(lb_key_parse(fixed_pub, strlen(fixed_pub), false, "fixed.pub", &pub), 0);
	if (!priv || !pub)
		return;
	CHECK_INT(lb_key_sign(priv, h, a, &la), 0);
	CHECK_INT(lb_key_sign(priv, h, b, &lb), 0);
	CHECK(la >= 8 && la <= 72);
	CHECK(la == lb && memcmp(a, b, la) == 0); /* RFC 6979 */
	CHECK_INT(lb_key_verify(pub, h, a, la), 0);
	CHECK_INT(lb_key_sign(pub, h, a, &la), -EINVAL); /* no private half */
	lb_key_free(priv);
	lb_key_free(pub);
}

TEST(refused_keys)
{
	struct lb_key *k = NULL;

	CHECK_INT(lb_key_parse(p384_pub, strlen(p384_pub), false, "p384.pub", &k), -EBADMSG);
	CHECK_INT(lb_key_parse(ed25519_pub, strlen(ed25519_pub), false, "ed.pub", &k), -EBADMSG);
	/* a private key where a trusted public key belongs */
	CHECK_INT(lb_key_parse(fixed_priv, strlen(fixed_priv), false, "fixed.pem", &k), -EBADMSG);
	/* a public key where a signing key belongs */
	CHECK_INT(lb_key_parse(fixed_pub, strlen(fixed_pub), true, "fixed.pub", &k), -EBADMSG);
	CHECK_INT(lb_key_parse("", 0, false, "empty", &k), -EBADMSG);
	CHECK_INT(lb_key_parse("-----BEGIN PUBLIC KEY-----\n", 27, false, "cut", &k), -EBADMSG);
	CHECK(k == NULL);
}

TEST(generate_save_load)
{
	struct lb_key *k = NULL, *priv = NULL, *pub = NULL;
	struct stat st;

	CHECK_INT(lb_key_generate(&k), 0);
	if (!k)
		return;
	CHECK_INT(lb_key_save(k, tmp_path("gen"), tmp_path("gen.pub")), 0);
	CHECK(stat(tmp_path("gen"), &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(tmp_path("gen.pub"), &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK_INT(lb_key_save(k, tmp_path("gen"), tmp_path("gen2.pub")), -EEXIST); /* never overwritten */
	CHECK(access(tmp_path("gen2.pub"), F_OK) != 0);
	CHECK_INT(lb_key_load(tmp_path("gen"), true, &priv), 0);
	CHECK_INT(lb_key_load(tmp_path("gen.pub"), false, &pub), 0);
	if (priv && pub) {
		CHECK_STR(lb_key_id(priv), lb_key_id(k));
		CHECK_STR(lb_key_id(pub), lb_key_id(k));
		CHECK_STR(lb_key_name(pub), tmp_path("gen.pub"));
	}
	lb_key_free(priv);
	priv = NULL;
	chmod(tmp_path("gen"), 0640);
	CHECK_INT(lb_key_load(tmp_path("gen"), true, &priv), -EPERM);
	CHECK_INT(lb_key_load(tmp_path("nonexistent"), false, &priv), -ENOENT);
	lb_key_free(k);
	lb_key_free(pub);
}

TEST(keyring)
{
	struct lb_keyring *kr = NULL;
	char *dir = strdup(tmp_path("trusted"));

	mkdir(dir, 0755);
	write_file(tmp_path("trusted/a.pub"), fixed_pub, 0644);
	write_file(tmp_path("trusted/b.pub"), fixed_pub, 0644); /* the same key again */
	write_file(tmp_path("trusted/readme.txt"), "not a key", 0644);
	CHECK_INT(lb_keyring_new(&kr), 0);
	CHECK_INT(lb_keyring_add_dir(kr, dir), 0);
	CHECK_INT(lb_keyring_count(kr), 1);
	CHECK(lb_keyring_find(kr, fixed_id) != NULL);
	CHECK(lb_keyring_find(kr, "00") == NULL);
	CHECK_INT(lb_keyring_add_dir(kr, tmp_path("no-such-dir")), 0);
	/* a broken key in the directory stops everything */
	write_file(tmp_path("trusted/c.pub"), "garbage", 0644);
	CHECK_INT(lb_keyring_add_dir(kr, dir), -EBADMSG);
	unlink(tmp_path("trusted/c.pub"));
	write_file(tmp_path("trusted/d.pub"), fixed_priv, 0600);
	CHECK_INT(lb_keyring_add_dir(kr, dir), -EBADMSG);
	unlink(tmp_path("trusted/d.pub"));
	lb_keyring_free(kr);
	CHECK_INT(lb_keyring_count(NULL), 0);
	lb_keyring_free(NULL);
	/* $LIFEBOAT_TRUSTED_KEYS adds a directory */
	setenv("LIFEBOAT_TRUSTED_KEYS", dir, 1);
	CHECK_INT(lb_keyring_load(NULL, 0, &kr), 0);
	CHECK_INT(lb_keyring_count(kr), 1);
	lb_keyring_free(kr);
	unsetenv("LIFEBOAT_TRUSTED_KEYS");
	free(dir);
}

/* A signature object by the fixed key over mbytes under mkey. */
static char *fixed_sig(size_t *len)
{
	struct lb_key *priv = NULL;
	char *sig = NULL;

	if (lb_key_parse(fixed_priv, strlen(fixed_priv), true, "fixed.pem", &priv) == 0)
		CHECK_INT(lb_sig_format(priv, mkey, mbytes, strlen(mbytes), &sig, len), 0);
	lb_key_free(priv);
	return sig;
}

static struct lb_keyring *ring_of(const char *pem)
{
	struct lb_keyring *kr = NULL;

	write_file(tmp_path("ring.pub"), pem, 0644);
	lb_keyring_new(&kr);
	CHECK_INT(lb_keyring_add_file(kr, tmp_path("ring.pub")), 0);
	return kr;
}

static int check(const char *sig, const char *key, const char *m, const struct lb_keyring *kr)
{
	struct lb_sig_check c;

	return lb_sig_check(sig, strlen(sig), "test.sig", key, m, strlen(m), kr, &c);
}

/* sig with the first occurrence of from replaced by to */
static char *edit(const char *sig, const char *from, const char *to)
{
	const char *p = strstr(sig, from);
	char *out;

	if (!p)
		return strdup(sig);
	out = malloc(strlen(sig) + strlen(to) + 1);
	sprintf(out, "%.*s%s%s", (int)(p - sig), sig, to, p + strlen(from));
	return out;
}

TEST(signature_object)
{
	struct lb_keyring *trust = ring_of(fixed_pub), *other = NULL;
	struct lb_key *gen = NULL;
	struct lb_sig_check c;
	size_t len = 0;
	char *sig = fixed_sig(&len), *e, *tampered;

	if (!sig || !trust)
		return;
	CHECK_INT(lb_sig_check(sig, len, "test.sig", mkey, mbytes, strlen(mbytes), trust, &c), 0);
	CHECK(c.key != NULL);
	CHECK_STR(c.key_id, fixed_id);
	CHECK_INT(c.n_entries, 1);
	/* without trusted keys: well-formed, nothing verified */
	CHECK_INT(lb_sig_check(sig, len, "test.sig", mkey, mbytes, strlen(mbytes), NULL, &c), 0);
	CHECK(c.key == NULL);
	CHECK_STR(c.key_id, fixed_id);
	/* a tampered manifest, one byte */
	tampered = strdup(mbytes);
	tampered[10] ^= 1;
	CHECK_INT(check(sig, mkey, tampered, trust), -EKEYREJECTED);
	CHECK_INT(check(sig, mkey, tampered, NULL), -EKEYREJECTED);
	free(tampered);
	/* the object copied beside another manifest name */
	CHECK_INT(check(sig, "points/web01/20271126T143000Z-3f9a0c1e.json", mbytes, trust), -EKEYREJECTED);
	/* ... and its "manifest" member edited to match: the signature binds the key */
	e = edit(sig, "20261126T143000Z-3f9a0c1e.json", "20271126T143000Z-3f9a0c1e.json");
	CHECK_INT(check(e, "points/web01/20271126T143000Z-3f9a0c1e.json", mbytes, trust), -EKEYREJECTED);
	free(e);
	/* an unknown signer */
	CHECK_INT(lb_key_generate(&gen), 0);
	if (gen) {
		char *pem = NULL;

		CHECK_INT(lb_key_public_pem(gen, &pem), 0);
		other = ring_of(pem);
		CHECK_INT(check(sig, mkey, mbytes, other), -ENOKEY);
		free(pem);
	}
	/* the signature itself altered (a base64 digit in the middle) */
	{
		char *p = strstr(sig, "\"signature\": \"");

		CHECK(p != NULL);
		if (p) {
			e = strdup(sig);
			p = e + (p - sig) + 14 + 20;
			*p = *p == 'A' ? 'B' : 'A';
			CHECK_INT(check(e, mkey, mbytes, trust), -EKEYREJECTED);
			free(e);
		}
	}
	/* malformed objects */
	CHECK_INT(check("", mkey, mbytes, trust), -EBADMSG);
	CHECK_INT(check("{}", mkey, mbytes, trust), -EBADMSG);
	CHECK_INT(check("[1]", mkey, mbytes, trust), -EBADMSG);
	{
		static const struct {
			const char *from, *to;
		} edits[] = {
			{ "\"version\": 1", "\"version\": 2" },
			{ "\"key_id\": \"c3", "\"key_id\": \"C3" },           /* not lowercase hex */
			{ "}\n  ]", "}\n  ] x" },                            /* not JSON */
			{ "\"signatures\": [", "\"signatures\": [{\"algorithm\": \"x\"}, " }, /* an incomplete entry */
			{ "\"signatures\": [", "\"signatures\": [[[[[1]]]]], " },  /* nesting */
			{ "\"signatures\": [", "\"signatures\": [], \"x\": [" },  /* no signatures */
			{ "\"format\": \"lifeboat-signature\"", "\"format\": \"\xc0\xaf\"" }, /* overlong UTF-8 */
		};

		for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
			e = edit(sig, edits[i].from, edits[i].to);
			CHECK(strcmp(e, sig) != 0);
			CHECK_INT(check(e, mkey, mbytes, trust), -EBADMSG);
			free(e);
		}
	}
	/* an entry of an algorithm this version does not know is skipped */
	e = edit(sig, "\"signatures\": [",
		 "\"signatures\": [{\"algorithm\": \"ed25519\", \"key_id\": "
		 "\"c398289d73c2bf9207f7cc83e41efd17b8d1d48e7c7d34bfe4c6f14ad935971e\", \"signature\": \"AAAA\"}, ");
	CHECK_INT(check(e, mkey, mbytes, trust), 0);
	free(e);
	lb_keyring_free(trust);
	lb_keyring_free(other);
	lb_key_free(gen);
	free(sig);
}

TEST(sig_key_and_base64)
{
	char *k = lb_sig_key(mkey), b64[16];
	uint8_t out[8];
	size_t n = 0;

	CHECK_STR(k, "points/web01/20261126T143000Z-3f9a0c1e.sig");
	free(k);
	CHECK(lb_sig_key("points/web01/x.lbi") == NULL);
	CHECK_INT(lb_base64_encode("abc", 3, b64, sizeof(b64)), 0);
	CHECK_STR(b64, "YWJj");
	CHECK_INT(lb_base64_decode("YWJj", out, sizeof(out), &n), 0);
	CHECK_INT(n, 3);
	CHECK_INT(lb_base64_decode("YWJ", out, sizeof(out), &n), -EINVAL);
	CHECK_INT(lb_base64_decode("YW\nJj", out, sizeof(out), &n), -EINVAL);
	CHECK_INT(lb_base64_decode("YW*j", out, sizeof(out), &n), -EINVAL);
	CHECK_INT(lb_base64_decode("YWJjYWJjYWJj", out, 4, &n), -ENOBUFS);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lb-test-sig.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	RUN(openssl_vectors);
	RUN(deterministic_signatures);
	RUN(refused_keys);
	RUN(generate_save_load);
	RUN(keyring);
	RUN(signature_object);
	RUN(sig_key_and_base64);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
