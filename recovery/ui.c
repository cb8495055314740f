/* Line-oriented questions (ui.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ui.h"
#include "util.h"

struct lb_ui {
	FILE *in, *out;
	bool shell;
	bool tty; /* in is a terminal: flush type-ahead, echo off for secrets */
};

int lb_ui_new(FILE *in, FILE *out, bool shell, struct lb_ui **ret)
{
	struct lb_ui *ui = calloc(1, sizeof(*ui));

	if (!ui)
		return -ENOMEM;
	ui->in = in;
	ui->out = out;
	ui->shell = shell;
	ui->tty = isatty(fileno(in));
	*ret = ui;
	return 0;
}

void lb_ui_free(struct lb_ui *ui)
{
	free(ui);
}

/* Lines longer than the console are broken at spaces, continuing at the
 * line's own indentation: a long message must not run off an 80-column
 * screen or be cut by the terminal. */
#define WIDTH 79

void lb_ui_say(struct lb_ui *ui, const char *fmt, ...)
{
	char text[4096], *line, *save = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!text[0])
		fputc('\n', ui->out);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t indent = strspn(line, " "), len = strlen(line), at = 0;

		if (indent > WIDTH / 2)
			indent = 0;
		while (len - at > (at ? WIDTH - indent : WIDTH)) {
			size_t room = at ? WIDTH - indent : WIDTH, cut = room;

			while (cut > 0 && line[at + cut] != ' ')
				cut--;
			if (cut == 0 || (at == 0 && cut <= indent))
				cut = room; /* one long word (a URL): cut it */
			fprintf(ui->out, "%*s%.*s\n", at ? (int)indent : 0, "", (int)cut, line + at);
			at += cut;
			while (line[at] == ' ')
				at++;
		}
		fprintf(ui->out, "%*s%s\n", at ? (int)indent : 0, "", line + at);
	}
	fflush(ui->out);
}

void lb_ui_step(struct lb_ui *ui, unsigned n, unsigned of, const char *title)
{
	fputc('\n', ui->out);
	lb_ui_say(ui, "=== Step %u of %u: %s ===", n, of, title);
}

void lb_ui_keys(struct lb_ui *ui)
{
	lb_ui_say(ui, "Keys: Enter takes the [default], b goes back, q leaves%s, ? shows this.",
		  ui->shell ? ", ! opens a shell (exit returns here)" : "");
}

void lb_ui_shell(struct lb_ui *ui)
{
	static const char *const argv[] = { "/bin/sh", "-l", NULL };
	int r;

	if (!ui->shell) {
		lb_ui_say(ui, "No shell here: q leaves the console instead.");
		return;
	}
	lb_ui_say(ui, "Shell: type exit to come back to this question.");
	r = lb_run(argv);
	lb_ui_say(ui, "Back from the shell%s.", r == 0 ? "" : " (it ended with an error)");
}

/* The terminal state a secret question changed, for the signal handler:
 * a console left without echo after Ctrl-C is a trap for the next person. */
static struct termios saved_tio;
static int saved_fd = -1;

static void restore_echo(int sig)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line into buf; false at the end of input. Too long a line is read
 * to its end and refused (*too_long). */
static bool read_line(struct lb_ui *ui, char *buf, size_t size, bool *too_long)
{
	size_t len;

	*too_long = false;
	if (!fgets(buf, (int)size, ui->in))
		return false;
	len = strlen(buf);
	if (len && buf[len - 1] == '\n') {
		buf[len - 1] = '\0';
		return true;
	}
	if (len + 1 < size)
		return true; /* the last line, without a newline */
	for (int c; (c = fgetc(ui->in)) != EOF && c != '\n';)
		;
	*too_long = true;
	return true;
}

