#!/bin/sh
# timeout: 400
#
# Crash and resume against a real S3 server (Ceph RGW on 127.0.0.1). A
# 192 MiB GPT disk (ext4 with random, text, repeated and zero data) in
# 256 KiB chunks. A restore is killed with SIGKILL at three seeded points
# (the first run, then each resumed run, once the target holds a given
# share of the data): after each kill the target has no partition table
# (first and last MiB zero, blkid finds none); the last rerun finishes
# byte-identical and fetches exactly the chunks that were not on the
# target (compared chunk by chunk with the source), never one it held. A
# backup killed midway leaves no restore point (list shows none, no
# manifest object), and its rerun uploads exactly the chunks the store
# lacked (lifeboat's count, the chunk objects listed, RGW's PUT counter).
# Seed: LB_SEED (default 5).
set -u
BUCKET=crash . "$LB_TOP/tests/lib/s3case"
KILLAT=$LB_TOP/tests/lib/killat
SEED=${LB_SEED:-5}
STORE=s3://crash/site
CH=262144

# ---- the disk ----
mkdir -p root
head -c 48M /dev/urandom > root/random.bin
seq 1 3000000 > root/numbers.txt
head -c 256K /dev/urandom > blk.bin
for i in $(seq 32); do cat blk.bin; done > root/repeated.bin
head -c 8M /dev/zero > root/zeros.bin
truncate -s 192M src.img
mkfs.ext4 -q -F -L ROOT -d root -E offset=1048576 src.img 188M
sgdisk -n1:2048:+188M -t1:8300 -c1:root src.img > /dev/null

# chunkstat SRC TGT: "nonzero unique held missing" over the 256 KiB chunks:
# non-zero chunks of SRC, distinct ones, those TGT holds byte for byte,
# and the non-zero ones it does not (what a resume must fetch).
cat > chunkstat.py << 'PY'
import hashlib, sys
src, tgt = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
nonzero = held = missing = 0
uniq = set()
while True:
    a = src.read(262144)
    if not a:
        break
    b = tgt.read(len(a))
    if a.count(0) == len(a):
        continue
    nonzero += 1
    uniq.add(hashlib.sha256(a).digest())
    if a == b:
        held += 1
    else:
        missing += 1
print(nonzero, len(uniq), held, missing)
PY
set -- $(python3 chunkstat.py src.img /dev/null)
NONZERO=$1 UNIQUE=$2
echo "source: 768 chunks of 256 KiB, $NONZERO non-zero, $UNIQUE distinct; seed $SEED"

# ---- the backup, killed midway, then again ----
# chunk objects in the store so far (another client's view of the bucket)
count_chunks() { "$LB_BIN" s3 ls -r "$STORE/chunks/" 2> /dev/null | grep -c '\.zst$'; }
rgw_puts() {
	ceph --admin-daemon "$FX/run/ceph-client.rgw.lb.asok" perf dump 2> /dev/null | jq -r '.rgw.put // empty'
}
set -- $(python3 -c "import random; r = random.Random($SEED); print(int($UNIQUE * r.uniform(0.3, 0.7)))")
bmark=$1
"$KILLAT" --count "$LB_BIN s3 ls -r $STORE/chunks/ 2>/dev/null | grep -c zst" "$bmark" --report bk.rep -- \
	"$LB_BIN" backup --server crash01 --workers 2 --disk system=src.img --chunk-size 256K "$STORE" > bk1.out 2> bk1.err
rc=$?
cat bk.rep
sleep 1 # a PUT whose body RGW had whole when the client died may still land
if [ $rc = 0 ]; then
	present=$(count_chunks)
	ok "backup killed with -9 after $present of $UNIQUE chunks were uploaded (mark $bmark)"
else
	bad "backup was not killed at the mark (killat exit $rc)"; cat bk1.err
	present=$(count_chunks)
fi
lb list "$STORE" > list1.out 2>&1
grep -q crash01 list1.out && bad "the killed backup is listed: $(cat list1.out)" || ok "lifeboat list shows no point of the killed backup"
npoints=$("$LB_BIN" s3 ls -r "$STORE/points/" 2> /dev/null | wc -l)
[ "$npoints" = 0 ] && ok "no manifest object under points/" || bad "$npoints objects under points/ after the kill"
puts0=$(rgw_puts)
lb backup --server crash01 --workers 2 --disk system=src.img --chunk-size 256K "$STORE" > bk2.out 2> bk2.err ||
	{ bad "backup rerun exited $?"; cat bk2.err; exit 1; }
