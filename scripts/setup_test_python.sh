#!/usr/bin/env bash
# The Python the tests use: a venv at target/test-venv with the official `openai` client (from
# PyPI), against which crates/serve/tests/openai.rs checks the server. Safe to run again: it
# installs only what is missing. Used by the README's test command and so by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/test-venv
want="openai==3.57.0"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import openai, sys; sys.exit(openai.__version__ != "3.57.0")' 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$want"
"$venv/bin/python" -c 'import openai; print("test python:", openai.__version__)'
