#!/bin/sh
# A deploy onto a disk that fails writes (QEMU blkdebug: EIO at one sector):
# stops naming device, offset and errno, and leaves no partition table; see
# tests/lib/crashvm (eio).
# timeout: 400
exec "$LB_TOP/tests/lib/crashvm" eio
