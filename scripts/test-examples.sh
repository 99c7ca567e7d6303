#!/usr/bin/env bash
# Builds the examples (examples/) against an INSTALLED moe-vk and runs them, as a user of the
# package would: BUILD_DIR is installed into a temporary prefix, examples/ is configured there
# with find_package(moevk) in a build folder of its own, and examples/chat.c is compiled once more
# with nothing but `pkg-config --cflags --libs moevk`. Then:
#   chat  answers a question from assets/moe-vk-demo.gguf, and must print some text; the
#         pkg-config build must fail cleanly (exit 1, a message) on a missing model;
#   game  runs under Xvfb on lavapipe for a few hundred frames with the validation layer on (any
#         message fails it), the engine generating on the game's device and queue; its last
#         frame must be a real picture, and its frame times with and without generation are
#         printed.
# Outputs (screenshot, frame-time report, the chat's reply) stay in BUILD_DIR/examples-test/.
# ctest runs this as `examples_installed`. Needs what scripts/setup-debian.sh installs.
#
#   scripts/test-examples.sh BUILD_DIR
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR (a configured and built moe-vk build folder)" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "$1" && pwd)"
out="$build/examples-test"
model="$root/assets/moe-vk-demo.gguf"
frames="${MOEVK_EXAMPLES_FRAMES:-400}"
max_tokens="${MOEVK_EXAMPLES_MAX_TOKENS:-40}"

fail() {
  echo "test-examples: FAIL: $*" >&2
  exit 1
}
for tool in cmake cc pkg-config xvfb-run; do
  command -v "$tool" >/dev/null || fail "$tool not found; run scripts/setup-debian.sh"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/moevk-examples.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
rm -rf "$out"
mkdir -p "$out"

echo "== install $build into a temporary prefix"
cmake --install "$build" --prefix "$prefix" >"$out/install.log" || { cat "$out/install.log"; fail "cmake --install"; }
pc="$(find "$prefix" -name moevk.pc -print -quit)"
[ -n "$pc" ] || fail "no moevk.pc in the install"
libdir="$(dirname "$(dirname "$pc")")"
echo "   $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

echo "== examples/ against the installed package (find_package(moevk))"
cmake -S "$root/examples" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  >"$out/configure.log" || { cat "$out/configure.log"; fail "configuring examples/"; }
cmake --build "$work/build" -j"$(nproc)" >"$out/build.log" 2>&1 || { tail -50 "$out/build.log"; fail "building examples/"; }

echo "== examples/chat.c with pkg-config alone"
flags="$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs moevk)" || fail "pkg-config moevk"
echo "   cc -std=c11 chat.c $flags"
# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -Wall -Wextra -Wpedantic -o "$work/chat-pc" "$root/examples/chat.c" $flags \
  || fail "chat.c does not build from moevk.pc alone ($pc says: $(grep '^prefix=' "$pc"); installed to $prefix)"
soname="$(LD_LIBRARY_PATH="$libdir" ldd "$work/chat-pc" | awk '/libmoevk/ {print $1 " => " $3}')"
echo "   links $soname"
case "$soname" in *"$libdir"/*) ;; *) fail "chat-pc does not load libmoevk from the install ($soname)" ;; esac
set +e
LD_LIBRARY_PATH="$libdir" "$work/chat-pc" "$work/no-such-model.gguf" "Hello" >/dev/null 2>"$out/chat-error.txt"
rc=$?
set -e
if [ "$rc" -ne 1 ] || ! grep -q "^chat: " "$out/chat-error.txt"; then
  fail "chat on a missing model: exit $rc, $(cat "$out/chat-error.txt")"
fi
echo "   a missing model: exit 1, $(head -1 "$out/chat-error.txt")"

echo "== chat on the demo model"
set +e
"$work/build/chat" "$model" "What is free software?" "$max_tokens" >"$out/chat.txt" 2>"$out/chat-stderr.txt"
rc=$?
set -e
tr '\r' '\n' <"$out/chat-stderr.txt" | grep -v -e '^loading' -e '^$' | sed 's/^/   /' || true
[ "$rc" -eq 0 ] || fail "chat exited $rc"
echo "   reply: $(head -c 300 "$out/chat.txt" | tr '\n' ' ')"
grep -q '[[:alpha:]]' "$out/chat.txt" || fail "chat printed no text"

echo "== game under Xvfb, $frames frames, validation on"
# lavapipe: the one device that can present to Xvfb on any machine (a GPU's driver may not).
# A VK_ICD_FILENAMES already set wins.
icd=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$icd" ]; then export VK_ICD_FILENAMES="$icd"; fi
start=$(date +%s)
set +e
xvfb-run -a -s "-screen 0 1280x720x24" "$work/build/game/game" --model "$model" --frames "$frames" \
  --warmup-frames 60 --budget-us "${MOEVK_EXAMPLES_BUDGET_US:-12000}" --max-tokens "$max_tokens" --validation --screenshot "$out/game.png" \
  --report "$out/game.json" >"$out/game.txt" 2>"$out/game-stderr.txt"
rc=$?
set -e
cat "$out/game.txt"
echo "   $(($(date +%s) - start)) s wall"
if [ "$rc" -ne 0 ]; then
  head -40 "$out/game-stderr.txt"
  fail "game exited $rc (3: validation messages)"
fi
"$work/build/game/image_check" "$out/game.png" || fail "the screenshot is blank"
tokens="$(grep -o '"tokens": [0-9]*' "$out/game.json" | grep -o '[0-9]*$')"
generating="$(grep -o '"generating": {"count": [0-9]*' "$out/game.json" | grep -o '[0-9]*$')"
idle="$(grep -o '"idle": {"count": [0-9]*' "$out/game.json" | grep -o '[0-9]*$')"
[ "${tokens:-0}" -gt 0 ] || fail "the game generated no tokens"
if [ "${generating:-0}" -eq 0 ] || [ "${idle:-0}" -eq 0 ]; then
  fail "frames: ${generating:-0} with the generation running, ${idle:-0} without"
fi
echo "test-examples: OK (outputs in $out)"
