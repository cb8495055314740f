# util-linux 2.41: libblkid alone (partition tables, file-system types,
# labels and UUIDs for `lifeboat disks`).
pkg_build() {
	"$SRC/configure" --host="$HOST" CC="$CC" CFLAGS="$CFLAGS" --prefix="$SYSROOT" \
		--disable-all-programs --enable-libblkid --disable-shared --enable-static \
		--disable-nls --disable-bash-completion --disable-asciidoc --disable-poman \
		--without-python --without-systemd --without-udev --without-selinux \
		--without-audit --without-readline --without-ncursesw --without-ncurses \
		--without-tinfo --without-cryptsetup --without-econf
	make -j"$JOBS"
	make install
}
