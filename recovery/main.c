/* lifeboat - restore server disks from S3 object stores
 *
 * main() only dispatches: global options, then the command table. Adding a
 * command is one cmd_<name>.c file plus one line in commands[] below.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "help.h"
#include "lifeboat.h"

struct lb_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *help;
};

static const struct lb_command commands[] = {
	{ "disks", cmd_disks, SUMMARY_disks, HELP_disks },
	{ "backup", cmd_backup, SUMMARY_backup, HELP_backup },
	{ "restore", cmd_restore, SUMMARY_restore, HELP_restore },
	{ "console", cmd_console, SUMMARY_console, HELP_console },
	{ "list", cmd_list, SUMMARY_list, HELP_list },
	{ "show", cmd_show, SUMMARY_show, HELP_show },
	{ "deploy", cmd_deploy, SUMMARY_deploy, HELP_deploy },
	{ "write", cmd_write, SUMMARY_write, HELP_write },
	{ "prune", cmd_prune, SUMMARY_prune, HELP_prune },
	{ "gc", cmd_gc, SUMMARY_gc, HELP_gc },
	{ "scrub", cmd_scrub, SUMMARY_scrub, HELP_scrub },
	{ "image", cmd_image, SUMMARY_image, HELP_image },
	{ "export", cmd_export, SUMMARY_export, HELP_export },
	{ "kexec", cmd_kexec, SUMMARY_kexec, HELP_kexec },
	{ "clock", cmd_clock, SUMMARY_clock, HELP_clock },
	{ "s3", cmd_s3, SUMMARY_s3, HELP_s3 },
	{ "key", cmd_key, SUMMARY_key, HELP_key },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fputs("usage: lifeboat [--version] [--help] <command> [options]\n"
	      "       lifeboat                (on a terminal: the interactive restore, 'lifeboat console')\n"
	      "\n"
	      "Bootable recovery environment: restores server disks from S3 object stores.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "'lifeboat help <command>' or 'lifeboat <command> --help' shows a command's options.\n"
	      "\n"
	      "Environment (for tests and chroots):\n"
	      "  LIFEBOAT_SYSFS, LIFEBOAT_PROC, LIFEBOAT_DEV  roots of /sys, /proc, /dev\n"
	      "\n"
	      "Exit status:\n"
	      "  0   success\n"
	      "  1   failure\n"
	      "  2   usage error (unknown command or option, bad argument)\n"
	      "  3-63 reserved; commands that use them say so in their help\n",
	      out);
}

static const struct lb_command *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct lb_command *cmd;

	if (argc < 2) {
		/* An operator who types just "lifeboat" at a console wants the
		 * restore, not a usage text; a script gets the usage. */
		if (isatty(STDIN_FILENO))
			return cmd_console(argc, argv);
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return LB_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		lb_print_version();
		return LB_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return LB_EXIT_OK;
		}
		cmd = find(argv[2]);
		if (!cmd) {
			fprintf(stderr, "lifeboat: unknown command '%s'; see 'lifeboat --help'\n", argv[2]);
			return LB_EXIT_USAGE;
		}
		fputs(cmd->help, stdout);
		return LB_EXIT_OK;
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "lifeboat: unknown option '%s'; see 'lifeboat --help'\n", argv[1]);
		return LB_EXIT_USAGE;
	}
	cmd = find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "lifeboat: unknown command '%s'; see 'lifeboat --help'\n", argv[1]);
		return LB_EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
