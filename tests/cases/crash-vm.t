#!/bin/sh
# QEMU killed with -9 in the middle of an unattended deploy, booted again
# with the same disks: it finishes and fetches only what was missing; see
# tests/lib/crashvm (kill).
# timeout: 600
exec "$LB_TOP/tests/lib/crashvm" kill
