#!/usr/bin/env bash
# Side by side: llama.cpp's Vulkan backend (node-llama-cpp's prebuilt binary from npm) and moe-vk
# (moe-bench's model mode) on the same GGUF files and the same Vulkan device, prompt and
# generation tokens/s of both and their ratio, as a table and as JSON.
#
#   scripts/compare-llamacpp.sh [--prompt 256] [--gen 64] [--rounds 3] [--device-index 0]
#                               [--json out.json] [--build build] MODEL.gguf [MORE.gguf ...]
#
# Per file: one short warm-up run of each engine (pipelines, page cache), then --rounds rounds
# taking turns, llama.cpp then moe-vk; each engine's figure is the median over the rounds. Both
# time the same synthetic prompt ids from an empty cache (to the first sampled token) and then
# greedy generation one token at a time, leaving out the first generated step.
#
# node-llama-cpp is installed pinned into build/llamacpp (ignored by git). llama.cpp must run on
# the Vulkan device moe-vk runs on: the script names it to ggml-vulkan (GGML_VK_VISIBLE_DEVICES,
# without which ggml-vulkan skips CPU-type devices such as lavapipe) and refuses a run whose
# log does not show every layer on that device (otherwise llama.cpp silently falls back to its
# CPU backend). Flash attention is off (it crashes on lavapipe; moe-vk has none).
set -euo pipefail

NODE_LLAMA_CPP_VERSION=3.22.1
root=$(cd "$(dirname "$0")/.." && pwd)
prompt=256 gen=64 rounds=3 device=0 json="" build="$root/build"
files=()
while [ $# -gt 0 ]; do
    case "$1" in
        --prompt) prompt=$2; shift 2 ;;
        --gen) gen=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --device-index) device=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "compare-llamacpp: unknown option $1" >&2; exit 64 ;;
        *) files+=("$1"); shift ;;
    esac
