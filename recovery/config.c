/* The site config (config.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "util.h"

bool lb_config_is_secret(const char *k)
{
	return !strcmp(k, "access_key_id") || !strcmp(k, "secret_access_key") || !strcmp(k, "session_token") ||
	       !strcmp(k, "callback_token");
}

static bool known(const char *k)
{
	static const char *const keys[] = { "store", "point", "endpoint", "region", "ca_bundle", "workers",
					    "callback", "callback_interval", "callback_flush", "ntp",
					    "clock_http_date", "retries", "retry_time", "stall_timeout" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(k, keys[i]))
			return true;
	return lb_config_is_secret(k);
}

int lb_config_set(struct lb_config *c, const char *key, const char *value, const char *where)
{
	struct lb_cli_pairs *p = &c->kv;
	const char *k = key;
	char *arg;
	int i, r;

	if (!strcmp(key, "trust_key")) {
		/* every one counts: trusted keys add up, they never replace */
		if (!*value) {
			lb_log("%s: trust_key needs a public key file", where);
			return -EINVAL;
		}
		return lb_strv_add_unique(&c->trust_keys, value);
	}
	if (!strncmp(key, "disk.", 5)) {
		p = &c->disks;
		k = key + 5;
	} else if (!known(key)) {
		lb_log("%s: unknown setting '%s'", where, key);
		return -EINVAL;
	}
	/* later sources override earlier ones */
	i = lb_cli_pair_find(p, k);
	if (i >= 0) {
		char *v = strdup(value);

		if (!v)
			return -ENOMEM;
		if (lb_config_is_secret(k))
			explicit_bzero(p->values[i], strlen(p->values[i]));
		free(p->values[i]);
		p->values[i] = v;
		return 0;
	}
	arg = lb_strdupf("%s=%s", k, value);
	if (!arg)
		return -ENOMEM;
	r = lb_cli_pair_add(p, arg, where, "KEY=VALUE");
	explicit_bzero(arg, strlen(arg));
	free(arg);
	return r;
}

int lb_config_parse(struct lb_config *c, char *buf, const char *name, bool creds_ok, const char *creds_why)
{
	char *line, *next;
	unsigned n = 0;
	int r;

	/* line by line, blank ones counted, so messages name the right line */
	for (line = buf; line; line = next) {
		char *eq, *key, *value, where[300];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n++;
		line[strcspn(line, "#")] = '\0';
		if (!*lb_strtrim(line))
			continue;
		snprintf(where, sizeof(where), "config %s:%u", name, n);
		eq = strchr(line, '=');
		if (!eq) {
			lb_log("%s: expected KEY = VALUE", where);
			return -EINVAL;
		}
		*eq = '\0';
		key = lb_strtrim(line);
		value = lb_strtrim(eq + 1);
		if (lb_config_is_secret(key) && !creds_ok) {
			lb_log("%s: holds credentials but %s", where, creds_why);
			return -EPERM;
		}
		if ((r = lb_config_set(c, key, value, where)) < 0)
			return r;
	}
	return 0;
}

int lb_config_read(struct lb_config *c, const char *path, bool must_exist)
{
	char *buf = NULL, why[128];
	struct stat st;
	bool private;
	size_t len;
	int r;

	r = lb_read_file(path, LB_CONFIG_MAX, &buf);
	if (r == -ENOENT && !must_exist)
		return 0;
	if (r < 0) {
		lb_log("config %s: %s", path, r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		return r;
	}
	len = (size_t)r;
	private = stat(path, &st) == 0 && !(st.st_mode & 077);
	snprintf(why, sizeof(why), "is readable by others (mode %03o): chmod 600 it",
		 private ? 0 : (unsigned)(st.st_mode & 0777));
	r = lb_config_parse(c, buf, path, private, why);
	/* parsing cut the text into pieces: wipe all of it */
	explicit_bzero(buf, len);
	free(buf);
	return r;
}

const char *lb_config_get(const struct lb_config *c, const char *key)
{
	int i = lb_cli_pair_find(&c->kv, key);

	return i >= 0 ? c->kv.values[i] : NULL;
}

void lb_config_clear(struct lb_config *c)
{
	for (size_t i = 0; i < c->kv.n; i++)
		if (lb_config_is_secret(c->kv.names[i]))
			explicit_bzero(c->kv.values[i], strlen(c->kv.values[i]));
	lb_cli_pairs_clear(&c->kv);
	lb_cli_pairs_clear(&c->disks);
	lb_strv_clear(&c->trust_keys);
}
