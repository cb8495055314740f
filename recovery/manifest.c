/* Manifests (JSON through json-c, strict and depth-limited) and chunk
 * indexes (fixed little-endian layout): docs/FORMAT.md, version 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <json-c/json.h>

#include "hash.h"
#include "json.h"
#include "manifest.h"
#include "util.h"

#define MANIFEST_DEPTH 8

/* ---- validation rules shared by parser and writer ---- */

static bool charset_ok(const char *s, size_t min, size_t max, const char *extra, bool upper)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper && c >= 'A' && c <= 'Z'))
			continue;
		if (!strchr(extra, c))
			return false;
	}
	return true;
}

bool lb_manifest_server_ok(const char *s)
{
	return charset_ok(s, 1, 63, "._-", true) && s[0] != '.';
}

bool lb_manifest_disk_name_ok(const char *s)
{
	return charset_ok(s, 1, 32, "_-", false);
}

static bool id_ok(const char *s)
{
	/* YYYYMMDDThhmmssZ-xxxxxxxx */
	if (strlen(s) != 25 || s[8] != 'T' || s[15] != 'Z' || s[16] != '-')
		return false;
	for (int i = 0; i < 25; i++) {
		if (i == 8 || i == 15 || i == 16)
			continue;
		if (i < 16 ? !(s[i] >= '0' && s[i] <= '9') : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

uint64_t lb_chunk_count(uint64_t disk_size, uint32_t chunk_size)
{
	return disk_size / chunk_size + (disk_size % chunk_size != 0);
}

uint32_t lb_chunk_len(uint64_t disk_size, uint32_t chunk_size, uint64_t i)
{
	uint64_t off = i * chunk_size;

	return disk_size - off < chunk_size ? (uint32_t)(disk_size - off) : chunk_size;
}

bool lb_hash_is_zero(const uint8_t h[32])
{
	for (int i = 0; i < 32; i++)
		if (h[i])
			return false;
	return true;
}

static int64_t timegm_utc(struct tm *tm)
{
	return (int64_t)timegm(tm);
}

/* "2026-11-26T14:30:00Z" */
static int parse_time(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	const char *end;

	if (strlen(s) != 20)
		return -EINVAL;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	*ret = timegm_utc(&tm);
	return 0;
}

static void format_time(int64_t t, char out[21], const char *fmt)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 21, fmt, &tm);
}

int lb_manifest_new_id(int64_t t, char ret[26])
{
	uint8_t rnd[4];
	char hex[9];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -errno;
	lb_hex(rnd, sizeof(rnd), hex);
	format_time(t, ret, "%Y%m%dT%H%M%SZ");
	memcpy(ret + 16, "-", 1);
	memcpy(ret + 17, hex, 9);
	return 0;
}

/* ---- the parser ---- */

struct ctx {
	const char *key; /* object name, for messages */
	char field[96];
};

static int bad(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct ctx *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lb_log("manifest %s: %s%s%s", c->key ? c->key : "(unnamed)", c->field, c->field[0] ? ": " : "", msg);
	return -EBADMSG;
}

static void at(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void at(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->field, sizeof(c->field), fmt, ap);
	va_end(ap);
}

/* Member `name` of object o: -ENOENT when absent (or null, if null_ok). */
static int member(struct ctx *c, json_object *o, const char *prefix, const char *name, json_type type,
		  bool required, json_object **ret)
{
	json_object *v = NULL;

	at(c, "%s%s", prefix, name);
	if (!json_object_object_get_ex(o, name, &v) || json_object_get_type(v) == json_type_null) {
		if (required)
			return bad(c, "missing");
		*ret = NULL;
		return -ENOENT;
	}
	if (json_object_get_type(v) != type)
		return bad(c, "must be of type %s", json_type_to_name(type));
	*ret = v;
	return 0;
}

/* A string member copied out; *ret stays NULL when absent and optional. */
static int get_str(struct ctx *c, json_object *o, const char *prefix, const char *name, bool required,
		   size_t max, char **ret)
{
	json_object *v;
	int r = member(c, o, prefix, name, json_type_string, required, &v);

	*ret = NULL;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if ((size_t)json_object_get_string_len(v) > max)
		return bad(c, "longer than %zu bytes", max);
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return bad(c, "contains a NUL byte");
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

static int get_u64(struct ctx *c, json_object *o, const char *prefix, const char *name, uint64_t min,
		   uint64_t max, uint64_t *ret)
{
	json_object *v;
	int64_t n;
	int r = member(c, o, prefix, name, json_type_int, true, &v);

	if (r < 0)
		return r;
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return bad(c, "%s out of range [%llu, %llu]", json_object_get_string(v), (unsigned long long)min,
			   (unsigned long long)max);
	*ret = (uint64_t)n;
	return 0;
}

static int get_hash(struct ctx *c, json_object *o, const char *prefix, const char *name, const char *tag,
		    uint8_t out[32])
{
	char *s = NULL;
	size_t tl = strlen(tag);
	int r = get_str(c, o, prefix, name, true, 128, &s);

	if (r < 0)
		return r;
	if (strncmp(s, tag, tl) != 0 || lb_unhex(s + tl, out, 32) < 0)
		r = bad(c, "must be %s followed by 64 lowercase hex digits", tl ? tag : "");
	free(s);
	return r;
}

static int parse_disk(struct ctx *c, json_object *o, size_t i, struct lb_manifest_disk *d)
{
	char p[32], *s = NULL;
	json_object *src = NULL, *idx = NULL;
	uint64_t v;
	int r;

	snprintf(p, sizeof(p), "disks[%zu].", i);
	if (json_object_get_type(o) != json_type_object) {
		at(c, "disks[%zu]", i);
		return bad(c, "must be an object");
	}
	if ((r = get_str(c, o, p, "name", true, 32, &d->name)) < 0)
		return r;
	if (!lb_manifest_disk_name_ok(d->name))
		return bad(c, "'%s' is not 1-32 of a-z 0-9 _ -", d->name);
	if ((r = get_str(c, o, p, "role", true, 16, &s)) < 0)
		return r;
	if (strcmp(s, "system") != 0 && strcmp(s, "data") != 0) {
		free(s);
		return bad(c, "must be \"system\" or \"data\"");
	}
	d->system = strcmp(s, "system") == 0;
	free(s);
	r = member(c, o, p, "boot", json_type_boolean, false, &src);
	if (r < 0 && r != -ENOENT)
		return r;
	d->boot = r == 0 && json_object_get_boolean(src);
	if ((r = get_u64(c, o, p, "logical_sector_size", 512, 4096, &v)) < 0)
		return r;
	if (v != 512 && v != 4096)
		return bad(c, "must be 512 or 4096");
	d->logical_sector_size = (uint32_t)v;
	if ((r = get_u64(c, o, p, "physical_sector_size", d->logical_sector_size, 65536, &v)) < 0)
		return r;
	if (!pow2(v))
		return bad(c, "must be a power of two");
	d->physical_sector_size = (uint32_t)v;
	if ((r = get_u64(c, o, p, "size", 1, INT64_MAX, &d->size)) < 0)
		return r;
	if (d->size % d->logical_sector_size)
		return bad(c, "%llu is not a multiple of the logical sector size %u", (unsigned long long)d->size,
			   d->logical_sector_size);
	if ((r = get_u64(c, o, p, "chunk_size", LB_CHUNK_SIZE_MIN, LB_CHUNK_SIZE_MAX, &v)) < 0)
		return r;
	if (!pow2(v) || v % d->logical_sector_size)
		return bad(c, "must be a power of two and a multiple of the logical sector size");
	d->chunk_size = (uint32_t)v;
	if ((r = get_u64(c, o, p, "chunk_count", 1, UINT64_MAX, &d->chunk_count)) < 0)
		return r;
	if (d->chunk_count != lb_chunk_count(d->size, d->chunk_size))
		return bad(c, "%llu, but size and chunk_size make %llu", (unsigned long long)d->chunk_count,
			   (unsigned long long)lb_chunk_count(d->size, d->chunk_size));
	if ((r = get_u64(c, o, p, "zero_chunks", 0, d->chunk_count, &d->zero_chunks)) < 0)
		return r;
	if ((r = get_str(c, o, p, "pttype", false, 16, &d->pttype)) < 0 ||
	    (r = get_str(c, o, p, "ptuuid", false, 64, &d->ptuuid)) < 0)
		return r;
	r = member(c, o, p, "source", json_type_object, false, &src);
	if (r == 0) {
		char sp[48];

		snprintf(sp, sizeof(sp), "%ssource.", p);
		if ((r = get_str(c, src, sp, "path", false, 256, &d->src_path)) < 0 ||
		    (r = get_str(c, src, sp, "model", false, 256, &d->src_model)) < 0 ||
		    (r = get_str(c, src, sp, "serial", false, 256, &d->src_serial)) < 0 ||
		    (r = get_str(c, src, sp, "wwn", false, 256, &d->src_wwn)) < 0 ||
		    (r = get_str(c, src, sp, "by_path", false, 256, &d->src_by_path)) < 0)
			return r;
	} else if (r != -ENOENT) {
		return r;
	}
	if ((r = member(c, o, p, "index", json_type_object, true, &idx)) < 0)
		return r;
	{
		char ip[48], want[64 + 16];

		snprintf(ip, sizeof(ip), "%sindex.", p);
		if ((r = get_str(c, idx, ip, "key", true, 128, &d->index_key)) < 0 ||
		    (r = get_hash(c, idx, ip, "sha256", "", d->index_sha256)) < 0 ||
		    (r = get_u64(c, idx, ip, "size", LB_INDEX_HEADER, LB_INDEX_MAX, &d->index_size)) < 0)
			return r;
		if (d->index_size != LB_INDEX_HEADER + 32 * d->chunk_count)
			return bad(c, "%llu, but %llu chunks need %llu", (unsigned long long)d->index_size,
				   (unsigned long long)d->chunk_count,
				   (unsigned long long)(LB_INDEX_HEADER + 32 * d->chunk_count));
		strcpy(want, "indexes/");
		lb_hex(d->index_sha256, 32, want + 8);
		strcat(want, ".lbi");
		if (strcmp(d->index_key, want) != 0) {
			at(c, "%skey", ip);
			return bad(c, "'%s' does not match its sha256 (want %s)", d->index_key, want);
		}
	}
	return get_hash(c, o, p, "digest", "sha256-chunks:", d->digest);
}

static int parse_labels(struct ctx *c, json_object *o, struct lb_manifest *m)
{
	json_object *labels;
	size_t n;
	int r = member(c, o, "", "labels", json_type_object, false, &labels);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	n = (size_t)json_object_object_length(labels);
	if (n > LB_MANIFEST_MAX_LABELS)
		return bad(c, "%zu labels, at most %d", n, LB_MANIFEST_MAX_LABELS);
	m->label_keys = calloc(n + 1, sizeof(char *));
	m->label_values = calloc(n + 1, sizeof(char *));
	if (!m->label_keys || !m->label_values)
		return -ENOMEM;
	json_object_object_foreach(labels, k, v)
	{
		at(c, "labels.%.64s", k);
		if (strlen(k) == 0 || strlen(k) > 128)
			return bad(c, "key must be 1-128 bytes");
		if (json_object_get_type(v) != json_type_string || json_object_get_string_len(v) > 1024)
			return bad(c, "must be a string of at most 1024 bytes");
		m->label_keys[m->n_labels] = strdup(k);
		m->label_values[m->n_labels] = strdup(json_object_get_string(v));
		if (!m->label_keys[m->n_labels] || !m->label_values[m->n_labels]) {
			m->n_labels++;
			return -ENOMEM;
		}
		m->n_labels++;
	}
	return 0;
}

static int parse_root(struct ctx *c, json_object *root, struct lb_manifest *m)
{
	json_object *v, *disks;
	char *s = NULL;
	uint64_t u;
	size_t n_system = 0, n_boot = 0;
	int r;

	if (json_object_get_type(root) != json_type_object)
		return bad(c, "not a JSON object");
	if ((r = get_str(c, root, "", "format", true, 64, &s)) < 0)
		return r;
	r = strcmp(s, "lifeboat-restore-point") == 0 ? 0 : bad(c, "'%s' is not a Lifeboat restore point", s);
	free(s);
	if (r < 0)
		return r;
	if ((r = get_u64(c, root, "", "version", 1, UINT32_MAX, &u)) < 0)
		return r;
	if (u != 1)
		return bad(c, "version %llu; this lifeboat reads version 1 (upgrade it)", (unsigned long long)u);
	if ((r = get_str(c, root, "", "id", true, 32, &m->id)) < 0)
		return r;
	if (!id_ok(m->id))
		return bad(c, "'%s' is not YYYYMMDDThhmmssZ-xxxxxxxx", m->id);
	if ((r = get_str(c, root, "", "server", true, 63, &m->server)) < 0)
		return r;
	if (!lb_manifest_server_ok(m->server))
		return bad(c, "'%s' is not 1-63 of A-Z a-z 0-9 . _ -", m->server);
	if ((r = get_str(c, root, "", "kind", true, 16, &s)) < 0)
		return r;
	if (strcmp(s, "backup") == 0)
		m->kind = LB_KIND_BACKUP;
	else if (strcmp(s, "image") == 0)
		m->kind = LB_KIND_IMAGE;
	else
		r = bad(c, "must be \"backup\" or \"image\"");
	free(s);
	if (r < 0)
		return r;
	if ((r = get_str(c, root, "", "image_type", false, 16, &s)) < 0)
		return r;
	if (m->kind == LB_KIND_BACKUP && s)
		r = bad(c, "must be null for a backup");
	else if (m->kind == LB_KIND_IMAGE && !s)
		r = bad(c, "required for an image");
	else if (s && strcmp(s, "system") == 0)
		m->image_type = LB_IMAGE_SYSTEM;
	else if (s && strcmp(s, "data") == 0)
		m->image_type = LB_IMAGE_DATA;
	else if (s && strcmp(s, "full") == 0)
		m->image_type = LB_IMAGE_FULL;
	else if (s)
		r = bad(c, "must be \"system\", \"data\" or \"full\"");
	free(s);
	if (r < 0)
		return r;
	if ((r = get_str(c, root, "", "name", false, 256, &m->name)) < 0 ||
	    (r = get_str(c, root, "", "description", false, 4096, &m->description)) < 0 ||
	    (r = get_str(c, root, "", "parent", false, 32, &m->parent)) < 0 ||
	    (r = get_str(c, root, "", "tool", false, 128, &m->tool)) < 0)
		return r;
	if (m->parent && !id_ok(m->parent)) {
		at(c, "parent");
		return bad(c, "'%s' is not a restore-point id", m->parent);
	}
	if ((r = get_str(c, root, "", "created", true, 32, &s)) < 0)
		return r;
	r = parse_time(s, &m->created) < 0 ? bad(c, "'%s' is not YYYY-MM-DDThh:mm:ssZ", s) : 0;
	free(s);
	if (r < 0)
		return r;
	{
		char t[21];

		format_time(m->created, t, "%Y%m%dT%H%M%SZ");
		if (strncmp(t, m->id, 16) != 0) {
			at(c, "id");
			return bad(c, "'%s' does not carry the creation time %s", m->id, t);
		}
	}
	if ((r = parse_labels(c, root, m)) < 0)
		return r;
	if ((r = member(c, root, "", "disks", json_type_array, true, &disks)) < 0)
		return r;
	m->n_disks = json_object_array_length(disks);
	if (m->n_disks < 1 || m->n_disks > LB_MANIFEST_MAX_DISKS)
		return bad(c, "%zu disks; 1 to %d allowed", m->n_disks, LB_MANIFEST_MAX_DISKS);
	m->disks = calloc(m->n_disks, sizeof(*m->disks));
	if (!m->disks) {
		m->n_disks = 0;
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->n_disks; i++) {
		v = json_object_array_get_idx(disks, i);
		if ((r = parse_disk(c, v, i, &m->disks[i])) < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->disks[j].name, m->disks[i].name) == 0) {
				at(c, "disks[%zu].name", i);
				return bad(c, "'%s' used twice", m->disks[i].name);
			}
		n_system += m->disks[i].system;
		n_boot += m->disks[i].boot;
	}
	c->field[0] = '\0';
	if (n_system > 1)
		return bad(c, "%zu disks with role system; at most one", n_system);
	if (n_boot > 1)
		return bad(c, "%zu boot disks; at most one", n_boot);
	return 0;
}

/* Strict, depth-limited JSON of at most max bytes, nothing after it. */
static int parse_json(struct ctx *c, const char *buf, size_t len, size_t max, json_object **ret)
{
	struct json_tokener *tok = NULL;
	json_object *root = NULL;
	int r = 0;

	if (len > max) {
		bad(c, "%zu bytes, more than the limit of %zu", len, max);
		return -EFBIG;
	}
	if (memchr(buf, '\0', len))
		return bad(c, "contains a NUL byte");
	/* json-c's own check lets overlong forms through (in keys too), which
	 * the writer would turn into U+FFFD: what is read must be what a
	 * writer writes. */
	if (!lb_json_utf8_valid(buf, len))
		return bad(c, "not valid UTF-8");
	tok = json_tokener_new_ex(MANIFEST_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		r = bad(c, "not valid JSON at byte %zu: %s", json_tokener_get_parse_end(tok),
			e == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(e));
		goto fail;
	}
	for (size_t end = json_tokener_get_parse_end(tok); end < len; end++)
		if (!strchr(" \t\r\n", buf[end])) {
			r = bad(c, "trailing data at byte %zu", end);
			goto fail;
		}
	*ret = root;
	root = NULL;
fail:
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}

int lb_manifest_parse(const char *buf, size_t len, const char *key, struct lb_manifest **ret)
{
	struct ctx c = { .key = key };
	json_object *root = NULL;
	struct lb_manifest *m = NULL;
	int r;

	r = parse_json(&c, buf, len, LB_MANIFEST_MAX, &root);
	if (r < 0)
		goto fail;
	m = calloc(1, sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto fail;
	}
	r = parse_root(&c, root, m);
	if (r < 0)
		goto fail;
	if (key) {
		char *want = lb_manifest_key(m);

		if (!want) {
			r = -ENOMEM;
			goto fail;
		}
		if (strcmp(want, key) != 0) {
			c.field[0] = '\0';
			r = bad(&c, "says it is %s: a renamed or replayed manifest is refused", want);
		}
		free(want);
		if (r < 0)
			goto fail;
	}
	*ret = m;
	m = NULL;
	r = 0;
fail:
	lb_manifest_free(m);
	json_object_put(root);
	return r;
}

char *lb_manifest_key(const struct lb_manifest *m)
{
	return lb_strdupf("points/%s/%s.json", m->server, m->id);
}

void lb_manifest_free(struct lb_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_disks; i++) {
		struct lb_manifest_disk *d = &m->disks[i];

		free(d->name);
		free(d->pttype);
		free(d->ptuuid);
		free(d->src_path);
		free(d->src_model);
		free(d->src_serial);
		free(d->src_wwn);
		free(d->src_by_path);
		free(d->index_key);
	}
	free(m->disks);
	for (size_t i = 0; i < m->n_labels; i++) {
		free(m->label_keys[i]);
		free(m->label_values[i]);
	}
	free(m->label_keys);
	free(m->label_values);
	free(m->id);
	free(m->server);
	free(m->name);
	free(m->description);
	free(m->parent);
	free(m->tool);
	free(m);
}

