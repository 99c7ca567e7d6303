#!/usr/bin/env bash
# Configures build-san/ (clang, AddressSanitizer and UndefinedBehaviorSanitizer on every file, any
# UB report fatal, libFuzzer coverage instrumentation, the fuzz targets on) and builds only the
# TARGETS given. Shared by scripts/test-sanitizers.sh and scripts/fuzz.sh, so the instrumented
# engine is compiled once for both. -O1 -g: quick to compile, readable stacks.
# Needs clang and libclang-rt-dev (scripts/setup-debian.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${MOEVK_SAN_BUILD:-build-san}"
if ! command -v clang++ >/dev/null; then
  echo "sanitizer-build: clang++ not found; run scripts/setup-debian.sh" >&2
  exit 1
fi
san="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link"
if [ ! -f "$out/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DMOEVK_FUZZ=ON >/dev/null
fi
cmake --build "$out" -j "${MOEVK_JOBS:-2}" --target "$@"
