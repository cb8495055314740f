/* show - one restore point in detail
 * usage: lifeboat show [options] STORE POINT
 *
 * POINT is SERVER/ID or SERVER/latest. Prints the point's kind, time,
 * labels and, per disk, its role, size, sector sizes, partition table,
 * chunking, and what the source disk was (model, serial, WWN, by-path) —
 * the hints for choosing target disks — and whether it is signed: by which
 * key, and whether that key is trusted and the signature verified. --json
 * prints the manifest itself, as stored (after it was verified).
 *
 * Options:
 *   --json                 the verified manifest (JSON)
 *   --trust-key FILE       a trusted public key (repeatable; as for restore):
 *                          with any, a point not signed by one is refused
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Exit status: 0 shown, 1 failure (missing or damaged point), 2 usage error.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "cli.h"
#include "help.h"
#include "key.h"
#include "lifeboat.h"
#include "point.h"
#include "store.h"
#include "util.h"

#define OR(s) ((s) ? (s) : "-")

int cmd_show(int argc, char **argv)
{
	enum { O_JSON = 256 };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		LB_CLI_STORE_OPTIONS,
		LB_CLI_TRUST_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_store_opts sopts = { 0 };
	struct lb_store *st = NULL;
	struct lb_manifest *m = NULL;
	struct lb_keyring *trust = NULL;
	struct lb_point_auth auth = { 0 };
	struct lb_strv trust_files = { 0 };
	bool json = false;
	char *buf = NULL, created[32], hex[65], how[256];
	size_t len = 0;
	time_t t;
	int c, rc = LB_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_JSON:
			json = true;
			break;
		case LB_OPT_TRUST_KEY:
			if (lb_strv_add_unique(&trust_files, optarg) < 0)
				goto done;
			break;
		case 'h':
			fputs(HELP_show, stdout);
			rc = LB_EXIT_OK;
			goto done;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 2)
		goto usage;
	rc = LB_EXIT_FAILURE;
	if (lb_keyring_load((const char *const *)trust_files.v, trust_files.n, &trust) < 0 ||
	    lb_store_open(argv[optind], &sopts, &st) < 0 ||
	    lb_point_load(st, argv[optind + 1], trust, &m, &auth) < 0)
		goto done;
	if (json) {
		if (lb_manifest_format(m, &buf, &len) < 0 || fwrite(buf, 1, len, stdout) != len)
			goto done;
		rc = LB_EXIT_OK;
		goto done;
	}
	t = (time_t)m->created;
	strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	printf("point:    %s/%s\n", m->server, m->id);
	printf("kind:     %s%s%s\n", m->kind == LB_KIND_BACKUP ? "backup" : "image",
	       m->kind == LB_KIND_IMAGE ? " " : "",
	       m->kind == LB_KIND_IMAGE ? (const char *[]){ "", "system", "data", "full" }[m->image_type] : "");
	if (m->name)
		printf("name:     %s\n", m->name);
	if (m->description)
		printf("about:    %s\n", m->description);
	printf("created:  %s\n", created);
	if (m->parent)
		printf("parent:   %s\n", m->parent);
	for (size_t i = 0; i < m->n_labels; i++)
		printf("label:    %s=%s\n", m->label_keys[i], m->label_values[i]);
	printf("tool:     %s\n", OR(m->tool));
	lb_point_auth_describe(&auth, how, sizeof(how));
	printf("signature: %s\n", how);
	if (auth.state == LB_POINT_SIGNED || auth.state == LB_POINT_VERIFIED)
		printf("key:      %s\n", auth.key_id);
	for (size_t i = 0; i < m->n_disks; i++) {
		const struct lb_manifest_disk *d = &m->disks[i];

		lb_hex(d->digest, 32, hex);
		printf("disk %s:%s%s\n", d->name, d->system ? " system" : " data", d->boot ? ", boot" : "");
		printf("  size:      %" PRIu64 " bytes, sectors %u/%u (logical/physical)\n", d->size,
		       d->logical_sector_size, d->physical_sector_size);
		printf("  table:     %s %s\n", OR(d->pttype), d->ptuuid ? d->ptuuid : "");
		printf("  chunks:    %" PRIu64 " of %u bytes, %" PRIu64 " zero\n", d->chunk_count, d->chunk_size,
		       d->zero_chunks);
		printf("  digest:    sha256-chunks:%s\n", hex);
		printf("  source:    %s, model %s, serial %s, wwn %s, by-path %s\n", OR(d->src_path), OR(d->src_model),
		       OR(d->src_serial), OR(d->src_wwn), OR(d->src_by_path));
	}
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat show [options] STORE POINT\n", stderr);
done:
	free(buf);
	lb_keyring_free(trust);
	lb_strv_clear(&trust_files);
	lb_manifest_free(m);
	lb_store_close(st);
	return rc;
}
