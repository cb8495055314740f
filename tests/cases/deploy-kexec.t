#!/bin/sh
# timeout: 1200
#
# lifeboat.after=kexec: Lifeboat restores the drill's Debian system disk
# and data disk (tests/lib/drill --kexec), then starts the restored kernel
# from its GRUB default entry with kexec_file_load, in the same QEMU: the
# restored system must come up with its data (its marker on the console)
# without the firmware running again (QEMU has -no-reboot: a reboot would
# end it). Then a point with no kernel on it: deploy must say why kexec is
# not possible, report after=reboot, and init must reboot (QEMU exits).
set -u
: "${LB_TOP:?}" "${LB_OUT:?}" "${LB_TMP:?}"
fail=0
if "$LB_TOP/tests/lib/drill" --kexec --report "$LB_TMP/kexec" > kexec.log 2>&1; then
	echo "ok - kexec into the restored system: it came up with its data"; sed 's/^/    /' "$LB_TMP/kexec/report.txt"
	c=$LB_TMP/kexec/lifeboat-console.log
	# After "starting the restored system": the Debian kernel's banner, and
	# Lifeboat never again (a firmware reboot would have ended QEMU).
	if grep -q "lifeboat: kexec: /dev/vd.3:/boot/grub/grub.cfg: 'Debian 12 (Lifeboat drill)': kernel /boot/vmlinuz-" "$c" &&
		awk '/kexec: starting the restored system/ { k = 1 } k && /Linux version 6\.1\./ { d = 1 }
		     k && /Lifeboat .* starting/ { again = 1 } END { exit !(d && !again) }' "$c"; then
		echo "ok - the kernel came from the restored GRUB default entry and booted in the same machine"
		grep "lifeboat: kexec:" "$c" | sed 's/^/    /'
	else
		echo "FAIL - the console does not show the GRUB entry, or shows a firmware boot"; fail=1
	fi
else
	echo "FAIL - kexec drill did not pass:"; tail -n 40 kexec.log; fail=1
fi
mkdir -p "$LB_OUT/tests/deploy-kexec"
cp "$LB_TMP/kexec/"*.log "$LB_OUT/tests/deploy-kexec/" 2>/dev/null

# A point without a kernel: kexec cannot be prepared, init reboots.
"$LB_TOP/tests/lib/kexecnone" || fail=1
exit $fail
