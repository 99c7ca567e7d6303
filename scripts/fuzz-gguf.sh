#!/usr/bin/env bash
# Fuzzes the GGUF parser: builds tests/fuzz/gguf_fuzz.cpp with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer into build-fuzz/, and runs it for SECONDS (default 60) over a
# corpus seeded with small files from the Writer. Fails on any crash, sanitizer report, leak or
# oversized allocation; the input that caused it is left in build-fuzz/artifacts/.
# Needs clang and libclang-rt-dev (scripts/setup-debian.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out=build-fuzz
cxx="${FUZZ_CXX:-clang++}"

if ! command -v "$cxx" >/dev/null; then
  echo "fuzz-gguf: $cxx not found; run scripts/setup-debian.sh" >&2
  exit 1
fi

# Only the parser and what it needs: error.cpp pulls in volk.h for VkResult, but no Vulkan calls.
sources=(engine/gguf/*.cpp engine/quant/ggml_types.cpp engine/gpu/error.cpp)
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -Iengine -DVK_NO_PROTOTYPES
       -Wall -Wextra -fsanitize=address,undefined -fno-sanitize-recover=all)

mkdir -p "$out/corpus" "$out/artifacts"
"$cxx" "${flags[@]}" -fsanitize=fuzzer tests/fuzz/gguf_fuzz.cpp "${sources[@]}" -o "$out/gguf_fuzz"
"$cxx" "${flags[@]}" tests/fuzz/gguf_seeds.cpp "${sources[@]}" -o "$out/gguf_seeds"

# Seeds are rewritten each run; what the fuzzer found in earlier runs stays in the corpus.
"$out/gguf_seeds" "$out/corpus"

"$out/gguf_fuzz" "$out/corpus" \
  -dict=tests/fuzz/gguf.dict \
  -max_total_time="$seconds" \
  -max_len=8192 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -artifact_prefix="$out/artifacts/" \
  -print_final_stats=1
