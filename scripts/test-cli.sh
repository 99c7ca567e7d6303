#!/usr/bin/env bash
# Tests what a person can do wrong at moe-run's and moe-chat's command lines and terminals, on
# lavapipe with the demo model:
#   - bad flags are refused by name before the device or the model load (no "device:" line);
#   - output that cannot be written (/dev/full) is an error naming what was lost, never exit 0;
#   - moe-run says why its generation ended, and a context filled by generation is not an error;
#   - moe-chat: an unknown /command is not sent to the model; speeds only over enough tokens;
#     no carriage returns in a log; in a real terminal (tmux) Ctrl-C clears the typed line and
#     the chat goes on, Ctrl-D leaves, and a long prompt shows its progress;
#   - moe-chat with gpt-oss's template: --reasoning-effort reaches the system message, a reply
#     without harmony's tags is shown whole, --show-reasoning with another template is noted.
# ctest runs this as `cli_checks`. Outputs stay in BUILD_DIR/cli-test/.
#
#   scripts/test-cli.sh BUILD_DIR
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "$1" && pwd)"
out="$build/cli-test"
run="$build/apps/moe-run/moe-run"
chat="$build/apps/moe-chat/moe-chat"
model="$root/assets/moe-vk-demo.gguf"
icd=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$icd" ]; then export VK_ICD_FILENAMES="$icd"; fi
rm -rf "$out"
mkdir -p "$out"
failures=0

fail() {
  echo "test-cli: FAIL: $*" >&2
  failures=$((failures + 1))
}

# fails NAME PATTERN CMD...: CMD must exit non-zero and say PATTERN on stderr; true if it did.
fails() {
  local name="$1" pattern="$2" rc=0
  shift 2
  timeout 300 "$@" >"$out/$name.out" 2>"$out/$name.err" </dev/null || rc=$?
  if [ "$rc" -eq 0 ]; then
    fail "$name: exit 0 (expected an error saying '$pattern')"
  elif ! grep -q -- "$pattern" "$out/$name.err"; then
    fail "$name: stderr lacks '$pattern': $(tail -c 300 "$out/$name.err")"
  else
    echo "ok   $name: $(grep -m1 -- "$pattern" "$out/$name.err" | head -c 160)"
    return 0
  fi
  return 1
}

# refused NAME PATTERN CMD...: fails, and before the device and the model were set up.
refused() {
  if fails "$@" && grep -q "^device:\|^on llvmpipe\|^loaded" "$out/$1.err"; then
    fail "$1: refused only after the device and model were set up"
  fi
}

# A lost write (output to /dev/full) must be an error.
write_fails() { fails "$@"; }

echo "== moe-run: flags refused before the device"
refused run-empty-tokens "empty token id" "$run" -m "$model" --tokens ''
refused run-empty-token-in-list "empty token id" "$run" -m "$model" --tokens 1,,2
refused run-bad-token "not a token id" "$run" -m "$model" --tokens 1,x
refused run-negative-token "negative" "$run" -m "$model" --tokens 1,-5
refused run-token-past-vocab "past the" "$run" -m "$model" --tokens 1,99999999
refused run-empty-budget "empty budget" "$run" -m "$model" -p hi --vram-budget ''
refused run-device-index "device-index" "$run" -m "$model" -p hi --device-index -1
refused run-ctx-zero "ctx" "$run" -m "$model" -p hi --ctx 0
refused run-policy-alone "requires --vram-budget" "$run" -m "$model" -p hi --cache-policy lfu
refused run-prefetch-alone "requires --vram-budget" "$run" -m "$model" -p hi --no-prefetch
refused run-huge-batch "batch" "$run" -m "$model" -p hi --batch 1000000
refused run-fifo "not a regular file\|FIFO\|fifo" sh -c "mkfifo '$out/fifo' && exec '$run' -m '$out/fifo' -p hi"

echo "== moe-run: lost output is an error"
write_fails run-logits-full "/dev/full" "$run" -m "$model" --tokens 1,2,3 -n 2 --dump-logits /dev/full
write_fails run-experts-full "/dev/full" "$run" -m "$model" --tokens 1,2,3 -n 2 --experts /dev/full
write_fails run-stdout-full "output failed" sh -c "exec '$run' -m '$model' --tokens 1,2,3 -n 4 >/dev/full"
write_fails run-tokenize-full "output failed" sh -c "exec '$run' -m '$model' --tokenize hello >/dev/full"

