// The web chat page's files, embedded in the binary at build time from apps/moe-server/web/
// (embed_web.cmake), so the server needs no files at run time and the page no network.
#pragma once

#include <span>
#include <string_view>

namespace moeserver {

struct WebFile {
    std::string_view path;  // "/", "/app.js", ...
    std::string_view content_type;
    std::string_view body;
};

std::span<const WebFile> web_files();

}  // namespace moeserver
