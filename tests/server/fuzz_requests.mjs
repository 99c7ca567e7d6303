// Mutated request bodies against moe-server: a valid chat or completion request with fields
// dropped, swapped for values of every JSON type and size, nested, cut short or replaced by
// random bytes, from a seeded generator (the same bodies every run). Each answer must be a
// 200 or a 4xx with an OpenAI error object; a 5xx, a dropped connection or a server that stops
// answering fails. A 200 reply is read to its end (max_tokens stays small).
//
//   node fuzz_requests.mjs BASE_URL API_KEY COUNT      (run by scripts/test-server.sh)
const [baseURL, apiKey, countText] = process.argv.slice(2);
const count = Number(countText);

let state = 12345;  // xorshift32: reproducible bodies without a package
function rand() {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 4294967296;
}
const pick = (list) => list[Math.floor(rand() * list.length)];
const values = [null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 63, 2 ** 64, "", "x".repeat(300), [], {}, [1], [{}],
  { a: 1 }, "\u0000", [null], [[]], "é", "\ud83d\ude00", [{ role: "user" }], [{ role: "user", content: [] }]];
function mutate(v) {
  if (Array.isArray(v)) {
    const copy = [...v];
    if (copy.length && rand() < 0.5) { const i = Math.floor(rand() * copy.length); copy[i] = mutate(copy[i]); }
    else copy.push(pick(values));
    return copy;
  }
  if (v && typeof v === "object") {
    const copy = { ...v };
    const key = pick([...Object.keys(copy), "extra"]);
    const r = rand();
    if (r < 0.2) delete copy[key];
    else if (r < 0.7 || !(key in copy)) copy[key] = pick(values);
    else copy[key] = mutate(copy[key]);
    return copy;
  }
  return pick(values);
}

const chat = { model: "m", messages: [{ role: "system", content: "s" }, { role: "user", content: "hi" }], max_tokens: 2,
  temperature: 0.5, top_p: 0.9, top_k: 5, min_p: 0.1, stop: ["a"], seed: 3, presence_penalty: 0.1, frequency_penalty: 0.1 };
const completion = { model: "m", prompt: "hi", max_tokens: 2, temperature: 0.5, stop: "a", seed: 1 };

const statuses = {};
let failures = 0;
for (let i = 0; i < count; i++) {
  const isChat = rand() < 0.6;
  let body = isChat ? chat : completion;
  for (let m = 1 + Math.floor(rand() * 3); m > 0; m--) body = mutate(body);
  if (body && typeof body === "object" && !Array.isArray(body)) { body.max_tokens = 2; body.stream = rand() < 0.3; }
  let text = JSON.stringify(body);
  const r = rand();
  if (r < 0.1) text = text.slice(0, Math.floor(rand() * text.length));
  else if (r < 0.15) text = Array.from({ length: Math.floor(rand() * 64) }, () => String.fromCharCode(Math.floor(rand() * 256))).join("");
  const path = isChat ? "/v1/chat/completions" : "/v1/completions";
  let status = "no answer", detail = "";
  try {
    const res = await fetch(baseURL + path, {
      method: "POST", body: text, signal: AbortSignal.timeout(30_000),
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + apiKey },
    });
    status = res.status;
    const answer = await res.text();
    if (status !== 200) {
      const e = JSON.parse(answer).error;
      if (!(typeof e.message === "string" && "param" in e && "type" in e && "code" in e)) detail = "not an error object";
    } else if (answer.startsWith('{"error"') || answer.includes('data: {"error"')) {
      detail = "an error after 200: " + answer.slice(0, 200);
    }
  } catch (e) {
    detail = String(e);
  }
  statuses[status] = (statuses[status] || 0) + 1;
  if (detail || !(status === 200 || (status >= 400 && status < 500))) {
    failures++;
    console.log(`FAIL fuzz ${i}: ${status} ${detail} for ${path} ${JSON.stringify(text.slice(0, 200))}`);
  }
}
console.log(`${failures ? "FAIL" : "ok  "} ${count} mutated requests: ${JSON.stringify(statuses)}`);
process.exit(failures ? 1 : 0);
