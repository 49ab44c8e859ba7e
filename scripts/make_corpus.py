#!/usr/bin/env python3
"""Build minichat's embedded corpus, data/corpus.jsonl, from Debian packages.

Every source is a Debian main package (DFSG-free, redistributable); see data/README.md for the
licences. Run as root on Debian 12 (bookworm): it only `apt-get download`s and unpacks the .deb
files into a temporary folder, nothing is installed.

    python3 scripts/make_corpus.py            # writes data/corpus.jsonl

Each line is {"id", "source", "lang", "text"}; documents are chunked to at most ~8 KB at paragraph
boundaries so that the corpus has many documents of realistic size. The selection is
deterministic (sorted file lists, fixed byte budgets), so rerunning gives the same file.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGES = [
    "python3.11-doc", "libpython3.11-stdlib", "jargon-text", "fortunes",
    "fortunes-de", "fortunes-es", "fortunes-it", "fortunes-ru", "fortunes-zh", "fortunes-pl",
]
CHUNK = 8000  # bytes per document, at most (a single longer paragraph is split hard)


def chunks(text):
    """Split text at blank lines into pieces of at most CHUNK bytes."""
    out, cur = [], ""
    for para in text.split("\n\n"):
        para = para.strip("\n")
        if not para:
            continue
        while len(para.encode()) > CHUNK:
            cut = para[: CHUNK // 4].rfind("\n")
            cut = cut if cut > 0 else CHUNK // 4
            out.append(para[:cut]); para = para[cut:].lstrip("\n")
        if cur and len((cur + "\n\n" + para).encode()) > CHUNK:
            out.append(cur); cur = para
        else:
            cur = para if not cur else cur + "\n\n" + para
    if cur:
        out.append(cur)
    return out


def read_text(path):
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None  # legacy-encoded files are skipped; their .u8 twin is used instead


def fortunes(path):
    text = read_text(path)
    return None if text is None else "\n\n".join(f.strip("\n") for f in text.split("\n%\n"))


def collect(root):
    """Yield (source, lang, text, budget) groups in a fixed order."""
    share = root / "usr/share"
    docs = sorted((share / "doc/python3.11/html/_sources").rglob("*.rst.txt"))
    yield "python3.11-doc", "en", [read_text(p) for p in docs], 1_600_000
    yield "jargon-text", "en", [read_text(share / "doc/jargon-text/jargon.txt.gz")], 900_000
    games = share / "games/fortunes"
    en = [p for p in sorted(games.iterdir()) if p.is_file() and "." not in p.name
          and p.name not in {"chinese", "tang300", "song100", "off", "de", "es", "it", "pl", "ru"}
          and p.name.isascii() and (games / (p.name + ".dat")).exists()]
    yield "fortunes", "en", [fortunes(p) for p in en], 600_000
    for lang in ["de", "es", "it", "pl", "ru"]:
        files = [p for p in sorted((games / lang).iterdir())
                 if p.is_file() and not p.is_symlink() and p.suffix not in {".dat", ".u8"}]
        yield f"fortunes-{lang}", lang, [fortunes(p) for p in files], 180_000
    zh = [games / n for n in ["tang300.u8", "song100.u8", "chinese.u8"]]
    yield "fortunes-zh", "zh", [fortunes(p) for p in zh if p.exists()], 180_000
    code = sorted(p for p in (root / "usr/lib/python3.11").glob("*.py")
                  if p.is_file() and not p.is_symlink())
    yield "libpython3.11-stdlib", "code", [read_text(p) for p in code], 700_000


def main():
    out = Path(__file__).resolve().parent.parent / "data" / "corpus.jsonl"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        for deb in sorted(tmp.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], check=True)
        n, size = 0, 0
        tmp_out = out.with_suffix(".jsonl.tmp")
        with open(tmp_out, "w", encoding="utf-8") as f:
            for source, lang, texts, budget in collect(tmp / "root"):
                used = 0
                for text in texts:
                    if not text or used >= budget:
                        continue
                    for piece in chunks(text):
                        if used >= budget:
                            break
                        n += 1
                        used += len(piece.encode())
                        f.write(json.dumps({"id": f"{source}/{n:05d}", "source": source,
                                            "lang": lang, "text": piece},
                                           ensure_ascii=False) + "\n")
                size += used
                print(f"{source:24} {lang:5} {used:>9} bytes", file=sys.stderr)
        os.replace(tmp_out, out)
    print(f"wrote {out}: {n} documents, {size} bytes of text", file=sys.stderr)


if __name__ == "__main__":
    main()
