#!/bin/sh
# Four QEMU machines deploy one restore point from RGW at once over PXE, with
# per-machine configs chained by MAC and a callback receiver; then one alone.
# See tests/lib/deploypxe4.
# timeout: 900
exec "$LB_TOP/tests/lib/deploypxe4"
