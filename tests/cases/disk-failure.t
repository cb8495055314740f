#!/bin/sh
# A deploy onto a disk that fails I/O (QEMU blkdebug, real EIO in the
# guest): a body write, a read, the label write, and a sector 0 that dies
# mid-restore (no way to zero it): each stops naming device, offset and
# errno, and leaves no partition table; see tests/lib/crashvm (eio).
# timeout: 400
exec "$LB_TOP/tests/lib/crashvm" eio
