// moe-server through the official OpenAI Node client, unmodified: models, chat and text
// completions with and without streaming, usage and finish reasons, stop strings, the SDK's
// error classes for a bad key and a bad field, and eight concurrent streamed chats (the
// server's slots, moved by continuous batching) whose replies must equal what each gives alone
// with the same seed and temperature.
//
//   node client_checks.mjs BASE_URL API_KEY      (run by scripts/test-server.sh)
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL: baseURL + "/v1", apiKey, maxRetries: 0, timeout: 60_000 });
let failures = 0;
function check(name, ok, detail = "") {
  console.log((ok ? "ok   " : "FAIL ") + name + (detail ? ": " + detail : ""));
  if (!ok) failures++;
}
const short = (s) => JSON.stringify(s.length > 80 ? s.slice(0, 80) + "…" : s);

async function streamChat(messages, options) {
  const stream = await client.chat.completions.create({ messages, stream: true, stream_options: { include_usage: true }, ...options });
  let text = "", finish = null, usage = null, chunks = 0, ids = new Set(), role = null, firstText = 0;
  for await (const chunk of stream) {
    chunks++;
    ids.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.role) role = c.delta.role;
    if (c.delta.content) {
      if (!firstText) firstText = Date.now();
      text += c.delta.content;
    }
    if (c.finish_reason) finish = c.finish_reason;
  }
  return { text, finish, usage, chunks, ids, role, firstText, ended: Date.now() };
}

const models = await client.models.list();
const model = models.data[0]?.id;
check("models.list names the model", models.data.length === 1 && typeof model === "string" && models.data[0].object === "model", model);
const one = await client.models.retrieve(model);
check("models.retrieve", one.id === model);

const hello = [{ role: "system", content: "You are terse." }, { role: "user", content: "Say something about licences." }];
const plain = await client.chat.completions.create({ model, messages: hello, max_tokens: 12, seed: 7, temperature: 0.9 });
check("chat: object, id, choice, usage",
  plain.object === "chat.completion" && plain.id.startsWith("chatcmpl-") && plain.choices[0].message.role === "assistant" &&
  typeof plain.choices[0].message.content === "string" && plain.choices[0].message.content.length > 0 &&
  plain.usage.completion_tokens <= 12 && plain.usage.total_tokens === plain.usage.prompt_tokens + plain.usage.completion_tokens,
  short(plain.choices[0].message.content));
check("chat: finish_reason length at max_tokens", plain.usage.completion_tokens < 12 || plain.choices[0].finish_reason === "length",
  plain.choices[0].finish_reason);

const streamed = await streamChat(hello, { model, max_tokens: 12, seed: 7, temperature: 0.9 });
check("chat stream: same text as without streaming (same seed)", streamed.text === plain.choices[0].message.content, short(streamed.text));
check("chat stream: one id, assistant role, finish reason, usage chunk",
  streamed.ids.size === 1 && streamed.role === "assistant" && streamed.finish === plain.choices[0].finish_reason &&
  streamed.usage?.completion_tokens === plain.usage.completion_tokens && streamed.usage.prompt_tokens === plain.usage.prompt_tokens);
check("chat stream: the repeated prompt came from a slot's cache", streamed.usage?.prompt_tokens_details?.cached_tokens > 0,
  JSON.stringify(streamed.usage?.prompt_tokens_details));

const three = await client.chat.completions.create({ model, messages: hello, max_tokens: 3 });
check("chat: max_tokens 3 gives at most 3 tokens", three.usage.completion_tokens <= 3 &&
  (three.usage.completion_tokens < 3 || three.choices[0].finish_reason === "length"), JSON.stringify(three.usage));

