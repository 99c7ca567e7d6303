#!/usr/bin/env bash
# Reference fixtures from llama.cpp for one architecture: tiny random models in the real GGUF
# layout, and for each model file and prompt a JSON of what llama.cpp's CPU backend computed.
#
#   scripts/reference/make-fixtures.sh ARCH [OUT_DIR]     (ARCH: gpt-oss; OUT_DIR: tests/fixtures/ARCH)
#
# 1. node-llama-cpp (pinned, as scripts/compare-llamacpp.sh pins it) into build/reference/npm, for
#    the llama.cpp source it ships as a git bundle, cloned into build/reference/llama.cpp;
# 2. libllama and llama-quantize (CPU backend only) in build/reference/llama-build, and
#    reference-dump (dump.cpp) against libllama;
# 3. write_model.py writes ARCH's F16 file, llama-quantize makes the quantized ones;
# 4. reference-dump runs every file on every prompt into OUT_DIR/<file>.pN.json;
# 5. exact.py computes the same prompts in float64 on the dequantized weights into
#    OUT_DIR/<file>.pN.exact.json and checks llama.cpp's dump against it.
# Reuses what is already there (npm install, clone, build), so a rerun only redoes steps 3 and 4,
# which give the same bytes again. Needs: git, cmake, g++, make, node and npm (registry reachable
# on the first run), python3 with numpy (Debian: python3-numpy). Environment: REFERENCE_BUILD (the
# build folder), JOBS (parallel compile jobs, default 2), PYTHON (default /usr/bin/python3).
set -euo pipefail

