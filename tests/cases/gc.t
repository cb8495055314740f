#!/bin/sh
# timeout: 480
#
# Garbage collection against a real S3 server (Ceph RGW on 127.0.0.1), with
# the store's grace period set to 40 s (docs/FORMAT.md: writers refresh
# chunks older than 27 s, check again after W = 1 s, and must finish
# within 10 s):
#  1. gc frees exactly what no point references once it is older than the
#     grace period: nothing while it is young, nothing with --dry-run, and
#     nothing at all while a manifest cannot be read;
#  2. the race the protocol closes, shown both ways in one gc run: a backup
#     that reuses old unreferenced chunks while gc runs loses them when the
#     writer's half of the protocol is off (LIFEBOAT_TEST_WRITER_UNSAFE),
#     and keeps them when it is on;
#  3. two backup loops (prune --keep-last 2 and scrub --quick after each
#     backup) and a gc loop at the same time for 100 s, on disks that share
#     chunks with each other and with points long removed: every point
#     must be whole every time it is scrubbed, and fully scrubbed at the end.
RGW=$LB_TOP/tests/lib/rgw MK=$LB_TOP/tests/lib/mkdisk
LB_RGW_STORE_BYTES=$((2 << 30)) BUCKET=lbgc . "$LB_TOP/tests/lib/s3case"
pids=
s3case_cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
STORE=s3://lbgc/site
count() { $AWS s3api list-objects-v2 --bucket lbgc --prefix "site/$1" --query 'length(Contents || `[]`)' --output text; }

printf '{"format": "lifeboat-store", "version": 1, "chunk_hash": "sha256", "compression": "zstd", "gc_grace_seconds": 40}\n' > marker.json
$AWS s3 cp marker.json "$STORE/lifeboat-store.json" > /dev/null || { echo "FAIL: marker"; exit 1; }
lb gc --grace 10s "$STORE" > g0.out 2>&1; rc=$?
[ $rc = 2 ] && grep -q "shorter than the store's 40 s" g0.out && ok "gc refuses a grace shorter than the store's" ||
	{ bad "gc --grace 10s exited $rc"; cat g0.out; }

# ---- 1. what gc frees, and when ----
"$MK" --pool pool 24
"$MK" d1.img 1 pool 8 100 0         # 8 fresh chunks
head -c $((4 * 65536)) d1.img > d2.img && head -c $((4 * 65536)) /dev/urandom >> d2.img  # 4 shared, 4 new
"$MK" a1.img 11 pool 8 100 0; "$MK" a2.img 12 pool 8 100 0
cat pool/pool.* > seed.img
lb backup --server base --disk d=d1.img --chunk-size 64K "$STORE" > /dev/null 2> b1.err || { bad "backup 1"; cat b1.err; }
lb backup --server base --disk d=d2.img --chunk-size 64K "$STORE" > /dev/null 2> b2.err || { bad "backup 2"; cat b2.err; }
idu=$(lb backup --server u --disk d=a1.img --chunk-size 64K "$STORE" 2> /dev/null)
ids=$(lb backup --server s --disk d=a2.img --chunk-size 64K "$STORE" 2> /dev/null)
idp=$(lb backup --server pool --disk d=seed.img --chunk-size 64K "$STORE" 2> /dev/null)
t_up=$(date +%s)
[ -n "$idu" ] && [ -n "$ids" ] && [ -n "$idp" ] || bad "the backups of part 1 failed"
# Garbage: base's first point (prune), and u's, s's and pool's only points
# (their manifests removed by hand: prune keeps a server's newest).
lb prune --keep-last 1 "$STORE" base > p1.out 2>&1 && grep -q "^remove " p1.out || { bad "prune --keep-last 1"; cat p1.out; }
for k in "$idu" "$ids" "$idp"; do # SERVER/ID
	$AWS s3 rm "$STORE/points/$k.json" > /dev/null || bad "rm points/$k.json"
