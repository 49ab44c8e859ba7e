"""Scores main-text extraction against labelled pages: Python trafilatura (FineWeb's settings:
favor_precision, no comments, as datatrove's Trafilatura block) and `minichat data extract`.

    python extraction_eval.py EVAL_DIR MINICHAT_BINARY
    python extraction_eval.py --trafilatura-eval TESTS_DIR MINICHAT_BINARY

The second form is trafilatura's own benchmark, for whoever has a checkout of its repository
(not reachable from our build machine): TESTS_DIR is its `tests/` folder, with `evaldata.json`
(per page: `file`, and the `with` / `without` strings) and the pages under `eval/`. It scores
as trafilatura's `tests/comparison.py` does: each `with` string found in the output is a true
positive, each `without` string found a false positive; precision, recall and F1 over all.

In the first form, EVAL_DIR holds html/NAME.html and txt/NAME.txt (the expected article text). Tokens are words
(\\w+, lowercased), or single characters in scripts written without spaces (CJK, Thai,
Burmese), so pages in every language count. Per page: precision and recall of the extracted
token multiset against the expected one; an empty extraction scores 0. Averages are over pages.
"""
import collections
import json
import os
import re
import subprocess
import sys
import time

import trafilatura

TOKEN = re.compile(r"[\u0e00-\u0e7f\u1000-\u109f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|\w+")


def tokens(text):
    return collections.Counter(TOKEN.findall(text.lower()))


def score(got, want):
    g, w = tokens(got or ""), tokens(want)
    common = sum((g & w).values())
    p = common / sum(g.values()) if g else 0.0
    r = common / sum(w.values()) if w else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def extract_both(binary, html_paths):
    "Python trafilatura's and minichat's texts of every page, and the seconds each took."
    theirs, t0 = [], time.perf_counter()
    for path in html_paths:
        theirs.append(trafilatura.extract(open(path, "rb").read(), favor_precision=True, include_comments=False, deduplicate=False) or "")
    their_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = subprocess.run([binary, "--threads", "1", "data", "extract", "--json", *html_paths], capture_output=True, text=True, check=True)
    our_s = time.perf_counter() - t0
    ours = {json.loads(l)["file"]: json.loads(l).get("text", "") for l in out.stdout.splitlines()}
    return theirs, [ours.get(p, "") for p in html_paths], their_s, our_s


def trafilatura_eval(tests_dir, binary):
    data = json.load(open(os.path.join(tests_dir, "evaldata.json"), encoding="utf-8"))
    entries = list(data.values()) if isinstance(data, dict) else data
    entries = [e for e in entries if os.path.exists(os.path.join(tests_dir, "eval", e["file"]))]
    paths = [os.path.join(tests_dir, "eval", e["file"]) for e in entries]
    theirs, ours, their_s, our_s = extract_both(binary, paths)
    print(f"{len(entries)} pages of trafilatura's evaluation set")
    for who, texts, secs in [("trafilatura " + trafilatura.__version__, theirs, their_s), ("minichat", ours, our_s)]:
        tp = fn = fp = tn = 0
        for e, text in zip(entries, texts):
            for s in e["with"]:
                tp, fn = (tp + 1, fn) if s in text else (tp, fn + 1)
            for s in e["without"]:
                fp, tn = (fp + 1, tn) if s in text else (fp, tn + 1)
        p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f = 2 * p * r / (p + r) if p + r else 0.0
        print(f"{who:<20} P {p:.3f} R {r:.3f} F1 {f:.3f}   {len(entries) / secs:.1f} pages/s (1 core)")


def main():
    if sys.argv[1] == "--trafilatura-eval":
        return trafilatura_eval(sys.argv[2], sys.argv[3])
    root, binary = sys.argv[1], sys.argv[2]
    names = sorted(n[:-4] for n in os.listdir(os.path.join(root, "txt")) if os.path.exists(os.path.join(root, "html", n[:-4] + ".html")))
    want = {n: open(os.path.join(root, "txt", n + ".txt"), encoding="utf-8").read() for n in names}
    html_paths = [os.path.join(root, "html", n + ".html") for n in names]

    theirs, t0 = {}, time.perf_counter()
    for n, path in zip(names, html_paths):
        html = open(path, "rb").read()
        theirs[n] = trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=False) or ""
    their_s = time.perf_counter() - t0

    def run_ours(*flags):
        t0 = time.perf_counter()
        out = subprocess.run([binary, "--threads", "1", "data", "extract", "--json", *flags, *html_paths], capture_output=True, text=True, check=True)
        secs = time.perf_counter() - t0
        texts = {}
        for line in out.stdout.splitlines():
            row = json.loads(line)
            texts[os.path.basename(row["file"])[:-5]] = row.get("text", "")
        return texts, secs

    ours, our_s = run_ours()
    ours_fb, our_fb_s = run_ours("--fallback")

    print(f"{len(names)} labelled pages (newspaper4k 0.9.6 test data)")
    print(f"{'page':<24} {'trafilatura P/R/F1':>22} {'minichat P/R/F1':>22}")
    totals = {"trafilatura": [], "minichat": [], "minichat --fallback": []}
    for n in names:
        a, b = score(theirs[n], want[n]), score(ours.get(n, ""), want[n])
        totals["trafilatura"].append(a)
        totals["minichat"].append(b)
        totals["minichat --fallback"].append(score(ours_fb.get(n, ""), want[n]))
        print(f"{n:<24} {a[0]:>6.3f} {a[1]:.3f} {a[2]:.3f}   {b[0]:>6.3f} {b[1]:.3f} {b[2]:.3f}")
    runs = [
        ("trafilatura " + trafilatura.__version__, totals["trafilatura"], their_s),
        ("minichat", totals["minichat"], our_s),
        ("minichat --fallback", totals["minichat --fallback"], our_fb_s),
    ]
    for who, s, secs in runs:
        p, r, f = (sum(x[i] for x in s) / len(s) for i in range(3))
        print(f"{who:<20} mean P {p:.3f} R {r:.3f} F1 {f:.3f}   {len(s) / secs:.1f} pages/s (1 core)")
    fa = sum(x[2] for x in totals["trafilatura"]) / len(names)
    fb = sum(x[2] for x in totals["minichat"]) / len(names)
    print(f"F1 difference (minichat - trafilatura): {fb - fa:+.4f}")


if __name__ == "__main__":
    main()
