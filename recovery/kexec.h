/* Booting a restored system without a trip through the firmware:
 * kexec_file_load(2) with the kernel, initrd and command line of the
 * restored boot disk's default boot entry.
 *
 * Why: a server's firmware takes minutes to POST, and on some machines the
 * boot order would bring Lifeboat back over PXE. kexec starts the restored
 * kernel from the running one, with the command line its own GRUB would
 * have used.
 *
 * What is read: the file systems on the disk (after the kernel re-read its
 * partition table), mounted read-only (ext4 without journal replay, so the
 * restored bytes stay as they are), first a GRUB config
 * (boot/grub/grub.cfg, grub/grub.cfg, boot/grub2/grub.cfg, grub2/grub.cfg):
 * its default entry (`set default=` by index, "N>M", title or id; else the
 * first), that entry's `linux` and `initrd` lines, resolved on the file
 * system its `search --fs-uuid --set=root` names; else /vmlinuz and
 * /initrd.img (also under /boot), with root=UUID=<that file system> ro and
 * the running kernel's console= parameters. Several initrds (microcode
 * first) are concatenated, as GRUB does. The kernel must have been built
 * with CONFIG_KEXEC_FILE. */
#ifndef LB_KEXEC_H
#define LB_KEXEC_H

#include <stdbool.h>

struct lb_kexec_entry {
	char *title;    /* the menu entry's title, or "/vmlinuz" */
	char *kernel;   /* path inside its file system */
	char *initrd;   /* space-separated paths, or NULL */
	char *cmdline;
	char *fs_uuid;  /* the file system `search` named, or NULL */
	char *source;   /* where it was found: "/dev/vda3:/boot/grub/grub.cfg" */
};

/* The default entry of a GRUB config text. 0, -ENOENT (no entry with a
 * linux line), -ENOMEM. Not logged: the caller tries the next candidate. */
int lb_kexec_parse_grub(const char *cfg, struct lb_kexec_entry **ret);

/* Find the boot entry on disk and, unless dry_run, load it with
 * kexec_file_load. 0 with *ret set (both logged), or -errno logged:
 * -ENOENT nothing bootable found, -ENOSYS the kernel has no kexec_file_load,
 * -ENOEXEC the kernel image was refused. */
int lb_kexec_load_disk(const char *disk, bool dry_run, struct lb_kexec_entry **ret);

/* Whether a kernel is loaded (/sys/kernel/kexec_loaded). */
bool lb_kexec_loaded(void);

/* Sync and start the loaded kernel. Returns only on failure (-errno,
 * logged). */
int lb_kexec_exec(void);

void lb_kexec_entry_free(struct lb_kexec_entry *e);

#endif