puts1=$(rgw_puts)
cat bk2.err
up=$(sed -n 's/.* \([0-9]*\) chunks uploaded.*/\1/p' bk2.err | tail -n 1)
reused=$(sed -n 's/.* chunks uploaded ([0-9]* bytes), \([0-9]*\) reused.*/\1/p' bk2.err | tail -n 1)
after=$(count_chunks)
if [ "$up" = $((UNIQUE - present)) ] && [ "$after" = "$UNIQUE" ]; then
	ok "backup rerun uploaded $up chunks: exactly the $UNIQUE - $present the store lacked; now $after chunk objects"
else
	bad "backup rerun uploaded '$up' chunks, the store lacked $((UNIQUE - present)) ($after objects after)"
fi
if [ -n "$puts0" ] && [ -n "$puts1" ]; then
	puts=$((puts1 - puts0))
	# the chunks, the disk's index, the manifest: nothing else is put
	[ "$puts" -ge "$up" ] && [ "$puts" -le $((up + 3)) ] &&
		ok "RGW counted $puts PUTs for the rerun ($up chunks, the index, the manifest)" ||
		bad "RGW counted $puts PUTs for a rerun that uploaded $up chunks"
else
	echo "note: RGW's perf counters not readable; PUTs not counted by the server"
fi
echo "figure: backup killed after $present/$UNIQUE chunks; rerun uploaded $up, reused $reused (of them $present found in the store); RGW PUTs ${puts:-?}"
lb list "$STORE" | grep -q crash01 && ok "the rerun's point is listed" || bad "the rerun's point is not listed"

# ---- the restore, killed three times, then finished ----
# no_label IMG: first and last MiB zero, and blkid sees no partition table
no_label() {
	[ "$(head -c 1M "$1" | tr -d '\0' | wc -c)" = 0 ] &&
		[ "$(tail -c 1M "$1" | tr -d '\0' | wc -c)" = 0 ] &&
		! blkid -p -o value -s PTTYPE "$1" 2> /dev/null | grep -q .
}
blkid -p -o value -s PTTYPE src.img | grep -q gpt || bad "blkid does not see the source's GPT (the check below would prove nothing)"
data=$((NONZERO * CH)) # what the target holds once every data chunk is on it
set -- $(python3 -c "
import random; r = random.Random($SEED + 1)
print(*(int($data * r.uniform(a, b)) for a, b in ((0.15, 0.35), (0.45, 0.6), (0.7, 0.85))))")
truncate -s 192M t.img
n=0
for mark in "$@"; do
	n=$((n + 1))
	"$KILLAT" --blocks t.img "$mark" --report r$n.rep -- \
		"$LB_BIN" restore --yes --workers 2 --progress=json --disk system=t.img "$STORE" crash01/latest > r$n.json 2> r$n.err
	rc=$?
	set -- $(python3 chunkstat.py src.img t.img)
	if [ $rc = 0 ]; then
		ok "restore run $n killed with -9 at $(sed 's/.*at=\([0-9]*\).*/\1/' r$n.rep) bytes on the target (mark $mark): $3 of $NONZERO data chunks in place, $4 missing"
	else
		bad "restore run $n was not killed at the mark $mark (killat exit $rc)"; cat r$n.rep r$n.err
	fi
	no_label t.img && ok "after kill $n: no partition table (first and last MiB zero, blkid finds none)" ||
		bad "after kill $n the target has a label: $(blkid -p t.img)"
	missing=$4
done
lb restore --yes --workers 2 --progress=json --disk system=t.img "$STORE" crash01/latest > rf.json 2> rf.err ||
	{ bad "the last rerun exited $?"; cat rf.err; }
field() { grep '"disk_done"' rf.json | sed "s/.*\"$1\":\([0-9]*\).*/\1/"; }
fetched=$(field fetched) inplace=$(field in_place)
cmp -s src.img t.img && ok "the rerun finished byte-identical" || bad "the restored disk differs from the source"
[ "$fetched" = "$missing" ] &&
	ok "the rerun fetched $fetched chunks: exactly the $missing data chunks not on the target ($inplace in place)" ||
	bad "the rerun fetched '$fetched' chunks; $missing were not on the target"
blkid -p -o value -s PTTYPE t.img | grep -q gpt && sgdisk -v t.img | grep -q 'No problems found' &&
	ok "the finished target's GPT checks out (sgdisk -v)" || bad "the finished target's GPT"
echo "figure: restore of $NONZERO data chunks (768 in all) killed 3 times; last rerun fetched $fetched, found $inplace in place"
cat bk1.err bk2.err r*.err rf.err | grep -qF "$AWS_SECRET_ACCESS_KEY" && bad "the secret key appears in the output"
exit $fail
