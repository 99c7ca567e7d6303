// reference-dump: one GGUF model, one prompt, through libllama (CPU backend only, fixed thread
// count, flash attention off, F16 KV cache as llama.cpp defaults) into a fixture JSON:
//
//   reference-dump --model M.gguf --prompt TEXT --out F.json [--greedy 24] [--threads 1]
//                  [--llamacpp-release R] [--llamacpp-commit C] [--command CMD] [--min-gap G]
//
// The JSON has the layout of ../shared/fixtures/models/*.pN.json (model, prompt, n_vocab,
// prompt_tokens, prompt_logits [position][n_vocab], experts {"ffn_moe_topk-L": [token][k]},
// expert_weights {"<tensor>-L": [token][k]}, greedy_tokens, greedy_margins) and adds what made it
// (llamacpp, command, settings), the vocabulary's special ids as llama.cpp sees them (vocab), and
// routing / attention checks (checks).
//
// Everything comes from the eval callback (cb_eval) on the graph's named tensors during the
// prompt's decode: ffn_moe_topk-L (the selected expert ids, descending), the expert weights the
// graph applies (the last of ffn_moe_weights-L, ffn_moe_weights_softmax-L,
// ffn_moe_weights_norm-L, ffn_moe_weights_scaled-L the graph has), the scores the experts are
// selected by for the routing gap (ffn_moe_probs-L or its biased / group-masked form),
// kq_soft_max-L for the attention mass left to the sinks, and ffn_moe_{gate,up}_biased-L for how
// often swiglu_oai's clamp fires. Exit status 3 when the smallest gap between the k-th and
// (k+1)-th selection score is under --min-gap.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

namespace {

struct Options {
    std::string model, prompt, out, release = "unknown", commit = "unknown", command;
    int greedy = 24;
    int threads = 1;
    double min_gap = 0;
};

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "reference-dump: %s\n", what.c_str());
    std::exit(1);
}

// Rows of a 2-D slice of a host tensor: element (i, r) of a tensor whose dims 1.. are flattened
// into rows, read through its strides (ffn_moe_topk is a view into the argsort result).
template <typename T>
std::vector<std::vector<T>> rows_of(const ggml_tensor* t, int64_t n_cols, int64_t stride_col,
                                    int64_t n_rows, int64_t stride_row) {
    if (t->buffer == nullptr || !ggml_backend_buffer_is_host(t->buffer))
        fail(std::string(t->name) + " is not in host memory");
    const char* base = static_cast<const char*>(t->data);
    std::vector<std::vector<T>> out(n_rows, std::vector<T>(n_cols));
    for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t i = 0; i < n_cols; ++i)
            std::memcpy(&out[r][i], base + r * stride_row + i * stride_col, sizeof(T));
    return out;
}

// "<prefix>-<layer>" exactly (graph names are "%s-%d"); the layer, or -1.
int layer_of(std::string_view name, std::string_view prefix) {
    if (name.size() <= prefix.size() + 1 || name.substr(0, prefix.size()) != prefix ||
        name[prefix.size()] != '-')
        return -1;
    int il = -1;
    auto digits = name.substr(prefix.size() + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), il);
    return ec == std::errc() && end == digits.data() + digits.size() ? il : -1;
}

// What the callback collects, per layer, rows appended per ubatch in token order.
struct Capture {
    bool prompt = true;  // prompt decode (records everything) or a greedy step (gaps only)
    int64_t n_expert_used = 0;
    std::map<int, std::vector<std::vector<int32_t>>> topk;
    // tensor name -> layer -> rows
    std::map<std::string, std::map<int, std::vector<std::vector<float>>>> weights, router;
    // router tensor name -> the gaps of the greedy steps, all layers
    std::map<std::string, std::vector<double>> gen_gaps;
    // attention mass left to the sinks, over every (query, head) of the prompt
    double sink_min = 1, sink_max = 0, sink_sum = 0;
    int64_t sink_n = 0;
    // expert pre-activations beyond swiglu_oai's limit 7 (gate above, up either side)
    int64_t clamp_gate = 0, clamp_up = 0, clamp_n = 0;
};

// The weights build_moe_ffn multiplies the expert outputs by, last step first: scaled
// (expert_weights_scale), renormalised (expert_weights_norm), softmax over the selected
// (softmax-weight gating, gpt-oss), as gathered.
const char* const kWeightTensors[] = {"ffn_moe_weights_scaled", "ffn_moe_weights_norm",
                                      "ffn_moe_weights_softmax", "ffn_moe_weights"};
