#!/bin/sh
# timeout: 420
#
# The fault matrix: backups and restores of a 64 MiB disk against a real S3
# server (Ceph RGW on 127.0.0.1) through tests/lib/faultproxy, one fault
# per row: connections reset mid-body, stalls, a slow link, 500 and 503
# bursts, bodies cut short, flipped bytes (now and then, and on every
# chunk), a server that stops answering chunk requests, one that resets
# them, and no server at all. Every cell either completes byte-identical
# (a backup: restored straight from RGW and compared with the source; a
# restore: the target compared with the source) or fails cleanly: the log
# says what failed and that it gave up, a failed backup leaves no point
# that `lifeboat list` shows, a failed restore leaves the target's
# partition table wiped (or the target untouched when it failed before
# writing anything). A last row does both over a veth link losing 10 % of
# its packets. Retries and time are bounded by LIFEBOAT_RETRIES,
# LIFEBOAT_RETRY_TIME and LIFEBOAT_STALL_TIMEOUT, which the cells set
# small. Prints the table: fault | backup | restore (outcome; retries;
# faults injected; seconds).
set -u
: "${LB_TOP:?}" "${LB_BIN:?}" "${LB_TMP:?}"
BUCKET=faults . "$LB_TOP/tests/lib/s3case"
PROXY=$LB_TOP/tests/lib/faultproxy
RGW_URL=$AWS_ENDPOINT_URL
ppid_= lpid_= ns=lbfm$$
s3case_cleanup() {
	for p in $ppid_ $lpid_; do kill "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
	ip link del lbm$$a 2> /dev/null; ip netns del "$ns" 2> /dev/null; nft delete table inet lbfm$$ 2> /dev/null
}

# ---- the source disk: GPT, ext4 with random and text data, 1 MiB chunks ----
mkdir -p root/srv
head -c 12M /dev/urandom > root/srv/random.bin
seq 1 800000 > root/srv/numbers.txt
truncate -s 64M sys.img
mkfs.ext4 -q -F -L ROOT -d root -E offset=1048576 sys.img 60M
sgdisk -n1:2048:+60M -t1:8300 -c1:root sys.img > /dev/null
lb backup --server src --disk system=sys.img --chunk-size 1M "s3://$BUCKET/base" > base.id 2> base.err ||
	{ bad "the base backup (no proxy) exited $?"; cat base.err; exit 1; }
POINT=$(cat base.id)
ok "base point $POINT: $(grep -o '[0-9]* chunks uploaded' base.err | tail -n 1)"

# ---- the proxy: one process, its fault changed through its control file ----
echo '{"fault": "none"}' > control.json
python3 "$PROXY" --upstream "$LB_RGW_PORT" --port-file proxy.port --stats stats.json --control control.json \
	2> proxy.log & ppid_=$!
i=0; while [ ! -s proxy.port ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s proxy.port ] || { bad "faultproxy did not start"; cat proxy.log; exit 1; }
PROXY_URL=http://127.0.0.1:$(cat proxy.port)

now() { date +%s.%N; }
secs() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
retries() { grep -c 'retry [0-9]*/[0-9]* in\|fetching it again' "$1"; }
injected() { [ -n "${URL:-}" ] && echo - || jq -r .faults stats.json; }
has_label() { [ -n "$(blkid -p -o value -s PTTYPE "$1" 2> /dev/null)" ]; }
# the first line of the log that says what failed and that lifeboat gave up
reason() {
	r=$(grep -m1 'giving up' "$1" | sed 's/^lifeboat: //')
	echo "${r:-$(grep -v '^faultproxy' "$1" | tail -n 1 | sed 's/^lifeboat: //')}"
}
# hashes cut to 8 digits, the store's prefix dropped: a table cell, not a log
short() { echo "$1" | sed -E "s/([0-9a-f]{8})[0-9a-f]{24,}/\1../g; s|s3://$BUCKET/[^/]*/||g" | cut -c1-"$2"; }
# setting JSON: the proxy's fault for the next run (counters start over).
# Faults that come and go hit one object at most twice (per_path): with
# four connections, "every third request" could otherwise be the same
# chunk's refetch each time, which is the persistent fault of another row.
setting() { echo "$1" > control.json; sleep 0.05; touch control.json; }

