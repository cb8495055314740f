#!/bin/sh
# fetch-fallback: package/fetch against a signed Debian-style source archive
# served on 127.0.0.1 (never the real mirror). A throw-away GnuPG key signs
# the archive; the source package `lbtest` has versions 6.12.5-1, 6.12.6-1
# (listed in the index, never in the pool: a superseded upload), 6.12.7-1
# (the pin) and 6.13.1-1 (newer, outside FALLBACK_SERIES). Cases:
#   a  pinned version on the mirror: fetched, PINNED=yes
#   b  tarball cached, HTTP server stopped: still succeeds
#   c  pinned tarball gone from the pool: falls back to 6.12.5-1, says so
#   d  pool tarball differs from the signed index: refused, nothing kept,
#      and no fallback (a tampered mirror must not be masked by one)
#   e  pin's sha256 differs from the index: refused
#   f  InRelease signed by a key not in the keyring: apt refuses, no download
# Runs on a copy of package/ with its own pin and cache in $LB_TMP.
# timeout: 60
set -u

T=$LB_TMP
top=$T/top
pool=$T/mirror/debian/pool/main/l/lbtest
dists=$T/mirror/debian/dists/trixie
pin=$top/package/lbtest/lbtest.pin
http_pid=
fails=0

cleanup() {
	[ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
	[ -d "$T/gnupg" ] && GNUPGHOME=$T/gnupg gpgconf --kill all 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }
die() { echo "FAIL  setup: $*"; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# Everything here is installed by `make deps`: a missing tool is a failure.
for c in gpg gpg-agent gpgconf apt-ftparchive apt-get curl python3 xz tar; do
	command -v "$c" >/dev/null || die "$c missing (make deps)"
done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

# --- the archive key, and an impostor ---------------------------------------
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
for who in archive impostor; do
	gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
		--quick-gen-key "Lifeboat test $who <$who@lifeboat.invalid>" ed25519 sign never 2>/dev/null ||
		die "gpg --quick-gen-key $who"
done
gpg --batch --export archive@lifeboat.invalid > "$T/archive.gpg" || die "gpg --export"

# --- the source archive ------------------------------------------------------
mkdir -p "$pool" "$dists/main/source" "$T/src" "$T/aside" "$top"
cp -a "$LB_TOP/package" "$top/package" || die "copy package/"
rm -rf "$top/package/lbtest"; mkdir -p "$top/package/lbtest"

# dsc_files NAME...: the Checksums-Sha256 and Files fields for pool files.
dsc_files() {
	echo "Checksums-Sha256:"
	for f in "$@"; do echo " $(sha "$pool/$f") $(stat -c %s "$pool/$f") $f"; done
	echo "Files:"
	for f in "$@"; do echo " $(md5sum < "$pool/$f" | cut -d' ' -f1) $(stat -c %s "$pool/$f") $f"; done
}
for v in 6.12.5 6.12.6 6.12.7 6.13.1; do
	mkdir -p "$T/src/lbtest-$v/debian"
	echo "lbtest $v" > "$T/src/lbtest-$v/VERSION"
	echo "lbtest ($v-1) trixie; urgency=low" > "$T/src/lbtest-$v/debian/changelog"
	tar -C "$T/src" -cJf "$pool/lbtest_$v.orig.tar.xz" --exclude=debian "lbtest-$v" &&
		tar -C "$T/src/lbtest-$v" -cJf "$pool/lbtest_$v-1.debian.tar.xz" debian || die "tar $v"
	{
		printf 'Format: 3.0 (quilt)\nSource: lbtest\nBinary: lbtest\nArchitecture: all\n'
		printf 'Version: %s-1\nMaintainer: Lifeboat tests <tests@lifeboat.invalid>\n' "$v"
		printf 'Standards-Version: 4.7.0\n'
		dsc_files "lbtest_$v.orig.tar.xz" "lbtest_$v-1.debian.tar.xz"
	} > "$pool/lbtest_$v-1.dsc"
done
sha5=$(sha "$pool/lbtest_6.12.5.orig.tar.xz")
sha7=$(sha "$pool/lbtest_6.12.7.orig.tar.xz")
# Hash fields as in Debian's own indices: MD5 and SHA-256 only (apt, and so
# fetch, picks the strongest hash it is given).
ftparchive() { apt-ftparchive -q -o APT::FTPArchive::SHA1=false -o APT::FTPArchive::SHA512=false "$@"; }
(cd "$T/mirror/debian" && ftparchive sources pool > "$dists/main/source/Sources") 2>"$T/ftparchive.log" ||
	{ cat "$T/ftparchive.log"; die "apt-ftparchive sources"; }
[ "$(grep -c '^Package: lbtest' "$dists/main/source/Sources")" = 4 ] || die "Sources does not list 4 versions"
xz -k "$dists/main/source/Sources"
ftparchive -o APT::FTPArchive::Release::Origin=Lifeboat-test \
	-o APT::FTPArchive::Release::Suite=trixie -o APT::FTPArchive::Release::Codename=trixie \
	-o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures=source \
	release "$dists" > "$T/Release" && mv "$T/Release" "$dists/Release" || die "apt-ftparchive release"
gpg --batch --quiet --local-user archive@lifeboat.invalid --clearsign \
	-o "$dists/InRelease" "$dists/Release" || die "gpg --clearsign"
# Superseded upload: listed in the signed index, gone from the pool.
rm -f "$pool/lbtest_6.12.6.orig.tar.xz"

# The pin, as a package/<name>/<name>.pin (SHA256 replaced in case e).
write_pin() {
	cat > "$pin" <<PIN
NAME=lbtest
VERSION=6.12.7
DEBIAN_SOURCE=lbtest
DEBIAN_VERSION=6.12.7-1
DEBIAN_SUITE=trixie
TARBALL=lbtest_6.12.7.orig.tar.xz
SHA256=$1
LICENSE='MIT'
FALLBACK_SERIES=6.12.
PIN
}
write_pin "$sha7"

# --- the HTTP server -----------------------------------------------------------
# start_http [PORT]: port 0 lets the kernel choose; the server prints it.
start_http() {
	: > "$T/http.log"
	python3 -u -m http.server --bind 127.0.0.1 --directory "$T/mirror" "${1:-0}" >> "$T/http.log" 2>&1 &
	http_pid=$!
	i=0
	while [ $i -lt 50 ]; do
		port=$(sed -n 's/^Serving HTTP on .* port \([0-9][0-9]*\).*/\1/p' "$T/http.log" | head -n 1)
		[ -n "$port" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port/debian/dists/trixie/InRelease" 2>/dev/null && return 0
		kill -0 "$http_pid" 2>/dev/null || break
		sleep 0.1; i=$((i + 1))
	done
	cat "$T/http.log"; die "HTTP server did not come up"
}
stop_http() { kill "$http_pid" 2>/dev/null; wait "$http_pid" 2>/dev/null; http_pid=; }
start_http
echo "mirror on http://127.0.0.1:$port"

export LB_DEBIAN_MIRROR=http://127.0.0.1:$port
export LB_DEBIAN_KEYRING=$T/archive.gpg
export LB_DEBIAN_SUITES=trixie
export LB_CACHE=$T/cache
dl=$LB_CACHE/dl

# fetch CASE: run the copied package/fetch; rc in $rc, stderr in $T/CASE.err.
fetch() {
	"$top/package/fetch" lbtest > "$T/$1.out" 2> "$T/$1.err"
	rc=$?
	sed "s/^/  [$1] /" "$T/$1.err"
}
resolved() { sed -n "s/^$1=//p" "$dl/lbtest.resolved" 2>/dev/null; }

# --- a: pinned version on the mirror -----------------------------------------
fetch a
if [ $rc = 0 ] && [ "$(resolved PINNED)" = yes ] && [ "$(resolved DEBIAN_VERSION)" = 6.12.7-1 ] &&
	[ "$(sha "$dl/lbtest_6.12.7.orig.tar.xz" 2>/dev/null)" = "$sha7" ]; then
	ok "a: pinned 6.12.7-1 fetched, PINNED=yes, sha256 matches the pin"
else
	bad "a: rc=$rc PINNED=$(resolved PINNED) version=$(resolved DEBIAN_VERSION) files: $(ls "$dl" 2>/dev/null | tr '\n' ' ')"
fi

# --- b: cached, no server ----------------------------------------------------
# The apt indices go aside too: a cached, verified tarball needs neither the
# mirror nor apt, so any attempt to use them fails here.
stop_http
mv "$LB_CACHE/apt" "$T/aside/apt"
fetch b
if [ $rc = 0 ] && [ "$(resolved PINNED)" = yes ] && [ ! -s "$T/b.err" ] && [ ! -e "$LB_CACHE/apt" ]; then
	ok "b: cached tarball used with the HTTP server stopped and no apt indices"
else
	bad "b: rc=$rc PINNED=$(resolved PINNED) stderr: $(tr '\n' ' ' < "$T/b.err")"
fi
rm -rf "$LB_CACHE/apt"; mv "$T/aside/apt" "$LB_CACHE/apt"
start_http "$port"

# --- c: pinned tarball removed from the pool -----------------------------------
mv "$pool/lbtest_6.12.7.orig.tar.xz" "$T/aside/"
rm -rf "$dl"
fetch c
warn=$(grep warning "$T/c.err")
if [ $rc = 0 ] && [ "$(resolved PINNED)" = no ] && [ "$(resolved DEBIAN_VERSION)" = 6.12.5-1 ] &&
	[ "$(resolved VERSION)" = 6.12.5 ] && [ "$(resolved TARBALL)" = lbtest_6.12.5.orig.tar.xz ] &&
	[ "$(resolved SHA256)" = "$sha5" ] && [ "$(sha "$dl/lbtest_6.12.5.orig.tar.xz" 2>/dev/null)" = "$sha5" ] &&
	echo "$warn" | grep -q 6.12.7-1 && echo "$warn" | grep -q 6.12.5-1 &&
	[ ! -e "$dl/lbtest_6.12.6.orig.tar.xz" ] && [ ! -e "$dl/lbtest_6.13.1.orig.tar.xz" ]; then
	ok "c: fell back past missing 6.12.6-1 to 6.12.5-1 (not 6.13.1-1), PINNED=no, warned: $warn"
else
	bad "c: rc=$rc resolved: $(tr '\n' ' ' < "$dl/lbtest.resolved" 2>/dev/null) warning: $warn"
fi

# --- d: pool tarball does not match the signed index ---------------------------
echo "not what the index says" | xz > "$pool/lbtest_6.12.7.orig.tar.xz"
rm -rf "$dl"
fetch d
if [ $rc != 0 ] && grep -q 'error: lbtest_6.12.7.orig.tar.xz: SHA-256 .* does not match' "$T/d.err" &&
	[ -z "$(ls "$dl" 2>/dev/null)" ]; then
	ok "d: corrupt lbtest_6.12.7.orig.tar.xz refused (rc=$rc), dl/ empty, no fallback"
else
	bad "d: rc=$rc dl/: $(ls "$dl" 2>/dev/null | tr '\n' ' ') stderr: $(tr '\n' ' ' < "$T/d.err")"
fi
mv "$T/aside/lbtest_6.12.7.orig.tar.xz" "$pool/"

# --- e: the pin disagrees with the index ---------------------------------------
write_pin "$sha5"
rm -rf "$dl"
fetch e
if [ $rc != 0 ] && grep -q "error: lbtest: Debian's index lists lbtest_6.12.7.orig.tar.xz sha256 $sha7 .*the pin says .* $sha5" "$T/e.err" &&
	[ ! -e "$dl/lbtest.resolved" ]; then
	ok "e: pin sha256 differing from the index refused (rc=$rc)"
else
	bad "e: rc=$rc resolved: $(cat "$dl/lbtest.resolved" 2>/dev/null | tr '\n' ' ') stderr: $(tr '\n' ' ' < "$T/e.err")"
fi
write_pin "$sha7"

# --- f: InRelease signed by a key not in the keyring ---------------------------
gpg --batch --quiet --yes --local-user impostor@lifeboat.invalid --clearsign \
	-o "$dists/InRelease" "$dists/Release" || die "gpg --clearsign (impostor)"
export LB_CACHE=$T/cache-f
dl=$LB_CACHE/dl
: > "$T/http.log"	# the server appends: requests from here on are f's
fetch f
if [ $rc != 0 ] && grep -q 'NO_PUBKEY\|not signed\|signatures' "$T/f.err" &&
	! grep -q '\.orig\.tar' "$T/http.log" && [ -z "$(ls "$dl" 2>/dev/null)" ]; then
	ok "f: InRelease signed by the impostor key refused by apt (rc=$rc), nothing downloaded"
else
	bad "f: rc=$rc dl/: $(ls "$dl" 2>/dev/null | tr '\n' ' ') stderr: $(tr '\n' ' ' < "$T/f.err")"
fi

[ $fails = 0 ] || { echo "$fails case(s) failed"; exit 1; }
echo "all cases passed"
