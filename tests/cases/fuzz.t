#!/bin/sh
# timeout: 600
#
# The libFuzzer harnesses of tests/fuzz/ (make fuzz), one per parser of
# data from the network: manifests, chunk indexes, S3 XML listings and
# error bodies, HTTP response headers, stored chunks (lb_chunk_decode),
# images for `write` (zstd streams), signature objects, public keys and
# the deploy config with its hints. For each: every seed in
# tests/fuzz/corpus/NAME/ is replayed (inputs that once crashed a harness
# are kept there, so a regression fails here), then it fuzzes for
# LB_FUZZ_SECONDS (default 20) on a copy of the corpus. A crash, a leak, a
# sanitizer report, a timeout or a broken property (FUZZ_ASSERT) fails,
# and the input is kept in $LB_OUT/tests/fuzz-artifacts/. Prints the
# executions and the corpus size per harness.
set -u
: "${LB_TOP:?}" "${LB_OUT:?}" "${LB_TMP:?}"
cd "$LB_TMP"
bin=$LB_OUT/build/recovery-fuzz/fuzz
secs=${LB_FUZZ_SECONDS:-20}
keep=$LB_OUT/tests/fuzz-artifacts
fail=0 total=0 harnesses=0
[ -d "$bin" ] || { echo "FAIL - $bin missing (make fuzz; make test builds it)"; exit 1; }
for src in "$LB_TOP"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c) h=${name#fuzz_}
	exe=$bin/$name seeds=$LB_TOP/tests/fuzz/corpus/$h
	harnesses=$((harnesses + 1))
	if [ ! -x "$exe" ] || [ "$exe" -ot "$src" ]; then
		echo "FAIL - $name: not built, or older than its source (make fuzz)"; fail=1; continue
	fi
	nseeds=$(find "$seeds" -type f 2>/dev/null | wc -l)
	[ "$nseeds" -gt 0 ] || { echo "FAIL - $name: no seeds in $seeds"; fail=1; continue; }
	# 1. replay: each seed once
	if "$exe" -rss_limit_mb=2048 -timeout=10 "$seeds"/* > "replay-$h.log" 2>&1; then
		echo "ok - $name: replayed its $nseeds seeds"
	else
		echo "FAIL - $name: a seed fails:"; grep -v '^Running:\|^Executed' "replay-$h.log" | tail -n 30; fail=1; continue
	fi
	# 2. fuzz
	mkdir -p "work/$h"
	"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -error_exitcode=1 \
		-timeout_exitcode=1 -artifact_prefix="$LB_TMP/art-$h-" "work/$h" "$seeds" > "fuzz-$h.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz-$h.log" | tail -n 1)
	new=$(find "work/$h" -type f | wc -l)
	total=$((total + ${runs:-0}))
	if [ $rc = 0 ] && [ -n "$runs" ]; then
		echo "ok - $name: ${secs} s, $runs executions, corpus $nseeds seeds + $new new inputs, nothing found"
	else
		echo "FAIL - $name: exit $rc after ${runs:-?} executions:"
		grep -B2 -A25 'ERROR: \|runtime error\|fuzz: .* does not hold\|SUMMARY' "fuzz-$h.log" | head -n 60
		mkdir -p "$keep"
		for a in "$LB_TMP"/art-"$h"-*; do
			[ -f "$a" ] || continue
			cp "$a" "$keep/"; echo "  input kept: $keep/$(basename "$a") ($(wc -c < "$a") bytes):"
			od -An -c "$a" | head -n 8
		done
		fail=1
	fi
done
echo "# $harnesses harnesses, $total executions in all"
exit $fail
