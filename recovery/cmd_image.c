/* image - make images from backups, and remove images
 * usage: lifeboat image create --from SERVER/ID --name NAME [options] STORE
 *        lifeboat image delete [options] STORE SERVER/ID
 *
 * create makes a point of kind image from a backup (or from another
 * image): a system-disk image (the system disk), a data-disk image (the
 * data disks, or those named) or a full-server image (every disk). It
 * shares the backup's chunks and indexes: nothing is copied, and the image
 * stays whole when the backup is pruned. --level N recompresses every
 * chunk at zstd level N and replaces a stored chunk's frame when the new
 * one is smaller; the chunk's name and bytes stay (docs/FORMAT.md), so the
 * backups that share it shrink too. The image's parent is the point it
 * was made from; it is filed under the same server unless --server says
 * otherwise, and `SERVER/latest` never means an image.
 *
 * delete removes an image's manifest (backups are removed by prune); gc
 * then frees the chunks nothing else uses.
 *
 * Options (create):
 *   --from SERVER/ID       the backup (or image) to make it from; SERVER/latest
 *   --name TEXT            the image's name (required; at most 256 bytes)
 *   --description TEXT     what it is (at most 4096 bytes)
 *   --type system|data|full   which disks (default: full, or what --disk
 *                          names)
 *   --disk NAME            a disk to take (repeatable); must fit --type
 *   --level N              recompress the chunks at zstd level N (1-19)
 *   --server NAME          file the image under this name (default: the
 *                          backup's server)
 *   --label KEY=VALUE      a label (added to the backup's); repeatable
 * Options (both):
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * create prints the image as SERVER/ID on stdout, and what it shared and
 * recompressed on stderr.
 *
 * Exit status: 0 done, 1 failed (no image written, nothing removed),
 * 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk.h"
#include "cli.h"
#include "help.h"
#include "lifeboat.h"
#include "manifest.h"
#include "point.h"
#include "store.h"
#include "util.h"
#include "writer.h"

struct totals {
	uint64_t chunks, shared, recompressed, bytes_before, bytes_after;
};

/* Every chunk of disk d claimed for the image (recompressed at level when
 * level > 0), then its index. */
static int take_disk(struct lb_store *st, struct lb_writer *w, const struct lb_manifest_disk *d, int level,
		     struct totals *t)
{
	struct lb_index *idx = NULL;
	struct lb_chunk_codec *codec = NULL;
	uint8_t *buf = NULL, *ib = NULL;
	size_t iblen = 0;
	int r;

	if ((r = lb_point_index(st, d, &idx)) < 0)
		return r;
	if (level) {
		/* One zstd context for the disk: level 19 tables are large. */
		if ((r = lb_chunk_codec_new(&codec)) < 0)
			goto fail;
		buf = malloc(d->chunk_size);
		if (!buf) {
			r = -ENOMEM;
			goto fail;
		}
	}
	for (uint64_t i = 0; i < idx->count; i++) {
		uint32_t len = lb_chunk_len(d->size, d->chunk_size, i);
		char name[96];
		size_t zlen = 0, nlen = 0;
		void *z = NULL;

		if (lb_hash_is_zero(idx->hash[i]))
			continue;
		t->chunks++;
		if (!level) {
			if ((r = lb_writer_claim(w, idx->hash[i])) < 0)
				goto fail;
			t->shared++;
			continue;
		}
		snprintf(name, sizeof(name), "disk %s, chunk %" PRIu64, d->name, i);
		if ((r = lb_point_fetch(st, idx->hash[i], len, buf, name, &zlen)) < 0)
			goto fail;
		z = malloc(lb_chunk_stored_max(len));
		if (!z) {
			r = -ENOMEM;
			goto fail;
		}
		if ((r = lb_chunk_compress(codec, buf, len, level, z, lb_chunk_stored_max(len), &nlen)) < 0) {
			free(z);
			goto fail;
		}
		t->bytes_before += zlen;
		if (nlen < zlen) {
			r = lb_writer_replace(w, idx->hash[i], z, nlen);
			t->recompressed++;
			t->bytes_after += nlen;
		} else {
			/* Already as small (made at that level or above). */
			r = lb_writer_claim(w, idx->hash[i]);
			t->shared++;
			t->bytes_after += zlen;
		}
		free(z);
		if (r < 0)
			goto fail;
	}
	/* Same chunks, same index object: claim it. */
	if ((r = lb_index_format(idx, &ib, &iblen)) < 0)
		goto fail;
	r = lb_writer_object(w, d->index_key, ib, iblen);
fail:
	lb_chunk_codec_free(codec);
	free(ib);
	free(buf);
	lb_index_free(idx);
	return r;
}

