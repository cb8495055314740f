/* GRUB config parsing for kexec: the default entry as GRUB would pick it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kexec.h"
#include "tap.h"

/* What Debian 12's update-grub writes, trimmed (functions, if blocks,
 * variables, a submenu, two search forms). */
static const char debian[] =
	"if [ -s $prefix/grubenv ]; then\n"
	"  load_env\n"
	"fi\n"
	"if [ \"${next_entry}\" ] ; then\n"
	"   set default=\"${next_entry}\"\n"
	"   set next_entry=\n"
	"else\n"
	"   set default=\"0\"\n"
	"fi\n"
	"if [ x\"${feature_menuentry_id}\" = xy ]; then\n"
	"  menuentry_id_option=\"--id\"\n"
	"else\n"
	"  menuentry_id_option=\"\"\n"
	"fi\n"
	"set menuentry_id_option=\"--id\"\n"
	"function load_video {\n"
	"  insmod all_video\n"
	"}\n"
	"set timeout=5\n"
	"### BEGIN /etc/grub.d/10_linux ###\n"
	"menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option "
	"'gnulinux-simple-2f0c1e0a-aaaa-bbbb-cccc-1234567890ab' {\n"
	"\tload_video\n"
	"\tinsmod gzio\n"
	"\tinsmod part_gpt\n"
	"\tinsmod ext2\n"
	"\tset root='hd0,gpt2'\n"
	"\tif [ x$feature_platform_search_hint = xy ]; then\n"
	"\t  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt2 --hint-efi=hd0,gpt2  "
	"2f0c1e0a-aaaa-bbbb-cccc-1234567890ab\n"
	"\telse\n"
	"\t  search --no-floppy --fs-uuid --set=root 2f0c1e0a-aaaa-bbbb-cccc-1234567890ab\n"
	"\tfi\n"
	"\techo\t'Loading Linux 6.1.0-28-cloud-amd64 ...'\n"
	"\tlinux\t/boot/vmlinuz-6.1.0-28-cloud-amd64 root=UUID=2f0c1e0a-aaaa-bbbb-cccc-1234567890ab ro  "
	"console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200\n"
	"\techo\t'Loading initial ramdisk ...'\n"
	"\tinitrd\t/boot/initrd.img-6.1.0-28-cloud-amd64\n"
	"}\n"
	"submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option "
	"'gnulinux-advanced-2f0c1e0a' {\n"
	"\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-28-cloud-amd64' --class debian $menuentry_id_option "
	"'gnulinux-6.1.0-28-advanced' {\n"
	"\t\tsearch --no-floppy --fs-uuid --set=root 2f0c1e0a-aaaa-bbbb-cccc-1234567890ab\n"
	"\t\tlinux\t/boot/vmlinuz-6.1.0-28-cloud-amd64 root=UUID=2f0c1e0a ro single\n"
	"\t\tinitrd\t/boot/initrd.img-6.1.0-28-cloud-amd64\n"
	"\t}\n"
	"\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-27-cloud-amd64' --class debian $menuentry_id_option "
	"'gnulinux-6.1.0-27-advanced' {\n"
	"\t\tlinux\t(hd0,gpt2)/boot/vmlinuz-6.1.0-27-cloud-amd64 root=UUID=2f0c1e0a ro\n"
	"\t\tinitrd\t/boot/intel-ucode.img /boot/initrd.img-6.1.0-27-cloud-amd64\n"
	"\t}\n"
	"}\n"
	"menuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {\n"
	"\tfwsetup\n"
	"}\n";

static struct lb_kexec_entry *parse_with_default(const char *def)
{
	char *cfg = NULL;
	struct lb_kexec_entry *e = NULL;
	int r;

	if (def) {
		if (asprintf(&cfg, "%s\nset default=\"%s\"\n", debian, def) < 0)
			return NULL;
	}
	r = lb_kexec_parse_grub(cfg ? cfg : debian, &e);
	free(cfg);
	return r == 0 ? e : NULL;
}

TEST(debian_default_entry)
{
	struct lb_kexec_entry *e = parse_with_default(NULL);

	CHECK(e != NULL);
	if (!e)
		return;
	CHECK_STR(e->title, "Debian GNU/Linux");
	CHECK_STR(e->kernel, "/boot/vmlinuz-6.1.0-28-cloud-amd64");
	CHECK_STR(e->initrd, "/boot/initrd.img-6.1.0-28-cloud-amd64");
	CHECK_STR(e->cmdline, "root=UUID=2f0c1e0a-aaaa-bbbb-cccc-1234567890ab ro console=tty0 console=ttyS0,115200 "
			      "earlyprintk=ttyS0,115200");
	CHECK_STR(e->fs_uuid, "2f0c1e0a-aaaa-bbbb-cccc-1234567890ab");
	lb_kexec_entry_free(e);
}

