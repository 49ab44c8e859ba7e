#!/usr/bin/env bash
# The Python the tests use: a venv at target/test-venv with, from PyPI, the official `openai`
# client (crates/serve/tests/openai.rs checks the server with it) and llama-cpp-python, which
# builds llama.cpp from source (crates/train/tests/gguf.rs checks that llama.cpp runs our GGUF
# export with our logits; a few minutes on 2 cores, once). Safe to run again: it installs only
# what is missing. Used by the README's test command and so by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/test-venv
openai="3.57.0"
llama_cpp="0.3.36"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
has() { "$venv/bin/python" -c "import $1, sys; sys.exit($1.__version__ != '$2')" 2>/dev/null; }
has openai "$openai" || "$venv/bin/pip" install --quiet --disable-pip-version-check "openai==$openai"
# Only the library: no multimodal tools.
has llama_cpp "$llama_cpp" || CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF" \
    "$venv/bin/pip" install --quiet --disable-pip-version-check "llama-cpp-python==$llama_cpp"
"$venv/bin/python" -c 'import openai, llama_cpp; print("test python: openai", openai.__version__, "llama-cpp-python", llama_cpp.__version__)'
