#!/usr/bin/env python3
"""Build the ~61 MB benchmark corpus (bench/corpus.jsonl, not committed) from Debian packages.

Same recipe as the peer measurements in our research notes: Linux kernel docs, Python docs
(reST sources), perl pod, PostgreSQL and Debian reference HTML turned into text, fortunes (one
document per fortune), git docs, the Jargon File. Real English, mostly prose, 19-20k documents.
Run on Debian 12 as root; it only downloads and unpacks .deb files.
"""
import gzip, json, subprocess, sys, tempfile
from html.parser import HTMLParser
from pathlib import Path

PACKAGES = ["linux-doc-6.1", "python3.11-doc", "perl-doc", "postgresql-doc-15", "fortunes",
            "git-doc", "jargon-text", "debian-reference-en"]


class Text(HTMLParser):
    def __init__(self):
        super().__init__(); self.parts = []; self.skip = 0
    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"): self.skip += 1
        if tag in ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "pre"): self.parts.append("\n")
    def handle_endtag(self, tag):
        if tag in ("script", "style"): self.skip -= 1
    def handle_data(self, data):
        if not self.skip: self.parts.append(data)


def html_text(raw):
    p = Text(); p.feed(raw); return "".join(p.parts)


def read(p):
    raw = p.read_bytes()
    if p.suffix == ".gz": raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace")


def docs(root):
    share = root / "usr/share"
    for p in sorted((share / "doc/linux-doc-6.1/Documentation").rglob("*")):
        if p.is_file() and not p.is_symlink() and "translations" not in p.parts and p.suffix in (".rst", ".txt", ".gz") \
                and (p.suffix != ".gz" or p.name.endswith((".rst.gz", ".txt.gz"))):
            yield "linux-doc", read(p)
    for p in sorted((share / "doc/python3.11/html/_sources").rglob("*.rst.txt")):
        yield "python3.11-doc", read(p)
    for p in sorted((share / "perl/5.36.0/pod").rglob("*.pod")) if (share / "perl/5.36.0/pod").exists() else []:
        yield "perl-doc", read(p)
    for p in sorted((share / "doc/postgresql-doc-15/html").glob("*.html")):
        yield "postgresql-doc", html_text(read(p))
    games = share / "games/fortunes"
    for p in sorted(games.iterdir()):
        if p.is_file() and "." not in p.name and (games / (p.name + ".dat")).exists():
            for f in read(p).split("\n%\n"):
                if f.strip(): yield "fortunes", f
    for p in sorted((share / "doc/git-doc").rglob("*.txt")):
        yield "git-doc", read(p)
    yield "jargon-text", read(share / "doc/jargon-text/jargon.txt.gz")
    for p in sorted((share / "debian-reference").rglob("*.en.html")):
        yield "debian-reference", html_text(read(p))


def main():
    out = Path(__file__).resolve().parent / "corpus.jsonl"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        download = ["apt-get", "download", *PACKAGES]
        if subprocess.run(download, cwd=tmp, capture_output=True).returncode != 0:
            # Stale package lists name versions the mirror no longer has (404): refresh, retry.
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(download, cwd=tmp, check=True, capture_output=True)
        for deb in sorted(tmp.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], check=True)
        sizes, n = {}, 0
        with open(out.with_suffix(".tmp"), "w", encoding="utf-8") as f:
            for source, text in docs(tmp / "root"):
                if not text.strip(): continue
                n += 1; sizes[source] = sizes.get(source, 0) + len(text.encode())
                f.write(json.dumps({"id": n, "source": source, "text": text}, ensure_ascii=False) + "\n")
        out.with_suffix(".tmp").rename(out)
    for k, v in sizes.items(): print(f"{k:20} {v/1e6:7.2f} MB", file=sys.stderr)
    print(f"{out}: {n} documents, {sum(sizes.values())/1e6:.2f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
