#!/bin/sh
# timeout: 400
#
# The parallel restore and backup pipelines (workers fetching, verifying
# and writing chunks at once, or reading, hashing, compressing and
# uploading them, each over its own connection): one worker and many give
# byte-identical disks, full and delta, and identical points, from a
# directory store, from a web server's copy of it (http://: read-only, no
# listings) and from a real S3 server (Ceph RGW); equal chunks met by
# several workers at once are uploaded once; a store refusing chunks fails
# the backup with one report and no point; with many workers a corrupt
# chunk still stops the restore, wipes the label and is named once (two
# corrupt chunks: one report, the first); the other workers stop instead
# of going on (most of the disk stays unwritten); and a failure aborts the
# transfers of the other workers in flight: against a server that stalls
# every other chunk for two minutes, a missing chunk ends the restore
# within seconds.
set -u
: "${LB_TOP:?}" "${LB_BIN:?}" "${LB_TMP:?}"
cd "$LB_TMP"
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }
lb() { "$LB_BIN" "$@"; }
RGW=$LB_TOP/tests/lib/rgw FX=$LB_TMP/rgw fpid=
cleanup() {
	[ -n "$fpid" ] && kill "$fpid" 2> /dev/null
	"$RGW" stop "$FX" > /dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
label_wiped() { [ "$(head -c 1M "$1" | tr -d '\0' | wc -c)" = 0 ]; }
field() { grep '"disk_done"' "$2" | sed "s/.*\"$1\":\([0-9]*\).*/\1/"; }

# A 64 MiB GPT disk with ext4 holding random and text data, cut into
# 256 KiB chunks: 256 of them, enough to keep eight workers busy.
mkdir -p root/srv store
head -c 16M /dev/urandom > root/srv/random.bin
seq 1 1500000 > root/srv/numbers.txt
truncate -s 64M sys.img
mkfs.ext4 -q -F -L ROOT -d root -E offset=1048576 sys.img 60M
sgdisk -n1:2048:+60M -t1:8300 -c1:root sys.img > /dev/null
id1=$(lb backup --server par01 --disk system=sys.img --chunk-size 256K "$LB_TMP/store" 2> b1.err) ||
	{ bad "backup exited $?"; cat b1.err; exit 1; }
ok "backup $id1: $(grep -o '[0-9]* chunks uploaded' b1.err | tail -n 1)"

# ---- one worker and eight: the same bytes ----
# restore_w N POINT OUT: restore POINT onto wN.img with N workers, progress in OUT.json
restore_w() {
	lb restore --yes --workers "$1" --progress=json --disk system=w$1.img "$LB_TMP/store" "$2" > "$3.json" 2> "$3.err" ||
		{ bad "restore --workers $1 of $2 exited $?"; cat "$3.err"; }
}
truncate -s 64M w1.img w8.img
restore_w 1 "$id1" w1
restore_w 8 "$id1" w8
[ "$(field workers w1.json)" = 1 ] && [ "$(field workers w8.json)" = 8 ] &&
	ok "progress reports 1 and 8 workers" || bad "workers in progress: $(field workers w1.json), $(field workers w8.json)"
cmp -s sys.img w1.img && cmp -s sys.img w8.img && ok "--workers 1 and --workers 8 restore byte-identical disks" ||
	bad "restored disks differ from the source"
[ "$(field fetched w1.json)" = "$(field fetched w8.json)" ] && [ "$(field chunks_done w8.json)" = 256 ] &&
	ok "both fetched $(field fetched w8.json) chunks, 256 done" || { bad "counts differ"; cat w1.json w8.json; }

# ---- delta: 3 MiB changed (12 chunks), both restored copies brought up to date ----
head -c 3M /dev/urandom | dd of=sys.img bs=1M seek=20 conv=notrunc status=none
id2=$(lb backup --server par01 --disk system=sys.img --chunk-size 256K "$LB_TMP/store" 2> b2.err)
up=$(sed -n 's/.* \([0-9]*\) chunks uploaded.*/\1/p' b2.err | tail -n 1)
[ "$up" = 12 ] && ok "incremental backup uploaded 12 chunks" || { bad "incremental uploaded '$up'"; cat b2.err; }
restore_w 8 "$id2" d8
restore_w 1 "$id2" d1
[ "$(field fetched d8.json)" = 12 ] && [ "$(field fetched d1.json)" = 12 ] &&
	ok "delta restores fetched 12 chunks with 8 workers and with 1" || bad "delta fetched $(field fetched d8.json) / $(field fetched d1.json)"
cmp -s sys.img w8.img && cmp -s sys.img w1.img && ok "delta-restored disks byte-identical" || bad "delta-restored disks differ"

# ---- zero label areas found in place (holes of a blank image file) ----
# The first and last MiB are written back last from what was found there:
# a hole must come back as zeros, not as whatever the buffer held.
truncate -s 8M ends.img
head -c 4M /dev/urandom | dd of=ends.img bs=1M seek=2 conv=notrunc status=none
idz=$(lb backup --server ends --disk system=ends.img --chunk-size 1M "$LB_TMP/store" 2> /dev/null)
truncate -s 8M ends-t.img
lb restore --yes --workers 4 --disk system=ends-t.img "$LB_TMP/store" "$idz" > ends.out 2>&1 && cmp -s ends.img ends-t.img &&
	ok "zero first and last MiB found in place (holes): restored as zeros" || { bad "zero label areas"; cat ends.out; cmp ends.img ends-t.img; }

# ---- backup: one worker and eight store the same point ----
for n in 1 8; do
	mkdir -p "bs$n"
	lb backup --server par01 --workers $n --disk system=sys.img --chunk-size 256K "$LB_TMP/bs$n" > "bs$n.id" 2> "bs$n.err" ||
		{ bad "backup --workers $n exited $?"; cat "bs$n.err"; }
done
ix1=$(jq -r '.disks[0].index.key + " " + .disks[0].digest' bs1/points/par01/*.json)
ix8=$(jq -r '.disks[0].index.key + " " + .disks[0].digest' bs8/points/par01/*.json)
[ -n "$ix1" ] && [ "$ix1" = "$ix8" ] && [ "$(cd bs1 && find chunks -type f | sort)" = "$(cd bs8 && find chunks -type f | sort)" ] &&
	ok "backup --workers 1 and --workers 8: the same index, digest and chunks ($(find bs8/chunks -type f | wc -l) chunks)" ||
	bad "backups differ: '$ix1' / '$ix8'"
grep -q '8 workers' bs8.err && ok "backup says: $(grep -o '[0-9]* chunks uploaded.*' bs8.err)" || bad "no worker count: $(tail -n 1 bs8.err)"
# 64 equal chunks: uploaded once, however many workers meet them at once.
head -c 256K /dev/urandom > blk.bin
for i in $(seq 64); do cat blk.bin; done > same.img
mkdir -p bsame
lb backup --server same --workers 8 --disk system=same.img --chunk-size 256K "$LB_TMP/bsame" > /dev/null 2> same.err
[ "$(find bsame/chunks -type f | wc -l)" = 1 ] && grep -q ' 1 chunks uploaded .* 63 reused' same.err &&
	ok "64 equal chunks, 8 workers: uploaded once, 63 reused" || { bad "equal chunks:"; cat same.err; }
# A store that cannot take chunks: every worker fails, one speaks, no point.
mkdir -p bbad && : > bbad/chunks
lb backup --server par01 --workers 8 --disk system=sys.img --chunk-size 256K "$LB_TMP/bbad" > /dev/null 2> bad.err; rc=$?
[ $rc = 1 ] && [ "$(grep -c 'Not a directory' bad.err)" = 1 ] && [ ! -d bbad/points/par01 ] &&
	ok "a store refusing chunks: exit 1, one report, no point: $(grep 'Not a directory' bad.err)" ||
	{ bad "refusing store: exit $rc"; cat bad.err; }

# ---- failures with eight workers ----
chunk_of() { # chunk_of POINT N: the store path of chunk N of the point's system disk
	idx=$(jq -r '.disks[] | select(.name == "system") | .index.key' "store/points/${1%%/*}/${1#*/}.json")
	h=$(od -An -tx1 -v -j $((32 + 32 * $2)) -N 32 "store/$idx" | tr -d ' \n')
	echo "chunks/$(echo "$h" | cut -c1-4)/$h.zst"
}
# The first body chunk that is not all zero, and one far after it.
first= last=
for n in $(seq 4 40); do c=$(chunk_of "$id2" $n); [ -f "store/$c" ] && { first=$n; break; }; done
for n in $(seq 251 -1 100); do c=$(chunk_of "$id2" $n); [ -f "store/$c" ] && { last=$n; break; }; done
c1=$(chunk_of "$id2" "$first") c2=$(chunk_of "$id2" "$last")
[ -f "store/$c1" ] && [ -f "store/$c2" ] || { bad "cannot find chunks $first and $last"; exit 1; }
cp "store/$c1" c1.saved; cp "store/$c2" c2.saved
printf '\001' | dd of="store/$c1" bs=1 seek=20 conv=notrunc status=none
printf '\001' | dd of="store/$c2" bs=1 seek=20 conv=notrunc status=none
truncate -s 64M victim.img
dd if=sys.img of=victim.img bs=1M count=1 conv=notrunc status=none   # an old, valid-looking label
lb restore --yes --workers 8 --disk system=victim.img "$LB_TMP/store" "$id2" > v.out 2>&1; rc=$?
reports=$(grep -c 'corrupt\|content hashes to\|not a zstd frame' v.out)
if [ $rc = 1 ] && label_wiped victim.img && [ "$reports" = 1 ] && grep -q "$(basename "$c1")" v.out; then
	ok "two corrupt chunks, 8 workers: exit 1, label wiped, one report, the first: $(grep corrupt v.out)"
