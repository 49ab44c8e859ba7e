#!/usr/bin/env python3
"""Runs datatrove 0.10.1's FineWeb quality filters (and its spaCy word tokenizer) on the
documents of data/corpus.jsonl and writes each decision to
crates/data/tests/fixtures/datatrove_filters.jsonl, which crates/data/tests/filters.rs
compares with ours.

    python3 -m venv /tmp/dtvenv && /tmp/dtvenv/bin/pip install "datatrove==0.10.1" "spacy==3.8.18" regex numpy
    /tmp/dtvenv/bin/python scripts/make_filter_fixture.py
"""
import json
import pathlib

from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.utils.text import split_into_words

root = pathlib.Path(__file__).resolve().parent.parent
filters = {
    "gopher_repetition": GopherRepetitionFilter(),
    "gopher_quality": GopherQualityFilter(),
    "c4_quality": C4QualityFilter(filter_no_terminal_punct=False),
    "fineweb_quality": FineWebQualityFilter(),
}
out = []
for i, line in enumerate(open(root / "data/corpus.jsonl", encoding="utf-8")):
    text = json.loads(line)["text"]
    row = {"i": i, "words": len(split_into_words(text))}
    for name, f in filters.items():
        doc = Document(text=text, id=str(i))
        r = f.filter(doc)
        row[name] = None if r is True else (r[1] if isinstance(r, tuple) else "dropped")
        if name == "c4_quality" and r is True:
            row["c4_len"] = len(doc.text)
    out.append(row)
dst = root / "crates/data/tests/fixtures/datatrove_filters.jsonl"
dst.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
print(f"wrote {dst}: {len(out)} documents")
