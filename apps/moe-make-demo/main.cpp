// moe-make-demo: writes the default model in assets/, so a new user can chat without a download.
//
// The model is a real GGUF file of the `llama` architecture with experts (2 layers, 8 experts,
// top-2, a byte-level BPE vocabulary of 1024 tokens learned here from the corpus) that moe-vk
// runs like any other. Its words come from bigram statistics of the corpus placed in the
// embedding and output matrices: the embedding of token u is a scaled one-hot vector, so after
// the final norm the output row of token v reads log P(v | u). The attention and MoE layers run
// for real with random weights whose outputs are kept small, so they perturb the bigram
// distribution a little rather than drown it. It babbles plausible English; it knows nothing.
#include <CLI/CLI.hpp>

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "bpe_trainer.h"
#include "gguf/gguf.h"
#include "gpu/error.h"
#include "quant/ggml_types.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "text/vocab.h"

using namespace moevk;

namespace {

constexpr uint32_t kVocab = 1024;  // also d_model: the embedding is one-hot
constexpr uint32_t kLayers = 2, kHeads = 8, kKvHeads = 2, kHeadDim = 128;
constexpr uint32_t kExperts = 8, kTopK = 2, kExpertFf = 128;
constexpr float kEmbedScale = 32.0f;  // sqrt(d): a one-hot row of this size has RMS 1
const char* kSpecials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
const char* kChatTemplate =
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

std::string read_corpus(const std::vector<std::string>& paths) {
    std::string all;
    for (const std::string& p : paths) {
        std::ifstream in(p);
        if (!in) throw Error(ErrorCode::InvalidArgument, "cannot read corpus file " + p);
        std::stringstream ss;
        ss << in.rdbuf();
        all += ss.str() + " ";
    }
    // Runs of white space become one space: the corpora are line-wrapped prose.
    std::string text;
    for (char c : all) {
        bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f';
        if (space) {
            if (!text.empty() && text.back() != ' ') text += ' ';
        } else {
            text += c;
        }
    }
    return text;
}

std::map<std::string, uint64_t> count_words(const std::string& text) {
    std::vector<uint32_t> cps = text::decode_utf8(text);
    std::map<std::string, uint64_t> words;
    for (const text::Piece& p : text::pre_split(text::PreTokenizer::Gpt2, cps)) {
        std::string w;
        for (size_t i = p.begin; i < p.end; ++i) text::append_utf8(w, cps[i]);
        ++words[w];
    }
    return words;
}

text::Vocab make_vocab(const demo::BpeVocabulary& bpe) {
    text::Vocab v;
    v.source = "moe-make-demo";
    v.model = text::VocabModel::BytePairs;
    v.pre = "gpt-2";
    v.tokens = bpe.tokens;
    v.merges = bpe.merges;
    v.types.assign(v.tokens.size(), text::TokenType::Normal);
    for (const char* s : kSpecials) {
        v.tokens.push_back(s);
        v.types.push_back(text::TokenType::Control);
    }
    v.scores.assign(v.tokens.size(), 0.0f);
    v.bos = v.eos = kVocab - 3;  // <|endoftext|>
    v.eot = kVocab - 1;          // <|im_end|>
    return v;
}

// log P(v | u) over the corpus, with add-k smoothing among ordinary tokens. Chat structure is
// added by hand: a reply ends (<|im_end|>) after a third of the sentences, and the line break
// that opens a reply is followed by what follows a full stop.
std::vector<float> bigram_log_probs(const std::vector<uint32_t>& stream, const text::Tokenizer& tok) {
    const uint32_t V = kVocab, n_ordinary = V - 3, im_end = V - 1;
    std::vector<double> counts(size_t(V) * V, 0.0);
    for (size_t i = 0; i + 1 < stream.size(); ++i) counts[size_t(stream[i]) * V + stream[i + 1]] += 1;
    uint32_t stop = *tok.find_token(".");
    uint32_t newline = *tok.find_token(std::string("\xC4\x8A"));  // "\n" in GPT-2's byte alphabet
    double stops = 0;
    for (uint32_t v = 0; v < V; ++v) stops += counts[size_t(stop) * V + v];
    for (uint32_t v = 0; v < V; ++v) counts[size_t(newline) * V + v] += counts[size_t(stop) * V + v];
    counts[size_t(stop) * V + im_end] += stops / 3;

    std::vector<float> logp(size_t(V) * V);
    for (uint32_t u = 0; u < V; ++u) {
        double total = 0;
        for (uint32_t v = 0; v < n_ordinary; ++v) counts[size_t(u) * V + v] += 0.05;
        for (uint32_t v = 0; v < V; ++v) total += counts[size_t(u) * V + v];
        for (uint32_t v = 0; v < V; ++v) {
            double c = counts[size_t(u) * V + v];
            logp[size_t(u) * V + v] = c > 0 ? static_cast<float>(std::log(c / total)) : -30.0f;
        }
    }
    return logp;
}

class Weights {
public:
    explicit Weights(gguf::Writer& w) : w_(w), rng_(2026) {}

