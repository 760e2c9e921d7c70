#!/usr/bin/env bash
# Fetches llama.cpp's tokenizer vocabularies and test vectors (MIT) from the llama.cpp sources that the
# node-llama-cpp npm package ships, into a cache folder, and prints that folder. The tests read vocabularies from
# it when WINNOW_VOCAB_DIR names it: the copies in ../shared/vocab were damaged by a text conversion.
# Needs npm, tar and git; fetches only from the npm registry; idempotent.
set -euo pipefail

version=3.21.1
cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/winnow-llama-vocab}"
target="$cache/models"

if [ -f "$target/ggml-vocab-llama-spm.gguf" ] && [ -f "$target/ggml-vocab-gpt-2.gguf.out" ]; then
  echo "$target"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "node-llama-cpp@$version" --silent >/dev/null)
tar -xzf "$work/node-llama-cpp-$version.tgz" -C "$work" package/llama/gitRelease.bundle
git clone -q "$work/package/llama/gitRelease.bundle" "$work/llama.cpp" 2>/dev/null
mkdir -p "$target"
cp "$work"/llama.cpp/models/ggml-vocab-*.gguf* "$target/"
echo "$target"
