/* Small helpers shared by every command: logging, redirectable roots, file reads. */
#ifndef LB_UTIL_H
#define LB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Every read of /sys, /proc and /dev goes through these roots so that
 * fixture trees can stand in for a machine (LIFEBOAT_SYSFS, LIFEBOAT_PROC,
 * LIFEBOAT_DEV). Read once per call; tests change the environment between
 * scans. */
enum lb_root {
	LB_ROOT_SYSFS,
	LB_ROOT_PROC,
	LB_ROOT_DEV,
};

const char *lb_root(enum lb_root root);

/* Print "lifeboat: <message>" on stderr. The one place that decides the
 * log format, so a serial console post-mortem reads the same everywhere. */
void lb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Worker threads of a parallel restore or backup hold their log lines
 * while they work on a chunk, and print them only when that chunk went
 * well or its failure was the first one: when one worker fails, the others
 * fail too (cancelled, or on the same full disk), and only the first cause
 * may reach the console. Lines past the buffer are counted, not kept. */
struct lb_log_hold {
	char buf[8192];
	size_t len;
	unsigned dropped;
};
/* From now on this thread's lb_log lines go into h (emptied first); NULL
 * goes back to printing. */
void lb_log_hold(struct lb_log_hold *h);
/* Stop holding; print (true) or drop what h holds. */
void lb_log_release(struct lb_log_hold *h, bool print);

/* The last lines lb_log printed (at most LB_LOG_TAIL_LINES, each cut at
 * LB_LOG_LINE_MAX bytes), oldest first, appended to ret as copies: what a
 * failed deployment reports to its callback, so the operator of a rack sees
 * why without a console. A fixed ring: memory stays bounded however long
 * the run. Safe from any thread. 0 or -ENOMEM. */
#define LB_LOG_TAIL_LINES 40
#define LB_LOG_LINE_MAX 400
struct lb_strv;
int lb_log_tail(struct lb_strv *ret);

/* Remove leading and trailing whitespace (and NULs padding) in place;
 * returns s. */
char *lb_strtrim(char *s);

/* Ceiling for anything read from sysfs or procfs: a pathological mount
 * table must not exhaust the RAM of an initramfs. */
#define LB_READ_MAX (4u * 1024u * 1024u)

/* Read a whole file (at most max bytes, else -EFBIG) into a NUL-terminated
 * malloc'ed buffer. Returns the length or -errno; no logging, callers
 * know whether a missing file is normal. */
int lb_read_file(const char *path, size_t max, char **ret_buf);

/* Read a sysfs attribute as a trimmed string; an empty value is -ENODATA. */
int lb_read_str(const char *path, char **ret);
int lb_read_u64(const char *path, uint64_t *ret);

/* printf into a malloc'ed string; NULL on failure. */
char *lb_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

bool lb_startswith(const char *s, const char *prefix);

/* Overwrite the value of NAME in the process's environment with NULs, in
 * place: /proc/PID/environ shows the bytes the environment was started
 * with, which unsetenv(3) leaves as they are. Call once the value is
 * copied; getenv(NAME) is "" afterwards. */
void lb_env_blank(const char *name);

/* CLOCK_MONOTONIC in milliseconds: for deadlines and rates, never for
 * what time it is. */
uint64_t lb_mono_ms(void);


/* "48.0M", "1.8T", "512B": a size in powers of 1024, for tables. */
#define LB_SIZE_STR 16
void lb_size_str(uint64_t bytes, char out[LB_SIZE_STR]);

/* Copy s (NULL or "" becomes "-") into out for printing on a console:
 * at most size-1 bytes, control characters as '?'. Firmware strings
 * (model, serial) and names read from a store are not trusted to be
 * printable, and an escape sequence would reach a serial console. */
const char *lb_printable(const char *s, char *out, size_t size);

/* Run argv (argv[0] looked up in PATH) with our stdin, stdout, stderr and
 * environment, and wait for it. While it runs, Ctrl-C and Ctrl-\ reach only
 * the child. Returns its exit status (0-255), 128+N when signal N ended
 * it, or -errno (logged) when it could not start. Callers keep secrets out
 * of argv and the environment: every process can read both. */
int lb_run(const char *const *argv);

/* A growable list of owned strings. */
struct lb_strv {
	size_t n;
	char **v;
};

/* Append a copy of s unless already present; 0 or -ENOMEM. */
int lb_strv_add_unique(struct lb_strv *l, const char *s);
void lb_strv_clear(struct lb_strv *l);

#endif