NODE_LLAMA_CPP_VERSION=3.22.1
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/scripts/reference"
usage() { sed -n '5p' "$0" | sed 's/^#   /usage: /' >&2; exit 64; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
arch=$1
out=${2:-$root/tests/fixtures/$arch}
build=${REFERENCE_BUILD:-$root/build/reference}
jobs=${JOBS:-2}
python=${PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=python3
say() { echo "make-fixtures: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- per-architecture: file stem, donor vocabulary, quantized types, prompts, routing gap floor ----
donor="$root/../shared/fixtures/models/qwen3moe-tiny-f16.gguf"
case "$arch" in
    gpt-oss)
        stem=gpt-oss-tiny
        quants=(MXFP4_MOE)
        prompts=(
            "This program is free software: you can redistribute it and/or modify it under the terms of the GNU General Public License"
            "<|start|>user<|message|>Is this program free software?<|end|><|start|>assistant<|channel|>final<|message|>"
        )
        min_gap=0.05
        ;;
    *) die "unknown architecture '$arch' (known: gpt-oss)" ;;
esac
[ -r "$donor" ] || die "the donor vocabulary $donor is missing (the shared fixtures sit beside the checkout)"

command -v node >/dev/null && command -v npm >/dev/null || die "needs node and npm"
for tool in git cmake g++ make; do command -v $tool >/dev/null || die "needs $tool"; done
"$python" -c 'import numpy' 2>/dev/null || die "needs numpy for $python (Debian: apt-get install python3-numpy)"

# ---- 1. node-llama-cpp, pinned, for its llama.cpp source bundle ----
npmdir="$build/npm"
pkg="$npmdir/node_modules/node-llama-cpp"
installed=$(node -p "require('$pkg/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$NODE_LLAMA_CPP_VERSION" ]; then
    say "installing node-llama-cpp $NODE_LLAMA_CPP_VERSION into $npmdir"
    mkdir -p "$npmdir"
    [ -f "$npmdir/package.json" ] || echo '{"private": true}' > "$npmdir/package.json"
    (cd "$npmdir" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --ignore-scripts \
        "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >&2) ||
        die "could not install node-llama-cpp from npm (is the registry reachable? npm view node-llama-cpp version)"
fi
bundle="$pkg/llama/gitRelease.bundle"
[ -f "$bundle" ] || die "$bundle is missing"
release=$(node -p "require('$pkg/llama/llama.cpp.info.json').tag")
commit=$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }')
[ -n "$commit" ] || die "cannot read the bundle's HEAD"
src="$build/llama.cpp"
if [ "$(git -C "$src" rev-parse HEAD 2>/dev/null || true)" != "$commit" ]; then
    say "cloning llama.cpp $release ($commit) from the bundle"
    rm -rf "$src"
    git -c advice.detachedHead=false clone -q "$bundle" "$src"  # checks out the bundle's HEAD
fi

# ---- 2. libllama, llama-quantize (CPU only, no tests/examples/server) and reference-dump ----
lb="$build/llama-build"
cmake -S "$src" -B "$lb" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DGGML_CCACHE=OFF -DGGML_BACKEND_DL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF > "$build/cmake.log" 2>&1 ||
    { tail -20 "$build/cmake.log" >&2; die "configuring llama.cpp failed (log: $build/cmake.log)"; }
say "building libllama and llama-quantize (-j$jobs; the first build takes a while)"
cmake --build "$lb" --target llama llama-quantize -j"$jobs" > "$build/build.log" 2>&1 ||
    { tail -20 "$build/build.log" >&2; die "building llama.cpp failed (log: $build/build.log)"; }
dump="$build/reference-dump"
if [ ! -x "$dump" ] || [ "$here/dump.cpp" -nt "$dump" ] || [ "$lb/bin/libllama.so" -nt "$dump" ]; then
    say "building reference-dump"
    g++ -std=c++20 -O2 -Wall -Wextra -I"$src/include" -I"$src/ggml/include" "$here/dump.cpp" -o "$dump" \
        -L"$lb/bin" -lllama -lggml -lggml-base -Wl,-rpath,"$lb/bin"
fi

# ---- 3. the models ----
mkdir -p "$out"
out=$(cd "$out" && pwd)
rel_out=$(realpath --relative-to="$root" "$out")
command_text="scripts/reference/make-fixtures.sh $arch $rel_out"
files=("$stem-f16.gguf")
say "writing $out/$stem-f16.gguf"
PYTHONPATH="$src/gguf-py" "$python" "$here/write_model.py" "$arch" "$out/$stem-f16.gguf" --vocab "$donor"
for q in "${quants[@]}"; do
    lower=${q%%_*}  # MXFP4_MOE -> mxfp4
    name="$stem-${lower,,}.gguf"
    say "quantizing to $q: $out/$name"
    "$lb/bin/llama-quantize" "$out/$stem-f16.gguf" "$out/$name" "$q" 1 > "$build/quantize-$name.log" 2>&1 ||
        { tail -20 "$build/quantize-$name.log" >&2; die "llama-quantize $q failed"; }
    files+=("$name")
done

# ---- 4. the dumps (run from OUT_DIR so the recorded command names files, not this machine's paths) ----
status=0
for f in "${files[@]}"; do
    for i in "${!prompts[@]}"; do
        json="${f%.gguf}.p$((i + 1)).json"
        (cd "$out" && "$dump" --model "$f" --prompt "${prompts[$i]}" --out "$json" --greedy 24 --threads 1 \
            --min-gap "$min_gap" --llamacpp-release "$release" --llamacpp-commit "$commit" \
            --command "$command_text") || status=$?
    done
done
[ "$status" -eq 0 ] || die "a dump failed or its routing was not decisive (status $status)"

# ---- 5. the exact float64 pass, and the check of llama.cpp against it ----
for f in "${files[@]}"; do
    for i in "${!prompts[@]}"; do
        stem_p="$out/${f%.gguf}.p$((i + 1))"
        PYTHONPATH="$src/gguf-py" "$python" "$here/exact.py" "$arch" "$out/$f" "$stem_p.json" "$stem_p.exact.json" ||
            status=$?
    done
done
[ "$status" -eq 0 ] || die "llama.cpp and the exact pass disagree (status $status)"
say "done: llama.cpp $release ($commit), files in $out"
