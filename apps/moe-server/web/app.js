// The moe-server chat page: keeps the conversation here, sends it whole to
// /v1/chat/completions with stream: true (the server's slot cache makes the repeated prefix
// cheap), reads the server-sent events from the response body as they arrive, and polls
// /v1/internal/experts for the chart. Model text is only ever set as textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const conversation = [];  // {role, content} as the API takes them
let controller = null;    // the AbortController of the reply being streamed
let modelId = "";

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "message " + role;
  div.textContent = text;
  $("messages").appendChild(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
  $("new-chat").disabled = busy;
}

async function errorText(res) {
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return "HTTP " + res.status;
}

// Yields the JSON of each "data:" event of a server-sent event stream, until [DONE].
async function* events(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

async function send(text) {
  conversation.push({ role: "user", content: text });
  const asked = addMessage("user", text);
  const bubble = addMessage("assistant", "");
  bubble.classList.add("streaming");
  setBusy(true);
  controller = new AbortController();
  experts.beginReply();
  const request = {
    model: modelId,
    messages: conversation,
    stream: true,
    stream_options: { include_usage: true },
    temperature: Number($("temperature").value),
    max_tokens: Number($("max-tokens").value),
  };
  if ($("seed").value !== "") request.seed = Number($("seed").value);
  let reply = "", pieces = 0, firstAt = 0, usage = null, finish = "";
  const started = performance.now();
  $("status").textContent = "waiting for a slot…";
  try {
    const res = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(request), signal: controller.signal,
    });
    if (!res.ok) throw new Error(await errorText(res));
    for await (const chunk of events(res.body)) {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices && chunk.choices[0];
      if (!choice) continue;
      if (choice.finish_reason) finish = choice.finish_reason;
      const piece = choice.delta && choice.delta.content;
      if (!piece) continue;
      if (!firstAt) firstAt = performance.now();
      reply += piece;
      pieces++;
      bubble.textContent = reply;
      bubble.scrollIntoView({ block: "end" });
      showSpeed(pieces, firstAt, started, null, "");
    }
    showSpeed(usage ? usage.completion_tokens : pieces, firstAt, started, usage, finish);
  } catch (e) {
    if (e.name === "AbortError") {
      $("status").textContent = "stopped after " + pieces + " tokens";
    } else {
      addMessage("error", e.message);
      $("status").textContent = "error";
    }
  } finally {
    bubble.classList.remove("streaming");
    // The reply as far as it got stays in the conversation, as in moe-chat.
    // Without a word of reply, the message goes back to the input, as if never sent.
    if (reply) {
      conversation.push({ role: "assistant", content: reply });
    } else {
      bubble.remove();
      asked.remove();
      conversation.pop();
      if (!$("input").value) $("input").value = text;
    }
    controller = null;
    setBusy(false);
    experts.endReply();
    $("input").focus();
  }
}

function showSpeed(tokens, firstAt, started, usage, finish) {
  const now = performance.now();
  const seconds = firstAt ? (now - firstAt) / 1000 : 0;
  let s = tokens + " tokens";
  // One token takes no measurable time: a speed needs a few.
  if (tokens >= 4 && seconds > 0.01) s += " · " + (Math.max(tokens - 1, 1) / seconds).toFixed(1) + " tokens/s";
  if (firstAt) s += " · first token after " + ((firstAt - started) / 1000).toFixed(2) + " s";
  if (usage) s += " · prompt " + usage.prompt_tokens + " (" + ((usage.prompt_tokens_details || {}).cached_tokens || 0) + " cached)";
  if (finish) s += " · ended by " + finish;
  $("status").textContent = s;
}

// The chart: one row per layer, one column per expert; the shade is the share of the row's
// tokens that went to the expert since the reply began.
const experts = {
  base: null, latest: null, live: false,
  beginReply() { this.base = this.latest; this.live = true; },
  endReply() { this.live = false; this.poll(); },
  async poll() {
    try {
      const res = await fetch("/v1/internal/experts", { headers: headers() });
      if (!res.ok) return;
      const data = await res.json();
      this.latest = data;
      if (!this.base) this.base = data;
      this.draw(data);
      $("server-speed").textContent = "server: " + data.tokens_per_second.toFixed(1) + " tokens/s (last 5 s, all slots); " +
        data.layers + " layers × " + data.experts + " experts, top-" + data.top_k;
    } catch (_) { /* the server is gone for now: try at the next tick */ }
  },
  draw(data) {
    const canvas = $("experts"), g = canvas.getContext("2d");
    const rows = data.layers, cols = data.experts;
    const label = 28, top = 16;
    // Rows of up to 24 px, the canvas as tall as the model's layers need (at most ~600 px).
    const ch = Math.max(4, Math.min(24, 580 / rows));
    if (canvas.height !== Math.ceil(top + rows * ch)) canvas.height = Math.ceil(top + rows * ch);
    const cw = (canvas.width - label) / cols;
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.font = "10px sans-serif";
    g.fillStyle = "#566074";
    for (let e = 0; e < cols; e += Math.ceil(cols / 16)) g.fillText(String(e), label + e * cw + 2, 11);
    for (let l = 0; l < rows; l++) {
      const now = data.counts[l], was = this.base && this.base.counts[l] ? this.base.counts[l] : now.map(() => 0);
      const delta = now.map((c, e) => c - (was[e] || 0));
      const total = delta.reduce((a, b) => a + b, 0);
      g.fillStyle = "#566074";
      g.fillText("L" + l, 2, top + l * ch + ch * 0.7);
      for (let e = 0; e < cols; e++) {
        const share = total ? delta[e] / total : 0;
        g.fillStyle = share ? `rgba(47, 111, 223, ${0.15 + 0.85 * Math.min(1, share * cols / 2)})` : "#eef1f5";
        g.fillRect(label + e * cw + 1, top + l * ch + 1, cw - 2, ch - 2);
      }
    }
  },
};

$("composer").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("input").value.trim();
  if (!text || controller) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("composer").requestSubmit(); }
});
$("stop").addEventListener("click", () => { if (controller) controller.abort(); });
$("new-chat").addEventListener("click", () => {
  conversation.length = 0;
  $("messages").replaceChildren();
  $("status").textContent = "ready";
});
$("api-key").value = localStorage.getItem("moe-server-api-key") || "";
$("api-key").addEventListener("change", () => { localStorage.setItem("moe-server-api-key", $("api-key").value); loadModel(); });

async function loadModel() {
  try {
    const res = await fetch("/v1/models", { headers: headers() });
    if (!res.ok) { $("model").textContent = await errorText(res); return; }
    const list = await res.json();
    modelId = list.data[0].id;
    $("model").textContent = modelId;
  } catch (e) { $("model").textContent = "server unreachable"; }
}

loadModel();
experts.poll();
// Faster while a reply streams, so the chart follows it; slowly otherwise.
(function tick() { setTimeout(() => { experts.poll().finally(tick); }, experts.live ? 300 : 2000); })();
