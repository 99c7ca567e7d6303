// The device options every moe-vk app takes (--device, --device-index, --validation), and the
// Context options they stand for.
#pragma once

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "gpu/context.h"

namespace moevk::apps {

struct DeviceFlags {
    std::string name;
    int index = -1;
    bool validation = false;
};

inline void add_device_flags(CLI::App& app, DeviceFlags& flags) {
    app.add_option("--device", flags.name, "use the Vulkan device whose name contains this text");
    app.add_option("--device-index", flags.index, "use the Vulkan device at this enumeration index");
    app.add_flag("--validation", flags.validation, "run with the Khronos validation layer (slow)");
}

// Validation messages go to stderr: the apps show them, the library never prints.
inline gpu::ContextOptions context_options(const DeviceFlags& flags) {
    gpu::ContextOptions options;
    options.device.name_contains = flags.name;
    if (flags.index >= 0) options.device.index = static_cast<uint32_t>(flags.index);
    options.validation = flags.validation;
    options.on_validation_message = [](const std::string& m) { std::cerr << "validation: " << m << "\n"; };
    return options;
}

}  // namespace moevk::apps
