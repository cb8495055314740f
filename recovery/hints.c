/* Root-device hints (hints.h), in the spirit of Ironic's root device hints. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hints.h"
#include "util.h"

enum op { OP_EQ, OP_NE, OP_GE, OP_LE, OP_GT, OP_LT };

static const char *op_str[] = { "=", "!=", ">=", "<=", ">", "<" };

/* Split "keyOPvalue" into its parts (in place). */
static int split_term(char *t, char **key, enum op *op, char **value)
{
	char *p = t + strcspn(t, "=!<>");

	if (!*p || p == t)
		return -EINVAL;
	if (p[0] == '!' && p[1] == '=')
		*op = OP_NE, *value = p + 2;
	else if (p[0] == '>' && p[1] == '=')
		*op = OP_GE, *value = p + 2;
	else if (p[0] == '<' && p[1] == '=')
		*op = OP_LE, *value = p + 2;
	else if (p[0] == '>')
		*op = OP_GT, *value = p + 1;
	else if (p[0] == '<')
		*op = OP_LT, *value = p + 1;
	else if (p[0] == '=')
		*op = OP_EQ, *value = p + 1;
	else
		return -EINVAL;
	*p = '\0';
	*key = lb_strtrim(t);
	*value = lb_strtrim(*value);
	return **key ? 0 : -EINVAL;
}

static bool cmp_num(uint64_t a, enum op op, uint64_t b)
{
	switch (op) {
	case OP_EQ: return a == b;
	case OP_NE: return a != b;
	case OP_GE: return a >= b;
	case OP_LE: return a <= b;
	case OP_GT: return a > b;
	default: return a < b;
	}
}

static bool parse_bool(const char *v, bool *ret)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
		return *ret = true, true;
	if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
		return *ret = false, true;
	return false;
}

static bool str_match(const char *have, const char *want, bool prefix_ok)
{
	size_t n = strlen(want);

	if (!have)
		return false;
	if (prefix_ok && n > 0 && want[n - 1] == '*')
		return strncmp(have, want, n - 1) == 0;
	return strcmp(have, want) == 0;
}

int lb_hints_match(const char *expr, const struct lb_disk *d, char *why, size_t why_len)
{
	char *copy = strdup(expr), *save = NULL, *t;
	int r = 1;

	if (!copy)
		return -ENOMEM;
	why[0] = '\0';
	for (t = strtok_r(copy, ",", &save); t && r == 1; t = strtok_r(NULL, ",", &save)) {
		char *key, *value;
		enum op op;
		bool ok;

		if (split_term(t, &key, &op, &value) < 0) {
			lb_log("hint '%s': a term is KEY OP VALUE (OP one of = != >= <= > <)", expr);
			r = -EINVAL;
			break;
		}
		if (!strcmp(key, "size")) {
			uint64_t v;

			if (lb_cli_parse_size(value, &v) < 0) {
				lb_log("hint '%s': size '%s' is not a size (bytes, or K, M, G, T)", expr, value);
				r = -EINVAL;
				break;
			}
			ok = cmp_num(d->size, op, v);
		} else if (!strcmp(key, "rotational") || !strcmp(key, "removable")) {
			bool want, have = !strcmp(key, "rotational") ? d->rotational : d->removable;

			if ((op != OP_EQ && op != OP_NE) || !parse_bool(value, &want)) {
				lb_log("hint '%s': %s takes = or != and 0/1", expr, key);
				r = -EINVAL;
				break;
			}
			ok = (have == want) == (op == OP_EQ);
		} else {
			const char *have;
			bool prefix_ok = false;

			if (!strcmp(key, "name"))
				have = d->name;
			else if (!strcmp(key, "path"))
				have = d->path;
			else if (!strcmp(key, "serial"))
				have = d->serial;
			else if (!strcmp(key, "wwn"))
				have = d->wwn;
			else if (!strcmp(key, "model"))
				have = d->model, prefix_ok = true;
			else if (!strcmp(key, "vendor"))
				have = d->vendor, prefix_ok = true;
			else if (!strcmp(key, "by_path"))
				have = d->by_path;
			else if (!strcmp(key, "transport"))
				have = d->transport;
			else {
				lb_log("hint '%s': unknown key '%s' (name, path, serial, wwn, model, vendor, by_path, "
				       "transport, rotational, removable, size)",
				       expr, key);
				r = -EINVAL;
				break;
			}
			if (op != OP_EQ && op != OP_NE) {
				lb_log("hint '%s': %s takes = or !=", expr, key);
				r = -EINVAL;
				break;
			}
			ok = str_match(have, value, prefix_ok) == (op == OP_EQ);
		}
		if (!ok) {
			snprintf(why, why_len, "%s%s%s", key, op_str[op], value);
			r = 0;
		}
	}
	free(copy);
	return r;
}

bool lb_hints_writable(const struct lb_disk *d)
{
	return !strcmp(d->type, "disk") && !lb_disk_in_use(d) && !d->boot_medium && !d->read_only;
}

/* The one candidate for which field(candidate) equals want, or -1 (*n says
 * how many there were). */
static int only_match(const struct lb_disk_list *l, const bool *ok, const char *want,
		      const char *(*field)(const struct lb_disk *), int *n)
{
	int found = -1;

	*n = 0;
	if (!want || !*want)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		const char *v = ok[i] ? field(&l->disks[i]) : NULL;

		if (v && !strcmp(v, want)) {
			found = (int)i;
			(*n)++;
		}
	}
	return *n == 1 ? found : -1;
}

static const char *f_serial(const struct lb_disk *d) { return d->serial; }
static const char *f_wwn(const struct lb_disk *d) { return d->wwn; }
static const char *f_by_path(const struct lb_disk *d) { return d->by_path; }

int lb_hints_propose(const struct lb_manifest_disk *src, const struct lb_disk_list *l, const bool *taken, char *why,
		     size_t why_len)
{
	static const struct {
		const char *what;
		const char *(*field)(const struct lb_disk *);
		size_t off;
	} rules[] = {
		{ "serial", f_serial, offsetof(struct lb_manifest_disk, src_serial) },
		{ "WWN", f_wwn, offsetof(struct lb_manifest_disk, src_wwn) },
		{ "by-path", f_by_path, offsetof(struct lb_manifest_disk, src_by_path) },
	};
	bool *ok = calloc(l->n ? l->n : 1, sizeof(bool));
	int found = -1, n = 0, fit = 0;

	if (!ok) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct lb_disk *d = &l->disks[i];

		ok[i] = lb_hints_writable(d) && (!taken || !taken[i]) && d->size >= src->size &&
			d->logical_sector_size == src->logical_sector_size;
		if (ok[i]) {
			fit++;
			found = (int)i;
		}
	}
	for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++) {
		const char *want = *(char *const *)((const char *)src + rules[k].off);
		int at = only_match(l, ok, want, rules[k].field, &n);

		if (at >= 0) {
			snprintf(why, why_len, "its %s %s is the source's", rules[k].what, want);
			free(ok);
			return at;
		}
	}
	free(ok);
	if (fit == 1) {
		snprintf(why, why_len, "the only free disk large enough");
		return found;
	}
	if (fit == 0)
		snprintf(why, why_len, "no free disk is large enough");
	else
		snprintf(why, why_len, "%d free disks are large enough and none has the source's serial, WWN or slot",
			 fit);
	return -1;
}