    void add(const std::string& name, quant::WeightFormat f, std::vector<uint64_t> dims, const std::vector<float>& v) {
        uint64_t rows = 1;
        for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
        w_.add_tensor(name, dims, quant::to_ggml_type(f), quant::encode_matrix(f, v, rows, dims[0]));
    }
    std::vector<float> uniform(size_t n, float bound) {
        std::uniform_real_distribution<float> d(-bound, bound);
        std::vector<float> v(n);
        for (float& x : v) x = d(rng_);
        return v;
    }

private:
    gguf::Writer& w_;
    std::mt19937_64 rng_;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"moe-make-demo: write moe-vk's default demo model"};
    std::vector<std::string> corpus = {"/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0",
                                       "/usr/share/common-licenses/GFDL-1.3"};
    std::string out = "assets/moe-vk-demo.gguf";
    app.add_option("--corpus", corpus, "English text files to learn the vocabulary and bigrams from")
        ->capture_default_str();
    app.add_option("-o,--output", out, "GGUF file to write")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        std::string text = read_corpus(corpus);
        demo::BpeVocabulary bpe = demo::train_bpe(count_words(text), kVocab - 256 - 3);
        if (bpe.tokens.size() != kVocab - 3)
            throw Error(ErrorCode::InvalidArgument, "the corpus gave only " + std::to_string(bpe.merges.size()) +
                                                        " merges; a larger corpus is needed");
        text::Vocab vocab = make_vocab(bpe);
        text::Tokenizer tok = text::Tokenizer::from_vocab(vocab);
        std::vector<uint32_t> stream = tok.encode(text, false, false);
        std::vector<float> logp = bigram_log_probs(stream, tok);

        gguf::Writer w;
        w.set_string("general.architecture", "llama");
        w.set_string("general.name", "moe-vk demo (bigram babble)");
        w.set_uint32("llama.block_count", kLayers);
        w.set_uint32("llama.context_length", 2048);
        w.set_uint32("llama.embedding_length", kVocab);
        w.set_uint32("llama.attention.head_count", kHeads);
        w.set_uint32("llama.attention.head_count_kv", kKvHeads);
        w.set_uint32("llama.rope.dimension_count", kHeadDim);
        w.set_float32("llama.rope.freq_base", 10000.0f);
        w.set_float32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.set_uint32("llama.expert_count", kExperts);
        w.set_uint32("llama.expert_used_count", kTopK);
        w.set_uint32("llama.expert_feed_forward_length", kExpertFf);
        w.set_uint32("llama.vocab_size", kVocab);
        w.set_string("tokenizer.ggml.model", "gpt2");
        w.set_string("tokenizer.ggml.pre", vocab.pre);
        w.set_strings("tokenizer.ggml.tokens", vocab.tokens);
        std::vector<int32_t> types;
        for (text::TokenType t : vocab.types) types.push_back(static_cast<int32_t>(t));
        w.set_int32s("tokenizer.ggml.token_type", types);
        w.set_strings("tokenizer.ggml.merges", vocab.merges);
        w.set_uint32("tokenizer.ggml.bos_token_id", *vocab.bos);
        w.set_uint32("tokenizer.ggml.eos_token_id", *vocab.eos);
        w.set_uint32("tokenizer.ggml.eot_token_id", *vocab.eot);
        w.set_bool("tokenizer.ggml.add_bos_token", false);
        w.set_string("tokenizer.chat_template", kChatTemplate);

        const uint32_t d = kVocab, q_dim = kHeads * kHeadDim, kv_dim = kKvHeads * kHeadDim;
        const float in_bound = std::sqrt(3.0f / d), small = 1e-3f;
        Weights g(w);
        using F = quant::WeightFormat;
        std::vector<float> embed(size_t(d) * d, 0.0f), output(size_t(d) * d);
        for (uint32_t u = 0; u < d; ++u) embed[size_t(u) * d + u] = kEmbedScale;
        // output[v][u] * kEmbedScale = log P(v | u): the normed residual is kEmbedScale * e_u.
        for (uint32_t v = 0; v < d; ++v)
            for (uint32_t u = 0; u < d; ++u) output[size_t(v) * d + u] = logp[size_t(u) * d + v] / kEmbedScale;
        g.add("token_embd.weight", F::Q8_0, {d, d}, embed);
        g.add("output.weight", F::Q8_0, {d, d}, output);
        g.add("output_norm.weight", F::F32, {d}, std::vector<float>(d, 1.0f));
        for (uint32_t i = 0; i < kLayers; ++i) {
            std::string p = "blk." + std::to_string(i) + ".";
            g.add(p + "attn_norm.weight", F::F32, {d}, std::vector<float>(d, 1.0f));
            g.add(p + "ffn_norm.weight", F::F32, {d}, std::vector<float>(d, 1.0f));
            g.add(p + "attn_q.weight", F::Q4_K, {d, q_dim}, g.uniform(size_t(q_dim) * d, in_bound));
            g.add(p + "attn_k.weight", F::Q4_K, {d, kv_dim}, g.uniform(size_t(kv_dim) * d, in_bound));
            g.add(p + "attn_v.weight", F::Q4_K, {d, kv_dim}, g.uniform(size_t(kv_dim) * d, in_bound));
            g.add(p + "attn_output.weight", F::Q4_K, {q_dim, d}, g.uniform(size_t(d) * q_dim, small));
            g.add(p + "ffn_gate_inp.weight", F::F32, {d, kExperts}, g.uniform(size_t(kExperts) * d, 2 * in_bound));
            g.add(p + "ffn_gate_exps.weight", F::Q4_K, {d, kExpertFf, kExperts},
                  g.uniform(size_t(kExperts) * kExpertFf * d, in_bound));
            g.add(p + "ffn_up_exps.weight", F::Q4_K, {d, kExpertFf, kExperts},
                  g.uniform(size_t(kExperts) * kExpertFf * d, in_bound));
            g.add(p + "ffn_down_exps.weight", F::Q8_0, {kExpertFf, d, kExperts},
                  g.uniform(size_t(kExperts) * d * kExpertFf, small));
        }
        w.write(out);
        std::cerr << "wrote " << out << ": vocabulary " << kVocab << " (" << bpe.merges.size()
                  << " merges), corpus of " << stream.size() << " tokens\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "moe-make-demo: error: " << e.what() << "\n";
        return 1;
    }
}
