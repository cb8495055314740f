/* The site config (/etc/lifeboat/lifeboat.conf): KEY = VALUE lines that say
 * where the restore points are, with which credentials, and for unattended
 * deployment which point goes onto which disks (deploy's help lists the
 * keys). Shared by deploy, which needs all of it, and the console, which
 * offers it as defaults.
 *
 * Credentials are accepted only from a source others cannot read (a file
 * of mode 0600, or a fetched config whose digest matched): a readable file
 * holding a secret is refused, not silently used. */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stdbool.h>

#include "cli.h"
#include "util.h"

#define LB_CONFIG_DEFAULT "/etc/lifeboat/lifeboat.conf"
#define LB_CONFIG_MAX (64u << 10) /* bytes: a config is a screenful */

struct lb_config {
	struct lb_cli_pairs kv;    /* everything but disks; the last one set wins */
	struct lb_cli_pairs disks; /* disk.NAME = HINTS, as NAME -> HINTS */
	struct lb_strv trust_keys; /* every trust_key = FILE, in order: they add up */
};

/* access_key_id, secret_access_key, session_token, callback_token. */
bool lb_config_is_secret(const char *key);

/* Set key (a known setting, disk.NAME, or trust_key, which adds to
 * trust_keys); where names the source for the log. 0, -EINVAL (unknown
 * key, or an empty trust_key: logged), -ENOMEM. */
int lb_config_set(struct lb_config *c, const char *key, const char *value, const char *where);

/* Parse config text (NUL-terminated, edited in place) named name. creds_ok:
 * whether this source may hold credentials; creds_why says why not, for
 * the log. 0, -EINVAL (a bad line), -EPERM (credentials refused). */
int lb_config_parse(struct lb_config *c, char *buf, const char *name, bool creds_ok, const char *creds_why);

/* Read and parse the file at path; a missing file is 0 unless must_exist.
 * Failures are logged. */
int lb_config_read(struct lb_config *c, const char *path, bool must_exist);

/* The value of key, or NULL. */
const char *lb_config_get(const struct lb_config *c, const char *key);

/* Free everything, secrets wiped first; c may be reused. */
void lb_config_clear(struct lb_config *c);

#endif
