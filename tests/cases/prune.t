#!/bin/sh
# timeout: 300
#
# Retention against a real S3 server (Ceph RGW on 127.0.0.1), on synthetic
# histories of points with fixed times (manifests of one real backup,
# re-dated with jq and uploaded with aws-cli):
#  - a small history, each policy checked against the points it must keep
#    (worked out by hand) and the reason it gives;
#  - a history of 400 points over two years (every 6 hours for 60 days, then
#    daily, then weekly) with all the rules at once, checked point by point
#    (decision and reasons) against an independent implementation of the
#    rules in Python;
#  - --dry-run removes nothing; the real run removes exactly the manifests
#    it said, leaves images and unreadable manifests alone, and what it
#    kept still restores.
BUCKET=lbprune . "$LB_TOP/tests/lib/s3case"
STORE=s3://lbprune/p

head -c 300000 /dev/urandom > d.img && truncate -s 512K d.img
tmpl=$(lb backup --server tmpl --disk system=d.img --chunk-size 64K "$STORE" 2> b.err) || { bad "backup"; cat b.err; exit 1; }
$AWS s3 cp "$STORE/points/$tmpl.json" tmpl.json > /dev/null || { bad "get the template manifest"; exit 1; }

# mkpoint SERVER "YYYY-MM-DD hh:mm:ss" [KIND]: a manifest of the template
# re-dated, under tree/points/SERVER/.
mkpoint() {
	t=$(date -u -d "$2" +%Y%m%dT%H%M%SZ) c=$(date -u -d "$2" +%Y-%m-%dT%H:%M:%SZ)
	id="$t-$(printf '%08x' $(( $(date -u -d "$2" +%s) % 4294967296 )))"
	mkdir -p "tree/points/$1"
	if [ "${3:-backup}" = image ]; then
		jq --arg id "$id" --arg s "$1" --arg c "$c" '.id = $id | .server = $s | .created = $c |
			.kind = "image" | .image_type = "full" | .name = "an image"' tmpl.json
	else
		jq --arg id "$id" --arg s "$1" --arg c "$c" '.id = $id | .server = $s | .created = $c' tmpl.json
	fi > "tree/points/$1/$id.json"
	echo "$1/$id"
}

# The small history, newest last; the ids are the test's names for them.
h0=$(mkpoint h "2025-12-20 08:00:00") h1=$(mkpoint h "2026-01-01 10:00:00") h2=$(mkpoint h "2026-01-01 22:00:00") h3=$(mkpoint h "2026-01-02 09:00:00")
h4=$(mkpoint h "2026-01-03 09:00:00") h5=$(mkpoint h "2026-01-03 12:00:00") h6=$(mkpoint h "2026-01-10 00:00:00")
h7=$(mkpoint h "2026-02-01 05:00:00")
img=$(mkpoint h "2026-01-05 00:00:00" image)
mkdir -p tree/points/h && echo '{"format": "lifeboat-restore-point", "version": 9}' > tree/points/h/20251231T000000Z-00000000.json

# The big history: every 6 h for 60 days, then daily for a year before
# that, then weekly for a year before that (400 points).
python3 - > big.times <<'EOF'
import datetime as d
end = d.datetime(2026, 3, 15, 18, 0, 0)
ts = [end - d.timedelta(hours=6 * i) for i in range(240)]
ts += [ts[-1] - d.timedelta(days=1 + i) for i in range(108)]
ts += [ts[-1] - d.timedelta(weeks=1 + i) for i in range(52)]
for t in sorted(ts):
    print(t.strftime("%Y-%m-%d %H:%M:%S"))
EOF
while read -r day time; do mkpoint big "$day $time" > /dev/null; done < big.times
$AWS s3 sync tree "s3://lbprune/p" > /dev/null || { bad "upload the histories"; exit 1; }
[ "$(lb list "$STORE" big 2> /dev/null | grep -c '^big ')" = 400 ] && ok "400 synthetic points of server big listed" ||
	bad "the big history is not all there"

