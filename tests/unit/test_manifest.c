/* docs/FORMAT.md: the test vectors, round trips, and manifests and indexes
 * that must be refused (each with the field named in the log). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hashset.h"
#include "manifest.h"
#include "tap.h"
#include "writer.h"

static const char *vec_chunk_hash[3] = {
	"c8f5d0341d54d951a71b136e6e2afcb14d11ed8489a7ae126a8fee0df6ecf193",
	"ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7",
	"6ab72eeb9e77b07540897e0c8d6d23ec8eef0f8c3a47e1b3f4e93443d9536bed",
};
static const char *vec_index_hex =
	"4c42494458000000" "01000000" "00100000" "0024000000000000" "0300000000000000"
	"c8f5d0341d54d951a71b136e6e2afcb14d11ed8489a7ae126a8fee0df6ecf193"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"6ab72eeb9e77b07540897e0c8d6d23ec8eef0f8c3a47e1b3f4e93443d9536bed";
static const char *vec_index_sha = "27146df6beb20effeffb85fee073cd1e4708b1958f83851935f3d3163aba9b74";
static const char *vec_digest = "c1b9a4cb6724123ac3b8fdb42dea1685b91505505b422d0a8ddcb1e3ca27e5a4";

/* The vector disk: bytes 0..255 x16, 4096 zeros, 1024 x 'A'. */
static uint8_t *vec_disk(void)
{
	uint8_t *d = calloc(1, 9216);

	for (int i = 0; i < 4096; i++)
		d[i] = (uint8_t)i;
	memset(d + 8192, 'A', 1024);
	return d;
}

static const char *manifest_json =
	"{\"format\":\"lifeboat-restore-point\",\"version\":1,\"id\":\"20261126T143000Z-3f9a0c1e\","
	"\"server\":\"web01\",\"kind\":\"backup\",\"image_type\":null,\"name\":null,\"description\":null,"
	"\"created\":\"2026-11-26T14:30:00Z\",\"labels\":{\"site\":\"fra1\"},\"parent\":null,"
	"\"tool\":\"lifeboat 0.1.0\",\"disks\":[{\"name\":\"system\",\"role\":\"system\",\"size\":9216,"
	"\"logical_sector_size\":512,\"physical_sector_size\":512,\"pttype\":\"gpt\","
	"\"ptuuid\":\"9013968f-d495-4b75-8e0c-298aa20bae91\",\"boot\":true,"
	"\"source\":{\"path\":\"/dev/sda\",\"model\":\"QEMU HARDDISK\",\"serial\":\"LB-1\",\"wwn\":null,"
	"\"by_path\":\"pci-0000:00:1f.2-ata-1.0\"},\"chunk_size\":4096,\"chunk_count\":3,\"zero_chunks\":1,"
	"\"index\":{\"key\":\"indexes/27146df6beb20effeffb85fee073cd1e4708b1958f83851935f3d3163aba9b74.lbi\","
	"\"sha256\":\"27146df6beb20effeffb85fee073cd1e4708b1958f83851935f3d3163aba9b74\",\"size\":128},"
	"\"digest\":\"sha256-chunks:c1b9a4cb6724123ac3b8fdb42dea1685b91505505b422d0a8ddcb1e3ca27e5a4\"}]}";

TEST(vector_chunks_and_index)
{
	uint8_t *disk = vec_disk(), idxbuf[128], h[32];
	char hex[65];
	struct lb_index *idx = NULL;
	uint8_t *out = NULL;
	size_t len = 0;

	CHECK_INT(lb_chunk_count(9216, 4096), 3);
	CHECK_INT(lb_chunk_len(9216, 4096, 2), 1024);
	CHECK_INT(lb_index_new(4096, 9216, &idx), 0);
	for (int i = 0; i < 3; i++) {
		lb_sha256(disk + i * 4096, lb_chunk_len(9216, 4096, i), h);
		lb_hex(h, 32, hex);
		CHECK_STR(hex, vec_chunk_hash[i]);
		if (i != 1)
			memcpy(idx->hash[i], h, 32);
	}
	CHECK_INT(lb_index_format(idx, &out, &len), 0);
	CHECK_INT(len, 128);
	CHECK_INT(lb_unhex(vec_index_hex, idxbuf, 128), 0);
	CHECK(out && memcmp(out, idxbuf, 128) == 0);
	lb_sha256(out, len, h);
	lb_hex(h, 32, hex);
	CHECK_STR(hex, vec_index_sha);
	CHECK_INT(lb_index_digest(idx, h), 0);
	lb_hex(h, 32, hex);
	CHECK_STR(hex, vec_digest);
	free(out);
	lb_index_free(idx);
	free(disk);
}