done
chunks0=$(count chunks/) idx0=$(count indexes/)
lb gc "$STORE" > g1.out 2>&1 || { bad "gc (young)"; cat g1.out; }
grep -q "^freed 0 objects" g1.out && [ "$(count chunks/)" = "$chunks0" ] &&
	ok "young garbage is kept: $(grep -o '[0-9]* unreferenced but younger' g1.out)" || { bad "gc freed young objects"; cat g1.out; }

# A manifest that cannot be read stops gc before it deletes anything.
printf '{"format": "lifeboat-restore-point", "version": 9}' > broken.json
$AWS s3 cp broken.json "$STORE/points/zz/20260101T000000Z-00000000.json" > /dev/null

# Wait until the garbage is older than the grace period.
while [ $(( $(date +%s) - t_up )) -lt 44 ]; do sleep 1; done
lb gc "$STORE" > g2.out 2>&1; rc=$?
[ $rc = 1 ] && grep -q "nothing is deleted" g2.out && [ "$(count chunks/)" = "$chunks0" ] &&
	ok "an unreadable manifest stops gc: $(grep -m1 'cannot be read;' g2.out | sed 's/^lifeboat: //')" ||
	{ bad "gc with a broken manifest exited $rc"; cat g2.out; }
$AWS s3 rm "$STORE/points/zz/20260101T000000Z-00000000.json" > /dev/null
lb gc --dry-run -v "$STORE" > g3.out 2>&1 || { bad "gc --dry-run"; cat g3.out; }
# The garbage, all random and so shared with nothing: base's first point's
# 4 chunks of its own and its index; u's, s's and pool's 8, 8 and 24
# chunks and their indexes: 48 objects.
want=$(grep -c '^would delete ' g3.out)
[ "$(count chunks/)" = "$chunks0" ] && [ "$want" = 48 ] && grep -q "^dry run: would free 48 objects" g3.out &&
	ok "gc --dry-run: would free $want objects, deleted none" || { bad "gc --dry-run"; cat g3.out; }

# ---- 2. the race, both ways, in one gc run ----
# The old chunks come first on both disks, and fresh data after them keeps
# the backups busy while gc lists the points (the unsafe one longer: it has
# no time limit; the other must finish within 10 s).
head -c $((48 << 20)) /dev/urandom > fresh.bin
cat a1.img fresh.bin > u2.img; cat a2.img > s2.img; head -c $((8 << 20)) fresh.bin >> s2.img
LIFEBOAT_TEST_WRITER_UNSAFE=1 lb backup --server u --disk d=u2.img --chunk-size 64K "$STORE" > u2.id 2> u2.err &
pu=$!
lb backup --server s --disk d=s2.img --chunk-size 64K "$STORE" > s2.id 2> s2.err &
ps=$!
pids="$pu $ps"
sleep 0.7
lb gc "$STORE" > g4.out 2>&1 || { bad "gc during the backups"; cat g4.out; }
wait $pu; ru=$?; wait $ps; rs=$?
pids=
grep '^freed' g4.out
[ $ru = 0 ] && [ $rs = 0 ] || { bad "the backups during gc: $ru $rs"; cat u2.err s2.err; }
lb scrub --quick "$STORE" "u/$(cut -d/ -f2 u2.id)" > su.out 2>&1; rc=$?
nmiss=$(grep -c '  missing$' su.out)
[ $rc = 3 ] && [ "$nmiss" -ge 1 ] && ok "protocol off: gc deleted $nmiss old chunks the new point relied on; scrub exit $rc names them" ||
	{ bad "the unsafe writer's point is whole (scrub exit $rc): the race was not reproduced"; cat su.out u2.err g4.out; }
grep -m1 '  missing$' su.out
lb scrub "$STORE" "s/$(cut -d/ -f2 s2.id)" > ss.out 2>&1; rc=$?
refreshed=$(sed -n 's/.*(\([0-9]*\) refreshed).*/\1/p' s2.err)
[ $rc = 0 ] && [ "${refreshed:-0}" -ge 8 ] &&
	ok "protocol on: the backup refreshed $refreshed old chunks it reused; gc kept them; scrub: $(tail -n1 ss.out)" ||
	{ bad "the protocol's point (scrub exit $rc, refreshed '$refreshed')"; cat ss.out s2.err g4.out; }
