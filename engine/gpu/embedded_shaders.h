// SPIR-V modules compiled from shaders/ at build time (see shaders/CMakeLists.txt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace moevk::gpu {

struct EmbeddedShader {
    const char* name;
    const uint32_t* words;
    size_t word_count;
};

std::span<const EmbeddedShader> embedded_shaders();

// Throws Error(MissingShader) naming `name` when the build has no such variant.
const EmbeddedShader& find_embedded_shader(std::string_view name);

}  // namespace moevk::gpu
