#!/bin/sh
# timeout: 900
#
# The core round trip under valgrind's memcheck, with lifeboat built plain
# for the host (make valgrind-lifeboat: glibc, no sanitizers, -O1 -g): a
# signing key made, a two-disk backup into a directory store (signed), an
# incremental backup, list and show with the key trusted, a restore and a
# delta restore verified byte for byte, and a restore refused for a
# corrupt chunk (the wipe path). Any invalid read or write, use of
# uninitialised memory, or definitely/indirectly lost block fails
# (valgrind exits 99); so does a wrong restore.
set -u
: "${LB_TOP:?}" "${LB_OUT:?}" "${LB_TMP:?}"
cd "$LB_TMP"
bin=$LB_OUT/build/recovery-valgrind/lifeboat
[ -x "$bin" ] || { echo "FAIL - $bin missing (make valgrind-lifeboat; make test builds it)"; exit 1; }
command -v valgrind > /dev/null || { echo "FAIL - valgrind is not installed (make deps)"; exit 1; }
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }
# vg NAME ARGS...: lifeboat under memcheck; its log in vg-NAME.log
vg() {
	name=$1; shift
	valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --log-file="vg-$name.log" "$bin" "$@"
	rc=$?
	if [ -s "vg-$name.log" ] || [ $rc = 99 ]; then
		bad "$name: memcheck reports (exit $rc):"; head -n 40 "vg-$name.log"
	fi
	return $rc
}

vg key-generate key generate --out site > /dev/null 2>&1 || bad "key generate"
mkdir -p store
head -c 3M /dev/urandom > sys.img; seq 1 200000 >> sys.img; truncate -s 8M sys.img
head -c 1M /dev/urandom > data.img; truncate -s 4M data.img
t0=$(date +%s)
id1=$(vg backup backup --server web01 --disk system=sys.img --disk data1=data.img --chunk-size 256K \
	--sign-key site "$LB_TMP/store" 2> b1.err) && [ -n "$id1" ] && ok "backup under memcheck: $id1 ($(( $(date +%s) - t0 )) s)" ||
	{ bad "backup: $(tail -n 3 b1.err)"; exit 1; }
head -c 256K /dev/urandom | dd of=sys.img bs=256K seek=5 conv=notrunc status=none
id2=$(vg backup-incremental backup --server web01 --disk system=sys.img --disk data1=data.img --chunk-size 256K \
	--sign-key site "$LB_TMP/store" 2> b2.err) && grep -q " 1 chunks uploaded" b2.err &&
	ok "incremental backup under memcheck: 1 chunk uploaded" || bad "incremental backup: $(tail -n 2 b2.err)"
vg list list --trust-key site.pub "$LB_TMP/store" > list.out 2>&1 && [ "$(grep -c '^web01 ' list.out)" = 2 ] &&
	ok "list --trust-key under memcheck" || { bad "list"; cat list.out; }
vg show show --trust-key site.pub "$LB_TMP/store" "$id2" > show.out 2>&1 && grep -q "verified" show.out &&
	ok "show --trust-key under memcheck" || { bad "show"; cat show.out; }
truncate -s 8M t-sys.img; truncate -s 4M t-data.img
vg restore restore --yes --trust-key site.pub --disk system=t-sys.img --disk data1=t-data.img "$LB_TMP/store" \
	"$id1" > r1.out 2>&1 || bad "restore: $(tail -n 3 r1.out)"
cmp -s data.img t-data.img && ok "restore under memcheck: the data disk byte-identical" || bad "data disk differs"
vg restore-delta restore --yes --progress=json --trust-key site.pub --disk system=t-sys.img "$LB_TMP/store" web01/latest \
	> r2.json 2> r2.err && cmp -s sys.img t-sys.img && grep -q '"fetched":1,' r2.json &&
	ok "delta restore under memcheck: 1 chunk fetched, system disk byte-identical" || { bad "delta restore"; cat r2.err r2.json; }
# the failure path: a corrupt chunk (chunk 10, past the first MiB, so the
# labels were already wiped), the target's labels wiped again
h=$(od -An -tx1 -v -j $((32 + 32 * 10)) -N 32 "store/$(jq -r '.disks[] | select(.name == "system") | .index.key' "store/points/$id1.json")" | tr -d ' \n')
printf 'garbage' > "store/chunks/$(echo "$h" | cut -c1-4)/$h.zst"
truncate -s 0 t2.img; truncate -s 8M t2.img
vg restore-corrupt restore --yes --trust-key site.pub --disk system=t2.img "$LB_TMP/store" "$id1" > r3.out 2>&1
rc=$?
[ $rc = 1 ] && grep -q "not a zstd frame" r3.out && grep -q "partition table wiped" r3.out &&
	ok "a corrupt chunk refused under memcheck (exit 1), labels wiped" ||
	{ bad "corrupt chunk: exit $rc"; cat r3.out; }
[ $fail = 0 ] && ok "$(ls vg-*.log | wc -l) runs of lifeboat under memcheck: no errors, no leaks"
exit $fail