TEST(vector_index_parses)
{
	uint8_t buf[128];
	struct lb_index *idx = NULL;

	lb_unhex(vec_index_hex, buf, 128);
	CHECK_INT(lb_index_parse(buf, 128, "vector", &idx), 0);
	CHECK(idx && idx->chunk_size == 4096 && idx->disk_size == 9216 && idx->count == 3);
	CHECK(idx && lb_hash_is_zero(idx->hash[1]) && !lb_hash_is_zero(idx->hash[0]));
	lb_index_free(idx);
}

TEST(index_refusals)
{
	uint8_t buf[160];
	struct lb_index *idx = NULL;

	lb_unhex(vec_index_hex, buf, 128);
	CHECK_INT(lb_index_parse(buf, 127, "short", &idx), -EBADMSG);      /* truncated */
	memset(buf + 128, 0, 32);
	CHECK_INT(lb_index_parse(buf, 160, "long", &idx), -EBADMSG);       /* trailing entry */
	buf[0] = 'X';
	CHECK_INT(lb_index_parse(buf, 128, "magic", &idx), -EBADMSG);
	lb_unhex(vec_index_hex, buf, 128);
	buf[24] = 4; /* count disagrees with the sizes */
	CHECK_INT(lb_index_parse(buf, 128, "count", &idx), -EBADMSG);
	lb_unhex(vec_index_hex, buf, 128);
	buf[13] = 0x30; /* chunk size 0x3000: not a power of two */
	CHECK_INT(lb_index_parse(buf, 128, "chunk size", &idx), -EBADMSG);
	lb_unhex(vec_index_hex, buf, 128);
	buf[8] = 2; /* version 2 */
	CHECK_INT(lb_index_parse(buf, 128, "version", &idx), -EBADMSG);
	CHECK(idx == NULL);
}

TEST(vector_manifest_parses)
{
	struct lb_manifest *m = NULL;
	char hex[65];

	CHECK_INT(lb_manifest_parse(manifest_json, strlen(manifest_json),
				    "points/web01/20261126T143000Z-3f9a0c1e.json", &m), 0);
	if (!m)
		return;
	CHECK_STR(m->server, "web01");
	CHECK_INT(m->kind, LB_KIND_BACKUP);
	CHECK_INT(m->created, 1795703400);
	CHECK_INT(m->n_labels, 1);
	CHECK_STR(m->label_values[0], "fra1");
	CHECK_INT(m->n_disks, 1);
	CHECK(m->disks[0].system && m->disks[0].boot);
	CHECK_INT(m->disks[0].chunk_count, 3);
	CHECK_STR(m->disks[0].src_serial, "LB-1");
	CHECK_STR(m->disks[0].src_wwn, NULL);
	lb_hex(m->disks[0].digest, 32, hex);
	CHECK_STR(hex, vec_digest);
	lb_manifest_free(m);
}

TEST(manifest_round_trip)
{
	struct lb_manifest *m = NULL, *m2 = NULL;
	char *buf = NULL, *key = NULL;
	size_t len = 0;

	CHECK_INT(lb_manifest_parse(manifest_json, strlen(manifest_json), NULL, &m), 0);
	if (!m)
		return;
	CHECK_INT(lb_manifest_format(m, &buf, &len), 0);
	key = lb_manifest_key(m);
	CHECK_STR(key, "points/web01/20261126T143000Z-3f9a0c1e.json");
	CHECK_INT(lb_manifest_parse(buf, len, key, &m2), 0);
	CHECK(m2 && m2->disks[0].size == 9216 && strcmp(m2->disks[0].index_key, m->disks[0].index_key) == 0);
	CHECK(m2 && memcmp(m2->disks[0].digest, m->disks[0].digest, 32) == 0);
	CHECK(m2 && m2->created == m->created && strcmp(m2->label_keys[0], "site") == 0);
	free(buf);
	free(key);
	lb_manifest_free(m);
	lb_manifest_free(m2);
}

/* UTF-8 text in labels and names: json-c 0.18's strict mode refused every
 * byte >= 0x80 in a string (package/json-c/0001-*.patch), so such a backup
 * could not store its manifest. */
