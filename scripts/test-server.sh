#!/usr/bin/env bash
# Tests moe-server as its clients meet it, on lavapipe with the demo model:
#   - the official OpenAI Node client (npm `openai`), unmodified: models, chat and text
#     completions with and without streaming, stop strings, errors as the SDK's classes, and eight
#     concurrent streams (continuous batching) whose replies equal the solo ones (tests/server/client_checks.mjs);
#   - 300 mutated request bodies (tests/server/fuzz_requests.mjs): only 200s and 4xx errors;
#   - curl: raw server-sent events ending in [DONE]; malformed requests of every kind and a
#     wrong or missing API key get the right status and an OpenAI error object, and the server
#     still serves after them; a full queue answers 503 with Retry-After; clients that
#     disconnect mid-stream free their slots and queue places, and a new request is served;
#   - the web page in headless Chromium driven by puppeteer-core: a typed message gets a
#     streamed reply, Stop, the expert chart, a screenshot (tests/server/page_check.mjs).
# The npm packages are installed, pinned, into BUILD_DIR/server-test/node (nothing global).
# ctest runs this as `server_checks`. Outputs stay in BUILD_DIR/server-test/.
#
#   scripts/test-server.sh BUILD_DIR
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "$1" && pwd)"
out="$build/server-test"
server="$build/apps/moe-server/moe-server"
model="$root/assets/moe-vk-demo.gguf"
openai_version=6.49.0
puppeteer_version=24.43.1
key="test-key-$$-$RANDOM"
icd=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$icd" ]; then export VK_ICD_FILENAMES="$icd"; fi
started=$(date +%s)

# Every tool is required: a missing one fails the test by name rather than skipping a part.
for tool in node npm curl jq chromium; do
  if ! command -v "$tool" >/dev/null; then
    echo "test-server: FAIL: '$tool' is missing (scripts/setup-debian.sh installs it)" >&2
    exit 1
  fi
