#!/usr/bin/env bash
# Runs libFuzzer targets (tests/fuzz) under AddressSanitizer and UndefinedBehaviorSanitizer:
#   scripts/fuzz.sh TARGET [SECONDS]     one target, SECONDS (default 60)
#   scripts/fuzz.sh all [SECONDS]        every target, SECONDS each (CI: 20)
# Targets: gguf (the GGUF parser), model (binding a file to a model config and its tensors, as
# moevk_model_load does before the device), vocab (fuzzed tokenizer.ggml.* metadata to a
# tokenizer), tokenize (fuzzed text through the real fixture tokenizers), chat (chat template
# detection, rendering, stop strings). The binaries are built in build-san/ (sanitizer-build.sh);
# each target's corpus is build-fuzz/TARGET/corpus, seeded every run from the fixtures, and keeps
# what earlier runs found. Fails on any crash, sanitizer report, leak, hang (10 s an input) or
# allocation past 2 GiB; the input that caused it is left in build-fuzz/TARGET/artifacts/.
# MOEVK_FUZZ_SEED fixes libFuzzer's seed (CI sets it, so that a CI run repeats the mutations a
# run here made and a finding reproduces); without it every run explores anew.
set -euo pipefail
cd "$(dirname "$0")/.."
all_targets=(gguf model vocab tokenize chat)
target="${1:?usage: scripts/fuzz.sh gguf|model|vocab|tokenize|chat|all [SECONDS]}"
seconds="${2:-60}"
if [ "$target" = all ]; then targets=("${all_targets[@]}"); else targets=("$target"); fi
for t in "${targets[@]}"; do
  case " ${all_targets[*]} " in *" $t "*) ;; *) echo "fuzz: no target '$t' (${all_targets[*]})" >&2; exit 2 ;; esac
done

build="${MOEVK_SAN_BUILD:-build-san}"
bins=()
for t in "${targets[@]}"; do bins+=("${t}_fuzz"); done
./scripts/sanitizer-build.sh "${bins[@]}" gguf_seeds fuzz_seeds

# Inputs past these lengths are cut: the seeds fit, and shorter inputs mutate faster.
declare -A max_len=([gguf]=8192 [model]=131072 [vocab]=65536 [tokenize]=4096 [chat]=16384)
for t in "${targets[@]}"; do
  dir="build-fuzz/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [ "$t" = gguf ]; then
    "$build/tests/fuzz/gguf_seeds" "$dir/corpus" >/dev/null
  else
    "$build/tests/fuzz/fuzz_seeds" "$t" "$dir/corpus"
  fi
  dict=()
  seed=()
  if [ -n "${MOEVK_FUZZ_SEED:-}" ]; then seed=(-seed="$MOEVK_FUZZ_SEED"); fi
  if [ -f "tests/fuzz/$t.dict" ]; then dict=(-dict="tests/fuzz/$t.dict"); fi
  echo "fuzz: $t for ${seconds} s ($(ls "$dir/corpus" | wc -l) inputs in the corpus)"
  # The progress lines are dropped from the log (the final stats and any report stay).
  set +e
  "$build/tests/fuzz/${t}_fuzz" "$dir/corpus" "${dict[@]}" "${seed[@]}" \
    -max_total_time="$seconds" \
    -max_len="${max_len[$t]}" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -artifact_prefix="$dir/artifacts/" \
    -print_final_stats=1 2>&1 | grep -Ev '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|NEW_FUNC|# Uses: '
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t failed (exit $status); the input is in $dir/artifacts/" >&2
    exit 1
  fi
done
