/* Line-oriented questions on a console that may be a serial line.
 *
 * Over IPMI serial-over-LAN at night, anything clever breaks: cursor
 * addressing garbles the SOL log, colours turn into escape litter, \r
 * redraws overwrite what the operator needs to scroll back to. So: plain
 * lines of at most 80 columns, one question at a time, a numbered list
 * where there is a choice, the default in [brackets] taken by Enter.
 *
 * Every question understands the same keys, which lb_ui_keys() prints:
 *   b  back to the previous question or step
 *   q  leave the console (nothing has been written before the typed
 *      confirmation)
 *   !  a shell (when allowed); exit returns to the same question
 *   ?  the keys again
 * Input typed before a question is shown is discarded (on a terminal), so
 * an Enter pressed twice never answers the next question by its default.
 *
 * Nothing here logs the answer to a secret question or echoes it. */
#ifndef LB_UI_H
#define LB_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define LB_UI_LINE 1024 /* longest answer: a URL with a long prefix */

enum lb_ui_answer {
	LB_UI_VALUE, /* buf holds the answer (or the default) */
	LB_UI_BACK,  /* b */
	LB_UI_QUIT,  /* q, or the input ended */
};

struct lb_ui;

/* in and out are the console (stdin/stdout for the console command). shell:
 * whether '!' runs /bin/sh. */
int lb_ui_new(FILE *in, FILE *out, bool shell, struct lb_ui **ret);
void lb_ui_free(struct lb_ui *ui);

/* "=== Step 2 of 7: object store ===" with a blank line before. */
void lb_ui_step(struct lb_ui *ui, unsigned n, unsigned of, const char *title);
/* A line (a newline is added), flushed at once. */
void lb_ui_say(struct lb_ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The keys every question takes, on one line. */
void lb_ui_keys(struct lb_ui *ui);

/* Flags for lb_ui_ask. */
enum {
	LB_UI_OPTIONAL = 1 << 0, /* an empty answer is allowed; "-" clears a default */
	LB_UI_SECRET = 1 << 1,   /* echo off; the default is never shown, only "[keep]" */
};

/* Ask prompt; def (may be NULL) is taken by Enter. The answer (trimmed)
 * lands in buf. Without LB_UI_OPTIONAL an empty answer with no default
 * asks again. LB_UI_VALUE, LB_UI_BACK or LB_UI_QUIT; -errno on failure. */
int lb_ui_ask(struct lb_ui *ui, const char *prompt, const char *def, unsigned flags, char *buf, size_t size);

/* A number from 1 to n or a word the caller reads itself ("s" to skip, a
 * device name): *ret_n is the number, or 0 with the word in buf. def (a
 * number or a word; NULL: none) is taken by Enter. A number outside 1..n
 * is refused here and asked again. LB_UI_VALUE, LB_UI_BACK or LB_UI_QUIT. */
int lb_ui_choose(struct lb_ui *ui, const char *prompt, size_t n, const char *def, char *buf, size_t size,
		 size_t *ret_n);

/* Run a shell on the console now (the '!' key). */
void lb_ui_shell(struct lb_ui *ui);

#endif
