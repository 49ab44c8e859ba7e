#!/usr/bin/env bash
# The Python the tests use: a venv at target/test-venv with, from PyPI, the official `openai`
# client (crates/serve/tests/openai.rs checks the server with it), lm-evaluation-harness
# (crates/serve/tests/lm_eval.rs scores multiple choice through the server) and llama-cpp-python, which
# builds llama.cpp from source (crates/train/tests/gguf.rs checks that llama.cpp runs our GGUF
# export with our logits; a few minutes on 2 cores, once). Safe to run again: it installs only
# what is missing. Used by the README's test command and so by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/test-venv
openai="3.57.0"
llama_cpp="0.3.36"
lm_eval="0.4.13"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
has() { "$venv/bin/python" -c "import $1, sys; sys.exit($1.__version__ != '$2')" 2>/dev/null; }
has openai "$openai" || "$venv/bin/pip" install --quiet --disable-pip-version-check "openai==$openai"
# `[api]`: the HTTP client of its `local-completions` model. No torch: API models need none.
"$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('lm_eval') != '$lm_eval')" 2>/dev/null \
    || "$venv/bin/pip" install --quiet --disable-pip-version-check "lm-eval[api]==$lm_eval"
# Only the library: no multimodal tools.
has llama_cpp "$llama_cpp" || CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF" \
    "$venv/bin/pip" install --quiet --disable-pip-version-check "llama-cpp-python==$llama_cpp"
"$venv/bin/python" -c 'import openai, llama_cpp; import importlib.metadata as m; print("test python: openai", openai.__version__, "llama-cpp-python", llama_cpp.__version__, "lm-eval", m.version("lm_eval"))'
