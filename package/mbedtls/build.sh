# mbedTLS 3.6: static libraries only, no programs, no tests.
# Sourced by package/build with SRC, BUILD, SYSROOT, CC, CFLAGS, JOBS set;
# cwd is BUILD.
pkg_build() {
	# Configuration lives in a copy so the unpacked tree stays pristine.
	# AES-NI and PCLMUL (MBEDTLS_AESNI_C, on by default, chosen at run time by
	# CPUID) carry AES-GCM at ~240 MB/s per core here instead of ~80 MB/s.
	# Threading: lifeboat and curl use mbedTLS from several threads at once.
	cp "$SRC/include/mbedtls/mbedtls_config.h" config.h
	python3 "$SRC/scripts/config.py" -f config.h set MBEDTLS_AESNI_C
	python3 "$SRC/scripts/config.py" -f config.h set MBEDTLS_THREADING_C
	python3 "$SRC/scripts/config.py" -f config.h set MBEDTLS_THREADING_PTHREAD
	grep -q '^#define MBEDTLS_AESNI_C' config.h
	cmake -S "$SRC" -B obj -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC" \
		-DCMAKE_C_FLAGS="$CFLAGS -DMBEDTLS_CONFIG_FILE='\"$PWD/config.h\"'" \
		-DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF \
		-DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
		-DCMAKE_INSTALL_PREFIX="$SYSROOT" -DCMAKE_INSTALL_LIBDIR=lib
	cmake --build obj -j"$JOBS"
	cmake --install obj
	# The installed headers must carry the same configuration.
	cp config.h "$SYSROOT/include/mbedtls/mbedtls_config.h"
}