TEST(manifest_utf8_round_trip)
{
	struct lb_manifest *m = NULL, *m2 = NULL, *m3 = NULL;
	char *buf = NULL;
	size_t len = 0;

	CHECK_INT(lb_manifest_parse(manifest_json, strlen(manifest_json), NULL, &m), 0);
	if (!m)
		return;
	free(m->label_values[0]);
	m->label_values[0] = strdup("Zürich ✓ 日本 😀");
	m->kind = LB_KIND_IMAGE;
	m->image_type = LB_IMAGE_FULL;
	m->name = strdup("Überserver");
	CHECK_INT(lb_manifest_format(m, &buf, &len), 0);
	CHECK_INT(lb_manifest_parse(buf, len, NULL, &m2), 0);
	CHECK(m2 && strcmp(m2->label_values[0], "Zürich ✓ 日本 😀") == 0 && strcmp(m2->name, "Überserver") == 0);
	/* still strict: a raw control character in a string is refused */
	if (buf && strstr(buf, "Zürich")) {
		*strstr(buf, "Zürich") = '\x01';
		CHECK_INT(lb_manifest_parse(buf, len, NULL, &m3), -EBADMSG);
	}
	free(buf);
	lb_manifest_free(m);
	lb_manifest_free(m2);
	/* an overlong form (C1 BC for '<') in a label key: json-c lets it
	 * through, the writer would not write it back (found by fuzz_manifest) */
	{
		char *bad = strdup(manifest_json), *k = strstr(bad, "\"site\"");

		k[1] = (char)0xc1;
		k[2] = (char)0xbc;
		CHECK_INT(lb_manifest_parse(bad, strlen(bad), NULL, &m3), -EBADMSG);
		free(bad);
	}
}

TEST(new_id_has_the_time)
{
	char id[26];

	CHECK_INT(lb_manifest_new_id(1795703400, id), 0);
	CHECK(strncmp(id, "20261126T143000Z-", 17) == 0 && strlen(id) == 25);
}

/* Replace the first occurrence of `from` in the vector by `to` and expect
 * the parser to refuse it. */
static int refuse(const char *from, const char *to, const char *key)
{
	const char *p = strstr(manifest_json, from);
	struct lb_manifest *m = NULL;
	char *s;
	int r;

	if (!p)
		return 999; /* the test itself is wrong */
	s = malloc(strlen(manifest_json) + strlen(to) + 1);
	memcpy(s, manifest_json, (size_t)(p - manifest_json));
	strcpy(s + (p - manifest_json), to);
	strcat(s, p + strlen(from));
	r = lb_manifest_parse(s, strlen(s), key, &m);
	lb_manifest_free(m);
	free(s);
	return r;
}

TEST(manifest_refusals)
{
	const char *k = "points/web01/20261126T143000Z-3f9a0c1e.json";

	CHECK_INT(refuse("\"version\":1", "\"version\":2", k), -EBADMSG);
	CHECK_INT(refuse("lifeboat-restore-point", "something-else", k), -EBADMSG);
	CHECK_INT(refuse("\"size\":9216", "\"size\":9217", k), -EBADMSG);        /* not sector-aligned */
	CHECK_INT(refuse("\"size\":9216", "\"size\":-512", k), -EBADMSG);
	CHECK_INT(refuse("\"size\":9216", "\"size\":\"9216\"", k), -EBADMSG);    /* wrong type */
	CHECK_INT(refuse("\"chunk_count\":3", "\"chunk_count\":4", k), -EBADMSG);
	CHECK_INT(refuse("\"chunk_size\":4096", "\"chunk_size\":6144", k), -EBADMSG);
	CHECK_INT(refuse("\"size\":128}", "\"size\":160}", k), -EBADMSG);        /* index size */
	CHECK_INT(refuse("indexes/2714", "indexes/3714", k), -EBADMSG);          /* key vs sha */
	CHECK_INT(refuse("sha256-chunks:c1b9", "sha256:c1b9", k), -EBADMSG);
	CHECK_INT(refuse("\"server\":\"web01\"", "\"server\":\"../etc\"", NULL), -EBADMSG);
	CHECK_INT(refuse("\"kind\":\"backup\"", "\"kind\":\"snapshot\"", k), -EBADMSG);
	CHECK_INT(refuse("\"kind\":\"backup\",\"image_type\":null", "\"kind\":\"image\",\"image_type\":null", k),
		  -EBADMSG);
	CHECK_INT(refuse("\"created\":\"2026-11-26T14:30:00Z\"", "\"created\":\"2026-11-26T14:30:01Z\"", k),
		  -EBADMSG);                                                           /* id's time */
	CHECK_INT(refuse("\"role\":\"system\"", "\"role\":\"boot\"", k), -EBADMSG);
	CHECK_INT(refuse("\"disks\":[", "\"disks\":[],\"x\":[", k), -EBADMSG);     /* no disks */
	CHECK_INT(refuse("{\"format\"", "{\"format\"", "points/web02/20261126T143000Z-3f9a0c1e.json"),
		  -EBADMSG);                                                           /* replayed */
	CHECK_INT(refuse("\"site\":\"fra1\"}", "\"site\":\"fra1\"}}", k), -EBADMSG); /* not JSON */
	CHECK_INT(refuse("\"tool\"", "\"tool\":1,\"tool\"", k), 0);                /* last duplicate wins */
	CHECK_INT(refuse("\"version\":1", "\"version\":1,\"extra\":[[[[[[[[[1]]]]]]]]]", k), -EBADMSG); /* depth */
	CHECK_INT(refuse("\"labels\":{", "\"labels\":{\"a\":1,", k), -EBADMSG);
}

