#!/usr/bin/env bash
# Main-text extraction quality: minichat (`data extract`, the trafilatura crate as `data run`
# uses it) against Python trafilatura with FineWeb's settings, on the labelled pages that
# ship in the newspaper4k 0.9.6 sdist (PyPI): real news pages (CNN, Wired, Time, Fox, ...;
# 12 languages) with their expected article text. Token precision / recall / F1 per page
# and on average, and pages/s, in one run.
#   bash bench/extraction_eval.sh
#   bash bench/extraction_eval.sh --trafilatura-eval TRAFILATURA_CHECKOUT/tests
# The second form scores trafilatura's own benchmark (evaldata.json and eval/*.html from a
# checkout of github.com/adbar/trafilatura, which our build machine cannot reach), as its
# tests/comparison.py does.
set -euo pipefail
cd "$(dirname "$0")"
[ -x venv-extract/bin/python ] || python3 -m venv venv-extract
venv-extract/bin/python -c "import trafilatura" 2>/dev/null || venv-extract/bin/pip install -q "trafilatura==2.3.1" lxml_html_clean
eval_dir=eval-newspaper4k
if [ ! -d "$eval_dir/html" ]; then
    tmp=$(mktemp -d)
    venv-extract/bin/pip download -q --no-deps --no-binary :all: "newspaper4k==0.9.6" -d "$tmp"
    tar xzf "$tmp"/newspaper4k-0.9.6.tar.gz -C "$tmp"
    mkdir -p "$eval_dir"
    cp -r "$tmp"/newspaper4k-0.9.6/tests/data/html "$tmp"/newspaper4k-0.9.6/tests/data/txt "$eval_dir"/
    rm -rf "$tmp"
fi
(cd .. && cargo build --release -q -p minichat)
if [ "${1:-}" = --trafilatura-eval ]; then
    venv-extract/bin/python extraction_eval.py --trafilatura-eval "$(realpath "$2")" ../target/release/minichat | tee results-extraction-trafilatura.txt
    exit
fi
venv-extract/bin/python extraction_eval.py "$eval_dir" ../target/release/minichat | tee results-extraction.txt