// The scores the top-k is taken of: build_moe_ffn names them last as one of these (for
// softmax-weight gating ffn_moe_probs is the biased router logits themselves: the name overwrites
// ffn_moe_logits_biased on the same tensor).
const char* const kRouterTensors[] = {"ffn_moe_probs_masked", "ffn_moe_probs_biased",
                                      "ffn_moe_probs"};

bool wanted(std::string_view name) {
    for (auto p : {"ffn_moe_topk", "kq_soft_max", "ffn_moe_gate_biased", "ffn_moe_up_biased"})
        if (layer_of(name, p) >= 0) return true;
    for (auto p : kWeightTensors)
        if (layer_of(name, p) >= 0) return true;
    for (auto p : kRouterTensors)
        if (layer_of(name, p) >= 0) return true;
    return false;
}

double gap_after(std::vector<float> v, size_t k) {  // v[k-1] - v[k] of v sorted descending
    std::sort(v.begin(), v.end(), std::greater<>());
    return double(v[k - 1]) - double(v[k]);
}

bool on_tensor(ggml_tensor* t, bool ask, void* user) {
    std::string_view name = t->name;
    if (ask) return wanted(name);
    auto& c = *static_cast<Capture*>(user);
    int il;
    if ((il = layer_of(name, "ffn_moe_topk")) >= 0) {
        if (t->type != GGML_TYPE_I32) fail("ffn_moe_topk is not I32");
        c.n_expert_used = t->ne[0];
        if (c.prompt) {
            auto rows = rows_of<int32_t>(t, t->ne[0], t->nb[0], t->ne[1], t->nb[1]);
            auto& dst = c.topk[il];
            dst.insert(dst.end(), rows.begin(), rows.end());
        }
        return true;
    }
    for (auto p : kRouterTensors) {
        if ((il = layer_of(name, p)) < 0) continue;
        if (t->type != GGML_TYPE_F32) fail(std::string(t->name) + " is not F32");
        auto rows = rows_of<float>(t, t->ne[0], t->nb[0], t->ne[1], t->nb[1]);
        if (c.prompt) {
            auto& dst = c.router[p][il];
            dst.insert(dst.end(), rows.begin(), rows.end());
        } else if (c.n_expert_used > 0) {
            for (auto& r : rows) c.gen_gaps[p].push_back(gap_after(r, c.n_expert_used));
        }
        return true;
    }
    if (!c.prompt) return true;
    for (auto p : kWeightTensors) {
        if ((il = layer_of(name, p)) < 0) continue;
        if (t->type != GGML_TYPE_F32) fail(std::string(t->name) + " is not F32");
        // [1, k, tokens] (or [k, tokens] after a 2-D reshape): k values per token
        bool three = t->ne[0] == 1 && t->ne[1] == c.n_expert_used;
        auto rows = three ? rows_of<float>(t, t->ne[1], t->nb[1], t->ne[2], t->nb[2])
                          : rows_of<float>(t, t->ne[0], t->nb[0], t->ne[1], t->nb[1]);
        auto& dst = c.weights[p][il];
        dst.insert(dst.end(), rows.begin(), rows.end());
        return true;
    }
    if ((il = layer_of(name, "kq_soft_max")) >= 0) {
        // [n_kv, n_tokens, n_head, n_stream]: each row sums to 1 minus the sink's share
        auto rows = rows_of<float>(t, t->ne[0], t->nb[0], t->ne[1] * t->ne[2] * t->ne[3], t->nb[1]);
        if (!ggml_is_contiguous(t)) fail("kq_soft_max is not contiguous");
        for (auto& r : rows) {
            double s = 0;
            for (float v : r) s += v;
            double sink = 1 - s;
            c.sink_min = std::min(c.sink_min, sink), c.sink_max = std::max(c.sink_max, sink);
            c.sink_sum += sink, ++c.sink_n;
        }
        return true;
    }
    bool gate = layer_of(name, "ffn_moe_gate_biased") >= 0;
    if (gate || layer_of(name, "ffn_moe_up_biased") >= 0) {
        if (!ggml_is_contiguous(t) || t->type != GGML_TYPE_F32)
            fail(std::string(t->name) + " is not contiguous F32");
        const float* v = static_cast<const float*>(t->data);
        int64_t n = ggml_nelements(t), over = 0;
        for (int64_t i = 0; i < n; ++i) over += gate ? v[i] > 7.0f : std::fabs(v[i]) > 7.0f;
        (gate ? c.clamp_gate : c.clamp_up) += over;
        if (gate) c.clamp_n += n;
        return true;
    }
    return true;
}

