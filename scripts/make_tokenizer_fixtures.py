#!/usr/bin/env python3
"""Generate the tokenizer test fixtures from the real peers (tiktoken, HF tokenizers).

    python3 -m venv .venv && .venv/bin/pip install tiktoken==0.14.0 tokenizers==0.23.3 rustbpe==0.1.0 pyarrow
    .venv/bin/python scripts/make_tokenizer_fixtures.py

Writes crates/tokenizer/tests/fixtures/:
- tiktoken_<enc>.jsonl: tricky strings and corpus excerpts with tiktoken's ids (encode_ordinary),
  plus lines with special tokens encoded with allowed_special="all";
- tiktoken_corpus.json: token count and FNV-1a-64 hash of tiktoken's ids over every document of
  data/corpus.jsonl, per encoding (proves exactness on all ~5 MB without storing the ids);
- rustbpe_2048.tiktoken: the vocabulary nanochat's trainer (rustbpe 0.1.0) learns on the corpus
  at vocab 2048 with GPT-4's pattern; our trainer must learn the same ranks;
- sample_{snappy,zstd}.parquet (in crates/corpus/tests/fixtures/): Parquet input written by pyarrow;
- hf_<pattern>.mctok / .tokenizer.json / .expected.jsonl: a small tokenizer trained by minichat,
  its HF export (by `minichat tokenizer export -f hf`), and the ids that HF `tokenizers` gives
  for test texts, so the Rust test proves HF loads our file and encodes identically.

The rank files are read from data/tiktoken/ (no network); patterns and special tokens come from
tiktoken's own `tiktoken_ext.openai_public`, so they are tiktoken's definitions verbatim.
"""
import gzip, json, os, subprocess, sys, base64
from pathlib import Path

import tiktoken
from tiktoken_ext import openai_public

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "crates/tokenizer/tests/fixtures"
CORPUS_FIX = ROOT / "crates/corpus/tests/fixtures"
DATA = ROOT / "data"


def local_ranks(name):
    with gzip.open(DATA / "tiktoken" / f"{name}.tiktoken.gz", "rb") as f:
        return {base64.b64decode(tok): int(rank)
                for tok, rank in (line.split() for line in f.read().splitlines() if line)}


def encoding(name):
    openai_public.load_tiktoken_bpe = lambda *a, **k: local_ranks(name)
    spec = getattr(openai_public, name)()
    return tiktoken.Encoding(spec["name"], pat_str=spec["pat_str"],
                             mergeable_ranks=spec["mergeable_ranks"],
                             special_tokens=spec["special_tokens"])


TRICKY = [
    "", " ", "  ", "\n", "\n\n\n", " \n \n ", "\t\tx", "a\r\nb\r\n", "x  \n  y", "trailing   ",
    "Hello, world! How's it going? I'M FINE, YOU'LL SEE, WE'VE WON, THEY'RE HERE, I'D GO.",
    "It's 2024-06-01: 1234567 + 89 = 1234656 (i.e. ~1.23e6)", "3.14159265358979 ½ ¼ Ⅻ ٣٤٥",
    "don'T woN'T ſ'S 'ſ K'K 'll 'LL 'Ll",
    "naïve café résumé — “quotes” ‘single’ … ellipsis",
    "日本語のテキストと中文文本，还有한국어 텍스트。",
    "Ελληνικά, русский текст, עברית, العربية, हिन्दी, ไทย",
    "emoji 😀👍🏽👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 and ZWJ\u200dthings",
    "combining: e\u0301 a\u0308 \u0301\u0302 x\u20dd",
    "CamelCaseIdentifiers and snake_case_names and SCREAMING_CASE",
    "def f(x):\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n",
    "<html><body><a href=\"/x/y\">link</a></body></html>\n//comment\n/* c */",
    "path/to/file.txt and https://example.com/a/b?c=d&e=f#g",
    "\u00a0\u2003\u2028\u2029\u3000 mixed  \u00a0 spaces\u00a0",
    "!!!???...,,,;;;::: ---___ ''' \"\"\" ```",
    "x" * 300, "ab" * 150, " " * 50 + "x", "1" * 40, "\n" * 10 + " " * 3,
    "Ǆemo ǅemo ǆemo ᾈ ᾉ ᾊ Σσς ΐ ﬀ ﬁ",
    "'s'S'ſ'd'm't'll've're 'x 'S's",
    "a'ſb 'Ke e'K Kelvin",
]


