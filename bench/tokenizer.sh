#!/usr/bin/env bash
# Tokenizer benchmarks: minichat vs tiktoken-rs, bpe-openai (Rust, in-process), tiktoken and HF
# tokenizers (Python), and training vs rustbpe and HF BpeTrainer, on the same ~61 MB corpus in
# one run. Prints every number and minichat's ratio to each peer. Results go in docs/benchmarks.md.
#   bash bench/tokenizer.sh            (needs Debian's apt-get for the corpus, PyPI for the peers)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f bench/corpus.jsonl ] || python3 bench/make_corpus.py
[ -x bench/venv/bin/python ] || python3 -m venv bench/venv
bench/venv/bin/pip install -q tiktoken==0.14.0 tokenizers==0.23.3 rustbpe==0.1.0
cargo build --release -q -p minichat
(cd bench && cargo build --release -q)

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== encode, in-process Rust peers (best of 3)"
bench/target/release/tokenizer-bench bench/corpus.jsonl | tee bench/results-rust.txt
echo "== encode, Python peers (best of 3; HF on the first 10 MB)"
bench/venv/bin/python bench/peers.py encode bench/corpus.jsonl | tee bench/results-py.txt
echo "== training at vocab 32768 (best of 2, separate processes; RSS = peak resident set)"
bench/venv/bin/python bench/peers.py train bench/corpus.jsonl 32768 | tee bench/results-train.txt

echo "== summary: minichat vs each peer"
python3 - <<'PY'
import re
rust = open("bench/results-rust.txt").read()
ours = {}
for enc in ["cl100k_base", "o200k_base"]:
    block = rust.split(enc + " (init")[1].split("pre-tokenize")[0]
    for m in re.finditer(r"^(\S+)\s+(\d)\s+([\d.]+)\s+\d+\s+[\d.]+x\s+(\w+)", block, re.M):
        name, th, mbs, exact = m.group(1), int(m.group(2)), float(m.group(3)), m.group(4)
        ours.setdefault((enc, th), {})[name] = mbs
        if exact != "yes": print(f"NOT EXACT: {name} {enc}")
for line in open("bench/results-py.txt"):
    _, _, enc, name, th, mbs = line.split()
    ours.setdefault((enc, int(th)), {})[name] = float(mbs)
for (enc, th), row in sorted(ours.items()):
    me = row["minichat"]
    others = ", ".join(f"{n} {v:.1f} ({me / v:.2f}x)" for n, v in row.items() if n != "minichat")
    print(f"encode {enc} {th} thread(s): minichat {me:.1f} MB/s; {others}")
train = {}
for line in open("bench/results-train.txt"):
    _, _, vocab, name, th, secs, mb = line.split()
    train.setdefault(int(th), {})[name] = (float(secs), float(mb))
for th, row in sorted(train.items()):
    s, m = row["minichat"]
    others = ", ".join(f"{n} {v[0]:.2f} s / {v[1]:.0f} MB ({v[0] / s:.2f}x time, {v[1] / m:.2f}x memory)" for n, v in row.items() if n != "minichat")
    print(f"train 32768 {th} thread(s): minichat {s:.2f} s / {m:.0f} MB; {others}")
PY
