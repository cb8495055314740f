/* list - the restore points in a store
 * usage: lifeboat list [options] STORE [SERVER]
 *
 * Backups first, then images, each under its heading; one line per point:
 * server, id, kind (backup, or image and its type), creation time (UTC),
 * and its disks with their sizes; an image's line ends with its name in
 * quotes. Only points whose manifest is valid are listed; damaged ones are
 * reported on stderr. STORE is s3://bucket/prefix or a directory.
 *
 * Options:
 *   --json                 one JSON document: {"points": [...]}
 *   --trust-key FILE       a trusted public key (repeatable; as for restore):
 *                          with any, only points signed by one are listed
 *   --endpoint URL         S3 endpoint (default $AWS_ENDPOINT_URL)
 *   --region REGION        S3 region (default $AWS_REGION, else us-east-1)
 *   --ca-bundle FILE       CA certificates for the endpoint
 *   --path-style, --virtual-host   S3 addressing (default: path-style with
 *                          an endpoint, virtual-host for AWS)
 *   -h, --help             this text
 *
 * Exit status: 0 listed (also when there are none), 1 failure, 2 usage error.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "help.h"
#include "json.h"
#include "key.h"
#include "lifeboat.h"
#include "point.h"
#include "store.h"
#include "util.h"

static const char *kind_str(const struct lb_manifest *m)
{
	static const char *types[] = { "image", "image:system", "image:data", "image:full" };

	return m->kind == LB_KIND_BACKUP ? "backup" : types[m->image_type];
}

int cmd_list(int argc, char **argv)
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
	struct lb_json *j = NULL;
	struct lb_keyring *trust = NULL;
	struct lb_strv trust_files = { 0 };
	char **servers = NULL, *rows[2] = { NULL, NULL };
	size_t n_servers = 0, rows_len[2] = { 0, 0 }, n_rows[2] = { 0, 0 };
	FILE *out[2] = { NULL, NULL };
	bool json = false;
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
			fputs(HELP_list, stdout);
			rc = LB_EXIT_OK;
			goto done;
		default:
			if (lb_cli_store_option(c, optarg, &sopts))
				break;
			goto usage;
		}
	}
	if (optind != argc - 1 && optind != argc - 2)
		goto usage;
	rc = LB_EXIT_FAILURE;
	if (lb_keyring_load((const char *const *)trust_files.v, trust_files.n, &trust) < 0 ||
	    lb_store_open(argv[optind], &sopts, &st) < 0)
		goto done;
	if (lb_point_servers_or(st, optind == argc - 2 ? argv[optind + 1] : NULL, &servers, &n_servers) < 0)
		goto done;
	if (json) {
		if (lb_json_new(stdout, true, &j) < 0)
			goto done;
		lb_json_object_begin(j);
		lb_json_key(j, "points");
		lb_json_array_begin(j);
	} else {
		/* Backups and images apart: two buffers, printed in turn. */
		for (int k = 0; k < 2; k++)
			if (!(out[k] = open_memstream(&rows[k], &rows_len[k])))
				goto done;
	}
	for (size_t s = 0; s < n_servers; s++) {
		char **keys = NULL;
		size_t n = 0;

		if (lb_point_keys(st, servers[s], &keys, &n) < 0)
			goto done;
		for (size_t k = 0; k < n; k++) {
			struct lb_manifest *m = NULL;
			char created[32];
			time_t t;

			if (lb_point_load(st, keys[k], trust, &m, NULL) < 0) {
				lb_log("%s: not listed (see above)", keys[k]);
				continue;
			}
			t = (time_t)m->created;
			strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S", gmtime(&t));
			if (json) {
				lb_json_object_begin(j);
				lb_json_key(j, "server"), lb_json_string(j, m->server);
				lb_json_key(j, "id"), lb_json_string(j, m->id);
				lb_json_key(j, "kind"), lb_json_string(j, m->kind == LB_KIND_BACKUP ? "backup" : "image");
				lb_json_key(j, "image_type"),
					lb_json_string(j, m->kind == LB_KIND_BACKUP ? NULL : kind_str(m) + 6);
				lb_json_key(j, "name"), lb_json_string(j, m->name);
				lb_json_key(j, "description"), lb_json_string(j, m->description);
				lb_json_key(j, "parent"), lb_json_string(j, m->parent);
				lb_json_key(j, "created"), lb_json_u64(j, (uint64_t)m->created);
				lb_json_key(j, "disks");
				lb_json_array_begin(j);
				for (size_t d = 0; d < m->n_disks; d++) {
					lb_json_object_begin(j);
					lb_json_key(j, "name"), lb_json_string(j, m->disks[d].name);
					lb_json_key(j, "role"), lb_json_string(j, m->disks[d].system ? "system" : "data");
					lb_json_key(j, "size"), lb_json_u64(j, m->disks[d].size);
					lb_json_object_end(j);
				}
				lb_json_array_end(j);
				lb_json_object_end(j);
			} else {
				FILE *o = out[m->kind == LB_KIND_IMAGE];

				n_rows[m->kind == LB_KIND_IMAGE]++;
				fprintf(o, "%-20s %-25s %-13s %-20s", m->server, m->id, kind_str(m), created);
				for (size_t d = 0; d < m->n_disks; d++) {
					char h[LB_SIZE_STR];

					lb_size_str(m->disks[d].size, h);
					fprintf(o, " %s:%s", m->disks[d].name, h);
				}
				if (m->kind == LB_KIND_IMAGE)
					fprintf(o, "  \"%s\"", m->name ? m->name : "");
				fprintf(o, "\n");
			}
			lb_manifest_free(m);
		}
		lb_point_strv_free(keys, n);
	}
	if (json) {
		lb_json_array_end(j);
		lb_json_object_end(j);
		if (lb_json_free(j) < 0) {
			j = NULL;
			goto done;
		}
		j = NULL;
	} else {
		static const char *const heads[2] = { "BACKUPS", "IMAGES" };

		for (int k = 0; k < 2; k++) {
			if (fclose(out[k]) != 0) {
				out[k] = NULL;
				goto done;
			}
			out[k] = NULL;
			printf("%s%s\n", k ? "\n" : "", heads[k]);
			if (n_rows[k])
				printf("%-20s %-25s %-13s %-20s %s\n%s", "SERVER", "ID", "KIND", "CREATED (UTC)",
				       k ? "DISKS  \"NAME\"" : "DISKS", rows[k]);
			else
				printf("  (none)\n");
		}
	}
	rc = LB_EXIT_OK;
	goto done;
usage:
	fputs("usage: lifeboat list [options] STORE [SERVER]\n", stderr);
done:
	for (int k = 0; k < 2; k++) {
		if (out[k])
			fclose(out[k]);
		free(rows[k]);
	}
	if (j)
		lb_json_free(j);
	lb_point_strv_free(servers, n_servers);
	lb_keyring_free(trust);
	lb_strv_clear(&trust_files);
	lb_store_close(st);
	return rc;
}
