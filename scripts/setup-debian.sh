#!/usr/bin/env bash
# Installs what moe-vk needs to build and test on Debian 12 (bookworm) or newer.
# lavapipe (mesa-vulkan-drivers) gives a CPU Vulkan device where no GPU is present.
# clang and libclang-rt-dev (libFuzzer and the sanitizer runtimes of the default clang) are for
# scripts/test-sanitizers.sh and scripts/fuzz.sh. The last line is for moe-desk and the game example (GLFW, Dear ImGui,
# libpng) and for their tests under Xvfb (scripts/test-examples.sh, scripts/test-desk.sh, which
# reads the app's state with jq); tmux gives scripts/test-cli.sh a real terminal. moe-server
# needs cpp-httplib; its test (scripts/test-server.sh) needs Node.js and npm (for the pinned
# `openai` and `puppeteer-core` packages it installs into the build folder), curl and Chromium.
set -euo pipefail
packages=(
  cmake g++ make
  libvulkan-dev libvulkan-volk-dev glslang-tools spirv-tools libglm-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libedit-dev libutf8proc-dev
  mesa-vulkan-drivers vulkan-validationlayers
  clang libclang-rt-dev
  pkgconf libglfw3-dev libimgui-dev libpng-dev fonts-dejavu-core xvfb xauth jq tmux
  libcpp-httplib-dev nodejs curl chromium
)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
# Debian's nodejs comes without npm (a package of its own); NodeSource's nodejs includes it and
# conflicts with Debian's npm package, so npm is installed only where it is still missing.
if ! command -v npm >/dev/null; then $sudo apt-get install -y -q --no-install-recommends npm; fi
