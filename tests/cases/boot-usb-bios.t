#!/bin/sh
# Boot the product build (usb-bios) in QEMU with three disks; see tests/lib/bootcheck.
# timeout: 420
exec "$LB_TOP/tests/lib/bootcheck" usb-bios
