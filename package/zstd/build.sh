# zstd 1.5.7: the static library with multi-threading, no programs.
pkg_build() {
	cmake -S "$SRC/build/cmake" -B obj -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC" \
		-DCMAKE_C_FLAGS="$CFLAGS" -DZSTD_BUILD_PROGRAMS=OFF -DZSTD_BUILD_TESTS=OFF \
		-DZSTD_BUILD_SHARED=OFF -DZSTD_BUILD_STATIC=ON -DZSTD_MULTITHREAD_SUPPORT=ON \
		-DZSTD_LEGACY_SUPPORT=OFF \
		-DCMAKE_INSTALL_PREFIX="$SYSROOT" -DCMAKE_INSTALL_LIBDIR=lib
	cmake --build obj -j"$JOBS"
	cmake --install obj
}
