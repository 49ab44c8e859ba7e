#!/usr/bin/env python3
"""Writes crates/data/src/words/spacy_en_exceptions.tsv: spaCy's English tokenizer special cases
(`spacy.blank("en").tokenizer.rules`, spaCy 3.8, MIT licence), which datatrove 0.10.1's English
word tokenizer applies: one per line, the text then its pieces, tab-separated (the pieces
concatenate to the text). Whitespace-only cases are left out (words() splits on whitespace).

    bench/venv-data/bin/python scripts/make_spacy_exceptions.py   (bench/data.sh makes that venv)
"""
import os

import spacy
from spacy.symbols import ORTH

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates/data/src/words/spacy_en_exceptions.tsv")
rules = spacy.blank("en").tokenizer.rules
lines = []
for text, pieces in sorted(rules.items()):
    if not text.strip() or "\t" in text or "\n" in text:
        continue
    orths = [p[ORTH] for p in pieces]
    assert "".join(orths) == text, (text, orths)
    lines.append("\t".join([text] + orths))
with open(out, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
print(f"{len(lines)} special cases -> {out}")