# Cell environment: small bounds so the failing cells fail in seconds.
export LIFEBOAT_RETRIES=5 LIFEBOAT_RETRY_TIME=20 LIFEBOAT_STALL_TIMEOUT=2 LIFEBOAT_TEST_SEED=11

# backup_cell NAME SETTING EXPECT(ok|fail): back up through the proxy into a
# store of its own; sets B (the table cell)
backup_cell() {
	setting "$2"
	store=s3://$BUCKET/cell-$1
	t0=$(now)
	${NSX:-} env LIFEBOAT_RETRY_TIME=${RT:-20} AWS_ENDPOINT_URL=${URL:-$PROXY_URL} "$LB_BIN" backup --server "c-$1" --disk system=sys.img --chunk-size 1M --workers 4 \
		"$store" > "b-$1.id" 2> "b-$1.err"
	rc=$? s=$(secs "$t0") n=$(retries "b-$1.err") f=$(injected)
	setting '{"fault": "none"}'
	[ "$f" = 0 ] && [ "$2" != '{"fault": "none"}' ] && bad "backup under $1: the proxy injected no fault"
	if [ $rc = 0 ]; then
		truncate -s 0 "chk-$1.img"; truncate -s 64M "chk-$1.img"
		if AWS_ENDPOINT_URL=$RGW_URL lb restore --yes --disk system="chk-$1.img" "$store" "$(cat "b-$1.id")" \
			> "bc-$1.err" 2>&1 && cmp -s sys.img "chk-$1.img"; then
			B="identical; $n retries; $f faults; $s s"
			[ "$3" = ok ] && ok "backup under $1: $B" || bad "backup under $1 should have failed, but: $B"
		else
			B="WRONG: stored, but the restore of it differs"
			bad "backup under $1: $B"; cat "bc-$1.err"
		fi
		rm -f "chk-$1.img"
		return
	fi
	why=$(reason "b-$1.err")
	listed=$(AWS_ENDPOINT_URL=$RGW_URL lb list "$store" 2>&1 | grep -c "^c-$1 ")
	if [ "$listed" = 0 ] && grep -q 'giving up' "b-$1.err" && echo "$why" | grep -q 's3://\|chunk'; then
		B="failed cleanly, no point: $(short "$why" 110); $n retries; $f faults; $s s"
		[ "$3" = fail ] && ok "backup under $1: $B" || bad "backup under $1 should have completed: $B"
	else
		B="WRONG: exit $rc, $listed points listed: $why"
		bad "backup under $1: $B"; tail -n 5 "b-$1.err"
	fi
}

# restore_cell NAME SETTING EXPECT: restore the base point through the
# proxy onto a target that holds an old label; sets R
restore_cell() {
	setting "$2"
	truncate -s 0 "t-$1.img"; truncate -s 64M "t-$1.img"
	dd if=sys.img of="t-$1.img" bs=1M count=1 conv=notrunc status=none     # an old, valid-looking GPT
	dd if=sys.img of="t-$1.img" bs=1M skip=63 seek=63 conv=notrunc status=none
	before=$(sha256sum < "t-$1.img")
	t0=$(now)
	${NSX:-} env LIFEBOAT_RETRY_TIME=${RT:-20} AWS_ENDPOINT_URL=${URL:-$PROXY_URL} "$LB_BIN" restore --yes --workers 4 --disk system="t-$1.img" "s3://$BUCKET/base" \
		"$POINT" > "r-$1.out" 2> "r-$1.err"
	rc=$? s=$(secs "$t0") n=$(retries "r-$1.err") f=$(injected)
	setting '{"fault": "none"}'
	[ "$f" = 0 ] && [ "$2" != '{"fault": "none"}' ] && bad "restore under $1: the proxy injected no fault"
	if [ $rc = 0 ]; then
		if cmp -s sys.img "t-$1.img"; then
			R="identical; $n retries; $f faults; $s s"
			[ "$3" = ok ] && ok "restore under $1: $R" || bad "restore under $1 should have failed, but: $R"
		else
			R="WRONG: exit 0 but the disk differs"; bad "restore under $1: $R"
		fi
		rm -f "t-$1.img"
		return
	fi
	why=$(reason "r-$1.err")
	if has_label "t-$1.img"; then
		[ "$(sha256sum < "t-$1.img")" = "$before" ] && state="nothing written" || state=
	else
		state="label wiped"
	fi
	if [ -n "$state" ] && grep -q 'giving up' "r-$1.err" && echo "$why" | grep -q 's3://\|chunk'; then
		R="failed cleanly, $state: $(short "$why" 110); $n retries; $f faults; $s s"
		[ "$3" = fail ] && ok "restore under $1: $R" || bad "restore under $1 should have completed: $R"
	else
		R="WRONG: exit $rc, label $(has_label "t-$1.img" && echo present || echo wiped), changed: $why"
		bad "restore under $1: $R"; tail -n 5 "r-$1.err"
	fi
	rm -f "t-$1.img"
}