# run POLICY...: the dry run's decisions for server h, as "KEEP|REMOVE ID: reasons" lines
decisions() { sed -n 's/^keep    \([^ ]*\) .*  \(.*\)$/KEEP \1: \2/p; s/^would remove \([^ ]*\) .*/REMOVE \1/p' "$1"; }
check() { # WANT-KEPT(space-separated ids) -- POLICY...
	want=$1; shift
	lb prune --dry-run "$@" "$STORE" h > dry.out 2> dry.err || { bad "prune --dry-run $*"; cat dry.err; return; }
	got=$(decisions dry.out | sed -n 's/^KEEP \([^:]*\):.*/\1/p' | grep -v "^$img$" | sort | tr '\n' ' ')
	exp=$(for i in $want; do echo "$i"; done | sort | tr '\n' ' ')
	[ "$got" = "$exp" ] && ok "$*: keeps $(echo "$got" | wc -w) ($(decisions dry.out | grep "^KEEP $h7" | cut -d: -f2-))" ||
		{ bad "$*: kept '$got', want '$exp'"; cat dry.out; }
}
check "$h7 $h6 $h5" --keep-daily 3
check "$h7 $h6" --keep-last 2 --keep-weekly 2
check "$h7 $h6" --keep-monthly 2
check "$h7 $h6 $h5 $h3 $h2" --keep-daily 5
check "$h7 $h6 $h5 $h4" --keep-hourly 4
check "$h7" --keep-within 9d
check "$h7 $h6" --keep-within 23d
check "$h7 $h6 $h5 $h0" --keep-yearly 3 --keep-weekly 3 --keep-daily 1
grep -q "^keep    $img .*image (images are not pruned)" dry.out && grep -q "^skip    h/20251231T000000Z-00000000 .*cannot be read" dry.out &&
	ok "images and unreadable manifests are left alone" || { bad "image or broken manifest"; cat dry.out; }
grep "^keep    $h7" dry.out

# The big history against the Python rules.
lb prune --dry-run --keep-last 3 --keep-hourly 5 --keep-daily 7 --keep-weekly 4 --keep-monthly 6 --keep-yearly 2 \
	"$STORE" big > big.out 2> big.err || { bad "prune big"; cat big.err; }
decisions big.out | sort > big.got
python3 - > big.want <<'EOF'
import datetime as d
pts = [d.datetime.strptime(l.strip(), "%Y-%m-%d %H:%M:%S") for l in open("big.times")]
pts.sort(reverse=True)
rules = [("last", 3, None), ("hourly", 5, "%Y%m%d%H"), ("daily", 7, "%Y%m%d"),
         ("weekly", 4, "iso"), ("monthly", 6, "%Y%m"), ("yearly", 2, "%Y")]
left = {r[0]: r[1] for r in rules}
last = {r[0]: None for r in rules}
for i, t in enumerate(pts):
    why = ["newest"] if i == 0 else []
    for name, n, fmt in rules:
        if not left[name]:
            continue
        b = i if fmt is None else ("%d%02d" % t.isocalendar()[:2] if fmt == "iso" else t.strftime(fmt))
        if b != last[name]:
            last[name] = b
            left[name] -= 1
            why.append("%s #%d" % (name, n - left[name]))
    pid = "big/%s-%08x" % (t.strftime("%Y%m%dT%H%M%SZ"), int(t.replace(tzinfo=d.timezone.utc).timestamp()) % 2**32)
    print("KEEP %s: %s" % (pid, ", ".join(why)) if why else "REMOVE %s" % pid)
EOF
sort -o big.want big.want
nk=$(grep -c ^KEEP big.want)
diff big.want big.got > big.diff && ok "400 points, six rules: all $nk kept and $((400 - nk)) removed as the Python rules say, with the same reasons" ||
	{ bad "the big history differs from the Python rules"; head -n 20 big.diff; }

# The real run.
before=$($AWS s3 ls "s3://lbprune/p/points/h/" | wc -l)
lb prune --keep-daily 3 "$STORE" h > real.out 2> real.err || { bad "prune --keep-daily 3"; cat real.err; }
gone=$(sed -n 's/^remove  \([^ ]*\) .*/\1/p' real.out | sort | tr '\n' ' ')
exp=$(printf '%s\n' "$h0" "$h1" "$h2" "$h3" "$h4" | sort | tr '\n' ' ')
after=$($AWS s3 ls "s3://lbprune/p/points/h/" | wc -l)
[ "$gone" = "$exp" ] && [ $((before - after)) = 5 ] && ok "prune --keep-daily 3 removed exactly $gone" ||
	{ bad "the real prune removed '$gone' ($before -> $after manifests)"; cat real.out; }
for k in $h0 $h1 $h2 $h3 $h4; do
	$AWS s3api head-object --bucket lbprune --key "p/points/$k.json" > /dev/null 2>&1 && bad "$k still there"
done
lb list "$STORE" h > list.out 2>/dev/null
grep -q "^h .*${h5#h/}" list.out && grep -q "^h .*${img#h/}" list.out && ! grep -q "${h1#h/}" list.out &&
	ok "list shows what was kept, and the image" || { bad "list after prune"; cat list.out; }
truncate -s 512K t.img
lb restore --yes --disk system=t.img "$STORE" "$h5" > r.out 2>&1 && cmp -s d.img t.img &&
	ok "a kept point restores byte-identical" || { bad "restore $h5"; cat r.out; }
lb prune "$STORE" h > none.out 2>&1; rc=$?
[ $rc = 2 ] && grep -q "at least one --keep" none.out && ok "prune without a rule is refused (exit 2)" || bad "prune without a rule: exit $rc"
exit $fail
