#!/usr/bin/env bash
# NEON check on an x86-64 host: cross-builds kernels/ and the kernel suites for aarch64
# (tests/kernels/cross, cmake/toolchain-aarch64-linux-gnu.cmake) and runs them under qemu-user, where
# every NEON kernel is compared with the scalar reference (simd_kernels_test, fast_scan_test, ...).
#   scripts/neon-cross-test.sh [BUILD_DIR]     (default build-neon; CTest's neon_cross_test passes
#                                              <build>/neon-cross, so the cross build is cached there)
# Needs g++-aarch64-linux-gnu and qemu-user (scripts/install-deps.sh installs both) and the host's Boost
# headers (libboost-test-dev). Without the cross tools it prints why and exits 77, which CTest reports as
# skipped (SKIP_RETURN_CODE). Env: JOBS (default nproc), BOOST_INCLUDE_DIR (default /usr/include),
# CTEST_ARGS (extra ctest flags for the cross suites, e.g. "-R fast_scan").
# Incremental: configures once, then rebuilds only what changed (through ccache when CCACHE_DIR is set).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-neon}"
jobs="${JOBS:-$(nproc)}"
boost="${BOOST_INCLUDE_DIR:-/usr/include}"
sysroot=/usr/aarch64-linux-gnu

missing=()
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || missing+=("aarch64-linux-gnu-g++ (apt: g++-aarch64-linux-gnu)")
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=("qemu-aarch64 (apt: qemu-user)")
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || missing+=("$sysroot/lib/ld-linux-aarch64.so.1 (apt: libc6-arm64-cross)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "neon-cross-test: SKIPPED, the NEON kernels are not checked: missing ${missing[*]}."
  echo "neon-cross-test: install them with scripts/install-deps.sh (Debian 12)."
  exit 77
fi
if [ ! -e "$boost/boost/test/included/unit_test.hpp" ]; then
  echo "neon-cross-test: no Boost.Test headers under $boost (libboost-test-dev; set BOOST_INCLUDE_DIR)" >&2
  exit 1
fi

if [ ! -e "$build/CMakeCache.txt" ]; then
  launcher=()
  # ccache only where the caller set one up (CCACHE_DIR), as the helpers' builds do; CI builds without
  if [ -n "${CCACHE_DIR:-}" ] && command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root/tests/kernels/cross" -B "$build" \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIVFSTREAM_BOOST_INCLUDE_DIR="$boost" "${launcher[@]}"
fi
cmake --build "$build" -j "$jobs"
echo "neon-cross-test: running the aarch64 suites under $(qemu-aarch64 --version | head -n 1)"
# IVFSTREAM_SIMD from the caller would change what the suites compare; each entry sets its own
# shellcheck disable=SC2086
env -u IVFSTREAM_SIMD ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 900 ${CTEST_ARGS:-}
