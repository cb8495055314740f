#!/bin/sh
# timeout: 240
#
# The kernel configuration must be exactly what the board's fragments ask
# for: the product's final .config passes package/linux/kconfig-check, and a
# real merge whose fragments cannot all hold (PCI switched off under the
# PCI drivers) is caught, naming the symbols that did not stick.
set -u
: "${LB_TOP:?}" "${LB_OUT:?}"
check=$LB_TOP/package/linux/kconfig-check
board=$LB_TOP/board/pc-x86_64
frags=$(sed -e 's/#.*//' "$board/linux.fragments" | while read -r f; do [ -n "$f" ] && echo "$LB_TOP/$f"; done)
fail=0

final=$LB_OUT/build/linux-pc-x86_64/.config
[ -r "$final" ] || { echo "FAIL: no product kernel config at $final (run make)"; exit 1; }
if "$check" "$final" $frags; then
	echo "ok - the product kernel config holds every symbol of $(echo $frags | wc -w) fragments"
else
	echo "FAIL - the product kernel config drifted"; fail=1
fi

# The checker itself, on small inputs: =m for =y, a value, a missing symbol.
printf 'CONFIG_A=y\nCONFIG_B=m\nCONFIG_S="x"\n# CONFIG_D is not set\n' > final.config
printf 'CONFIG_A=y\nCONFIG_S="x"\n# CONFIG_D is not set\n# CONFIG_E is not set\n' > good.config
printf 'CONFIG_B=y\n' > mod.config
printf 'CONFIG_S="y"\n' > val.config
printf 'CONFIG_C=y\n' > missing.config
printf '# CONFIG_A is not set\n' > unset.config
"$check" final.config good.config && echo "ok - matching fragment passes" || { echo "FAIL - matching fragment rejected"; fail=1; }
for f in mod val missing unset; do
	if "$check" final.config $f.config 2> $f.err; then
		echo "FAIL - $f.config passed"; fail=1
	else
		echo "ok - $f.config rejected: $(head -n 1 $f.err)"
	fi
done
# Later fragments override earlier ones, as in merge_config.sh.
"$check" final.config missing.config unset.config good.config 2>/dev/null &&
	{ echo "FAIL - a missing symbol was forgiven"; fail=1; } || echo "ok - overrides keep the missing symbol missing"

# A real merge that cannot hold: the board's fragments plus PCI off.
src=$("$LB_TOP/package/build" src linux) || { echo "FAIL: no kernel source"; exit 1; }
printf '# CONFIG_PCI is not set\n' > drift.config
mkdir obj
make -s -C "$src" O="$PWD/obj" ARCH=x86_64 tinyconfig > merge.log 2>&1 &&
	KCONFIG_CONFIG=obj/.config "$src/scripts/kconfig/merge_config.sh" -m -O obj obj/.config $frags drift.config >> merge.log 2>&1 &&
	make -s -C "$src" O="$PWD/obj" ARCH=x86_64 olddefconfig >> merge.log 2>&1 ||
	{ echo "FAIL: the test merge itself failed"; tail merge.log; exit 1; }
if "$check" obj/.config $frags drift.config 2> drift.err; then
	echo "FAIL - a config without PCI passed the check"; fail=1
else
	for sym in CONFIG_BLK_DEV_NVME CONFIG_MLX5_CORE CONFIG_E1000E; do
		grep -q "$sym=y requested, final config has it unset" drift.err &&
			echo "ok - drift caught: $sym" || { echo "FAIL - $sym not named"; fail=1; }
	done
	tail -n 1 drift.err
fi
exit $fail