else
	bad "corrupt chunks: exit $rc, wiped $(label_wiped victim.img && echo yes || echo no), $reports reports"; cat v.out
fi
grep -qi 'cancel' v.out && bad "a cancelled worker spoke: $(grep -i cancel v.out)" || ok "the cancelled workers said nothing"
grep -q 'restore of disk system onto victim.img failed' v.out && grep -q 'partition table wiped' v.out &&
	ok "the failure and the wipe are logged" || { bad "no failure/wipe lines"; cat v.out; }
# The workers stopped: of the 256 chunks, only those near chunk $first were written.
written=$(od -An -v -w262144 -tx8 victim.img | grep -vc '^\( 0000000000000000\)*$')
[ "$written" -lt 64 ] && ok "the other workers stopped: $written of 256 chunks of the target hold data" ||
	bad "$written of 256 chunks written after a failure at chunk $first"
cp c1.saved "store/$c1"; cp c2.saved "store/$c2"

# ---- a failure aborts the others' transfers in flight ----
# A fake S3 server over the directory store: chunk $first is missing (404
# NoSuchKey) and every other body chunk stalls 120 s before its answer.
hdr=""
for n in 0 1 2 3 252 253 254 255; do hdr="$hdr $(chunk_of "$id2" $n)"; done
cat > slow.py << 'PY'
import http.server, os, socketserver, sys, time
root, missing, fast = sys.argv[1], sys.argv[2], set(sys.argv[3].split())
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        key = self.path.split("?")[0][len("/fake/st/"):]
        if key == missing:
            body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if key.startswith("chunks/") and key not in fast:
            time.sleep(120)
        try:
            data = open(os.path.join(root, key), "rb").read()
        except OSError:
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
with open("slow.port", "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
PY
python3 slow.py "$LB_TMP/store" "$c1" "$hdr" & fpid=$!
i=0; while [ ! -s slow.port ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
truncate -s 0 victim.img; truncate -s 64M victim.img
dd if=sys.img of=victim.img bs=1M count=1 conv=notrunc status=none
t0=$(date +%s)
AWS_ENDPOINT_URL=http://127.0.0.1:$(cat slow.port) AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s LIFEBOAT_RETRIES=0 \
	timeout 150 "$LB_BIN" restore --yes --workers 4 --disk system=victim.img s3://fake/st "$id2" > slow.out 2>&1; rc=$?
secs=$(( $(date +%s) - t0 ))
if [ $rc = 1 ] && [ $secs -lt 30 ] && grep -q "chunk $first .*missing from the store" slow.out && label_wiped victim.img; then
	ok "a missing chunk with 3 transfers stalled: failed in ${secs}s (stalls last 120s), label wiped"
else
	bad "missing chunk among stalled transfers: exit $rc after ${secs}s"; cat slow.out
fi
[ "$(grep -c '^lifeboat: ' slow.out)" -le 3 ] && ! grep -qi 'cancel\|timed out\|retry' slow.out &&
	ok "only the first failure is logged: $(grep -m1 missing slow.out)" || { bad "other workers logged:"; cat slow.out; }
kill "$fpid" 2> /dev/null; wait "$fpid" 2> /dev/null; fpid=

# ---- a store copied to a web server: http://, read-only, no listings ----
cat > serve.py << 'PY'
import http.server, functools, socketserver, sys
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
s = S(("127.0.0.1", 0), functools.partial(H, directory=sys.argv[1]))
with open("serve.port", "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
PY
python3 serve.py "$LB_TMP/store" & fpid=$!
i=0; while [ ! -s serve.port ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
WEB=http://127.0.0.1:$(cat serve.port)/
truncate -s 0 web.img; truncate -s 64M web.img
lb restore --yes --workers 4 --disk system=web.img "$WEB" "$id2" > web.out 2>&1 && cmp -s sys.img web.img &&
	ok "restore from $WEB (a web server's copy of the store), 4 workers: byte-identical" || { bad "http store restore"; cat web.out; }
lb restore --yes --disk system=web.img "$WEB" par01/latest > web2.out 2>&1
grep -q "name the point as SERVER/ID" web2.out && ok "http store: latest refused: $(grep SERVER/ID web2.out)" || { bad "latest on http"; cat web2.out; }
lb backup --server par01 --disk system=sys.img "$WEB" > /dev/null 2> web3.err
grep -q "read-only" web3.err && ok "http store: backup refused: $(grep read-only web3.err | head -n 1)" || { bad "backup to http"; cat web3.err; }
kill "$fpid" 2> /dev/null; wait "$fpid" 2> /dev/null; fpid=

# ---- the same against a real S3 server, many connections at once ----
if "$RGW" start "$FX" --both > rgw.out 2>&1; then
	. "$FX/env"
	AWS=${LB_AWS:-/usr/bin/aws}
	$AWS --endpoint-url "$AWS_ENDPOINT_URL" s3api create-bucket --bucket par > /dev/null
	S3=s3://par/st
	id3=$(lb backup --server par01 --workers 6 --disk system=sys.img --chunk-size 256K "$S3" 2> b3.err) ||
		{ bad "backup to RGW exited $?"; cat b3.err; }
	truncate -s 0 s1.img s6.img; truncate -s 64M s1.img s6.img
	lb restore --yes --workers 1 --disk system=s1.img "$S3" "$id3" > s1.out 2>&1 || { bad "RGW restore, 1 worker"; cat s1.out; }
	lb restore --yes --workers 6 --disk system=s6.img "$S3" "$id3" > s6.out 2>&1 || { bad "RGW restore, 6 workers"; cat s6.out; }
	cmp -s sys.img s1.img && cmp -s sys.img s6.img && ok "RGW: 1 and 6 connections restore byte-identical disks" ||
		bad "RGW restores differ"
	# six TLS handshakes at once, on the workers' own threads (and stacks)
	truncate -s 0 s6.img; truncate -s 64M s6.img
	AWS_ENDPOINT_URL=$LB_RGW_HTTPS_URL lb restore --yes --workers 6 --disk system=s6.img "$S3" "$id3" > s6t.out 2>&1 &&
		cmp -s sys.img s6.img && ok "RGW over HTTPS ($LB_RGW_HTTPS_URL), 6 connections: byte-identical" ||
		{ bad "RGW HTTPS restore, 6 workers"; cat s6t.out; }
	printf 'not a zstd frame at all' > garbage.bin
	$AWS --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --quiet garbage.bin "s3://par/st/$c1"
	truncate -s 0 victim.img; truncate -s 64M victim.img
	dd if=sys.img of=victim.img bs=1M count=1 conv=notrunc status=none
	lb restore --yes --workers 6 --disk system=victim.img "$S3" "$id3" > sv.out 2>&1; rc=$?
	# (fetched again 3 times first, in case it was damaged on the way:
	# each logged, then one verdict)
	[ $rc = 1 ] && label_wiped victim.img && [ "$(grep -v 'fetching it again' sv.out | grep -c "$(basename "$c1")")" = 1 ] &&
		[ "$(grep -c "$(basename "$c1").* fetching it again" sv.out)" = 3 ] &&
		ok "RGW, 6 workers, corrupt chunk: exit 1, wiped, fetched again 3 times, named once: $(grep -v 'fetching it again' sv.out | grep "$(basename "$c1")")" ||
		{ bad "RGW corrupt chunk: exit $rc"; cat sv.out; }
else
	bad "RGW did not start"; cat rgw.out
fi
exit $fail