static int dup_opt(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -ENOMEM : 0;
}

int lb_manifest_disk_copy(struct lb_manifest_disk *dst, const struct lb_manifest_disk *src)
{
	*dst = *src;
	dst->name = dst->pttype = dst->ptuuid = dst->src_path = dst->src_model = NULL;
	dst->src_serial = dst->src_wwn = dst->src_by_path = dst->index_key = NULL;
	if (dup_opt(&dst->name, src->name) < 0 || dup_opt(&dst->pttype, src->pttype) < 0 ||
	    dup_opt(&dst->ptuuid, src->ptuuid) < 0 || dup_opt(&dst->src_path, src->src_path) < 0 ||
	    dup_opt(&dst->src_model, src->src_model) < 0 || dup_opt(&dst->src_serial, src->src_serial) < 0 ||
	    dup_opt(&dst->src_wwn, src->src_wwn) < 0 || dup_opt(&dst->src_by_path, src->src_by_path) < 0 ||
	    dup_opt(&dst->index_key, src->index_key) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- the writer ---- */

static const char *image_type_str(enum lb_image_type t)
{
	switch (t) {
	case LB_IMAGE_SYSTEM:
		return "system";
	case LB_IMAGE_DATA:
		return "data";
	case LB_IMAGE_FULL:
		return "full";
	default:
		return NULL;
	}
}

int lb_manifest_format(const struct lb_manifest *m, char **ret_buf, size_t *ret_len)
{
	struct lb_json *j = NULL;
	struct lb_manifest *check = NULL;
	char *buf = NULL, t[21], hex[65], digest[14 + 65];
	size_t len = 0;
	FILE *f;
	int r;

	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	r = lb_json_new(f, true, &j);
	if (r < 0)
		goto fail;
	format_time(m->created, t, "%Y-%m-%dT%H:%M:%SZ");
	lb_json_object_begin(j);
	lb_json_key(j, "format"), lb_json_string(j, "lifeboat-restore-point");
	lb_json_key(j, "version"), lb_json_u64(j, 1);
	lb_json_key(j, "id"), lb_json_string(j, m->id);
	lb_json_key(j, "server"), lb_json_string(j, m->server);
	lb_json_key(j, "kind"), lb_json_string(j, m->kind == LB_KIND_IMAGE ? "image" : "backup");
	lb_json_key(j, "image_type"), lb_json_string(j, image_type_str(m->image_type));
	lb_json_key(j, "name"), lb_json_string(j, m->name);
	lb_json_key(j, "description"), lb_json_string(j, m->description);
	lb_json_key(j, "created"), lb_json_string(j, t);
	lb_json_key(j, "labels"), lb_json_object_begin(j);
	for (size_t i = 0; i < m->n_labels; i++)
		lb_json_key(j, m->label_keys[i]), lb_json_string(j, m->label_values[i]);
	lb_json_object_end(j);
	lb_json_key(j, "parent"), lb_json_string(j, m->parent);
	lb_json_key(j, "tool"), lb_json_string(j, m->tool);
	lb_json_key(j, "disks"), lb_json_array_begin(j);
	for (size_t i = 0; i < m->n_disks; i++) {
		const struct lb_manifest_disk *d = &m->disks[i];

		lb_json_object_begin(j);
		lb_json_key(j, "name"), lb_json_string(j, d->name);
		lb_json_key(j, "role"), lb_json_string(j, d->system ? "system" : "data");
		lb_json_key(j, "boot"), lb_json_bool(j, d->boot);
		lb_json_key(j, "size"), lb_json_u64(j, d->size);
		lb_json_key(j, "logical_sector_size"), lb_json_u64(j, d->logical_sector_size);
		lb_json_key(j, "physical_sector_size"), lb_json_u64(j, d->physical_sector_size);
		lb_json_key(j, "pttype"), lb_json_string(j, d->pttype);
		lb_json_key(j, "ptuuid"), lb_json_string(j, d->ptuuid);
		lb_json_key(j, "source"), lb_json_object_begin(j);
		lb_json_key(j, "path"), lb_json_string(j, d->src_path);
		lb_json_key(j, "model"), lb_json_string(j, d->src_model);
		lb_json_key(j, "serial"), lb_json_string(j, d->src_serial);
		lb_json_key(j, "wwn"), lb_json_string(j, d->src_wwn);
		lb_json_key(j, "by_path"), lb_json_string(j, d->src_by_path);
		lb_json_object_end(j);
		lb_json_key(j, "chunk_size"), lb_json_u64(j, d->chunk_size);
		lb_json_key(j, "chunk_count"), lb_json_u64(j, d->chunk_count);
		lb_json_key(j, "zero_chunks"), lb_json_u64(j, d->zero_chunks);
		lb_json_key(j, "index"), lb_json_object_begin(j);
		lb_json_key(j, "key"), lb_json_string(j, d->index_key);
		lb_hex(d->index_sha256, 32, hex);
		lb_json_key(j, "sha256"), lb_json_string(j, hex);
		lb_json_key(j, "size"), lb_json_u64(j, d->index_size);
		lb_json_object_end(j);
		lb_hex(d->digest, 32, hex);
		snprintf(digest, sizeof(digest), "sha256-chunks:%s", hex);
		lb_json_key(j, "digest"), lb_json_string(j, digest);
		lb_json_object_end(j);
	}
	lb_json_array_end(j);
	lb_json_object_end(j);
	r = lb_json_free(j);
	j = NULL;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	f = NULL;
	if (r < 0)
		goto fail;
	/* What a reader would refuse is never written. */
	r = lb_manifest_parse(buf, len, NULL, &check);
	if (r < 0)
		goto fail;
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
fail:
	lb_manifest_free(check);
	if (j)
		lb_json_free(j);
	if (f)
		fclose(f);
	free(buf);
	return r;
}

/* ---- the index ---- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static const uint8_t index_magic[8] = { 'L', 'B', 'I', 'D', 'X', 0, 0, 0 };

int lb_index_new(uint32_t chunk_size, uint64_t disk_size, struct lb_index **ret)
{
	struct lb_index *idx;
	uint64_t n;

	if (!pow2(chunk_size) || chunk_size < LB_CHUNK_SIZE_MIN || chunk_size > LB_CHUNK_SIZE_MAX || disk_size == 0)
		return -EINVAL;
	n = lb_chunk_count(disk_size, chunk_size);
	if (LB_INDEX_HEADER + 32 * n > LB_INDEX_MAX)
		return -EFBIG;
	idx = calloc(1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	idx->hash = calloc(n, 32);
	if (!idx->hash) {
		free(idx);
		return -ENOMEM;
	}
	idx->chunk_size = chunk_size;
	idx->disk_size = disk_size;
	idx->count = n;
	*ret = idx;
	return 0;
}

int lb_index_parse(const void *buf, size_t len, const char *name, struct lb_index **ret)
{
	const uint8_t *p = buf;
	struct lb_index *idx = NULL;
	uint64_t version, chunk_size, disk_size, count;
	int r;

	if (len < LB_INDEX_HEADER || memcmp(p, index_magic, 8) != 0) {
		lb_log("index %s: not a Lifeboat chunk index (bad magic or %zu bytes)", name, len);
		return -EBADMSG;
	}
	version = get_le(p + 8, 4);
	chunk_size = get_le(p + 12, 4);
	disk_size = get_le(p + 16, 8);
	count = get_le(p + 24, 8);
	if (version != 1) {
		lb_log("index %s: version %llu; this lifeboat reads version 1", name, (unsigned long long)version);
		return -EBADMSG;
	}
	if (!pow2(chunk_size) || chunk_size < LB_CHUNK_SIZE_MIN || chunk_size > LB_CHUNK_SIZE_MAX || disk_size == 0 ||
	    disk_size > INT64_MAX || count != lb_chunk_count(disk_size, (uint32_t)chunk_size) ||
	    count > (LB_INDEX_MAX - LB_INDEX_HEADER) / 32 || len != LB_INDEX_HEADER + 32 * count) {
		lb_log("index %s: inconsistent header (chunk size %llu, disk size %llu, %llu chunks, %zu bytes)", name,
		       (unsigned long long)chunk_size, (unsigned long long)disk_size, (unsigned long long)count, len);
		return -EBADMSG;
	}
	r = lb_index_new((uint32_t)chunk_size, disk_size, &idx);
	if (r < 0)
		return r;
	memcpy(idx->hash, p + LB_INDEX_HEADER, 32 * count);
	*ret = idx;
	return 0;
}

int lb_index_format(const struct lb_index *idx, uint8_t **ret_buf, size_t *ret_len)
{
	size_t len = LB_INDEX_HEADER + 32 * idx->count;
	uint8_t *p = malloc(len);

	if (!p)
		return -ENOMEM;
	memcpy(p, index_magic, 8);
	put_le(p + 8, 1, 4);
	put_le(p + 12, idx->chunk_size, 4);
	put_le(p + 16, idx->disk_size, 8);
	put_le(p + 24, idx->count, 8);
	memcpy(p + LB_INDEX_HEADER, idx->hash, 32 * idx->count);
	*ret_buf = p;
	*ret_len = len;
	return 0;
}

int lb_index_digest(const struct lb_index *idx, uint8_t ret[32])
{
	struct lb_sha256_ctx *c = NULL;
	uint8_t zero_full[32], zero_last[32];
	uint8_t *zeros = NULL;
	uint32_t last = lb_chunk_len(idx->disk_size, idx->chunk_size, idx->count - 1);
	int r;

	/* Zero chunks enter the digest with their real hash, so the digest can
	 * be recomputed from the disk alone. Two lengths at most. */
	zeros = calloc(1, idx->chunk_size);
	if (!zeros)
		return -ENOMEM;
	if ((r = lb_sha256(zeros, idx->chunk_size, zero_full)) < 0 || (r = lb_sha256(zeros, last, zero_last)) < 0)
		goto fail;
	if ((r = lb_sha256_begin(&c)) < 0)
		goto fail;
	for (uint64_t i = 0; i < idx->count; i++) {
		const uint8_t *h = idx->hash[i];

		if (lb_hash_is_zero(h))
			h = i == idx->count - 1 ? zero_last : zero_full;
		if ((r = lb_sha256_update(c, h, 32)) < 0)
			goto fail;
	}
	r = lb_sha256_end(c, ret);
	c = NULL;
fail:
	lb_sha256_free(c);
	free(zeros);
	return r;
}

void lb_index_free(struct lb_index *idx)
{
	if (!idx)
		return;
	free(idx->hash);
	free(idx);
}

/* ---- the store marker ---- */

int lb_marker_parse(const char *buf, size_t len, const char *name, struct lb_marker *ret)
{
	struct ctx c = { .key = name };
	json_object *root = NULL, *v;
	char *s = NULL;
	uint64_t u;
	int r;

	if ((r = parse_json(&c, buf, len, LB_MARKER_MAX, &root)) < 0)
		goto fail;
	if (json_object_get_type(root) != json_type_object) {
		r = bad(&c, "not a JSON object");
		goto fail;
	}
	if ((r = get_str(&c, root, "", "format", true, 64, &s)) < 0)
		goto fail;
	if (strcmp(s, "lifeboat-store") != 0) {
		r = bad(&c, "'%s': this prefix is not a Lifeboat store", s);
		goto fail;
	}
	if ((r = get_u64(&c, root, "", "version", 1, UINT32_MAX, &u)) < 0)
		goto fail;
	if (u != 1) {
		r = bad(&c, "store version %llu; this lifeboat writes version 1 (upgrade it)", (unsigned long long)u);
		goto fail;
	}
	ret->gc_grace = LB_GC_GRACE_DEFAULT;
	if (json_object_object_get_ex(root, "gc_grace_seconds", &v)) {
		if ((r = get_u64(&c, root, "", "gc_grace_seconds", LB_GC_GRACE_MIN, LB_GC_GRACE_MAX, &u)) < 0)
			goto fail;
		ret->gc_grace = (int64_t)u;
	}
	r = 0;
fail:
	free(s);
	json_object_put(root);
	return r;
}

int lb_marker_format(const struct lb_marker *m, char **ret_buf, size_t *ret_len)
{
	char *p = lb_strdupf("{\"format\": \"lifeboat-store\", \"version\": 1, \"chunk_hash\": \"sha256\", "
			     "\"compression\": \"zstd\", \"gc_grace_seconds\": %lld}\n",
			     (long long)m->gc_grace);

	if (!p)
		return -ENOMEM;
	*ret_buf = p;
	*ret_len = strlen(p);
	return 0;
}
