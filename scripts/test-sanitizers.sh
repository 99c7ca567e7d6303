#!/usr/bin/env bash
# Builds test binaries with AddressSanitizer (leaks included) and UndefinedBehaviorSanitizer,
# any report fatal, in build-san/ (scripts/sanitizer-build.sh), and runs them:
# - every binary that needs no Vulkan device: the GGUF reader and writer, the quant formats,
#   model files, expert bookkeeping, tokenizers, chat templates, sampling and stop strings;
# - on lavapipe (Mesa's CPU device), the GPU binaries with the most host code: the runtime
#   (test_gpu), the budgeted step runner (test_generator), expert paging (test_paging),
#   continuous batching (test_batch) and the public API through libmoevk.so with bad input of every kind (test_api). About 2 minutes on
#   2 cores. Skipped, with a message, where lavapipe is not installed.
# test_api_c is not here: a C program links UBSan's runtime without the C++ part that the
# library's checks call.
set -euo pipefail
cd "$(dirname "$0")/.."
cpu_tests=(test_quant test_gguf test_model_file test_experts test_tokenizer test_chat)
gpu_tests=(test_gpu test_generator test_paging test_batch test_api)
build="${MOEVK_SAN_BUILD:-build-san}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# lavapipe, kept loaded (LD_PRELOAD) so that LeakSanitizer can name what the driver keeps and
# the suppressions apply; the loader would otherwise unload it before the leak check.
lvp_json=$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json 2>/dev/null | head -n 1 || true)
lvp_lib=""
if [ -n "$lvp_json" ]; then
  lvp_lib=$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$lvp_json")
fi
tests=("${cpu_tests[@]}")
if [ -n "$lvp_lib" ] && [ -f "$lvp_lib" ]; then
  tests+=("${gpu_tests[@]}")
else
  echo "test-sanitizers: lavapipe not found; running only the tests without a GPU" >&2
fi
./scripts/sanitizer-build.sh "${tests[@]}"

failed=()
for t in "${tests[@]}"; do
  start=$SECONDS
  env=()
  case " ${gpu_tests[*]} " in
    *" $t "*) env=(VK_ICD_FILENAMES="$lvp_json" LD_PRELOAD="$lvp_lib"
                   LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-vulkan-drivers.supp") ;;
  esac
  if env "${env[@]}" "$build/tests/$t" --gtest_brief=1; then
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
