// llama.cpp's Vulkan backend through node-llama-cpp, timed the way moe-bench's model mode times
// moe-vk: a prompt of synthetic token ids from an empty cache, then greedy generation one token
// at a time. Prints one JSON object on stdout; everything else goes to stderr.
//
//   node scripts/llamacpp-bench.mjs MODEL.gguf --prompt 256 --gen 64 --repeats 3
//
// It refuses (exit 2) when llama.cpp did not put the whole model on a Vulkan device: ggml-vulkan
// skips CPU-type devices (lavapipe) unless GGML_VK_VISIBLE_DEVICES names them and then quietly
// runs on its CPU backend, which would make any ratio meaningless.
// NODE_PATH is not used by ES modules: the caller passes the install folder in LLAMACPP_DIR.
import path from "node:path";
import {createRequire} from "node:module";
import fs from "node:fs";

const args = process.argv.slice(2);
const opt = {prompt: 256, gen: 64, repeats: 3, warmupGen: 4};
let modelPath = null;
for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    if (a === "--prompt") opt.prompt = Number(args[++i]);
    else if (a === "--gen") opt.gen = Number(args[++i]);
    else if (a === "--repeats") opt.repeats = Number(args[++i]);
    else if (!a.startsWith("--") && modelPath === null) modelPath = a;
    else { console.error(`llamacpp-bench: unknown argument ${a}`); process.exit(64); }
}
if (!modelPath || !(opt.prompt >= 1) || !(opt.gen >= 2) || !(opt.repeats >= 1)) {
    console.error("usage: llamacpp-bench.mjs MODEL.gguf [--prompt N] [--gen N>=2] [--repeats N]");
    process.exit(64);
}

const dir = process.env.LLAMACPP_DIR;
if (!dir) { console.error("llamacpp-bench: set LLAMACPP_DIR to the node-llama-cpp install folder"); process.exit(64); }
const require = createRequire(path.join(path.resolve(dir), "package.json"));
const {getLlama, LlamaLogLevel} = await import(require.resolve("node-llama-cpp"));

function refuse(why) {
    console.error(`llamacpp-bench: refusing to measure: ${why}`);
    process.exit(2);
}

const log = [];
const llama = await getLlama({
    gpu: "vulkan",
    build: "never",          // the prebuilt @node-llama-cpp/linux-x64-vulkan binary or nothing
    usePrebuiltBinaries: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.info,
    logger: (level, message) => { log.push(message); if (process.env.LLAMACPP_LOG) process.stderr.write(message); },
});
if (llama.gpu !== "vulkan") refuse(`llama.cpp loaded with gpu=${llama.gpu}, not vulkan`);
const deviceNames = await llama.getGpuDeviceNames();
const vram = await llama.getVramState();
if (deviceNames.length === 0 || vram.total === 0)
    refuse("ggml-vulkan found no Vulkan device (a CPU-type device such as lavapipe needs GGML_VK_VISIBLE_DEVICES); " +
           "it would run on its CPU backend");

const model = await llama.loadModel({modelPath, gpuLayers: "max", useMmap: true});
const blockCount = Number(model.fileInfo.metadata[model.fileInfo.metadata.general.architecture]?.block_count ?? 0);
// llama.cpp counts the output layer as one more: "offloaded 9/9 layers to GPU".
// llama.cpp's log reaches the logger asynchronously: wait for the lines a while.
async function fromLog(re, ms = 10000) {
    for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 50))) {
        const m = log.join("").match(re);
        if (m) return m;
    }
    return null;
}
const offload = await fromLog(/offloaded (\d+)\/(\d+) layers to GPU/);
if (!offload) refuse("llama.cpp's log does not say how many layers it offloaded");
if (offload[1] !== offload[2]) refuse(`llama.cpp offloaded only ${offload[1]}/${offload[2]} layers to the GPU`);
// "llama_prepare_model_devices: using device Vulkan0 (llvmpipe (LLVM 15.0.6, 256 bits)) ..."
const usedDevice = await fromLog(/using device (Vulkan\d+) \((.*?)\) \(/);
if (!usedDevice) refuse("llama.cpp's log names no Vulkan device that it uses for the model");
if (!(await fromLog(new RegExp(`${usedDevice[1]} model buffer size`)))) refuse(`no model buffer on ${usedDevice[1]}`);
if (model.gpuLayers < blockCount) refuse(`model.gpuLayers is ${model.gpuLayers} of ${blockCount} layers`);
const vramAfterLoad = await llama.getVramState();

const vocab = Number(model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0);
if (!(vocab > 0)) refuse("the model file has no tokenizer.ggml.tokens (llama.cpp needs a vocabulary)");
// The same ids moe-bench's model mode evaluates.
const prompt = Array.from({length: opt.prompt}, (_, i) => (i * 7919 + 13) % vocab);

const context = await model.createContext({
    contextSize: opt.prompt + opt.gen + 16,
    batchSize: Math.min(opt.prompt, 512),  // one batch for the prompt, as moe-bench's max_batch
    sequences: 1,
    flashAttention: false,  // crashes on lavapipe; moe-vk has no flash attention either
});
const sequence = context.getSequence();

// One prompt from an empty cache, then `gen` greedy tokens: returns the prompt's seconds (to the
// first sampled token) and the seconds of each later step.
async function once(gen) {
    await sequence.clearHistory();
    const steps = [];
    const t0 = process.hrtime.bigint();
    let last = t0, promptSeconds = 0, n = 0;
    for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
        const now = process.hrtime.bigint();
        if (n === 0) promptSeconds = Number(now - t0) / 1e9;
        else steps.push(Number(now - last) / 1e9);
        last = now;
        void token;
        if (++n >= gen) break;
    }
    return {promptSeconds, steps};
}

function summary(v) {
    const s = [...v].sort((a, b) => a - b), n = s.length;
    return {median: n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]), min: s[0], max: s[n - 1], samples: n};
}

await once(Math.min(opt.warmupGen, opt.gen));  // warm-up: pipelines, allocations
const promptRuns = [], steps = [];
for (let r = 0; r < opt.repeats; ++r) {
    const {promptSeconds, steps: s} = await once(opt.gen);
    promptRuns.push(promptSeconds);
    // The first generated step after the prompt is left out, as moe-bench does.
    steps.push(...s.slice(1));
}
const p = summary(promptRuns), g = summary(steps);
console.log(JSON.stringify({
    engine: "llama.cpp",
    binding: `node-llama-cpp ${JSON.parse(fs.readFileSync(path.join(dir, "node_modules/node-llama-cpp/package.json"))).version}`,
    gpu: llama.gpu,
    devices: deviceNames,
    device_log: `${usedDevice[1]} (${usedDevice[2]})`,
    vram_total: vram.total,
    vram_used_by_model: vramAfterLoad.used - vram.used,
    offloaded_layers: `${offload[1]}/${offload[2]}`,
    flash_attention: context.flashAttention,
    path: modelPath,
    n_vocab: vocab,
    prompt_tokens: opt.prompt,
    generated_tokens: opt.gen,
    prompt_seconds: p,
    generate_seconds_per_token: g,
    prompt_tps: opt.prompt / p.median,
    gen_tps: 1 / g.median,
}));
await context.dispose();
await model.dispose();
await llama.dispose();
