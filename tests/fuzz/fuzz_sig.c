/* Signature objects (sig.c): the input is the object, a NUL, then the
 * manifest bytes it is checked against (the fixed test key trusted). A
 * verdict of "verified" must name that key; with no trusted key nothing is
 * ever verified. */
#include <string.h>

#include "fuzz.h"
#include "key.h"
#include "sig.h"

/* tests/unit/test_sig.c's OpenSSL-made key */
static const char *fixed_pub = "-----BEGIN PUBLIC KEY-----\n"
			       "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEKcNWBRuJqXezULq/AND1+zGGrq4K\n"
			       "Fz8AcQPd7iuJosX0qz8XlBjNcm7X9xyjuPFYMxbfBlYfNDXa1bKcbbIaUg==\n"
			       "-----END PUBLIC KEY-----\n";
static struct lb_keyring *trust;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lb_key *k = NULL;
	FILE *null = fopen("/dev/null", "w");

	(void)argc, (void)argv;
	if (lb_keyring_new(&trust) < 0 || lb_key_parse(fixed_pub, strlen(fixed_pub), false, "fixed", &k) < 0 ||
	    lb_keyring_add(trust, k) < 0)
		abort();
	if (null && !getenv("LB_FUZZ_LOG"))
		stderr = null;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *key = "points/web01/20261126T143000Z-3f9a0c1e.json";
	const uint8_t *nul = memchr(data, 0, size);
	size_t sig_len = nul ? (size_t)(nul - data) : size;
	const uint8_t *m = nul ? nul + 1 : data;
	size_t mlen = nul ? size - sig_len - 1 : 0;
	struct lb_sig_check c;
	int r;

	r = lb_sig_check(data, sig_len, "fuzz.sig", key, m, mlen, trust, &c);
	FUZZ_ASSERT(r != 0 || (c.key && strcmp(lb_key_id(c.key), c.key_id) == 0));
	FUZZ_ASSERT(r == 0 || !c.key);
	r = lb_sig_check(data, sig_len, "fuzz.sig", key, m, mlen, NULL, &c);
	FUZZ_ASSERT(!c.key);
	return 0;
}
