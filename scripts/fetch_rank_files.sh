#!/usr/bin/env bash
# Copy OpenAI's published BPE rank files (cl100k_base, o200k_base, r50k_base) into data/tiktoken/
# as .tiktoken.gz. They come from the MIT-licensed `tiktoken-rs` crate on crates.io (which ships
# them verbatim); each is checked against the SHA-256 that tiktoken 0.14 pins in
# tiktoken_ext/openai_public.py before it is written.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && cargo init -q --name fetch . && cargo add -q tiktoken-rs@=0.12.1 && cargo fetch -q)
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tiktoken-rs-0.12.1/assets | head -1)
declare -A sha=(
  [cl100k_base]=223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7
  [o200k_base]=446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d
  [r50k_base]=306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930
)
for name in cl100k_base o200k_base r50k_base; do
  echo "${sha[$name]}  $src/$name.tiktoken" | sha256sum -c --quiet
  gzip -9n <"$src/$name.tiktoken" >"data/tiktoken/$name.tiktoken.gz.tmp"
  mv "data/tiktoken/$name.tiktoken.gz.tmp" "data/tiktoken/$name.tiktoken.gz"
done
ls -l data/tiktoken