static int parse_type(const char *s, enum lb_image_type *ret)
{
	*ret = strcmp(s, "system") == 0 ? LB_IMAGE_SYSTEM :
	       strcmp(s, "data") == 0	? LB_IMAGE_DATA :
	       strcmp(s, "full") == 0	? LB_IMAGE_FULL :
					  LB_IMAGE_NONE;
	if (*ret == LB_IMAGE_NONE) {
		lb_log("--type: system, data or full, not '%s'", s);
		return -EINVAL;
	}
	return 0;
}

/* Which disks of src the image takes (take[i]), and its type. */
static int select_disks(const struct lb_manifest *src, const struct lb_strv *names, enum lb_image_type *type,
			bool *take)
{
	size_t n_sys = 0, n_data = 0, n = 0;

	for (size_t i = 0; i < src->n_disks; i++) {
		const struct lb_manifest_disk *d = &src->disks[i];
		bool named = false;

		for (size_t k = 0; k < names->n; k++)
			named |= strcmp(names->v[k], d->name) == 0;
		take[i] = names->n ? named :
			  *type == LB_IMAGE_SYSTEM ? d->system :
			  *type == LB_IMAGE_DATA ? !d->system : true;
	}
	for (size_t k = 0; k < names->n; k++) {
		bool found = false;

		for (size_t i = 0; i < src->n_disks; i++)
			found |= strcmp(names->v[k], src->disks[i].name) == 0;
		if (!found) {
			lb_log("--disk %s: %s/%s has no disk of that name", names->v[k], src->server, src->id);
			return -ENOENT;
		}
	}
	for (size_t i = 0; i < src->n_disks; i++)
		if (take[i]) {
			n++;
			n_sys += src->disks[i].system;
			n_data += !src->disks[i].system;
		}
	if (*type == LB_IMAGE_NONE)
		*type = n == src->n_disks ? LB_IMAGE_FULL : n_sys ? (n_data ? LB_IMAGE_FULL : LB_IMAGE_SYSTEM) : LB_IMAGE_DATA;
	if (n == 0 || (*type == LB_IMAGE_SYSTEM && (n_sys != 1 || n_data)) || (*type == LB_IMAGE_DATA && n_sys)) {
		lb_log("%s/%s: a %s image needs %s", src->server, src->id,
		       *type == LB_IMAGE_SYSTEM ? "system" : *type == LB_IMAGE_DATA ? "data" : "full",
		       *type == LB_IMAGE_SYSTEM ? "its system disk, and only that" :
		       *type == LB_IMAGE_DATA	? "data disks only (and the point to have one)" :
						  "at least one disk");
		return -EINVAL;
	}
	return 0;
}