// ---- JSON text, laid out like the shared fixtures (one logits row a line) ----

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (unsigned char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += char(ch);
        } else if (ch == '\n') {
            out += "\\n";
        } else if (ch < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            out += buf;
        } else {
            out += char(ch);
        }
    }
    return out + "\"";
}

std::string num(double v, int digits) {
    if (!std::isfinite(v)) fail("a value to write is not finite");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}

template <typename T>
std::string list(const std::vector<T>& v, int digits, const char* sep = ",") {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) s += sep;
        if constexpr (std::is_integral_v<T>)
            s += std::to_string(v[i]);
        else
            s += num(v[i], digits);
    }
    return s + "]";
}

template <typename T>
std::string rows_inline(const std::vector<std::vector<T>>& rows, int digits) {
    std::string s = "[";
    for (size_t i = 0; i < rows.size(); ++i) s += (i ? ", " : "") + list(rows[i], digits);
    return s + "]";
}

// ---- the run ----

Options parse(int argc, char** argv, std::string& argv_text) {
    Options o;
    argv_text = "reference-dump";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) fail("missing value after " + a);
        std::string v = argv[++i];
        if (a == "--command") {  // recorded apart, not in dump_command
            o.command = v;
            continue;
        }
        if (a == "--model")
            o.model = v;
        else if (a == "--prompt")
            o.prompt = v;
        else if (a == "--out")
            o.out = v;
        else if (a == "--greedy")
            o.greedy = std::stoi(v);
        else if (a == "--threads")
            o.threads = std::stoi(v);
        else if (a == "--min-gap")
            o.min_gap = std::stod(v);
        else if (a == "--llamacpp-release")
            o.release = v;
        else if (a == "--llamacpp-commit")
            o.commit = v;
        else
            fail("unknown argument " + a);
        bool plain = v.find_first_of(" \"'<|\n") == std::string::npos;
        argv_text += " " + a + " " + (plain ? v : quoted(v));
    }
    if (o.model.empty() || o.out.empty() || o.greedy < 1)
        fail("usage: reference-dump --model M.gguf --prompt TEXT --out F.json [--greedy N>=1]");
    return o;
}

struct Run {
    std::vector<llama_token> tokens;
    std::vector<std::vector<float>> logits;  // [position][n_vocab]
    std::vector<llama_token> greedy;
    std::vector<double> margins;  // best minus second-best logit at each greedy step
};

std::pair<llama_token, double> best_two(const float* v, int n) {
    int a = 0;
    for (int i = 1; i < n; ++i)
        if (v[i] > v[a]) a = i;
    float second = -INFINITY;
    for (int i = 0; i < n; ++i)
        if (i != a) second = std::max(second, v[i]);
    return {a, double(v[a]) - double(second)};
}

