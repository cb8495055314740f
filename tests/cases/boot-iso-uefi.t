#!/bin/sh
# Boot the product build (iso-uefi) in QEMU with three disks; see tests/lib/bootcheck.
# timeout: 420
exec "$LB_TOP/tests/lib/bootcheck" iso-uefi
