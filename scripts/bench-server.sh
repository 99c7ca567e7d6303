#!/usr/bin/env bash
# Benchmark (not a test): moe-server's aggregate generation speed with 1, 2, 4 and 8 concurrent
# clients. One server with 8 slots; after a warm-up that gives every slot the prompt, each round
# sends N requests at once (text completions, TOKENS tokens each with ignore_eos, distinct seeds)
# and divides the completion tokens all of them got by the round's wall time. Prints a table and
# a JSON line.
#
#   scripts/bench-server.sh [MODEL.gguf] [TOKENS] [BUILD_DIR]   (default: the demo model, 64, build)
#
# The server moves its active slots with continuous batching (one forward step carries the next
# token of every generating slot), so the aggregate shows what batching gains over one client.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:-$root/assets/moe-vk-demo.gguf}"
tokens="${2:-64}"
build="$(cd "${3:-$root/build}" && pwd)"
server="$build/apps/moe-server/moe-server"
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "bench-server: $tool not found; run scripts/setup-debian.sh" >&2; exit 1; }
done
icd=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${MOEVK_DEVICE:-}" ] && [ -f "$icd" ]; then export VK_ICD_FILENAMES="$icd"; fi
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"$server" -m "$model" --port 0 --parallel 8 --queue 8 --ctx-size 1024 >"$work/server.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 600); do
  url=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/server.log" | sed 's/listening on //' || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "bench-server: the server did not start" >&2; exit 1; }
device=$(grep -m1 '^on ' "$work/server.log" || true)

# request SEED OUT: one text completion; its JSON reply goes to OUT. The prompt is short and the
# same for all, so once a slot has served it, a request there evaluates one prompt token and the
# rounds measure generation, not prompt processing (a CPU device takes minutes over prompts of a
# Mixtral-sized file).
request() {
  curl -sf "$url/v1/completions" -H 'Content-Type: application/json' -o "$2" -d "$(jq -nc \
    --argjson seed "$1" --argjson n "$tokens" \
    '{model: "bench", prompt: "The licence", max_tokens: $n, seed: $seed, temperature: 0.8, ignore_eos: true}')"
}

# Warm-up: one request on each of the 8 slots at once, so every slot holds the prompt.
warm=()
for i in $(seq 1 8); do
  request "$i" "$work/warm$i.json" &
  warm+=($!)
done
for c in "${warm[@]}"; do wait "$c" || { echo "bench-server: a warm-up request failed" >&2; exit 1; }; done
printf '%-8s %10s %10s %14s\n' clients tokens seconds "tokens/s"
json="[]"
for n in 1 2 4 8; do
  start=$(date +%s.%N)
  clients=()
  for i in $(seq 1 "$n"); do
    request "$i" "$work/r$n-$i.json" &
    clients+=($!)
  done
  for c in "${clients[@]}"; do wait "$c" || { echo "bench-server: a request of round $n failed" >&2; exit 1; }; done
  end=$(date +%s.%N)
  total=0
  for i in $(seq 1 "$n"); do
    got=$(jq '.usage.completion_tokens' "$work/r$n-$i.json") || { echo "bench-server: request $i of $n failed" >&2; exit 1; }
    total=$((total + got))
  done
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  rate=$(awk -v t="$total" -v s="$seconds" 'BEGIN { printf "%.3f", t / s }')
  printf '%-8s %10d %10.2f %14.2f\n' "$n" "$total" "$seconds" "$rate"
  json=$(jq -c --argjson n "$n" --argjson t "$total" --argjson s "$seconds" --argjson r "$rate" \
    '. + [{clients: $n, tokens: $t, seconds: $s, tokens_per_second: $r}]' <<<"$json")
done
echo "${device:+$device}"
jq -nc --arg model "$(basename "$model")" --argjson rounds "$json" '{model: $model, rounds: $rounds}'