// The prompt in one batch with logits at every position (the callback records it), then greedy
// steps one token at a time (the callback only collects routing gaps).
Run decode(llama_context* ctx, const llama_vocab* vocab, const Options& o, Capture& cap) {
    const int n_vocab = llama_vocab_n_tokens(vocab);
    Run run;
    run.tokens.resize(o.prompt.size() + 8);
    int n = llama_tokenize(vocab, o.prompt.data(), int(o.prompt.size()), run.tokens.data(),
                           int(run.tokens.size()), /*add_special=*/true, /*parse_special=*/true);
    if (n <= 0) fail("tokenizing the prompt failed");
    run.tokens.resize(n);
    if (n + o.greedy > int(llama_n_ctx(ctx))) fail("prompt and greedy steps exceed the context");

    llama_batch batch = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; ++i) {
        batch.token[i] = run.tokens[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n;
    cap.prompt = true;
    int rc = llama_decode(ctx, batch);
    llama_batch_free(batch);
    if (rc != 0) fail("decoding the prompt failed");
    for (int i = 0; i < n; ++i) {
        const float* l = llama_get_logits_ith(ctx, i);
        run.logits.emplace_back(l, l + n_vocab);
    }
    for (auto& [il, rows] : cap.topk)
        if (rows.size() != size_t(n))
            fail("ffn_moe_topk-" + std::to_string(il) + ": rows != tokens");

    cap.prompt = false;
    const float* last = run.logits.back().data();
    for (int step = 0; step < o.greedy; ++step) {
        auto [tok, margin] = best_two(last, n_vocab);
        run.greedy.push_back(tok);
        run.margins.push_back(margin);
        if (step + 1 == o.greedy) break;
        llama_token t = tok;
        if (llama_decode(ctx, llama_batch_get_one(&t, 1)) != 0) fail("a greedy step failed");
        last = llama_get_logits_ith(ctx, -1);
    }
    return run;
}

struct Checks {
    std::string weights, router;    // the tensors found (first present of each preference list)
    std::vector<double> layer_gap;  // per layer, the smallest k-th minus (k+1)-th score
    double min_gap = INFINITY, min_greedy_gap = INFINITY;
};

Checks summarize(const Capture& cap) {
    auto first_present = [](const auto& m, const auto& names) -> std::string {
        for (const char* name : names)
            if (m.count(name)) return name;
        return "";
    };
    Checks c;
    c.weights = first_present(cap.weights, kWeightTensors);
    c.router = first_present(cap.router, kRouterTensors);
    if (cap.topk.empty() || c.weights.empty() || c.router.empty())
        fail("the graph had no ffn_moe_topk, expert weights or selection scores");
    for (auto& [il, rows] : cap.router.at(c.router)) {
        double g = INFINITY;
        for (auto& r : rows) g = std::min(g, gap_after(r, size_t(cap.n_expert_used)));
        c.layer_gap.push_back(g);
        c.min_gap = std::min(c.min_gap, g);
    }
    if (auto it = cap.gen_gaps.find(c.router); it != cap.gen_gaps.end())
        for (double g : it->second) c.min_greedy_gap = std::min(c.min_greedy_gap, g);
    return c;
}

// The vocabulary as llama.cpp reads it: it finds EOT and EOG tokens by their text and turns some
// control tokens into user-defined ones (always rendered), so this is what an engine should match.
std::string vocab_json(const llama_vocab* vocab) {
    std::vector<llama_token> eog, control, user_defined;
    for (llama_token t = 0; t < llama_vocab_n_tokens(vocab); ++t) {
        if (llama_vocab_is_eog(vocab, t)) eog.push_back(t);
        auto attr = llama_vocab_get_attr(vocab, t);
        if (attr & LLAMA_TOKEN_ATTR_CONTROL) control.push_back(t);
        if (attr & LLAMA_TOKEN_ATTR_USER_DEFINED) user_defined.push_back(t);
    }
    return "{\"bos\": " + std::to_string(llama_vocab_bos(vocab)) +
           ", \"eos\": " + std::to_string(llama_vocab_eos(vocab)) +
           ", \"eot\": " + std::to_string(llama_vocab_eot(vocab)) +
           ", \"eog\": " + list(eog, 0, ", ") + ", \"control\": " + list(control, 0, ", ") +
           ", \"user_defined\": " + list(user_defined, 0, ", ") + "}";
}

std::string system_info() {
    std::string s = llama_print_system_info();
    while (!s.empty() && (s.back() == ' ' || s.back() == '|')) s.pop_back();
    return s;
}

template <typename Rows>
std::string layer_map(const std::string& prefix, const std::map<int, Rows>& layers, int digits) {
    std::string s = "{\n";
    for (auto it = layers.begin(); it != layers.end(); ++it)
        s += " " + quoted(prefix + "-" + std::to_string(it->first)) + ": " +
             rows_inline(it->second, digits) + (std::next(it) != layers.end() ? ",\n" : "\n");
    return s + "}";
}

std::string fixture_json(const Options& o, const std::string& argv_text, const Run& run,
                         const Capture& cap, const Checks& c, const llama_vocab* vocab, int n_ctx) {
    std::string model = o.model.substr(o.model.find_last_of('/') + 1);  // npos + 1 == 0
    std::string j = "{\"model\": " + quoted(model) + ", \"prompt\": " + quoted(o.prompt) + ",\n";
    j += "\"n_vocab\": " + std::to_string(llama_vocab_n_tokens(vocab)) + ",\n";
    j += "\"prompt_tokens\": " + list(run.tokens, 0, ", ") + ",\n";
    j += "\"prompt_logits\": [\n";
    for (size_t i = 0; i < run.logits.size(); ++i)
        j += " " + list(run.logits[i], 7) + (i + 1 < run.logits.size() ? ",\n" : "\n");
    j += "],\n";
    j += "\"experts\": " + layer_map("ffn_moe_topk", cap.topk, 0) + ",\n";
    j += "\"expert_weights\": " + layer_map(c.weights, cap.weights.at(c.weights), 7) + ",\n";
    j += "\"greedy_tokens\": " + list(run.greedy, 0, ", ") + ",\n";
    j += "\"greedy_margins\": " + list(run.margins, 4, ", ") + ",\n";
    j += "\"vocab\": " + vocab_json(vocab) + ",\n";
    j += "\"llamacpp\": {\"release\": " + quoted(o.release) + ", \"commit\": " + quoted(o.commit) +
         ", \"backend\": \"CPU\", \"system_info\": " + quoted(system_info()) + "},\n";
    j += "\"command\": " + quoted(o.command) + ",\n";
    j += "\"dump_command\": " + quoted(argv_text) + ",\n";
    j +=
        "\"settings\": {\"n_threads\": " + std::to_string(o.threads) +
        ", \"flash_attn\": false, \"kv_cache_type\": \"f16\", \"n_ctx\": " + std::to_string(n_ctx) +
        ", \"add_special\": true, \"parse_special\": true, "
        "\"greedy\": \"argmax of the logits, EOG not stopping\"},\n";
    auto share = [&](double v) { return num(cap.sink_n ? v : 0, 4); };
    j += "\"checks\": {\"router_tensor\": " + quoted(c.router) +
         ", \"routing_gap_min\": " + num(c.min_gap, 4) +
         ", \"routing_gap_min_per_layer\": " + list(c.layer_gap, 4, ", ") +
         ", \"routing_gap_min_greedy\": " +
         (std::isfinite(c.min_greedy_gap) ? num(c.min_greedy_gap, 4) : "null") +
         ", \"sink_mass\": {\"min\": " + share(cap.sink_min) +
         ", \"mean\": " + share(cap.sink_sum / std::max<int64_t>(cap.sink_n, 1)) +
         ", \"max\": " + share(cap.sink_max) + "}" +
         ", \"swiglu_clamped\": {\"gate_over_7\": " + std::to_string(cap.clamp_gate) +
         ", \"up_beyond_7\": " + std::to_string(cap.clamp_up) +
         ", \"of\": " + std::to_string(cap.clamp_n) + "}}\n";
    return j + "}\n";
}

void quiet_log(ggml_log_level level, const char* text, void*) {
    if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) std::fputs(text, stderr);
}

}  // namespace