rows=
# row NAME "backup setting" "restore setting" EXPECT_BACKUP EXPECT_RESTORE
row() {
	backup_cell "$1" "$2" "$4"
	restore_cell "$1" "$3" "$5"
	rows="$rows$(printf '%-22s | %s | %s' "$1" "$B" "$R")
"
}
T0=$(now)
row none '{"fault": "none"}' '{"fault": "none"}' ok ok
row reset-p0.25 '{"fault": "reset", "method": "PUT", "prob": 0.25, "seed": 5, "per_path": 2}' \
	'{"fault": "reset", "prob": 0.25, "seed": 5, "per_path": 2}' ok ok
row stall-1in4 '{"fault": "stall", "seconds": -1, "method": "PUT", "every": 4, "per_path": 2}' \
	'{"fault": "stall", "seconds": -1, "every": 4, "per_path": 2}' ok ok
row slow-4MBps '{"fault": "slow", "rate": 4000000, "match": ""}' '{"fault": "slow", "rate": 4000000, "match": ""}' ok ok
row 503-burst-3in10 '{"fault": "status", "status": 503, "every": 10, "burst": 3, "match": "", "per_path": 2}' \
	'{"fault": "status", "status": 503, "every": 10, "burst": 3, "match": "", "per_path": 2}' ok ok
row 500-every-5 '{"fault": "status", "status": 500, "every": 5, "match": "", "per_path": 2}' \
	'{"fault": "status", "status": 500, "every": 5, "match": "", "per_path": 2}' ok ok
row truncate-1in3 '{"fault": "truncate", "method": "PUT", "every": 3, "per_path": 2}' '{"fault": "truncate", "every": 3, "per_path": 2}' ok ok
row flip-1in3 '{"fault": "flip", "method": "PUT", "every": 3, "per_path": 2}' '{"fault": "flip", "every": 3, "per_path": 2}' ok ok
row flip-every-chunk '{"fault": "flip", "method": "PUT"}' '{"fault": "flip"}' fail fail
# the server stops answering chunk requests (or resets them): a short
# LIFEBOAT_RETRY_TIME makes these fail in seconds
RT=5
row chunks-hang '{"fault": "hang", "method": "any"}' '{"fault": "hang", "method": "any"}' fail fail
row chunks-refused '{"fault": "refuse", "method": "any"}' '{"fault": "refuse", "method": "any"}' fail fail
# no server at all: a port nothing listens on
freeport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$freeport
row server-down '{"fault": "none"}' '{"fault": "none"}' fail fail
URL= RT=

# 10 % packet loss on a real link: lifeboat in a network namespace, a
# veth pair to a second proxy (forwarding only) on this side, nftables
# dropping one packet in ten where it arrives, both ways (this kernel has
# no sch_netem; the drop is what netem's loss does). TCP's own recovery
# is the test here: the restore and the backup complete, with what it
# cost in the table.
linkip=10.233.$(($$ % 250)).1 peerip=10.233.$(($$ % 250)).2
if ! command -v nft > /dev/null; then
	echo "skip: the packet-loss row: nft not installed (make deps)"
