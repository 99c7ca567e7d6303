#!/usr/bin/env bash
# Fuzzes the GGUF parser for SECONDS (default 60): scripts/fuzz.sh gguf, kept under its old name.
set -euo pipefail
exec "$(dirname "$0")/fuzz.sh" gguf "${1:-60}"
