// The demo model that ships in assets/: found from the working directory (the README runs the
// apps from the repository root) or in a folder above the executable (the build tree).
#pragma once

#include <filesystem>
#include <string>

namespace moevk::apps {

inline std::string default_model(const char* argv0) {
    const char* name = "assets/moe-vk-demo.gguf";
    if (std::filesystem::exists(name)) return name;
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::weakly_canonical(std::filesystem::path(argv0), ec);
    for (std::filesystem::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
        if (std::filesystem::exists(dir / name)) return (dir / name).string();
    return name;
}

}  // namespace moevk::apps
