// The device options every moe-vk app takes (--device, --device-index, --validation), and the
// engine options they stand for. MOEVK_DEVICE names a device when --device is not given.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <moevk/moevk.h>

namespace moevk::apps {

struct DeviceFlags {
    std::string name;
    int index = -1;
    bool validation = false;
};

inline void add_device_flags(CLI::App& app, DeviceFlags& flags) {
    app.add_option("--device", flags.name, "use the Vulkan device whose name contains this text (default: $MOEVK_DEVICE)");
    app.add_option("--device-index", flags.index, "use the Vulkan device at this enumeration index")
        ->check(CLI::Range(0, 255));
    app.add_flag("--validation", flags.validation, "run with the Khronos validation layer (slow)");
}

// The device name asked for: --device, else $MOEVK_DEVICE, else "" (the best kind).
inline std::string device_name(const DeviceFlags& flags) {
    if (!flags.name.empty()) return flags.name;
    const char* env = std::getenv("MOEVK_DEVICE");
    return env ? env : "";
}

// Validation messages go to stderr: the apps show them, the library never prints. The returned
// options point into `flags` and `name_storage`.
inline moevk_engine_options engine_options(const DeviceFlags& flags, std::string& name_storage) {
    moevk_engine_options o = moevk_engine_options_default();
    name_storage = device_name(flags);
    if (!name_storage.empty()) o.device_name = name_storage.c_str();
    o.device_index = flags.index;
    o.validation = flags.validation;
    o.on_validation_message = [](void*, const char* m) { std::fprintf(stderr, "validation: %s\n", m); };
    return o;
}

}  // namespace moevk::apps
