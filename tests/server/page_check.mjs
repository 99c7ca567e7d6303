// The web chat page in headless Chromium: the model's name appears, a typed message gets a
// streamed reply in the page with its speed, Stop ends a long reply (and frees its slot: the
// script checks /metrics after), the expert chart is drawn, and a screenshot is saved.
//
//   node page_check.mjs BASE_URL API_KEY SCREENSHOT.png      (run by scripts/test-server.sh)
import puppeteer from "puppeteer-core";
import { statSync } from "node:fs";

const [baseURL, apiKey, screenshot] = process.argv.slice(2);
let failures = 0;
function check(name, ok, detail = "") {
  console.log((ok ? "ok   " : "FAIL ") + name + (detail ? ": " + detail : ""));
  if (!ok) failures++;
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
  args: ["--no-sandbox", "--disable-gpu", "--window-size=1200,800"],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 800 });
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  // The key as a person would have typed it once (the page keeps it in localStorage).
  await page.evaluateOnNewDocument((key) => localStorage.setItem("moe-server-api-key", key), apiKey);
  await page.goto(baseURL + "/", { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("model").textContent.startsWith("moe-vk"), { timeout: 10_000 });
  check("page shows the model", true, await page.$eval("#model", (e) => e.textContent));

  await page.$eval("#max-tokens", (e) => { e.value = "24"; });
  await page.$eval("#seed", (e) => { e.value = "5"; });
  await page.type("#input", "Hello! What does the licence say?");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelector(".message.assistant") && !document.getElementById("send").disabled,
    { timeout: 30_000 });
  const reply = await page.$eval(".message.assistant", (e) => e.textContent);
  const status = await page.$eval("#status", (e) => e.textContent);
  check("a streamed reply appears in the page", reply.trim().length > 0, JSON.stringify(reply.slice(0, 80)));
  check("the status shows tokens/s", /tokens\/s/.test(status), status);

  // A long reply, stopped once it has begun. The demo model may end a reply within a few
  // tokens, so this request (only) asks the server to go on past end-of-text.
  await page.setRequestInterception(true);
  page.on("request", (r) => {
    if (r.method() !== "POST") return r.continue();
    r.continue({ postData: JSON.stringify({ ...JSON.parse(r.postData()), ignore_eos: true }) });
  });
  await page.$eval("#max-tokens", (e) => { e.value = "800"; });
  await page.$eval("#seed", (e) => { e.value = ""; });
  await page.type("#input", "Now go on for a long time.");
  await page.click("#send");
  await page.waitForFunction(() => {
    const all = document.querySelectorAll(".message.assistant");
    return all.length === 2 && all[1].textContent.length > 0;
  }, { timeout: 30_000 });
  await page.click("#stop");
  await page.waitForFunction(() => !document.getElementById("send").disabled, { timeout: 10_000 });
  const stopped = await page.$eval("#status", (e) => e.textContent);
  check("Stop ends the reply", /^stopped after/.test(stopped), stopped);
  const kept = await page.$$eval(".message", (all) => all.map((e) => e.className.split(" ")[1]));
  check("the conversation is kept (two turns)", JSON.stringify(kept) === JSON.stringify(["user", "assistant", "user", "assistant"]),
    kept.join(","));

  // The chart: some cell shaded in the blue of a used expert.
  await new Promise((r) => setTimeout(r, 2500));  // one slow poll
  const shaded = await page.$eval("#experts", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 150 && d[i] < 120 && d[i + 3] > 0) n++;
    return n;
  });
  check("the expert chart is drawn", shaded > 100, `${shaded} blue pixels`);
  check("no errors in the page", problems.length === 0, problems.join(" | "));

  await page.screenshot({ path: screenshot });
  const bytes = statSync(screenshot).size;
  // A blank 1200x800 PNG is a few kB; the page with text and the chart is tens.
  check("the screenshot is not blank", bytes > 20_000, `${screenshot}, ${bytes} bytes`);
} finally {
  await browser.close();
}
if (failures) {
  console.log(`page_check: ${failures} failed`);
  process.exit(1);
}
