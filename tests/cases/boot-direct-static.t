#!/bin/sh
# Boot the product build (direct-static) in QEMU with three disks; see tests/lib/bootcheck.
# timeout: 420
exec "$LB_TOP/tests/lib/bootcheck" direct-static
