/* Command-line pieces shared by the commands. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pool.h"
#include "util.h"

int lb_cli_pair_add(struct lb_cli_pairs *p, const char *arg, const char *option, const char *form)
{
	const char *eq = strchr(arg, '=');
	char **names, **values;

	if (!eq || eq == arg || !eq[1]) {
		lb_log("%s %s: expected %s", option, arg, form);
		return -EINVAL;
	}
	for (size_t i = 0; i < p->n; i++)
		if (strlen(p->names[i]) == (size_t)(eq - arg) && strncmp(p->names[i], arg, (size_t)(eq - arg)) == 0) {
			lb_log("%s %s: %s given twice", option, arg, p->names[i]);
			return -EINVAL;
		}
	names = realloc(p->names, (p->n + 1) * sizeof(char *));
	if (!names)
		return -ENOMEM;
	p->names = names;
	values = realloc(p->values, (p->n + 1) * sizeof(char *));
	if (!values)
		return -ENOMEM;
	p->values = values;
	p->names[p->n] = strndup(arg, (size_t)(eq - arg));
	p->values[p->n] = strdup(eq + 1);
	if (!p->names[p->n] || !p->values[p->n]) {
		free(p->names[p->n]);
		free(p->values[p->n]);
		return -ENOMEM;
	}
	p->n++;
	return 0;
}

int lb_cli_pair_find(const struct lb_cli_pairs *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->names[i], name) == 0)
			return (int)i;
	return -1;
}

void lb_cli_pairs_clear(struct lb_cli_pairs *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->names[i]);
		free(p->values[i]);
	}
	free(p->names);
	free(p->values);
	p->names = p->values = NULL;
	p->n = 0;
}

int lb_cli_parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'K': case 'k':
		shift = 10;
		break;
	case 'M': case 'm':
		shift = 20;
		break;
	case 'G': case 'g':
		shift = 30;
		break;
	case 'T': case 't':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
}

bool lb_cli_store_option(int c, const char *arg, struct lb_store_opts *o)
{
	switch (c) {
	case LB_OPT_ENDPOINT:
		o->endpoint = arg;
		return true;
	case LB_OPT_REGION:
		o->region = arg;
		return true;
	case LB_OPT_CA_BUNDLE:
		o->ca_bundle = arg;
		return true;
	case LB_OPT_PATH_STYLE:
		o->addressing = 1;
		return true;
	case LB_OPT_VIRTUAL_HOST:
		o->addressing = 2;
		return true;
	default:
		return false;
	}
}

int lb_cli_confirm(const char *const *paths, size_t n)
{
	char line[256];

	fprintf(stderr, "This overwrites everything on:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %s\n", paths[i]);
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "Type %s to confirm: ", paths[i]);
		if (!fgets(line, sizeof(line), stdin))
			return -ECANCELED;
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, paths[i]) != 0) {
			lb_log("'%s' is not %s; nothing was written", line, paths[i]);
			return -ECANCELED;
		}
	}
	return 0;
}

double lb_cli_secs_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

int lb_cli_parse_workers(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > LB_POOL_WORKERS_MAX) {
		lb_log("--workers: 1 to %u, not '%s'", LB_POOL_WORKERS_MAX, s);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

int lb_cli_parse_duration(const char *s, int64_t *ret)
{
	char *end;
	long long v;
	int64_t unit = 1;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -EINVAL;
	switch (*end) {
	case '\0': case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v > INT64_MAX / unit)
		return -EINVAL;
	*ret = (int64_t)v * unit;
	return 0;
}

char *lb_cli_point_name(const char *key)
{
	size_t n = strlen(key);

	if (strncmp(key, "points/", 7) != 0 || n < 7 + 5 || strcmp(key + n - 5, ".json") != 0)
		return NULL;
	return strndup(key + 7, n - 7 - 5);
}

int lb_cli_parse_level(const char *s, int *ret)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 1 || v > 19) {
		lb_log("--level: 1 to 19, not '%s'", s);
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
}

int lb_cli_check_labels(const struct lb_cli_pairs *labels)
{
	for (size_t i = 0; i < labels->n; i++)
		if (strlen(labels->names[i]) > 128 || strlen(labels->values[i]) > 1024) {
			lb_log("--label %s: keys are at most 128 bytes, values 1024", labels->names[i]);
			return -EINVAL;
		}
	return 0;
}
