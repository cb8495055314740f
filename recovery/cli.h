/* Command-line pieces shared by the commands: NAME=VALUE lists and sizes. */
#ifndef LB_CLI_H
#define LB_CLI_H

#include <stddef.h>
#include <stdint.h>

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

/* "4096", "4K", "4M", "1G" (powers of 1024) -> bytes; -EINVAL. */
int lb_cli_parse_size(const char *s, uint64_t *ret);

#endif
