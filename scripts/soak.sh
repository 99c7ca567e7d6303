#!/usr/bin/env bash
# Soak benchmark (not a test: run by hand, it takes minutes on lavapipe): moe-soak generates
# TOKENS tokens (default 10000) on the demo model in a context of 512, shifting, rewinding and
# resetting it each time it fills, once with every expert resident and once paged under a VRAM
# budget that gives half of the experts a slot. It prints resident (RSS) and device memory every
# tenth of the run and fails if either grows after the first report (the KV cache and every
# buffer are allocated when the session is made; RSS may move by at most 32 MiB).
#   scripts/soak.sh [TOKENS] [BUILD_DIR]      e.g. scripts/soak.sh 1000 for a quick check
set -euo pipefail
cd "$(dirname "$0")/.."
tokens="${1:-10000}"
build="${2:-build}"
model="${MOEVK_SOAK_MODEL:-assets/moe-vk-demo.gguf}"
cmake --build "$build" -j 2 --target moe-soak >/dev/null
every=$(( tokens / 10 > 0 ? tokens / 10 : 1 ))
status=0
for budget in "" "50%"; do
  start=$SECONDS
  "$build/tools/moe-soak/moe-soak" -m "$model" --tokens "$tokens" --ctx 512 --every "$every" \
    --vram-budget "$budget" || status=1
  echo "soak: $((SECONDS - start)) s"
done
exit $status
