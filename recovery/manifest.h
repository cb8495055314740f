/* Restore-point manifests and chunk indexes: docs/FORMAT.md, version 1.
 *
 * Both come from the network and are parsed defensively: hard size limits,
 * a JSON library in strict mode for the manifest, a fixed binary layout for
 * the index, and every rule of the format checked before a caller sees a
 * field. Parsers log once, naming the object and the field. */
#ifndef LB_MANIFEST_H
#define LB_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_MANIFEST_MAX (1u << 20)      /* bytes */
#define LB_MANIFEST_MAX_DISKS 64
#define LB_MANIFEST_MAX_LABELS 64
#define LB_CHUNK_SIZE_MIN (4u << 10)
#define LB_CHUNK_SIZE_MAX (64u << 20)
#define LB_CHUNK_SIZE_DEFAULT (4u << 20)
#define LB_INDEX_HEADER 32
#define LB_INDEX_MAX (64u << 20)        /* 2M chunks: 8 TiB at 4 MiB */

enum lb_kind { LB_KIND_BACKUP, LB_KIND_IMAGE };
enum lb_image_type { LB_IMAGE_NONE, LB_IMAGE_SYSTEM, LB_IMAGE_DATA, LB_IMAGE_FULL };

struct lb_manifest_disk {
	char *name;            /* unique within the point: "system", "data1" */
	bool system;           /* role "system" (else "data") */
	bool boot;
	uint64_t size;
	uint32_t logical_sector_size;
	uint32_t physical_sector_size;
	char *pttype, *ptuuid; /* may be NULL */
	char *src_path, *src_model, *src_serial, *src_wwn, *src_by_path; /* hints, may be NULL */
	uint32_t chunk_size;
	uint64_t chunk_count;
	uint64_t zero_chunks;
	char *index_key;
	uint8_t index_sha256[32];
	uint64_t index_size;
	uint8_t digest[32];    /* sha256-chunks */
};

struct lb_manifest {
	char *id;
	char *server;
	enum lb_kind kind;
	enum lb_image_type image_type;
	char *name, *description, *parent, *tool; /* may be NULL */
	int64_t created;       /* seconds since the epoch, from "created" */
	size_t n_labels;
	char **label_keys, **label_values;
	size_t n_disks;
	struct lb_manifest_disk *disks;
};

/* Parse and validate a manifest read from object `key` (relative to the
 * store prefix, e.g. "points/web01/ID.json"; NULL skips the check that the
 * key matches server and id). 0, or -EBADMSG (logged with key and field),
 * -EFBIG, -ENOMEM. */
int lb_manifest_parse(const char *buf, size_t len, const char *key, struct lb_manifest **ret);

/* Serialize to JSON (pretty, newline-terminated). Validates first, so a
 * writer can never store what a reader would refuse. */
int lb_manifest_format(const struct lb_manifest *m, char **ret_buf, size_t *ret_len);

/* "points/<server>/<id>.json" */
char *lb_manifest_key(const struct lb_manifest *m);

void lb_manifest_free(struct lb_manifest *m);
/* Deep copy of one disk entry (dst zeroed first); -ENOMEM leaves dst to
 * be freed with the manifest it belongs to. */
int lb_manifest_disk_copy(struct lb_manifest_disk *dst, const struct lb_manifest_disk *src);

/* The naming rules, for checking command-line input before any work. */
bool lb_manifest_server_ok(const char *s);    /* 1-63 of A-Za-z0-9._-, no leading . */
bool lb_manifest_disk_name_ok(const char *s); /* 1-32 of a-z0-9_- */

/* A fresh id for time t: YYYYMMDDThhmmssZ-xxxxxxxx (random). */
int lb_manifest_new_id(int64_t t, char ret[26]);

/* The ordered chunk list of one disk. A zero chunk's entry is all zero. */
struct lb_index {
	uint32_t chunk_size;
	uint64_t disk_size;
	uint64_t count;
	uint8_t (*hash)[32];
};

/* Chunks of a disk: ceil(size / chunk_size). */
uint64_t lb_chunk_count(uint64_t disk_size, uint32_t chunk_size);
/* Length of chunk i (only the last may be short). */
uint32_t lb_chunk_len(uint64_t disk_size, uint32_t chunk_size, uint64_t i);
bool lb_hash_is_zero(const uint8_t h[32]);

int lb_index_new(uint32_t chunk_size, uint64_t disk_size, struct lb_index **ret);
/* Parse an index object named `name` (for the log); -EBADMSG when the
 * layout or the sizes do not hold. */
int lb_index_parse(const void *buf, size_t len, const char *name, struct lb_index **ret);
int lb_index_format(const struct lb_index *idx, uint8_t **ret_buf, size_t *ret_len);
/* The disk digest (docs/FORMAT.md): SHA-256 over all chunk hashes, zero
 * chunks counted with the real hash of their zero bytes. */
int lb_index_digest(const struct lb_index *idx, uint8_t ret[32]);
void lb_index_free(struct lb_index *idx);

/* The store marker, lifeboat-store.json. gc_grace is the store's grace
 * period for garbage collection (docs/FORMAT.md): every writer and every
 * collector of the store reads it from here, so they agree on it. */
#define LB_MARKER_KEY "lifeboat-store.json"
#define LB_MARKER_MAX (64u << 10)
#define LB_GC_GRACE_DEFAULT (7 * 86400)
#define LB_GC_GRACE_MIN 32
#define LB_GC_GRACE_MAX (366 * 86400)

struct lb_marker {
	int64_t gc_grace; /* seconds */
};

/* -EBADMSG (logged, naming `name`) for another format, a version above
 * 1, or a grace outside [LB_GC_GRACE_MIN, LB_GC_GRACE_MAX]; a marker
 * without gc_grace_seconds has the default. */
int lb_marker_parse(const char *buf, size_t len, const char *name, struct lb_marker *ret);
int lb_marker_format(const struct lb_marker *m, char **ret_buf, size_t *ret_len);

#endif