elif ip netns add "$ns" && ip link add lbm$$a type veth peer name lbm$$b netns "$ns" &&
	ip addr add "$linkip/30" dev lbm$$a && ip link set lbm$$a up gso_max_size 1500 gro_max_size 1500 &&
	ip -n "$ns" addr add "$peerip/30" dev lbm$$b && ip -n "$ns" link set lbm$$b up gso_max_size 1500 gro_max_size 1500 &&
	ip netns exec "$ns" nft add table inet lbfm && ip netns exec "$ns" nft add chain inet lbfm in \
		'{ type filter hook input priority 0; }' &&
	ip netns exec "$ns" nft add rule inet lbfm in iifname "lbm$$b" numgen random mod 100 '<' 10 counter drop &&
	nft add table inet lbfm$$ && nft add chain inet lbfm$$ in '{ type filter hook input priority 0; }' &&
	nft add rule inet lbfm$$ in iifname "lbm$$a" numgen random mod 100 '<' 10 counter drop; then
	python3 "$PROXY" --upstream "$LB_RGW_PORT" --listen "$linkip" --port-file link.port 2> link.log & lpid_=$!
	i=0; while [ ! -s link.port ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	URL=http://$linkip:$(cat link.port) NSX="ip netns exec $ns"
	row loss-10pct-veth '{"fault": "none"}' '{"fault": "none"}' ok ok
	URL= NSX=
	echo "packets dropped: to lifeboat $(ip netns exec "$ns" nft list table inet lbfm | grep -o 'packets [0-9]*')," \
		"from it $(nft list table inet lbfm$$ | grep -o 'packets [0-9]*')"
else
	echo "skip: the packet-loss row: no network namespace, veth or nftables here"
fi

# lifeboat's stderr went to files: a sanitizer build's reports are there
if grep -l 'AddressSanitizer\|LeakSanitizer\|runtime error' ./*.err > san.list 2> /dev/null; then
	bad "sanitizer reports in $(tr '\n' ' ' < san.list)"; grep -h -A20 'Sanitizer\|runtime error' $(cat san.list) | head -40
fi

# The paths the cells were meant to take, taken.
check() { grep -q "$2" "$1" && ok "$3: $(grep -m1 "$2" "$1" | sed 's/^lifeboat: //' | cut -c1-150)" || bad "$3: no '$2' in $1"; }
check r-flip-1in3.err 'failed verification; fetching it again (1/3)' "a chunk damaged on the way is fetched again"
check b-flip-1in3.err 'HTTP 400 \(BadDigest\|XAmzContentSHA256Mismatch\); retry' "a PUT damaged on the way is retried"
check r-flip-every-chunk.err 'at offset [0-9]*.*still wrong after 4 fetches: giving up' "a chunk always damaged: named with its offset, given up"
check r-stall-1in4.err 'no byte moved for 2 s' "a stalled GET is cut after LIFEBOAT_STALL_TIMEOUT"
check b-stall-1in4.err 'no byte moved for 2 s' "a PUT left unanswered is cut after LIFEBOAT_STALL_TIMEOUT"
check b-503-burst-3in10.err 'HTTP 503; retry' "503 SlowDown is retried"
check r-chunks-hang.err 'giving up after .* (LIFEBOAT_RETRIES 5, LIFEBOAT_RETRY_TIME 5.0 s)' "the retry time bounds a server that stops answering"

echo
echo "fault matrix (64 MiB disk, 1 MiB chunks, 4 workers; LIFEBOAT_RETRIES=$LIFEBOAT_RETRIES" \
	"LIFEBOAT_RETRY_TIME=$LIFEBOAT_RETRY_TIME (5 for the last three rows) LIFEBOAT_STALL_TIMEOUT=$LIFEBOAT_STALL_TIMEOUT):"
printf '%-22s | %s | %s\n' fault backup restore
printf '%s' "$rows"
echo "matrix took $(secs "$T0") s; the proxy injected faults as logged in proxy.log ($(grep -c '^faultproxy: fault' proxy.log) in all)"
exit $fail
