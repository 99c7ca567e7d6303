// Model files that do not fit what the runtime needs, each written on purpose: an unknown
// architecture, a missing key or tensor, a shape that disagrees with the metadata, a tensor type
// moe-vk does not read. Each must fail with an error naming the file and the item. No GPU.
#include <gtest/gtest.h>

#include <functional>

#include "gguf/gguf.h"
#include "gpu/error.h"
#include "model/architecture.h"
#include "model/model_file.h"
#include "model/synthetic.h"
#include "quant/ggml_types.h"
#include "test_support.h"

namespace moevk::model {
namespace {

constexpr const char* kName = "broken.gguf";

SyntheticSpec small_spec(const char* arch = "llama") {
    SyntheticSpec s;
    s.architecture = arch;
    s.n_layers = 2;
    s.d_model = 256;
    s.n_heads = 4;
    s.n_kv_heads = 2;
    s.head_dim = 64;
    s.n_vocab = 50;
    s.n_experts = 4;
    s.top_k = 2;
    s.d_ff = 256;
    s.d_ff_shared = 256;
    return s;
}

// A copy of `file` with its metadata and tensors passed through the edits: an edit returns
// false to drop the item.
struct Edits {
    std::function<bool(std::string&, gguf::Value&)> metadata = [](std::string&, gguf::Value&) { return true; };
    std::function<bool(std::string&, std::vector<uint64_t>&, quant::GgmlType&, std::vector<uint8_t>&)> tensor =
        [](std::string&, std::vector<uint64_t>&, quant::GgmlType&, std::vector<uint8_t>&) { return true; };
};

std::vector<uint8_t> rewrite(const SyntheticSpec& spec, const Edits& edits) {
    std::vector<uint8_t> original = synthetic_model(spec).bytes();
    gguf::File file = gguf::File::parse(original, "original");
    gguf::Writer w;
    for (auto [key, value] : file.metadata())
        if (edits.metadata(key, value)) w.set(key, value);
    for (const gguf::TensorInfo& t : file.tensors()) {
        std::string name = t.name;
        std::vector<uint64_t> dims = t.dims;
        quant::GgmlType type = t.type;
        std::vector<uint8_t> data(t.data.begin(), t.data.end());
        if (edits.tensor(name, dims, type, data)) w.add_tensor(name, dims, type, std::move(data));
    }
    return w.bytes();
}

// Loading `bytes` fails with `code` and a message naming the file and each of `parts`.
void expect_error(const std::vector<uint8_t>& bytes, ErrorCode code, std::vector<std::string> parts) {
    parts.push_back(kName);
    test::expect_error([&] { ModelFile::from(gguf::File::parse(bytes, kName)); }, code, parts);
}

TEST(ModelFile, EveryArchitectureInTheTableLoads) {
    for (const Architecture& arch : architectures()) {
        SCOPED_TRACE(std::string(arch.name));
        std::vector<uint8_t> bytes = synthetic_model(small_spec(std::string(arch.name).c_str())).bytes();
        ModelFile m = ModelFile::from(gguf::File::parse(bytes, kName));
        EXPECT_EQ(m.config().architecture, arch.name);
        EXPECT_EQ(m.config().n_layers, 2u);
        EXPECT_EQ(m.weights().layers.size(), 2u);
        EXPECT_EQ(m.weights().layers[1].moe.experts.size(), 4u);
        EXPECT_EQ(m.config().moe.d_ff_shared, arch.shared_expert ? 256u : 0u);
        EXPECT_EQ(m.config().moe.renormalize, arch.renormalize);
    }
}

TEST(ModelFile, UnknownArchitecture) {
    Edits e;
    e.metadata = [](std::string& key, gguf::Value& v) {
        if (key == "general.architecture") v.data = std::string("mamba9");
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported, {"mamba9", "qwen3moe"});
}

TEST(ModelFile, MissingKey) {
    Edits e;
    e.metadata = [](std::string& key, gguf::Value&) { return key != "llama.expert_count"; };
    expect_error(rewrite(small_spec(), e), ErrorCode::BadFile, {"llama.expert_count"});
}

TEST(ModelFile, ValueOutOfRange) {
    Edits e;
    e.metadata = [](std::string& key, gguf::Value& v) {
        if (key == "llama.expert_used_count") v.data = uint64_t(9);  // more than the 4 experts
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::BadFile, {"top_k"});
}

TEST(ModelFile, MissingTensor) {
    Edits e;
    e.tensor = [](std::string& name, auto&, auto&, auto&) { return name != "blk.1.ffn_down_exps.weight"; };
    expect_error(rewrite(small_spec(), e), ErrorCode::BadFile, {"blk.1.ffn_down_exps.weight", "missing"});
}

TEST(ModelFile, ShapeDisagreesWithMetadata) {
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, auto&, std::vector<uint8_t>& data) {
        if (name == "blk.0.attn_k.weight") {
            dims[1] /= 2;  // half the KV heads' rows
            data.resize(data.size() / 2);
        }
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::BadFile, {"blk.0.attn_k.weight", "[256, 64]", "[256, 128]"});
}

TEST(ModelFile, UnsupportedTensorType) {
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, quant::GgmlType& type, std::vector<uint8_t>& data) {
        if (name == "blk.0.attn_q.weight") {
            type = quant::GgmlType::IQ2_XXS;  // a real type no kernel here reads
            data.assign(dims[1] * (dims[0] / 256) * 66, 0);
        }
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported, {"blk.0.attn_q.weight", "iq2_xxs"});
}

TEST(ModelFile, GateAndUpMustShareAFormat) {
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, quant::GgmlType& type, std::vector<uint8_t>& data) {
        if (name == "blk.0.ffn_up_exps.weight") {
            type = quant::GgmlType::F16;
            data.assign(dims[0] * dims[1] * dims[2] * 2, 0);
        }
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported, {"blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight"});
}

TEST(ModelFile, NormsMustBeF32) {
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, quant::GgmlType& type, std::vector<uint8_t>& data) {
        if (name == "output_norm.weight") {
            type = quant::GgmlType::F16;
            data.assign(dims[0] * 2, 0);
        }
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported, {"output_norm.weight", "f16"});
}

// GGUF allows any power of two as general.alignment. With 1 or 2, a tensor may start at an
// offset that is not a multiple of 4; the f32 tensors (norms, routers, biases) are read in place
// as floats, so one that is not 4-byte aligned must be refused by name (it was read misaligned:
// undefined behaviour, found while writing the model fuzz target's checks).
TEST(ModelFile, F32TensorsMustBeAligned) {
    for (size_t pad = 0; pad < 4; ++pad) {
        // A metadata string of `pad` bytes moves the data section, and with it every tensor.
        gguf::Writer w = synthetic_model(small_spec());
        w.set_string("test.pad", std::string(pad, 'x'));
        w.set_alignment(1);
        std::vector<uint8_t> bytes = w.bytes();
        gguf::File f = gguf::File::parse(bytes, kName);
        const gguf::TensorInfo* norm = f.find_tensor("output_norm.weight");
        ASSERT_TRUE(norm);
        if (norm->offset % 4 == 0) {
            ModelFile::from(std::move(f));  // aligned: loads
            continue;
        }
        expect_error(bytes, ErrorCode::BadFile,
                     {"output_norm.weight", std::to_string(norm->offset), "aligned"});
    }
}

TEST(ModelFile, MissingFileNamesThePath) {
    try {
        ModelFile::open("/nonexistent/model.gguf");
        ADD_FAILURE() << "opened a file that does not exist";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace moevk::model
