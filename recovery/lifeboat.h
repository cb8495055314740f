/* The command table's contract: every command is one cmd_<name>.c file with
 * its usage in the opening comment (turned into HELP_<name> and
 * SUMMARY_<name> in the generated help.h) and one entry point. */
#ifndef LB_LIFEBOAT_H
#define LB_LIFEBOAT_H

/* Exit codes are an interface: scripts and deployment callbacks test them.
 * 3..63 are reserved for later commands, which document their own. */
enum {
	LB_EXIT_OK = 0,
	LB_EXIT_FAILURE = 1,
	LB_EXIT_USAGE = 2,
};

#ifndef LIFEBOAT_VERSION
#define LIFEBOAT_VERSION "0.0.0-dev"
#endif

/* argv[0] is the command name; returns an exit code. */
int cmd_disks(int argc, char **argv);
int cmd_s3(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_scrub(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_kexec(int argc, char **argv);
int cmd_clock(int argc, char **argv);

/* Text of "lifeboat --version", shared with "lifeboat version" later. */
void lb_print_version(void);

#endif