echo "== moe-run: why generation ended"
rc=0
timeout 300 "$run" -m "$model" --tokens 1,2,3,4 --ctx 8 -n 20 --ignore-eos >"$out/run-ctx-full.out" 2>"$out/run-ctx-full.err" || rc=$?
if [ "$rc" -ne 0 ]; then
  fail "run-ctx-full: a context filled by generation exits $rc: $(tail -2 "$out/run-ctx-full.err")"
elif ! grep -q "ended by context full" "$out/run-ctx-full.err"; then
  fail "run-ctx-full: the summary does not say the context ended it: $(tail -1 "$out/run-ctx-full.err")"
else
  echo "ok   run-ctx-full: $(grep -o '[0-9]* generated, ended by context full' "$out/run-ctx-full.err")"
fi
timeout 300 "$run" -m "$model" --tokens 1,2,3 -n 3 --ctx 100000 >"$out/run-long-ctx.out" 2>"$out/run-long-ctx.err" || true
if grep -q "past the [0-9]* positions the model was trained for" "$out/run-long-ctx.err"; then
  echo "ok   run-long-ctx: $(grep -m1 'trained for' "$out/run-long-ctx.err" | head -c 160)"
else
  fail "run-long-ctx: --ctx past the training context is not said: $(head -3 "$out/run-long-ctx.err")"
fi

echo "== moe-chat: flags and output"
refused chat-negative-temp "temp" "$chat" -m "$model" -p hi --temp -1
refused chat-top-p "top-p" "$chat" -m "$model" -p hi --top-p 2
refused chat-max-tokens-zero "max-tokens" "$chat" -m "$model" -p hi -n 0
refused chat-policy-alone "requires --vram-budget" "$chat" -m "$model" -p hi --cache-policy lfu
refused chat-template "not a format" "$chat" -m "$model" -p hi --chat-template nonesuch
refused chat-reasoning-effort "reasoning-effort" "$chat" -m "$model" -p hi --reasoning-effort extreme
write_fails chat-stdout-full "standard output failed" sh -c "exec '$chat' -m '$model' -p hi -n 8 --seed 1 >/dev/full"

printf '/nonesuch\n/help\n/quit\n' | timeout 300 "$chat" -m "$model" --seed 1 -n 8 >"$out/chat-command.out" 2>"$out/chat-command.err"
if ! grep -q "unknown command /nonesuch" "$out/chat-command.err"; then
  fail "chat-command: an unknown command is not said: $(tail -3 "$out/chat-command.err")"
elif [ -s "$out/chat-command.out" ] || grep -q "^\[prompt" "$out/chat-command.err"; then
  fail "chat-command: an unknown command reached the model"
else
  echo "ok   chat-command: $(grep -m1 'unknown command' "$out/chat-command.err" | head -c 100)"
fi
if grep -q $'\r' "$out/chat-command.err"; then fail "chat-log: carriage returns in a log"; else echo "ok   chat-log: no carriage returns"; fi

timeout 300 "$chat" -m "$model" -p hi -n 1 --seed 1 --stats >"$out/chat-one.out" 2>"$out/chat-one.err"
if grep "^\[prompt" "$out/chat-one.err" | grep -q "reply 1 tokens at"; then
  fail "chat-one-token: a speed over one token: $(grep '^\[prompt' "$out/chat-one.err")"
elif ! grep -q "reply 1 tokens; ended by" "$out/chat-one.err"; then
  fail "chat-one-token: no stats line: $(tail -2 "$out/chat-one.err")"
else
  echo "ok   chat-one-token: no speed over one token"
fi

echo "== moe-chat: gpt-oss's template (harmony) on the demo model"
# The demo's vocabulary has no harmony tags, so its replies have none: the reply is taken whole as
# the answer. The system message states the effort, so the prompt's length follows it.
for effort in low high; do
  timeout 300 "$chat" -m "$model" --chat-template gpt-oss --reasoning-effort "$effort" --show-reasoning \
    -p hi -n 3 --seed 1 --stats >"$out/chat-effort-$effort.out" 2>"$out/chat-effort-$effort.err" || true
done
low=$(grep -o '^\[prompt [0-9]* tokens' "$out/chat-effort-low.err" | grep -o '[0-9]*' || true)
high=$(grep -o '^\[prompt [0-9]* tokens' "$out/chat-effort-high.err" | grep -o '[0-9]*' || true)
if [ -z "$low" ] || [ -z "$high" ]; then
  fail "chat-effort: no stats line: $(tail -2 "$out/chat-effort-low.err" "$out/chat-effort-high.err")"
