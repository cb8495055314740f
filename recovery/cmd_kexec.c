/* kexec - start the system on a restored disk without a firmware reboot
 * usage: lifeboat kexec [--dry-run] DISK | lifeboat kexec --exec [DISK]
 *
 * Finds the boot entry on DISK and loads it with kexec_file_load: GRUB's
 * default entry (boot/grub/grub.cfg, grub/grub.cfg or the grub2 variants on
 * any of its ext4 or FAT file systems, mounted read-only without touching
 * the journal), its kernel, initrd(s) and command line; without a GRUB
 * config, /vmlinuz and /initrd.img (or under /boot) with root=UUID=... ro
 * and this kernel's console= parameters. With --exec it then starts the
 * loaded kernel (after a sync); --exec without DISK starts what is already
 * loaded (deploy with lifeboat.after=kexec loads it, init starts it).
 *
 * Options:
 *   --dry-run              find the entry and print it, load nothing
 *   --exec                 start the loaded kernel (does not return)
 *   -h, --help             this text
 *
 * Needs a kernel built with CONFIG_KEXEC_FILE (Lifeboat's is) and root.
 * Exit status: 0 loaded (or found, with --dry-run), 1 failed, 2 usage,
 * 3 nothing bootable found on DISK.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "help.h"
#include "kexec.h"
#include "lifeboat.h"
#include "util.h"

int cmd_kexec(int argc, char **argv)
{
	enum { O_DRY = 256, O_EXEC };
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "exec", no_argument, NULL, O_EXEC },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lb_kexec_entry *e = NULL;
	bool dry = false, exec = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_DRY:
			dry = true;
			break;
		case O_EXEC:
			exec = true;
			break;
		case 'h':
			fputs(HELP_kexec, stdout);
			return LB_EXIT_OK;
		default:
			goto usage;
		}
	}
	if (argc - optind > 1 || (argc == optind && !exec) || (dry && exec))
		goto usage;
	if (argc - optind == 1) {
		r = lb_kexec_load_disk(argv[optind], dry, &e);
		if (r < 0)
			return r == -ENOENT ? 3 : LB_EXIT_FAILURE;
		printf("entry:   %s\nsource:  %s\nkernel:  %s\ninitrd:  %s\ncmdline: %s\n", e->title, e->source, e->kernel,
		       e->initrd ? e->initrd : "(none)", e->cmdline);
		fflush(stdout);
		lb_kexec_entry_free(e);
	}
	if (exec)
		return lb_kexec_exec() < 0 ? LB_EXIT_FAILURE : LB_EXIT_OK;
	return LB_EXIT_OK;
usage:
	fputs("usage: lifeboat kexec [--dry-run] DISK | lifeboat kexec --exec [DISK]\n", stderr);
	return LB_EXIT_USAGE;
}