int lb_ui_ask(struct lb_ui *ui, const char *prompt, const char *def, unsigned flags, char *buf, size_t size)
{
	bool secret = flags & LB_UI_SECRET, optional = flags & LB_UI_OPTIONAL;
	char line[LB_UI_LINE];
	int r;

	for (;;) {
		struct termios tio;
		struct sigaction sa = { .sa_handler = restore_echo }, o_int, o_term, o_hup;
		bool echo_off = false, ok, too_long;

		if (ui->tty)
			tcflush(fileno(ui->in), TCIFLUSH);
		if (secret && ui->tty && tcgetattr(fileno(ui->in), &tio) == 0) {
			saved_tio = tio;
			saved_fd = fileno(ui->in);
			sigaction(SIGINT, &sa, &o_int);
			sigaction(SIGTERM, &sa, &o_term);
			sigaction(SIGHUP, &sa, &o_hup);
			tio.c_lflag &= ~(tcflag_t)ECHO;
			tio.c_lflag |= ECHONL;
			echo_off = tcsetattr(fileno(ui->in), TCSAFLUSH, &tio) == 0;
		}
		if (secret)
			fprintf(ui->out, "%s%s%s: ", prompt, echo_off ? " (not shown)" : "",
				def && *def ? " [Enter keeps it]" : "");
		else if (def && *def)
			fprintf(ui->out, "%s [%s]: ", prompt, def);
		else
			fprintf(ui->out, "%s%s: ", prompt, optional ? " [none]" : "");
		fflush(ui->out);
		ok = read_line(ui, line, sizeof(line), &too_long);
		if (saved_fd >= 0) {
			tcsetattr(saved_fd, TCSAFLUSH, &saved_tio);
			saved_fd = -1;
			sigaction(SIGINT, &o_int, NULL);
			sigaction(SIGTERM, &o_term, NULL);
			sigaction(SIGHUP, &o_hup, NULL);
		}
		if (!ok) {
			explicit_bzero(line, sizeof(line));
			lb_ui_say(ui, "\nThe input ended: leaving.");
			return LB_UI_QUIT;
		}
		if (too_long) {
			lb_ui_say(ui, "That is longer than %zu characters: type it again, shorter.", sizeof(line) - 1);
			continue;
		}
		lb_strtrim(line);
		if (!strcmp(line, "b") || !strcmp(line, "B"))
			return LB_UI_BACK;
		if (!strcmp(line, "q") || !strcmp(line, "Q"))
			return LB_UI_QUIT;
		if (!strcmp(line, "?")) {
			lb_ui_keys(ui);
			continue;
		}
		if (!strcmp(line, "!")) {
			lb_ui_shell(ui);
			continue;
		}
		if (!*line && def && *def) {
			r = snprintf(buf, size, "%s", def);
		} else if (!*line && !optional) {
			lb_ui_say(ui, "This needs an answer (or b to go back, ? for the keys).");
			continue;
		} else if (optional && !strcmp(line, "-")) {
			r = snprintf(buf, size, "%s", "");
		} else {
			r = snprintf(buf, size, "%s", line);
		}
		explicit_bzero(line, sizeof(line));
		if (r < 0 || (size_t)r >= size) {
			lb_ui_say(ui, "That is longer than %zu characters: type it again, shorter.", size - 1);
			continue;
		}
		return LB_UI_VALUE;
	}
}

int lb_ui_choose(struct lb_ui *ui, const char *prompt, size_t n, const char *def, char *buf, size_t size,
		 size_t *ret_n)
{
	for (;;) {
		char *end;
		unsigned long v;
		int r = lb_ui_ask(ui, prompt, def, 0, buf, size);

		if (r != LB_UI_VALUE)
			return r;
		*ret_n = 0;
		if (buf[0] < '0' || buf[0] > '9')
			return LB_UI_VALUE;
		v = strtoul(buf, &end, 10);
		/* digits then more is text: a restore point's ID starts with its
		 * date, and must not be taken for a number out of the list */
		if (*end)
			return LB_UI_VALUE;
		if (v >= 1 && v <= n) {
			*ret_n = v;
			return LB_UI_VALUE;
		}
		lb_ui_say(ui, "%s is not in the list: type a number from 1 to %zu.", buf, n);
	}
}