elif [ "$low" -eq "$high" ]; then
  fail "chat-effort: --reasoning-effort low and high give prompts of one length ($low tokens)"
elif ! grep -q '[a-z]' "$out/chat-effort-high.out"; then
  fail "chat-effort: a reply without tags was not shown: '$(cat "$out/chat-effort-high.out")'"
elif grep -q $'\033' "$out/chat-effort-high.out"; then
  fail "chat-effort: escape sequences in a reply written to a file"
else
  echo "ok   chat-effort: prompts of $low (low) and $high (high) tokens, reply '$(head -c 60 "$out/chat-effort-high.out")'"
fi
timeout 300 "$chat" -m "$model" --show-reasoning -p hi -n 1 --seed 1 >"$out/chat-reasoning-note.out" 2>"$out/chat-reasoning-note.err" || true
if grep -q "apply to gpt-oss's template, not chatml" "$out/chat-reasoning-note.err"; then
  echo "ok   chat-reasoning-note: $(grep -m1 'apply to' "$out/chat-reasoning-note.err" | head -c 120)"
else
  fail "chat-reasoning-note: --show-reasoning with a ChatML template is not noted: $(tail -2 "$out/chat-reasoning-note.err")"
fi

echo "== moe-chat in a terminal (tmux)"
if ! command -v tmux >/dev/null; then
  fail "tmux not found; run scripts/setup-debian.sh"
else
  export TMUX_TMPDIR="$out"  # a server of our own, whatever else runs
  tmux new-session -d -s chat -x 160 -y 50
  tmux set -t chat remain-on-exit on
  tmux pipe-pane -t chat -o "cat >'$out/tty.log'"
  tmux respawn-pane -k -t chat "'$chat' -m '$model' --seed 3 -n 8 2>&1; echo \"[exit \$?]\""
  # wait_for TEXT SECONDS: until the pane's log shows TEXT.
  wait_for() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
      grep -q -- "$1" "$out/tty.log" 2>/dev/null && return 0
      sleep 0.1
    done
    return 1
  }
  if ! wait_for "Ctrl-C stops" 120; then
    fail "tty: moe-chat did not start: $(tail -c 300 "$out/tty.log")"
  else
    tmux send-keys -t chat -l "text that Ctrl-C throws away"
    sleep 0.5
    tmux send-keys -t chat C-c
    sleep 0.5
    tmux send-keys -t chat -l "Hello"
    tmux send-keys -t chat Enter
    if ! wait_for "ended by" 120; then
      fail "tty: no reply after Ctrl-C at the input line: $(tail -c 400 "$out/tty.log" | tr -d '\033')"
    elif sleep 1 && [ "$(grep -ac "ended by" "$out/tty.log")" -ne 1 ]; then
      fail "tty: the text cleared by Ctrl-C was sent too ($(grep -ac "ended by" "$out/tty.log") replies)"
    else
      echo "ok   tty-ctrl-c: the line was cleared and the chat went on"
    fi
    tmux send-keys -t chat C-d
    if wait_for "\[exit 0\]" 60; then echo "ok   tty-ctrl-d: left with exit 0"; else fail "tty: Ctrl-D did not leave: $(tail -c 300 "$out/tty.log")"; fi
  fi
  # A long prompt on a terminal shows its progress before the reply.
  for i in $(seq 1 24); do printf 'the quick brown fox jumps over the lazy dog %d. ' "$i"; done >"$out/long-prompt.txt"
  : >"$out/tty.log"
  tmux respawn-pane -k -t chat "'$chat' -m '$model' --seed 3 -n 4 --ctx 4096 -p \"\$(cat '$out/long-prompt.txt')\" 2>&1; echo \"[exit \$?]\""
  if ! wait_for "\[exit" 300; then
    fail "tty-progress: the long prompt did not finish"
  elif ! grep -aq "\[prompt [0-9]* of [0-9]* tokens" "$out/tty.log"; then
    fail "tty-progress: no progress line while a long prompt ran: $(tail -c 300 "$out/tty.log" | tr -d '\033')"
  else
    echo "ok   tty-progress: $(grep -ao '\[prompt [0-9]* of [0-9]* tokens' "$out/tty.log" | tail -1)"
  fi
  tmux kill-server
fi

if [ "$failures" -ne 0 ]; then
  echo "test-cli: $failures checks failed" >&2
  exit 1
fi
echo "test-cli: all checks passed"