lb scrub "$STORE" base > sb.out 2>&1 && ok "base's remaining point is whole after gc freed its first one's chunks" ||
	{ bad "scrub base"; cat sb.out; }
$AWS s3 rm "$STORE/points/u/$(cut -d/ -f2 u2.id).json" > /dev/null

# ---- 3. backups, prune and gc at the same time ----
loop() { # SERVER SEEDBASE
	i=0
	while [ ! -f stop ]; do
		i=$((i + 1))
		"$MK" "$1.img" $(( $2 + i )) pool 16
		if lb backup --server "$1" --disk d="$1.img" --chunk-size 64K "$STORE" > /dev/null 2> "$1.err"; then
			echo "ok $(sed -n 's/.*(\([0-9]*\) refreshed).*/\1/p' "$1.err")" >> "$1.log"
		else
			echo "failed: $(grep -v 'no restore point was written\|no point is written: run it again$' "$1.err" | tail -n1)" >> "$1.log"
			grep -h 'lifeboat:' "$1.err" | tail -n 2 >> "$1.log"
		fi
		lb prune --keep-last 2 "$STORE" "$1" > /dev/null 2>> "$1.prune" || echo "prune failed" >> "$1.log"
		# Every point, every round, while gc runs: a missing chunk is
		# caught the moment it goes, not only at the end.
		lb scrub --quick "$STORE" "$1" > "$1.scrub" 2>&1
		[ $? = 3 ] && { echo "DAMAGED"; cat "$1.scrub"; } >> "$1.log"
	done
}
gcloop() {
	while [ ! -f stop ]; do
		lb gc "$STORE" > gc.cur 2>&1 && sed -n 's/^freed \([0-9]*\) objects, \([0-9]*\) bytes.*/\1 \2/p' gc.cur >> gc.log ||
			{ echo "gc failed" >> gc.log; cat gc.cur >> gc.err; }
		sleep 1
	done
}
rm -f stop
loop r1 1000 & p1=$!
loop r2 2000 & p2=$!
gcloop & p3=$!
pids="$p1 $p2 $p3"
sleep 100
touch stop
wait $p1 $p2 $p3
pids=
nb=$(grep -c '^ok' r1.log r2.log | awk -F: '{s += $2} END {print s}')
nf=$(grep -hc '^failed' r1.log r2.log | awk '{s += $1} END {print s}')
nref=$(grep -h '^ok' r1.log r2.log | awk '{s += $2} END {print s}')
ngc=$(wc -l < gc.log)
freed=$(awk '{s += $1} END {print s + 0}' gc.log)
grep -q 'gc failed' gc.log && { bad "a gc run failed"; head -n 20 gc.err; }
grep -q DAMAGED r1.log r2.log && { bad "a point was damaged during the loop"; grep -A5 DAMAGED r1.log r2.log | head -n 20; }
echo "# $nb backups stored, $nf failed cleanly, $nref chunks refreshed; $ngc gc runs freed $freed objects"
grep -h '^failed' r1.log r2.log | sort | uniq -c | head -n 5
[ "$nb" -ge 10 ] && [ "$freed" -gt 0 ] && [ "${nref:-0}" -gt 0 ] &&
	ok "$nb backups and $ngc gc runs concurrently: gc freed $freed objects, writers refreshed $nref old chunks" ||
	bad "the concurrent phase did too little to mean anything ($nb backups, $freed freed, $nref refreshed)"
[ "$nf" -le $(( nb / 4 + 1 )) ] || bad "$nf of $((nb + nf)) backups failed"
for s in r1 r2 s base; do
	lb scrub "$STORE" "$s" > "scrub.$s" 2>&1; rc=$?
	[ $rc = 0 ] && ok "every point of $s is whole: $(tail -n1 "scrub.$s")" || { bad "scrub $s exited $rc"; grep -v '^ok' "scrub.$s" | head -n 20; }
done
exit $fail