static int image_create(int argc, char **argv)
{
	enum { O_FROM = 256, O_NAME, O_DESC, O_TYPE, O_DISK, O_LEVEL, O_SERVER, O_LABEL };
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, O_FROM },
		{ "name", required_argument, NULL, O_NAME },
		{ "description", required_argument, NULL, O_DESC },
		{ "type", required_argument, NULL, O_TYPE },
		{ "disk", required_argument, NULL, O_DISK },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "server", required_argument, NULL, O_SERVER },
		{ "label", required_argument, NULL, O_LABEL },
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_writer *w = NULL;
	struct lb_manifest *src = NULL, *m = NULL;
	struct lb_strv disks = { 0 };
	struct lb_cli_pairs labels = { 0 };
	struct totals t = { 0 };
	enum lb_image_type type = LB_IMAGE_NONE;
	const char *from = NULL, *name = NULL, *desc = NULL, *server = NULL;
	char *json = NULL, *key = NULL, id[26];
	bool *take = NULL;
	size_t json_len = 0;
	int64_t now;
	int c, level = 0, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_FROM:
			from = optarg;
			break;
		case O_NAME:
			name = optarg;
			break;
		case O_DESC:
			desc = optarg;
			break;
		case O_TYPE:
			if (parse_type(optarg, &type) < 0)
				goto done;
			break;
		case O_DISK:
			if (!lb_manifest_disk_name_ok(optarg)) {
				lb_log("--disk %s: a disk name is 1-32 of a-z 0-9 _ -", optarg);
				goto done;
			}
			if (lb_strv_add_unique(&disks, optarg) < 0)
				goto done;
			break;
		case O_LEVEL:
			if (lb_cli_parse_level(optarg, &level) < 0)
				goto done;
			break;
		case O_SERVER:
			server = optarg;
			break;
		case O_LABEL:
			if (lb_cli_pair_add(&labels, optarg, "--label", "KEY=VALUE") < 0)
				goto done;
			break;
		case 'h':
			fputs(HELP_image, stdout);
			rc = LB_EXIT_OK;
			goto done;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 1 || !from || !name)
		goto usage;
	if (!*name || strlen(name) > 256 || (desc && strlen(desc) > 4096)) {
		lb_log("--name is 1-256 bytes, --description at most 4096");
		goto done;
	}
	if (server && !lb_manifest_server_ok(server)) {
		lb_log("--server %s: 1-63 of A-Z a-z 0-9 . _ -, not starting with .", server);
		goto done;
	}
	if (lb_cli_check_labels(&labels) < 0)
		goto done;

	rc = LB_EXIT_FAILURE;
	if (lb_store_open(argv[optind], &sopts, &st) < 0 || lb_point_load(st, from, NULL, &src, NULL) < 0 ||
	    lb_writer_new(st, &w) < 0)
		goto done;
	take = calloc(src->n_disks, sizeof(*take));
	m = calloc(1, sizeof(*m));
	if (!take || !m)
		goto done;
	if (select_disks(src, &disks, &type, take) < 0)
		goto done;
	if (lb_store_now(st, &now) < 0 || lb_manifest_new_id(now, id) < 0)
		goto done;
	m->id = strdup(id);
	m->server = strdup(server ? server : src->server);
	m->kind = LB_KIND_IMAGE;
	m->image_type = type;
	m->name = strdup(name);
	m->description = desc ? strdup(desc) : NULL;
	m->parent = strdup(src->id);
	m->created = now;
	m->tool = lb_strdupf("lifeboat %s", LIFEBOAT_VERSION);
	m->label_keys = calloc(src->n_labels + labels.n + 1, sizeof(char *));
	m->label_values = calloc(src->n_labels + labels.n + 1, sizeof(char *));
	m->disks = calloc(src->n_disks, sizeof(*m->disks));
	if (!m->id || !m->server || !m->name || (desc && !m->description) || !m->parent || !m->tool ||
	    !m->label_keys || !m->label_values || !m->disks)
		goto done;
	/* The backup's labels, then the new ones (which win). */
	for (size_t i = 0; i < src->n_labels; i++) {
		if (lb_cli_pair_find(&labels, src->label_keys[i]) >= 0)
			continue;
		m->label_keys[m->n_labels] = strdup(src->label_keys[i]);
		m->label_values[m->n_labels] = strdup(src->label_values[i]);
		if (!m->label_keys[m->n_labels++] || !m->label_values[m->n_labels - 1])
			goto done;
	}
	for (size_t i = 0; i < labels.n; i++) {
		m->label_keys[m->n_labels] = strdup(labels.names[i]);
		m->label_values[m->n_labels] = strdup(labels.values[i]);
		if (!m->label_keys[m->n_labels++] || !m->label_values[m->n_labels - 1])
			goto done;
	}
	if (m->n_labels > LB_MANIFEST_MAX_LABELS) {
		lb_log("%zu labels; at most %d", m->n_labels, LB_MANIFEST_MAX_LABELS);
		goto done;
	}
	for (size_t i = 0; i < src->n_disks; i++) {
		struct lb_manifest_disk *d;

		if (!take[i])
			continue;
		d = &m->disks[m->n_disks++];
		if (lb_manifest_disk_copy(d, &src->disks[i]) < 0)
			goto done;
		if (take_disk(st, w, d, level, &t) < 0) {
			lb_log("disk %s of %s/%s could not be taken; no image was written", d->name, src->server, src->id);
			goto done;
		}
	}
	if (lb_manifest_format(m, &json, &json_len) < 0 || !(key = lb_manifest_key(m)) ||
	    lb_writer_commit(w, key, json, json_len) < 0) {
		lb_log("writing the manifest failed; no image was written");
		goto done;
	}
	printf("%s/%s\n", m->server, m->id);
	if (level)
		lb_log("image %s/%s from %s/%s: %" PRIu64 " chunks recompressed at level %d, %" PRIu64
		       " bytes stored before, %" PRIu64 " after (%" PRIu64 " frames replaced, %" PRIu64 " kept)",
		       m->server, m->id, src->server, src->id, t.chunks, level, t.bytes_before, t.bytes_after,
		       t.recompressed, t.shared);
	else
		lb_log("image %s/%s from %s/%s: %" PRIu64 " chunks shared, nothing copied", m->server, m->id,
		       src->server, src->id, t.shared);
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat image create --from SERVER/ID --name NAME [options] STORE\n", stderr);
	rc = LB_EXIT_USAGE;
