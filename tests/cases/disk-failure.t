#!/bin/sh
# A deploy onto a disk that fails I/O (QEMU blkdebug: EIO at one sector, on a
# body write, a read, the label write):
# stops naming device, offset and errno, and leaves no partition table; see
# tests/lib/crashvm (eio).
# timeout: 400
exec "$LB_TOP/tests/lib/crashvm" eio
