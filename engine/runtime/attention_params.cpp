#include "runtime/attention_params.h"

#include <cmath>

namespace moevk::runtime {

AttentionParams attention_params(const model::ModelConfig& c, uint32_t layer) {
    AttentionParams p;
    p.n_rot = c.n_rot;
    p.rope_base = c.layer_rope_base(layer);
    p.neox = c.rope == model::RopeOrdering::NeoX;
    p.rope_scaling = rope_scaling_params(c.rope_scaling, c.n_rot, p.rope_base);
    p.window = c.sliding(layer) ? c.sliding_window : 0;
    p.scale = 1.0f / std::sqrt(float(c.head_dim));
    return p;
}

}  // namespace moevk::runtime
