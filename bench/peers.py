#!/usr/bin/env python3
"""Python-side peers for bench/tokenizer.sh: tiktoken and HF tokenizers encoding; training with
rustbpe (nanochat's trainer), HF BpeTrainer and minichat, each in its own process under
/usr/bin/time for wall time and peak RSS. Prints one table with minichat's ratio to each peer.

    peers.py encode CORPUS           tiktoken / HF encode throughput
    peers.py train CORPUS VOCAB      training time + peak memory, 1 and 2 threads
"""
import base64, gzip, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GPT4 = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
GPT4_HF = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def docs(path):
    return [json.loads(l)["text"] for l in open(path, encoding="utf-8")]


def tiktoken_encoding(name):
    import tiktoken
    from tiktoken_ext import openai_public
    def local(*a, **k):
        with gzip.open(ROOT / "data/tiktoken" / f"{name}.tiktoken.gz", "rb") as f:
            return {base64.b64decode(t): int(r) for t, r in (l.split() for l in f.read().splitlines() if l)}
    openai_public.load_tiktoken_bpe = local
    spec = getattr(openai_public, name)()
    return tiktoken.Encoding(spec["name"], pat_str=spec["pat_str"], mergeable_ranks=spec["mergeable_ranks"],
                             special_tokens=spec["special_tokens"])


def best_of(n, f):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter(); f(); best = min(best, time.perf_counter() - t)
    return best


def encode(path):
    ds = docs(path)
    mb = sum(len(d.encode()) for d in ds) / 1e6
    for name in ["cl100k_base", "o200k_base"]:
        enc = tiktoken_encoding(name)
        t1 = best_of(3, lambda: [enc.encode_ordinary(d) for d in ds])
        t2 = best_of(3, lambda: enc.encode_ordinary_batch(ds, num_threads=2))
        print(f"RESULT encode {name} tiktoken-python 1 {mb / t1:.1f}")
        print(f"RESULT encode {name} tiktoken-python 2 {mb / t2:.1f}")
    # HF tokenizers with cl100k rebuilt as byte-level BPE (what transformers' converter does),
    # on the first 10 MB: it is slow.
    from tokenizers import Tokenizer, models, pre_tokenizers, Regex
    enc = tiktoken_encoding("cl100k_base")
    b2u = bytes_to_unicode()
    tou = lambda b: "".join(b2u[x] for x in b)
    ranks = enc._mergeable_ranks
    vocab = {tou(t): r for t, r in ranks.items()}
    merges = []
    for t, r in ranks.items():
        for i in range(1, len(t)):
            if t[:i] in ranks and t[i:] in ranks:
                merges.append((r, ranks[t[:i]], ranks[t[i:]], tou(t[:i]), tou(t[i:])))
    merges.sort()
    hf = Tokenizer(models.BPE(vocab, [(m[3], m[4]) for m in merges], ignore_merges=True))
    hf.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(GPT4_HF), "isolated"),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    sub, size = [], 0
    for d in ds:
        if size > 10e6: break
        sub.append(d); size += len(d.encode())
    t1 = best_of(1, lambda: [hf.encode(d, add_special_tokens=False) for d in sub])
    print(f"RESULT encode cl100k_base hf-tokenizers 1 {size / 1e6 / t1:.1f}")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def train_one(which, path, vocab):
    """Runs inside a child process so that its peak RSS is its own."""
    if which == "rustbpe":
        import rustbpe
        t = rustbpe.Tokenizer()
        t.train_from_iterator(iter(docs(path)), vocab, pattern=GPT4)
    elif which == "hf":
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers, Regex
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(GPT4_HF), "isolated"),
                                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=0, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(docs(path), trainer)


def timed(cmd, env):
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *cmd], env=env, capture_output=True, text=True)
    line = [l for l in out.stderr.splitlines() if l.startswith("TIME ")]
    if out.returncode != 0 or not line:
        raise SystemExit(f"{cmd} failed: {out.stderr[-2000:]}")
    _, secs, kb = line[-1].split()
    return float(secs), int(kb) / 1024


def train(path, vocab):
    minichat = str(ROOT / "target/release/minichat")
    for threads in [1, 2]:
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true" if threads > 1 else "false")
        runs = {
            "minichat": [minichat, "--threads", str(threads), "tokenizer", "train", path, "-v", str(vocab),
                         "--no-special", "-o", "/tmp/minichat-bench.mctok"],
            "rustbpe": [sys.executable, __file__, "train-one", "rustbpe", path, str(vocab)],
            "hf-tokenizers": [sys.executable, __file__, "train-one", "hf", path, str(vocab)],
        }
        for name, cmd in runs.items():
            best = min((timed(cmd, env) for _ in range(2)), key=lambda r: r[0])
            print(f"RESULT train {vocab} {name} {threads} {best[0]:.2f} {best[1]:.0f}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "encode": encode(sys.argv[2])
    elif cmd == "train": train(sys.argv[2], int(sys.argv[3]))
    elif cmd == "train-one": train_one(sys.argv[2], sys.argv[3], int(sys.argv[4]))
