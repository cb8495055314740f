/* Manifests (manifest.c): whatever parses must format, and the formatted
 * text must parse again to the same text; stored under its own name it is
 * accepted, under another refused. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "manifest.h"

FUZZ_QUIET_LOG()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_manifest *m = NULL, *m2 = NULL, *m3 = NULL;
	char *buf = NULL, *buf2 = NULL, *key = NULL;
	size_t len = 0, len2 = 0;

	if (lb_manifest_parse((const char *)data, size, NULL, &m) != 0)
		return 0;
	FUZZ_ASSERT(lb_manifest_format(m, &buf, &len) == 0);
	FUZZ_ASSERT(lb_manifest_parse(buf, len, NULL, &m2) == 0);
	FUZZ_ASSERT(lb_manifest_format(m2, &buf2, &len2) == 0);
	FUZZ_ASSERT(len == len2 && memcmp(buf, buf2, len) == 0);
	key = lb_manifest_key(m);
	FUZZ_ASSERT(key && lb_manifest_parse((const char *)data, size, key, &m3) == 0);
	lb_manifest_free(m3);
	m3 = NULL;
	FUZZ_ASSERT(lb_manifest_parse((const char *)data, size, "points/x/20000101T000000Z-00000000.json", &m3) != 0 ||
		    strcmp(key, "points/x/20000101T000000Z-00000000.json") == 0);
	lb_manifest_free(m3);
	free(key);
	free(buf);
	free(buf2);
	lb_manifest_free(m);
	lb_manifest_free(m2);
	return 0;
}