done
[ ${#files[@]} -gt 0 ] || { echo "usage: $0 [options] MODEL.gguf [MORE.gguf ...]" >&2; exit 64; }
bench="$build/apps/moe-bench/moe-bench"
[ -x "$bench" ] || { echo "compare-llamacpp: $bench is missing: build moe-bench first (README.md)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "compare-llamacpp: needs node and npm (Node 20 or later)" >&2; exit 1; }

# node-llama-cpp and its prebuilt Vulkan binary, pinned. The postinstall step is skipped: it
# would try to download or build llama.cpp from source when no prebuilt binary fits.
llamacpp="$build/llamacpp"
installed=$(node -p "require('$llamacpp/node_modules/node-llama-cpp/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$NODE_LLAMA_CPP_VERSION" ] || [ ! -d "$llamacpp/node_modules/@node-llama-cpp/linux-x64-vulkan" ]; then
    echo "installing node-llama-cpp $NODE_LLAMA_CPP_VERSION into $llamacpp" >&2
    mkdir -p "$llamacpp"
    [ -f "$llamacpp/package.json" ] || echo '{"private": true}' > "$llamacpp/package.json"
    if ! (cd "$llamacpp" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --ignore-scripts \
            "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" "@node-llama-cpp/linux-x64-vulkan@$NODE_LLAMA_CPP_VERSION" >&2); then
        echo "compare-llamacpp: could not install node-llama-cpp from npm (is the registry reachable? npm view node-llama-cpp version)" >&2
        exit 1
    fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_llamacpp() {  # file prompt gen out.json
    GGML_VK_VISIBLE_DEVICES=$device LLAMACPP_DIR="$llamacpp" \
        node "$root/scripts/llamacpp-bench.mjs" "$1" --prompt "$2" --gen "$3" --repeats 1 > "$4" 2> "$4.log" ||
        { echo "compare-llamacpp: llama.cpp run failed on $1:" >&2; tail -5 "$4.log" >&2; exit 1; }
}
run_moevk() {  # file prompt gen out.json
    "$bench" --device-index "$device" --model "$1" --prompt-tokens "$2" --gen-tokens "$3" --min-time 0 \
        --json "$4" > "$4.log" 2>&1 ||
        { echo "compare-llamacpp: moe-bench run failed on $1:" >&2; tail -5 "$4.log" >&2; exit 1; }
}

for f in "${files[@]}"; do
    [ -r "$f" ] || { echo "compare-llamacpp: cannot read $f" >&2; exit 1; }
    stem=$(basename "$f" .gguf)
    echo "$stem: warm-up" >&2
    warm=$(( prompt < 16 ? prompt : 16 ))
    run_llamacpp "$f" "$warm" 4 "$tmp/$stem.warm.llama.json"
    run_moevk "$f" "$warm" 4 "$tmp/$stem.warm.moevk.json"
    for r in $(seq 1 "$rounds"); do
        echo "$stem: round $r of $rounds (llama.cpp, then moe-vk)" >&2
        run_llamacpp "$f" "$prompt" "$gen" "$tmp/$stem.$r.llama.json"
        run_moevk "$f" "$prompt" "$gen" "$tmp/$stem.$r.moevk.json"
    done
done

# The table and the JSON; refuses when the two engines did not name the same device.
node - "$tmp" "$rounds" "$json" "${files[@]}" <<'EOF'
const fs = require("fs"), path = require("path");
const [tmp, rounds, jsonPath, ...files] = process.argv.slice(2);
const median = (v) => { const s = [...v].sort((a, b) => a - b), n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const out = {rounds: Number(rounds), models: []};
for (const f of files) {
    const stem = path.basename(f, ".gguf");
    const l = [], m = [];
    for (let r = 1; r <= Number(rounds); ++r) {
        l.push(JSON.parse(fs.readFileSync(`${tmp}/${stem}.${r}.llama.json`)));
        m.push(JSON.parse(fs.readFileSync(`${tmp}/${stem}.${r}.moevk.json`)));
    }
    const moevkDevice = m[0].device, llamaDevice = l[0].devices[0];
    if (moevkDevice !== llamaDevice) {
        console.error(`compare-llamacpp: refusing: moe-vk ran on "${moevkDevice}", llama.cpp on "${llamaDevice}"`);
        process.exit(2);
    }
    out.device = moevkDevice;
    out.llamacpp = l[0].binding;
    const mm = m.map((j) => j.models[0]);
    const row = {
        model: stem, path: f, description: mm[0].description, file_bytes: mm[0].file_bytes,
        prompt_tokens: mm[0].prompt_tokens, generated_tokens: mm[0].generated_tokens,
        llamacpp: {prompt_tps: median(l.map((j) => j.prompt_tps)), gen_tps: median(l.map((j) => j.gen_tps)),
                   offloaded_layers: l[0].offloaded_layers, device: l[0].device_log, flash_attention: l[0].flash_attention},
        moevk: {prompt_tps: median(mm.map((r) => r.prompt_tokens / r.prompt_seconds.median)),
                gen_tps: median(mm.map((r) => 1 / r.generate_seconds_per_token.median))},
    };
    row.prompt_ratio = row.moevk.prompt_tps / row.llamacpp.prompt_tps;
    row.gen_ratio = row.moevk.gen_tps / row.llamacpp.gen_tps;
    row.rounds = {llamacpp: l.map((j) => [j.prompt_tps, j.gen_tps]),
                  moevk: mm.map((r) => [r.prompt_tokens / r.prompt_seconds.median, 1 / r.generate_seconds_per_token.median])};
    out.models.push(row);
}
const fmt = (x) => x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
console.log(`device: ${out.device}; llama.cpp: ${out.llamacpp} (Vulkan, flash attention off); median of ${rounds} alternating rounds\n`);
console.log("| model | file MB | prompt | llama.cpp prompt tok/s | moe-vk prompt tok/s | ratio | gen | llama.cpp gen tok/s | moe-vk gen tok/s | ratio |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of out.models)
    console.log(`| ${r.model} | ${(r.file_bytes / 1e6).toFixed(1)} | ${r.prompt_tokens} | ${fmt(r.llamacpp.prompt_tps)} | ${fmt(r.moevk.prompt_tps)} | ${r.prompt_ratio.toFixed(2)} | ${r.generated_tokens} | ${fmt(r.llamacpp.gen_tps)} | ${fmt(r.moevk.gen_tps)} | ${r.gen_ratio.toFixed(2)} |`);
console.log("\nratio: moe-vk / llama.cpp (above 1: moe-vk is faster)\n");
const text = JSON.stringify(out, null, 2);
if (jsonPath) fs.writeFileSync(jsonPath, text + "\n");
console.log(text);
EOF