int main(int argc, char** argv) {
    std::string argv_text;
    Options o = parse(argc, argv, argv_text);

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    std::unique_ptr<llama_model, decltype(&llama_model_free)> model(
        llama_model_load_from_file(o.model.c_str(), mp), llama_model_free);
    if (!model) fail("cannot load " + o.model);

    Capture cap;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 256;
    cp.n_batch = cp.n_ubatch = 256;  // the whole prompt in one ubatch
    cp.n_threads = cp.n_threads_batch = o.threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.cb_eval = on_tensor;
    cp.cb_eval_user_data = &cap;
    cp.no_perf = true;
    std::unique_ptr<llama_context, decltype(&llama_free)> ctx(
        llama_init_from_model(model.get(), cp), llama_free);
    if (!ctx) fail("cannot create a context");

    const llama_vocab* vocab = llama_model_get_vocab(model.get());
    Run run = decode(ctx.get(), vocab, o, cap);
    Checks checks = summarize(cap);
    std::string json = fixture_json(o, argv_text, run, cap, checks, vocab, int(cp.n_ctx));
    FILE* f = std::fopen(o.out.c_str(), "w");
    if (!f || std::fwrite(json.data(), 1, json.size(), f) != json.size() || std::fclose(f) != 0)
        fail("cannot write " + o.out);

    std::fprintf(stderr,
                 "%s: %zu tokens, routing gap min %.4g (greedy steps %.4g), sink mass %.3g..%.3g, "
                 "greedy margin min %.4g\n",
                 o.out.c_str(), run.tokens.size(), checks.min_gap, checks.min_greedy_gap,
                 cap.sink_min, cap.sink_max,
                 *std::min_element(run.margins.begin(), run.margins.end()));
    ctx.reset();
    model.reset();
    llama_backend_free();
    if (checks.min_gap < o.min_gap) {
        std::fprintf(stderr, "reference-dump: routing gap %.4g is under --min-gap %.4g\n",
                     checks.min_gap, o.min_gap);
        return 3;
    }
    return 0;
}
