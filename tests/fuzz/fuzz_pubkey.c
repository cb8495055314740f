/* Public keys (key.c), PEM or DER: a key that parses writes out as PEM that
 * parses to the same key id. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "key.h"

FUZZ_QUIET_LOG()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_key *k = NULL, *k2 = NULL;
	char *pem = NULL;

	if (lb_key_parse(data, size, false, "fuzz", &k) != 0)
		return 0;
	FUZZ_ASSERT(strlen(lb_key_id(k)) == 64);
	FUZZ_ASSERT(lb_key_public_pem(k, &pem) == 0);
	FUZZ_ASSERT(lb_key_parse(pem, strlen(pem), false, "again", &k2) == 0);
	FUZZ_ASSERT(strcmp(lb_key_id(k), lb_key_id(k2)) == 0);
	free(pem);
	lb_key_free(k);
	lb_key_free(k2);
	return 0;
}