def fnv64(ids):
    h = 0xcbf29ce484222325
    for i in ids:
        for b in i.to_bytes(4, "little"):
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    docs = [json.loads(l)["text"] for l in open(DATA / "corpus.jsonl", encoding="utf-8")]
    corpus = {}
    for name in ["cl100k_base", "o200k_base", "r50k_base"]:
        enc = encoding(name)
        with open(FIX / f"tiktoken_{name}.jsonl", "w", encoding="utf-8") as f:
            samples = TRICKY + [d[:1500] for d in docs[::20]]
            for t in samples:
                f.write(json.dumps({"text": t, "ids": enc.encode_ordinary(t)}, ensure_ascii=False) + "\n")
            for t in ["<|endoftext|>", "a<|endoftext|>b", "x  <|endoftext|>  y\n",
                      "<|endofprompt|><|endoftext|>", "<|endoftext", "<|fim_prefix|>x"]:
                f.write(json.dumps({"text": t, "special": True,
                                    "ids": enc.encode(t, allowed_special="all")}, ensure_ascii=False) + "\n")
        n, h = 0, 0xcbf29ce484222325
        all_ids = []
        for d in docs:
            all_ids.extend(enc.encode_ordinary(d))
        corpus[name] = {"documents": len(docs), "tokens": len(all_ids), "fnv64": f"{fnv64(all_ids):016x}"}
        print(name, corpus[name], file=sys.stderr)
    (FIX / "tiktoken_corpus.json").write_text(json.dumps(corpus, indent=1) + "\n")

    # rustbpe (nanochat's trainer): the vocabulary it learns on the corpus, as a rank file.
    import rustbpe
    rb = rustbpe.Tokenizer()
    rb.train_from_iterator(iter(docs), 2048, pattern=encoding("cl100k_base")._pat_str)
    with open(FIX / "rustbpe_2048.tiktoken", "w") as f:
        for tok, rank in sorted(rb.get_mergeable_ranks(), key=lambda x: x[1]):
            f.write(f"{base64.b64encode(bytes(tok)).decode()} {rank}\n")

    # Parquet inputs written by pyarrow (FineWeb's shards are written the same way).
    import pyarrow as pa, pyarrow.parquet as pq
    table = pa.table({"text": [d[:500] for d in docs[:40]], "id": [f"doc{i}" for i in range(40)]})
    pq.write_table(table, CORPUS_FIX / "sample_snappy.parquet", compression="snappy", row_group_size=16)
    pq.write_table(table, CORPUS_FIX / "sample_zstd.parquet", compression="zstd", row_group_size=16)

    # HF tokenizers: our export of small trained tokenizers, loaded by the real library.
    from tokenizers import Tokenizer as HfTokenizer
    minichat = ROOT / "target/release/minichat"
    subprocess.run(["cargo", "build", "--release", "-p", "minichat"], cwd=ROOT, check=True)
    texts = TRICKY + [d[:1500] for d in docs[::40]]
    for pattern in ["gpt4", "o200k"]:
        src, out = FIX / f"hf_{pattern}.mctok", FIX / f"hf_{pattern}.tokenizer.json"
        subprocess.run([minichat, "tokenizer", "train", DATA / "corpus.jsonl", "-v", "1024", "-p", pattern,
                        "-o", src], check=True)
        subprocess.run([minichat, "tokenizer", "export", "-t", src, "-f", "hf", "-o", out], check=True)
        hf = HfTokenizer.from_file(str(out))
        with open(FIX / f"hf_{pattern}.expected.jsonl", "w", encoding="utf-8") as f:
            for t in texts + ["<|bos|>hi<|user_start|>"]:
                f.write(json.dumps({"text": t, "ids": hf.encode(t, add_special_tokens=False).ids},
                                   ensure_ascii=False) + "\n")
        print(f"hf {pattern}: ok", file=sys.stderr)

if __name__ == "__main__":
    main()
