/* key - make and inspect the keys that sign restore points
 * usage: lifeboat key generate --out NAME
 *        lifeboat key id FILE
 *
 *   generate  a new ECDSA P-256 key pair: the private key in NAME (PEM,
 *             mode 0600: give it to `lifeboat backup --sign-key NAME`) and
 *             the public key in NAME.pub (PEM, for `restore --trust-key`,
 *             `trust_key =` in a deploy config, or `iso/customize
 *             --trust-key`). Existing files are never overwritten. Prints
 *             the key id.
 *   id        print the key id of a public (or private) key file: the
 *             SHA-256 of its DER public key, as `lifeboat show` names the
 *             signer (openssl pkey -pubin -in K.pub -outform DER | sha256sum)
 *
 * Keep the private key off the machines that restore: they need only the
 * public one. Signatures are deterministic (RFC 6979): the same key signs
 * the same manifest identically. Keys are in OpenSSL's formats, so
 * `openssl ecparam -name prime256v1 -genkey` keys work too.
 *
 * Options:
 *   --out NAME   (generate) where the private key goes; NAME.pub gets the public key
 *   -h, --help   this text
 *
 * Exit status: 0 done, 1 failure (a file exists, not a key), 2 usage error.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "help.h"
#include "key.h"
#include "lifeboat.h"
#include "util.h"

static int key_generate(const char *out)
{
	struct lb_key *k = NULL;
	char *pub = lb_strdupf("%s.pub", out);
	int rc = LB_EXIT_FAILURE;

	if (pub && lb_key_generate(&k) == 0 && lb_key_save(k, out, pub) == 0) {
		printf("%s\n", lb_key_id(k));
		lb_log("wrote the private key %s (mode 0600) and the public key %s", out, pub);
		rc = LB_EXIT_OK;
	}
	lb_key_free(k);
	free(pub);
	return rc;
}

static int key_id(const char *path)
{
	struct lb_key *k = NULL;
	char *buf = NULL;
	int n = lb_read_file(path, LB_KEY_FILE_MAX, &buf), r;

	if (n < 0) {
		lb_log("key %s: %s", path, strerror(-n));
		return LB_EXIT_FAILURE;
	}
	/* a private key carries its public half: the same id */
	r = lb_key_load(path, memmem(buf, (size_t)n, "PRIVATE KEY-----", 16) != NULL, &k);
	free(buf);
	if (r < 0)
		return LB_EXIT_FAILURE;
	printf("%s\n", lb_key_id(k));
	lb_key_free(k);
	return LB_EXIT_OK;
}

int cmd_key(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *out = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(HELP_key, stdout);
			return LB_EXIT_OK;
		default:
			goto usage;
		}
	}
	if (optind == argc - 1 && strcmp(argv[optind], "generate") == 0 && out)
		return key_generate(out);
	if (optind == argc - 2 && strcmp(argv[optind], "id") == 0 && !out)
		return key_id(argv[optind + 1]);
usage:
	fputs("usage: lifeboat key generate --out NAME\n"
	      "       lifeboat key id FILE\n",
	      stderr);
	return LB_EXIT_USAGE;
}
