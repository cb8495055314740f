# curl 8.14: libcurl for HTTP and HTTPS over mbedTLS and nothing else. Every
# protocol and feature Lifeboat does not use is left out: less code facing the
# network. No CA *path* is compiled in: curl consults it even when a CA file
# is given, so a test with a wrong CA could pass by accident.
pkg_build() {
	"$SRC/configure" --host="$HOST" CC="$CC" CFLAGS="$CFLAGS" --prefix="$SYSROOT" \
		--disable-shared --enable-static --with-mbedtls="$SYSROOT" \
		--without-ca-path --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
		--enable-http --disable-ftp --disable-file --disable-ldap --disable-ldaps \
		--disable-rtsp --disable-dict --disable-telnet --disable-tftp --disable-pop3 \
		--disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
		--disable-ipfs --disable-websockets --disable-manual --disable-docs \
		--disable-ntlm --disable-kerberos-auth --disable-negotiate-auth --disable-sspi \
		--disable-cookies --disable-alt-svc --disable-hsts --disable-netrc \
		--enable-threaded-resolver --disable-unix-sockets \
		--without-libidn2 --without-libpsl --without-brotli --without-zstd --without-zlib \
		--without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-libssh2 \
		--without-libssh --without-librtmp --without-libgsasl --without-openssl
	make -j"$JOBS" -C lib
	make -C lib install
	make -C include install
	make install-pkgconfigDATA
}