done
[ -x "$server" ] || { echo "test-server: FAIL: no $server (build the moe-server target)" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/*.log "$out"/*.body "$out"/*.png "$out"/*.sse
failures=0
fail() {
  echo "test-server: FAIL: $*" >&2
  failures=$((failures + 1))
}
ok() { echo "ok   $*"; }

# The pinned npm packages, installed once per build folder.
node_dir="$out/node"
have_version() { [ "$(jq -r .version "$node_dir/node_modules/$1/package.json" 2>/dev/null)" = "$2" ]; }
if ! have_version openai "$openai_version" || ! have_version puppeteer-core "$puppeteer_version"; then
  mkdir -p "$node_dir"
  echo "test-server: npm install openai@$openai_version puppeteer-core@$puppeteer_version into $node_dir"
  if ! npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error \
    "openai@$openai_version" "puppeteer-core@$puppeteer_version" >"$out/npm.log" 2>&1; then
    echo "test-server: FAIL: npm install failed: $(tail -5 "$out/npm.log")" >&2
    exit 1
  fi
fi
# ES modules resolve packages from their own folder: the checks run from beside node_modules.
cp "$root/tests/server/client_checks.mjs" "$root/tests/server/page_check.mjs" "$root/tests/server/fuzz_requests.mjs" "$node_dir/"

# The server on a free loopback port (--port 0: it prints the one it got).
log="$out/server.log"
slots=8 queue=2
"$server" -m "$model" --port 0 --parallel $slots --queue $queue --ctx-size 1024 --api-key "$key" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 200); do
  url=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | sed 's/listening on //' || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "test-server: FAIL: the server exited: $(cat "$log")" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "test-server: FAIL: the server did not start in 20 s: $(cat "$log")" >&2; exit 1; }
ok "server at $url"
auth=(-H "Authorization: Bearer $key")
json=(-H "Content-Type: application/json")

# status NAME -> the body in $out/NAME.body, the HTTP status on stdout.
call() {
  local name="$1"
  shift
  curl -s -o "$out/$name.body" -w '%{http_code}' --max-time 60 "$@" || echo "curl-failed"
}

# expect NAME STATUS PARAM CURL-ARGS...: the status, an OpenAI error object, and its param
# ("-" for null) — and for the record the message.
expect() {
  local name="$1" want="$2" param="$3"
  shift 3
  local got
  got=$(call "$name" "$@")
  local body="$out/$name.body"
  if [ "$got" != "$want" ]; then
    fail "$name: status $got, expected $want: $(head -c 300 "$body")"
  elif ! jq -e '.error | (.message | type == "string") and has("type") and has("param") and has("code")' "$body" >/dev/null 2>&1; then
    fail "$name: status $want but not an OpenAI error object: $(head -c 300 "$body")"
  elif [ "$param" != "-" ] && [ "$(jq -r .error.param "$body")" != "$param" ]; then
    fail "$name: param $(jq -r .error.param "$body"), expected $param"
  else
    ok "$name: $want $(jq -r .error.message "$body" | head -c 110)"
  fi
}

metric() { curl -s "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# wait_metric NAME VALUE SECONDS: true once /metrics says so.
wait_metric() {
  local i
  for i in $(seq $(($3 * 20))); do
    [ "$(metric "$1")" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}

serves() {
  local got
  got=$(call "$1" "${auth[@]}" "${json[@]}" "$url/v1/chat/completions" \
    -d '{"model":"any","messages":[{"role":"user","content":"Still there?"}],"max_tokens":4}')
  if [ "$got" = 200 ] && jq -e '.choices[0].message.content | type == "string"' "$out/$1.body" >/dev/null; then
    ok "$1: the server still serves"
  else
    fail "$1: the server no longer serves: $got $(head -c 300 "$out/$1.body")"
  fi
}

# --- the OpenAI client -------------------------------------------------------------------
if (cd "$node_dir" && node client_checks.mjs "$url" "$key"); then :; else fail "the OpenAI client checks (above)"; fi
# The eight streams went through shared forward steps: one batch step generated a token for
# several slots at once.
most=$(metric moevk_batch_tokens_max)
if [ "${most:-0}" -ge 4 ]; then ok "continuous batching: up to $most slots' tokens in one step"; else fail "moevk_batch_tokens_max is '${most}', expected >= 4"; fi

# --- raw server-sent events --------------------------------------------------------------
curl -sN --max-time 60 "${auth[@]}" "${json[@]}" "$url/v1/chat/completions" \
  -d '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"stream":true}' >"$out/raw.sse"
last=$(grep -v '^$' "$out/raw.sse" | tail -1)
if [ "$last" != "data: [DONE]" ]; then
  fail "raw SSE: last line is '$last', not 'data: [DONE]'"
elif grep -v '^$' "$out/raw.sse" | grep -v '^data: ' >/dev/null; then
  fail "raw SSE: a line that is not 'data: ...': $(grep -v '^$' "$out/raw.sse" | grep -v '^data: ' | head -1)"
elif ! grep '^data: {' "$out/raw.sse" | sed 's/^data: //' | jq -e -s 'all(.object == "chat.completion.chunk") and (.[-1].choices[0].finish_reason | . == "stop" or . == "length")' >/dev/null; then
  fail "raw SSE: the chunks are not chat.completion.chunk objects ending with a finish reason"
else
  ok "raw SSE: $(grep -c '^data: {' "$out/raw.sse") chunks, each an event, the last data: [DONE]"
fi
headers=$(curl -sN --max-time 60 -D - -o /dev/null "${auth[@]}" "${json[@]}" "$url/v1/completions" \
  -d '{"prompt":"Hi","max_tokens":2,"stream":true}' | tr -d '\r')
if grep -qi '^content-type: text/event-stream$' <<<"$headers"; then ok "raw SSE: Content-Type text/event-stream"; else fail "raw SSE headers: $headers"; fi

# --- the API key -------------------------------------------------------------------------
expect no_key 401 - "$url/v1/models"
expect wrong_key 401 - -H "Authorization: Bearer nope" "$url/v1/models"
expect wrong_scheme 401 - -H "Authorization: Basic $key" "${json[@]}" "$url/v1/chat/completions" -d '{}'
expect key_prefix 401 - -H "Authorization: Bearer ${key:0:5}" "$url/v1/models"
expect foreign_host 403 - -H "Host: rebound.example:80" "$url/health"
got=$(call health "$url/health")
[ "$got" = 200 ] && ok "health answers without a key" || fail "health: $got"

# --- malformed requests ------------------------------------------------------------------
chat=("${auth[@]}" "${json[@]}" "$url/v1/chat/completions")
expect bad_json 400 - "${chat[@]}" -d '{"messages": [ {"role": "user", "content": "hi"'
expect empty_body 400 - "${chat[@]}" -d ''
expect not_object 400 - "${chat[@]}" -d '[1,2,3]'
expect missing_messages 400 messages "${chat[@]}" -d '{"model":"x"}'
expect messages_not_array 400 messages "${chat[@]}" -d '{"messages":"hello"}'
expect empty_messages 400 messages "${chat[@]}" -d '{"messages":[]}'
expect message_not_object 400 'messages[0]' "${chat[@]}" -d '{"messages":[42]}'
expect missing_role 400 'messages[0].role' "${chat[@]}" -d '{"messages":[{"content":"hi"}]}'
expect content_number 400 'messages[0].content' "${chat[@]}" -d '{"messages":[{"role":"user","content":5}]}'
expect image_part 400 'messages[0].content[0].type' "${chat[@]}" -d '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}'
m='"messages":[{"role":"user","content":"hi"}]'
expect temperature_string 400 temperature "${chat[@]}" -d "{$m,\"temperature\":\"hot\"}"
expect temperature_range 400 temperature "${chat[@]}" -d "{$m,\"temperature\":7}"
expect top_p_range 400 top_p "${chat[@]}" -d "{$m,\"top_p\":-0.1}"
expect top_k_float 400 top_k "${chat[@]}" -d "{$m,\"top_k\":2.5}"
expect min_p_bool 400 min_p "${chat[@]}" -d "{$m,\"min_p\":true}"
expect negative_max_tokens 400 max_tokens "${chat[@]}" -d "{$m,\"max_tokens\":-1}"
expect zero_max_tokens 400 max_tokens "${chat[@]}" -d "{$m,\"max_tokens\":0}"
expect huge_max_tokens 400 max_tokens "${chat[@]}" -d "{$m,\"max_tokens\":100000000000}"
expect max_tokens_past_context 400 max_tokens "${chat[@]}" -d "{$m,\"max_tokens\":1020}"
expect seed_string 400 seed "${chat[@]}" -d "{$m,\"seed\":\"abc\"}"
expect stop_number 400 stop "${chat[@]}" -d "{$m,\"stop\":7}"
expect stop_five 400 stop "${chat[@]}" -d "{$m,\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}"
expect stop_nul 400 stop "${chat[@]}" -d "{$m,\"stop\":\"a\\u0000b\"}"
expect content_nul 400 'messages[0].content' "${chat[@]}" -d '{"messages":[{"role":"user","content":"a\u0000b"}]}'
expect stop_empty 400 stop "${chat[@]}" -d "{$m,\"stop\":\"\"}"
expect penalty_range 400 presence_penalty "${chat[@]}" -d "{$m,\"presence_penalty\":3}"
expect stream_string 400 stream "${chat[@]}" -d "{$m,\"stream\":\"yes\"}"
expect stream_options_alone 400 stream_options "${chat[@]}" -d "{$m,\"stream_options\":{\"include_usage\":true}}"
expect model_number 400 model "${chat[@]}" -d "{$m,\"model\":12}"
expect n_two 400 n "${chat[@]}" -d "{$m,\"n\":2}"
expect tools 400 tools "${chat[@]}" -d "{$m,\"tools\":[{\"type\":\"function\"}]}"
expect deep_nesting 400 - "${chat[@]}" -d "{$m,\"x\":$(printf '[%.0s' $(seq 5000))$(printf ']%.0s' $(seq 5000))}"
printf '{"messages":[{"role":"user","content":"\xff\xfe"}]}' >"$out/bad_utf8.json"
expect bad_utf8 400 - "${chat[@]}" --data-binary @"$out/bad_utf8.json"
expect text_plain 415 - "${auth[@]}" -H "Content-Type: text/plain" "$url/v1/chat/completions" -d "{$m}"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$out/huge.txt"
expect huge_body 413 - "${chat[@]}" --data-binary @"$out/huge.txt"
python_words=$(printf 'the licence %.0s' $(seq 1200))
expect prompt_past_context 400 messages "${chat[@]}" -d "{\"messages\":[{\"role\":\"user\",\"content\":\"$python_words\"}]}"
if [ "$(jq -r .error.code "$out/prompt_past_context.body")" = context_length_exceeded ]; then ok "prompt_past_context: code context_length_exceeded"; else fail "prompt_past_context: code $(jq -r .error.code "$out/prompt_past_context.body")"; fi
comp=("${auth[@]}" "${json[@]}" "$url/v1/completions")
expect missing_prompt 400 prompt "${comp[@]}" -d '{"max_tokens":3}'
expect prompt_tokens 400 prompt "${comp[@]}" -d '{"prompt":[1,2,3]}'
expect unknown_route 404 - "${auth[@]}" "$url/v1/embeddings"
expect unknown_model 404 model "${auth[@]}" "$url/v1/models/gpt-4"
expect get_completions 404 - "${auth[@]}" "$url/v1/chat/completions"
# Any model name is accepted for a completion (the server has one model and names it).
got=$(call any_model "${chat[@]}" -d "{$m,\"model\":\"gpt-4o\",\"max_tokens\":2}")
if [ "$got" = 200 ] && [ "$(jq -r .model "$out/any_model.body")" = moe-vk-demo ]; then ok "any model name is served by the one model"; else fail "any_model: $got $(head -c 200 "$out/any_model.body")"; fi
if (cd "$node_dir" && node fuzz_requests.mjs "$url" "$key" 300); then :; else fail "mutated requests (above)"; fi
serves after_malformed

# --- a full queue, and clients that leave ------------------------------------------------
# Long streams fill the slots, two more wait (--queue 2), the next is refused.
long='{"messages":[{"role":"user","content":"Write a long story."}],"max_tokens":900,"ignore_eos":true,"stream":true}'
clients=()
for i in $(seq $((slots + queue))); do
  curl -sN --max-time 120 "${chat[@]}" -d "$long" >"$out/long$i.sse" 2>/dev/null &
  clients+=($!)
  if [ "$i" = $slots ]; then wait_metric moevk_slots_active $slots 20 || fail "$slots long streams did not fill the slots"; fi
done
if wait_metric moevk_queue_depth $queue 20; then ok "$queue more requests wait in the queue"; else fail "queue depth is $(metric moevk_queue_depth), expected $queue"; fi
got=$(curl -s -D "$out/busy.headers" -o "$out/busy.body" -w '%{http_code}' "${chat[@]}" -d "$long")
if [ "$got" = 503 ] && grep -qi '^retry-after:' "$out/busy.headers" && [ "$(jq -r .error.code "$out/busy.body")" = server_busy ]; then
  ok "a full queue: 503 with Retry-After: $(jq -r .error.message "$out/busy.body" | head -c 100)"
else
  fail "a full queue: $got $(cat "$out/busy.body")"
fi
# Cut them mid-stream: once each running stream has sent some text.
for _ in $(seq 400); do
  n=0
  for i in $(seq $slots); do [ "$(grep -c '"content":"[^"]' "$out/long$i.sse" || true)" -ge 3 ] && n=$((n + 1)); done
  [ "$n" = $slots ] && break
  sleep 0.05
done
for c in "${clients[@]}"; do kill "$c" 2>/dev/null || true; done
for c in "${clients[@]}"; do wait "$c" 2>/dev/null || true; done
# Within a step or so each slot sees its client gone; 2 s is generous on lavapipe.
if wait_metric moevk_slots_active 0 2 && wait_metric moevk_queue_depth 0 2; then
  ok "$((slots + queue)) clients disconnected mid-stream or in the queue: every slot and queue place freed"
else
  fail "after the clients left: $(metric moevk_slots_active) slots active, $(metric moevk_queue_depth) queued"
fi
if grep -q 'cancelled (client gone)' "$log"; then ok "the log says the generations were cancelled"; else fail "no cancelled generation in the log"; fi
streamed=$(for i in $(seq $slots); do cat "$out/long$i.sse"; done | grep -c '"content":"[^"]' || true)
if [ "$streamed" -ge $((3 * slots)) ]; then ok "the $slots long streams were cut mid-stream ($streamed text chunks)"; else fail "the long streams got only $streamed text chunks before the cut"; fi
serves after_disconnect

# --- the web page ------------------------------------------------------------------------
if (cd "$node_dir" && node page_check.mjs "$url" "$key" "$out/page.png"); then :; else fail "the page checks (above)"; fi
if wait_metric moevk_slots_active 0 2; then ok "the page's Stop freed its slot"; else fail "a slot still active after the page's Stop"; fi

# --- metrics -----------------------------------------------------------------------------
curl -s "$url/metrics" >"$out/metrics.txt"
for m in moevk_requests_total moevk_generated_tokens_total moevk_tokens_per_second moevk_queue_depth moevk_expert_tokens_total; do
  grep -q "^$m" "$out/metrics.txt" || fail "/metrics lacks $m"
done
if awk '/^moevk_expert_tokens_total\{layer="1",expert="[0-9]+"\}/ { s += $2 } END { exit !(s > 0) }' "$out/metrics.txt"; then
  ok "/metrics counts tokens per expert per layer"
else
  fail "/metrics: no tokens routed to layer 1's experts"
fi
lines=$(grep -c ' /v1/' "$log" || true)
[ "$lines" -gt 40 ] && ok "the log has a line per request ($lines for /v1)" || fail "the log has $lines /v1 lines"

kill "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT
grep -q 'stopping' "$log" && ok "SIGTERM stops the server" || fail "the server did not say it stopped"
echo "test-server: $(($(date +%s) - started)) s"
if [ "$failures" -ne 0 ]; then
  echo "test-server: $failures failed; the server's log is $log" >&2
  exit 1
fi
echo "test-server: all passed"
