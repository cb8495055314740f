#!/bin/sh
# Boot the product build (pxe-uefi) in QEMU with three disks; see tests/lib/bootcheck.
# timeout: 420
exec "$LB_TOP/tests/lib/bootcheck" pxe-uefi
