#!/usr/bin/env bash
# Installs what moe-vk needs to build and test on Debian 12 (bookworm) or newer.
# lavapipe (mesa-vulkan-drivers) gives a CPU Vulkan device where no GPU is present.
# clang and libclang-rt-dev (libFuzzer and the sanitizer runtimes of the default clang) are for
# scripts/test-sanitizers.sh and scripts/fuzz.sh. The last line is for moe-desk and the game example (GLFW, Dear ImGui,
# libpng) and for their tests under Xvfb (scripts/test-examples.sh, scripts/test-desk.sh, which
# reads the app's state with jq); tmux gives scripts/test-cli.sh a real terminal.
set -euo pipefail
packages=(
  cmake g++ make
  libvulkan-dev libvulkan-volk-dev glslang-tools spirv-tools libglm-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libedit-dev libutf8proc-dev
  mesa-vulkan-drivers vulkan-validationlayers
  clang libclang-rt-dev
  pkgconf libglfw3-dev libimgui-dev libpng-dev fonts-dejavu-core xvfb xauth jq tmux
)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
