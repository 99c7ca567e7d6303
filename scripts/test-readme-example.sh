#!/usr/bin/env bash
# Compiles and runs the C program of the README's Embedding section (the ```c block after the
# line <!-- embedding-example -->) against a build tree, as the README says it compiles: plain
# C11 and the library, nothing else. ctest runs it as `readme_embedding_example`.
#
#   scripts/test-readme-example.sh BUILD_DIR
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "$1" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/moevk-readme.XXXXXX")"
trap 'rm -rf "$work"' EXIT
awk '/<!-- embedding-example -->/ {armed = 1; next}
     armed && /^```c$/ {inside = 1; next}
     inside && /^```$/ {exit}
     inside {print}' "$root/README.md" >"$work/hello.c"
[ -s "$work/hello.c" ] || { echo "no C example after <!-- embedding-example --> in README.md" >&2; exit 1; }
lib="$(dirname "$(find "$build/engine/api" -name 'libmoevk.so' -print -quit)")"
cc -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter -I"$root/include" "$work/hello.c" -L"$lib" -lmoevk \
  -Wl,-rpath,"$lib" -o "$work/hello"
out="$("$work/hello" "$root/assets/moe-vk-demo.gguf" "Who are you?" 2>"$work/stderr")" || true
if [ -s "$work/stderr" ] || [ -z "$out" ]; then
  echo "the README example printed no reply; stderr:" >&2
  cat "$work/stderr" >&2
  exit 1
fi
echo "README example replied: $out"
