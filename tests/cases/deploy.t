#!/bin/sh
# Unattended deployment in QEMU from RGW with a root-device hint; see tests/lib/deploycheck.
# timeout: 600
exec "$LB_TOP/tests/lib/deploycheck"