TEST(manifest_size_limits)
{
	struct lb_manifest *m = NULL;
	size_t n = LB_MANIFEST_MAX + 1;
	char *big = malloc(n);

	memset(big, ' ', n);
	memcpy(big, manifest_json, strlen(manifest_json));
	CHECK_INT(lb_manifest_parse(big, n, NULL, &m), -EFBIG);
	CHECK_INT(lb_manifest_parse(manifest_json, strlen(manifest_json) - 1, NULL, &m), -EBADMSG); /* truncated */
	big[10] = '\0';
	CHECK_INT(lb_manifest_parse(big, strlen(manifest_json), NULL, &m), -EBADMSG);             /* NUL byte */
	CHECK(m == NULL);
	free(big);
}

TEST(store_marker)
{
	struct lb_marker m = { 0 };
	char *buf = NULL;
	size_t len = 0;
	static const char *const refused[] = {
		"{\"format\": \"lifeboat-store\", \"version\": 2}",
		"{\"format\": \"other\", \"version\": 1}",
		"{\"format\": \"lifeboat-store\", \"version\": 1, \"gc_grace_seconds\": 31}",
		"{\"format\": \"lifeboat-store\", \"version\": 1, \"gc_grace_seconds\": 99999999999}",
		"{\"format\": \"lifeboat-store\", \"version\": 1, \"gc_grace_seconds\": \"7d\"}",
		"{\"format\": \"lifeboat-store\", \"version\": 1} x",
		"[1]",
	};
	const char *old = "{\"format\": \"lifeboat-store\", \"version\": 1, \"chunk_hash\": \"sha256\", \"compression\": \"zstd\"}\n";

	/* a marker without a grace (version 1 before gc) has the default */
	CHECK_INT(lb_marker_parse(old, strlen(old), "m", &m), 0);
	CHECK_INT(m.gc_grace, LB_GC_GRACE_DEFAULT);
	m.gc_grace = 40;
	CHECK_INT(lb_marker_format(&m, &buf, &len), 0);
	m.gc_grace = 0;
	CHECK_INT(lb_marker_parse(buf, len, "m", &m), 0);
	CHECK_INT(m.gc_grace, 40);
	free(buf);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		CHECK_INT(lb_marker_parse(refused[i], strlen(refused[i]), "m", &m), -EBADMSG);
}

TEST(gc_times)
{
	struct lb_gc_times t;

	/* docs/FORMAT.md: W = clamp(G/64, 1, 2), L = G/4, R = G - L - W - 2 */
	lb_gc_times(604800, &t);
	CHECK_INT(t.window, 2);
	CHECK_INT(t.limit, 151200);
	CHECK_INT(t.refresh_age, 604800 - 151200 - 2 - 2);
	lb_gc_times(40, &t);
	CHECK_INT(t.window, 1);
	CHECK_INT(t.limit, 10);
	CHECK_INT(t.refresh_age, 27);
	lb_gc_times(LB_GC_GRACE_MIN, &t);
	CHECK(t.refresh_age > 0 && t.limit - t.window - 2 > 0);
}

TEST(hashset)
{
	struct lb_hashset *s = NULL;
	uint8_t h[32] = { 0 }, v = 0;

	CHECK_INT(lb_hashset_new(&s), 0);
	CHECK_INT(lb_hashset_put(s, h, 1), -EINVAL); /* the zero hash is the empty slot */
	for (uint32_t i = 1; i <= 5000; i++) {
		memcpy(h, &i, sizeof(i));
		h[31] = 0x5a;
		CHECK_INT(lb_hashset_put(s, h, (uint8_t)(i % 7)), 0);
	}
	CHECK_INT(lb_hashset_count(s), 5000);
	for (uint32_t i = 1; i <= 5000; i++) {
		memcpy(h, &i, sizeof(i));
		CHECK_INT(lb_hashset_get(s, h, &v), 1);
		CHECK_INT(v, i % 7);
	}
	h[31] = 0x5b;
	CHECK_INT(lb_hashset_get(s, h, NULL), 0);
	h[31] = 0x5a;
	CHECK_INT(lb_hashset_put(s, h, 9), 0); /* an update, not a second entry */
	CHECK_INT(lb_hashset_count(s), 5000);
	lb_hashset_free(s);
	lb_hashset_free(NULL);
}

int main(void)
{
	RUN(vector_chunks_and_index);
	RUN(vector_index_parses);
	RUN(index_refusals);
	RUN(vector_manifest_parses);
	RUN(manifest_round_trip);
	RUN(manifest_utf8_round_trip);
	RUN(new_id_has_the_time);
	RUN(manifest_refusals);
	RUN(manifest_size_limits);
	RUN(store_marker);
	RUN(gc_times);
	RUN(hashset);
	return tap_done();
}
