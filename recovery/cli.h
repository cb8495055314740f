/* Command-line pieces shared by the commands: NAME=VALUE lists and sizes. */
#ifndef LB_CLI_H
#define LB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

/* The store options every command that opens a store takes, as entries
 * for a getopt_long table and their handler. */
enum { LB_OPT_ENDPOINT = 1000, LB_OPT_REGION, LB_OPT_CA_BUNDLE, LB_OPT_PATH_STYLE, LB_OPT_VIRTUAL_HOST,
       LB_OPT_TRUST_KEY };
#define LB_CLI_STORE_OPTIONS                                                   \
	{ "endpoint", required_argument, NULL, LB_OPT_ENDPOINT },              \
	{ "region", required_argument, NULL, LB_OPT_REGION },                  \
	{ "ca-bundle", required_argument, NULL, LB_OPT_CA_BUNDLE },            \
	{ "path-style", no_argument, NULL, LB_OPT_PATH_STYLE },                \
	{ "virtual-host", no_argument, NULL, LB_OPT_VIRTUAL_HOST }
/* true when getopt's c was a store option (now stored in o). */
bool lb_cli_store_option(int c, const char *arg, struct lb_store_opts *o);

/* --trust-key FILE (repeatable), for the commands that load points: the
 * files are collected in l and handed to lb_keyring_load. */
#define LB_CLI_TRUST_OPTION { "trust-key", required_argument, NULL, LB_OPT_TRUST_KEY }

/* Ordered NAME=VALUE pairs (--disk system=/dev/sda, --label k=v). */
struct lb_cli_pairs {
	size_t n;
	char **names, **values;
};

/* Split "NAME=VALUE" and append; a repeated NAME is a usage error. 0 or
 * -EINVAL (logged, naming option and the expected form). */
int lb_cli_pair_add(struct lb_cli_pairs *p, const char *arg, const char *option, const char *form);
/* Index of name, or -1. */
int lb_cli_pair_find(const struct lb_cli_pairs *p, const char *name);
void lb_cli_pairs_clear(struct lb_cli_pairs *p);

/* On a terminal, show the n target paths and make the operator type each
 * one: 0 when all were typed, -ECANCELED (logged) otherwise. A typed name,
 * not a y/n, because at night over a serial console "y" is typed by habit. */
int lb_cli_confirm(const char *const *paths, size_t n);

/* Seconds since *t (CLOCK_MONOTONIC), for rates and progress pacing. */
double lb_cli_secs_since(const struct timespec *t);

/* --workers N: 1 to LB_POOL_WORKERS_MAX; -EINVAL (logged) otherwise. */
int lb_cli_parse_workers(const char *s, unsigned *ret);

/* "4096", "4K", "4M", "1G", "2T" (powers of 1024) -> bytes; -EINVAL. */
int lb_cli_parse_size(const char *s, uint64_t *ret);

/* --level: a zstd level 1-19; -EINVAL (logged). */
int lb_cli_parse_level(const char *s, int *ret);
/* --label pairs within the manifest's limits; -EINVAL (logged). */
int lb_cli_check_labels(const struct lb_cli_pairs *labels);

/* "90" or "90s", "30m", "36h", "7d", "2w" -> seconds; -EINVAL. */
int lb_cli_parse_duration(const char *s, int64_t *ret);

/* A point's id or a store's key, shortened for a table: the id of
 * "points/SERVER/ID.json" ("SERVER/ID"). NULL when key is not one. */
char *lb_cli_point_name(const char *key);

#endif
