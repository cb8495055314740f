#!/bin/sh
# The interactive restore typed over the QEMU serial console, against RGW; see tests/lib/consolecheck.
# timeout: 420
exec "$LB_TOP/tests/lib/consolecheck"