done:
	free(json);
	free(key);
	free(take);
	lb_strv_clear(&disks);
	lb_cli_pairs_clear(&labels);
	lb_manifest_free(m);
	lb_manifest_free(src);
	lb_writer_free(w);
	lb_store_close(st);
	return rc;
}

static int image_delete(int argc, char **argv)
{
	static const struct option longopts[] = {
		LB_CLI_STORE_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_manifest *m = NULL;
	char *key = NULL;
	int c, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(HELP_image, stdout);
			return LB_EXIT_OK;
		}
		if (!lb_cli_store_option(c, optarg, &sopts))
			goto usage;
	}
	if (optind != argc - 2)
		goto usage;
	rc = LB_EXIT_FAILURE;
	if (lb_store_open(argv[optind], &sopts, &st) < 0 || lb_point_load(st, argv[optind + 1], NULL, &m, NULL) < 0)
		goto done;
	if (m->kind != LB_KIND_IMAGE) {
		lb_log("%s/%s is a backup, not an image; backups are removed by lifeboat prune", m->server, m->id);
		goto done;
	}
	key = lb_manifest_key(m);
	if (!key || lb_point_remove(st, key) < 0)
		goto done;
	printf("removed %s/%s (%s)\n", m->server, m->id, m->name ? m->name : "");
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat image delete [options] STORE SERVER/ID\n", stderr);
done:
	free(key);
	lb_manifest_free(m);
	lb_store_close(st);
	return rc;
}

int cmd_image(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return image_create(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "delete") == 0)
		return image_delete(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(HELP_image, stdout);
		return LB_EXIT_OK;
	}
	fputs("usage: lifeboat image create --from SERVER/ID --name NAME [options] STORE\n"
	      "       lifeboat image delete [options] STORE SERVER/ID\n",
	      stderr);
	return LB_EXIT_USAGE;
}