// A stop string cut from a reply: the same seed stops just before it, reason "stop".
const long = await client.chat.completions.create({ model, messages: hello, max_tokens: 40, seed: 11, temperature: 0.9 });
const full = long.choices[0].message.content;
const words = full.split(" ").filter((w) => w.length >= 3);
if (words.length >= 3) {
  const stop = words[Math.floor(words.length / 2)];
  const cut = await client.chat.completions.create({ model, messages: hello, max_tokens: 40, seed: 11, temperature: 0.9, stop: [stop] });
  const text = cut.choices[0].message.content;
  check("chat: stop string ends the reply before it", cut.choices[0].finish_reason === "stop" &&
    full.startsWith(text) && !text.includes(stop), `stop ${short(stop)} -> ${short(text)}`);
} else {
  check("chat: a reply long enough to cut a stop string from", false, short(full));
}

const completion = await client.completions.create({ model, prompt: "The licence says", max_tokens: 8, seed: 3 });
check("completions: object, id, text, usage", completion.object === "text_completion" && completion.id.startsWith("cmpl-") &&
  typeof completion.choices[0].text === "string" && completion.usage.completion_tokens <= 8, short(completion.choices[0].text));
const cstream = await client.completions.create({ model, prompt: "The licence says", max_tokens: 8, seed: 3, stream: true });
let ctext = "";
for await (const chunk of cstream) ctext += chunk.choices[0]?.text ?? "";
check("completions stream: same text as without streaming", ctext === completion.choices[0].text, short(ctext));

// Errors arrive as the SDK's own classes, with OpenAI's fields.
try {
  await new OpenAI({ baseURL: baseURL + "/v1", apiKey: "wrong-key", maxRetries: 0 }).models.list();
  check("wrong API key refused", false, "no error");
} catch (e) {
  check("wrong API key: AuthenticationError 401", e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === "invalid_api_key", e.message);
}
try {
  await client.chat.completions.create({ model, messages: hello, max_tokens: -5 });
  check("negative max_tokens refused", false, "no error");
} catch (e) {
  check("negative max_tokens: BadRequestError naming max_tokens", e instanceof OpenAI.BadRequestError && e.param === "max_tokens", e.message);
}
try {
  await client.chat.completions.create({ model, messages: [{ role: "wizard", content: "hi" }] });
  check("unknown role refused", false, "no error");
} catch (e) {
  check("unknown role: BadRequestError naming the field", e instanceof OpenAI.BadRequestError && e.param === "messages[0].role", e.message);
}

// Eight streams at once: each reply equals the one it gives alone (same seed and temperature),
// though their tokens now share forward steps.
const asks = ["Tell me about the GNU project.", "What is a warranty?", "Describe free software.", "Who may copy this program?",
  "What does the licence protect?", "Can I sell copies?", "Explain the source code.", "Why is there no warranty?"];
// ignore_eos (moe-server's extension, passed through by the SDK) keeps every reply 24 tokens
// long, so that none ends before the others have begun and the interleaving shows.
const settings = (i) => ({ model, max_tokens: 24, temperature: 0.8, seed: 100 + i, ignore_eos: true });
const alone = [];
for (let i = 0; i < asks.length; i++) alone.push((await streamChat([{ role: "user", content: asks[i] }], settings(i))).text);
const t0 = Date.now();
const together = await Promise.all(asks.map((a, i) => streamChat([{ role: "user", content: a }], settings(i))));
const seconds = (Date.now() - t0) / 1000;
for (let i = 0; i < asks.length; i++)
  check(`concurrent stream ${i} equals its solo reply`, together[i].text === alone[i] && alone[i].length > 0,
    together[i].text === alone[i] ? short(alone[i]) : `${short(together[i].text)} != ${short(alone[i])}`);
// Interleaved, not one after another: every stream had text before the first one ended.
const lastStart = Math.max(...together.map((r) => r.firstText)), firstEnd = Math.min(...together.map((r) => r.ended));
check("the eight streams interleave", lastStart > 0 && lastStart < firstEnd,
  `last first-text ${lastStart - t0} ms, first end ${firstEnd - t0} ms`);
const distinct = new Set(alone).size;
check("the eight replies differ from each other", distinct === asks.length, `${distinct} distinct`);
console.log(`     eight concurrent replies took ${seconds.toFixed(2)} s`);

if (failures) {
  console.log(`client_checks: ${failures} failed`);
  process.exit(1);
}