TEST(default_by_submenu_place_title_and_id)
{
	struct lb_kexec_entry *e;

	e = parse_with_default("1>1");
	CHECK(e && !strcmp(e->kernel, "/boot/vmlinuz-6.1.0-27-cloud-amd64")); /* device prefix stripped */
	CHECK(e && e->initrd && !strcmp(e->initrd, "/boot/intel-ucode.img /boot/initrd.img-6.1.0-27-cloud-amd64"));
	lb_kexec_entry_free(e);
	e = parse_with_default("1"); /* a submenu: its first entry */
	CHECK(e && !strcmp(e->cmdline, "root=UUID=2f0c1e0a ro single"));
	lb_kexec_entry_free(e);
	e = parse_with_default("gnulinux-6.1.0-27-advanced");
	CHECK(e && !strcmp(e->kernel, "/boot/vmlinuz-6.1.0-27-cloud-amd64"));
	lb_kexec_entry_free(e);
	e = parse_with_default("Debian GNU/Linux, with Linux 6.1.0-28-cloud-amd64");
	CHECK(e && !strcmp(e->cmdline, "root=UUID=2f0c1e0a ro single"));
	lb_kexec_entry_free(e);
	/* an entry without linux (fwsetup) is never picked: the first instead */
	e = parse_with_default("2");
	CHECK(e && !strcmp(e->title, "Debian GNU/Linux"));
	lb_kexec_entry_free(e);
	/* saved_entry that expanded to nothing: the first */
	e = parse_with_default("${saved_entry}");
	CHECK(e && !strcmp(e->title, "Debian GNU/Linux"));
	lb_kexec_entry_free(e);
}

TEST(the_drill_system_config)
{
	static const char cfg[] = "serial --unit=0 --speed=115200\n"
				  "set timeout=1\n"
				  "if [ \"$grub_platform\" = efi ]; then insmod efi_gop; fi\n"
				  "menuentry 'Debian 12 (Lifeboat drill)' {\n"
				  "\tsearch --no-floppy --fs-uuid --set=root 0d9e-uuid\n"
				  "\tlinux /boot/vmlinuz-6.1.0-41-cloud-amd64 root=UUID=0d9e-uuid ro console=ttyS0,115200 "
				  "systemd.show_status=0 panic=10\n"
				  "\tinitrd /boot/initrd.img-6.1.0-41-cloud-amd64\n"
				  "}\n";
	struct lb_kexec_entry *e = NULL;

	CHECK_INT(lb_kexec_parse_grub(cfg, &e), 0);
	CHECK(e && !strcmp(e->cmdline, "root=UUID=0d9e-uuid ro console=ttyS0,115200 systemd.show_status=0 panic=10"));
	CHECK(e && !strcmp(e->fs_uuid, "0d9e-uuid"));
	lb_kexec_entry_free(e);
}

TEST(quotes_escapes_and_no_entries)
{
	struct lb_kexec_entry *e = NULL;

	CHECK_INT(lb_kexec_parse_grub("menuentry \"A 'b'\" {\n linux /k 'a=b' \"c\\\"d\" x=$unset# y\n}\n", &e), 0);
	CHECK(e && !strcmp(e->title, "A 'b'"));
	CHECK(e && !strcmp(e->cmdline, "a=b c\"d x=# y"));
	CHECK(e && e->initrd == NULL && e->fs_uuid == NULL);
	lb_kexec_entry_free(e);
	e = NULL;
	CHECK_INT(lb_kexec_parse_grub("", &e), -ENOENT);
	CHECK_INT(lb_kexec_parse_grub("set default=0\nmenuentry 'x' {\n chainloader +1\n}\n", &e), -ENOENT);
	/* the ESP stub Debian writes: no menuentry */
	CHECK_INT(lb_kexec_parse_grub("search.fs_uuid 2f0c root hd0,gpt2\nset prefix=($root)'/boot/grub'\n"
				      "configfile $prefix/grub.cfg\n", &e),
		  -ENOENT);
	CHECK(e == NULL);
}

int main(void)
{
	RUN(debian_default_entry);
	RUN(default_by_submenu_place_title_and_id);
	RUN(the_drill_system_config);
	RUN(quotes_escapes_and_no_entries);
	return tap_done();
}
