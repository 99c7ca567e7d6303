#!/usr/bin/env bash
# Builds the test binaries that need no Vulkan device with AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer, any report fatal, in build-san/ (scripts/sanitizer-build.sh), and
# runs them. They cover the GGUF reader and writer, the quant formats, model files, expert
# bookkeeping, tokenizers, chat templates, sampling and stop strings on the shared fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=(test_quant test_gguf test_model_file test_experts test_tokenizer test_chat)
./scripts/sanitizer-build.sh "${tests[@]}"
build="${MOEVK_SAN_BUILD:-build-san}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${tests[@]}"; do
  start=$SECONDS
  if "$build/tests/$t" --gtest_brief=1; then
    echo "test-sanitizers: $t passed in $((SECONDS - start)) s"
  else
    echo "test-sanitizers: $t FAILED" >&2
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -ne 0 ]; then
  echo "test-sanitizers: failed: ${failed[*]}" >&2
  exit 1
fi
