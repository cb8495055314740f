/* What the kernel says is using block devices: mounts and swap areas. */
#ifndef LB_MOUNTS_H
#define LB_MOUNTS_H

#include <stddef.h>

struct lb_mounts;
struct lb_swaps;

/* Load $LIFEBOAT_PROC/self/mountinfo, or $LIFEBOAT_PROC/mounts when the
 * former is missing (old or stripped procfs). Logs its own failure. */
int lb_mounts_load(struct lb_mounts **ret);
/* Parse the text of a mountinfo file, or of /proc/mounts (is_mountinfo
 * false); exposed for the unit tests. */
int lb_mounts_parse(const char *text, int is_mountinfo, struct lb_mounts **ret);
void lb_mounts_free(struct lb_mounts *m);
/* Mount points of the device major:minor named name (e.g. "sda1"), one per
 * call: *iter starts at 0; NULL when there are no more. mountinfo entries
 * match by device number (exact even for bind mounts and renamed nodes);
 * /proc/mounts entries, which lack numbers, match by the node's name. */
const char *lb_mounts_next(const struct lb_mounts *m, unsigned major, unsigned minor,
			   const char *name, size_t *iter);

/* Load $LIFEBOAT_PROC/swaps; a missing file means no swap. */
int lb_swaps_load(struct lb_swaps **ret);
int lb_swaps_parse(const char *text, struct lb_swaps **ret);
void lb_swaps_free(struct lb_swaps *s);
/* Is the block device named name (e.g. "sda2") an active swap area? */
int lb_swaps_contains(const struct lb_swaps *s, const char *name);

/* Decode the octal escapes (\040 for space etc.) procfs uses in paths,
 * in place. */
void lb_unescape_octal(char *s);

#endif
