#!/usr/bin/env bash
# minichat serve vs llama.cpp's llama-server, on the same model (llama.cpp runs our GGUF
# export), both on the same 2 cores, one after the other: bench/serve-load drives 1, 4, 16 and
# 64 concurrent streaming clients (streamed /v1/completions, 128 tokens each, for a fixed time)
# and prints aggregate generated tokens/s, p50/p99 time to first token and inter-token latency,
# and the server's peak memory, for each side, then the ratios.
#
#   bash bench/serve.sh [CONFIG...]      (tiny: the tiny preset's shape, vocab 8192, context 256;
#                                         124M: GPT-2 small with GPT-2's tokenizer; default both)
#   env: LLAMA_SERVER=path (else llama.cpp as vendored in llama-cpp-python 0.3.36 from PyPI is
#        built into bench/llama.cpp), CLIENTS=1,4,16,64, SECONDS_EACH=20, DTYPES="f32 bf16"
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
clients=${CLIENTS:-1,4,16,64}
seconds=${SECONDS_EACH:-20}
dtypes=${DTYPES:-f32 bf16}
if [ $# -gt 0 ]; then configs=("$@"); else configs=(tiny 124M); fi
export RAYON_NUM_THREADS=2

if [ -z "${LLAMA_SERVER:-}" ]; then
    LLAMA_SERVER=$PWD/llama.cpp/build/bin/llama-server
    if [ ! -x "$LLAMA_SERVER" ]; then
        mkdir -p llama.cpp && cd llama.cpp
        [ -x venv/bin/cmake ] || { python3 -m venv venv && venv/bin/pip install -q cmake ninja; }
        [ -d src ] || { venv/bin/pip download -q --no-deps --no-binary llama-cpp-python llama-cpp-python==0.3.36 -d sdist &&
                        mkdir src && tar xzf sdist/*.tar.gz -C src --strip-components=1; }
        PATH=$PWD/venv/bin:$PATH cmake -S src/vendor/llama.cpp -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
            -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DGGML_NATIVE=ON
        PATH=$PWD/venv/bin:$PATH cmake --build build --target llama-server -j 2
        cd ..
    fi
fi
(cd "$root" && cargo build --release -q -p minichat)
cargo build --release -q --bin serve-load
minichat=$root/target/release/minichat
load=$PWD/target/release/serve-load
runs=$PWD/serve-runs
mkdir -p "$runs"

# The models: one training step from a random start (the speed does not depend on the weights).
make_run() {
    local name=$1
    [ -d "$runs/$name/checkpoints" ] && return
    case $name in
        tiny)
            [ -f "$runs/tok8192.mctok" ] || "$minichat" tokenizer train "$root/data/corpus.jsonl" -v 8192 -o "$runs/tok8192.mctok"
            "$minichat" pretrain --family gpt2 --corpus "$root/data/corpus.jsonl" -t "$runs/tok8192.mctok" -o "$runs/tiny" \
                --depth 4 --context 256 --steps 1 --micro-batch 1 --batch-tokens 256 ;;
        124M)
            "$minichat" pretrain --family gpt2 --corpus "$root/data/corpus.jsonl" -t gpt2 -o "$runs/124M" \
                --depth 12 --context 1024 --steps 1 --micro-batch 1 --batch-tokens 1024 ;;
    esac
}

# Ctrl-C, then a kill if it is still up after 10 s: llama-server sometimes waits on a client's
# connection after SIGINT, and the next cell must not find the port taken (it would then
# measure the old server).
stop() {
    kill -INT "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

wait_up() {
    for _ in $(seq 600); do curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return; sleep 0.2; done
    echo "server on $1 did not start" >&2; exit 1
}

results=$PWD/results-serve.txt
: > "$results"
for name in "${configs[@]}"; do
    make_run "$name"
    ctx=$(grep -m1 '^context' "$runs/$name/config.toml" | tr -dc 0-9)
    for dtype in $dtypes; do
        gguf=$runs/$name-$dtype.gguf
        [ -f "$gguf" ] || "$minichat" export gguf "$runs/$name" "$gguf" --dtype "$dtype"
        bf16=(); [ "$dtype" = bf16 ] && bf16=(--bf16)
        for c in ${clients//,/ }; do
            parallel=$(( c < 16 ? c : 16 ))
            # minichat
            "$minichat" serve "$runs/$name" --port 8101 --parallel "$parallel" --queue 256 "${bf16[@]}" 2>/dev/null &
            pid=$!; wait_up 8101
            bos=$(curl -s 127.0.0.1:8101/tokenizer_info | python3 -c 'import json,sys; print(json.load(sys.stdin)["bos_token_id"])')
            "$load" --url http://127.0.0.1:8101 --label "$name $dtype minichat" --clients "$c" --seconds "$seconds" \
                --pid $pid --ban "$bos" | tee -a "$results"
            stop $pid
            # llama.cpp: the same slots, each with the model's context
            "$LLAMA_SERVER" -m "$gguf" --port 8102 -t 2 -tb 2 -np "$parallel" -c $(( ctx * parallel )) -cb \
                --no-webui 2>/dev/null &
            pid=$!; wait_up 8102
            "$load" --url http://127.0.0.1:8102 --label "$name $dtype llama.cpp" --clients "$c" --seconds "$seconds" \
                --pid $pid --ban "$bos" | tee -a "$results"
            stop $pid
        done
    done
done

python3 - "$results" <<'PY'
import re, sys
pat = r"(\S+) (\S+) (minichat|llama\.cpp) clients=(\d+): ([\d.]+) tokens/s, ttft p50 ([\d.na]+) ms p99 ([\d.na]+) ms, itl p50 ([\d.na]+) ms p99 ([\d.na]+) ms, .* peak (\S+) MiB"
rows = {}
for m in re.finditer(pat, open(sys.argv[1]).read()):
    name, dtype, who, c, *vals = m.groups()
    rows[(name, dtype, int(c), who)] = [float(v) for v in vals]
print("\n| model | weights | clients | tokens/s minichat / llama.cpp | ratio | p99 TTFT ms | p99 ITL ms | peak MiB |")
print("|---|---|---|---|---|---|---|---|")
for (name, dtype, c, who), v in rows.items():
    if who != "minichat" or (name, dtype, c, "llama.cpp") not in rows:
        continue
    l = rows[(name, dtype, c, "llama.cpp")]
    print(f"| {name} | {dtype} | {c} | {v[0]:.0f} / {l[0]:.0f} | {v[0] / l[0]:.2f}x | {v[2]:.0f} / {l[2]:.0f} | "
          f"{v[4]:.1f} / {l[4]:.1f} | {v[5]:.0f} / {l[5]:.0f} |")
PY
