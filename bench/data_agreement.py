"""Page-by-page agreement of `minichat data run --exclusions` with datatrove's chain run with an
exclusion writer after every filter (bench/data_datatrove.py), on the same WARC files.

Each HTML page minichat read (kept, or dropped with its stage and reason) is looked up on the
other side by its WARC-Record-ID: kept there, dropped by a filter with its reason, or neither,
which for datatrove means dropped by the extractor (empty text or its timeout; the extractor has
no exclusion writer). Prints the keep/drop agreement, the agreement of stage and reason on pages
both dropped, a table per stage, and (with --list) every page on which the two disagree. Given
the WARC files (and run in the datatrove venv) it also runs datatrove's filters on the text
minichat extracted from each page, which says whether a difference comes from the extracted
text or from the filters.

    python3 data_agreement.py OURS_OUT THEIRS_OUT [WARC...] [--list]
"""
import collections
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile

STAGES = ["url_filter", "extract", "language", "gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"]


def rows(pattern):
    for path in sorted(glob.glob(pattern)):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)


def ours(out):
    """id -> (url, "kept" or (stage, reason))."""
    got = {}
    for d in rows(os.path.join(out, "output", "*.jsonl.gz")):
        got[d["id"]] = (d["url"], "kept")
    for d in rows(os.path.join(out, "removed", "*", "*.jsonl.gz")):
        got[d["id"]] = (d["url"], (d["filter_stage"], d["filter_reason"]))
    return got


def theirs(out):
    """id -> "kept" or (stage, reason); pages absent were dropped at extraction."""
    got = {}
    for d in rows(os.path.join(out, "output", "*.jsonl.gz")):
        got[d["id"]] = "kept"
    for stage in STAGES:
        for d in rows(os.path.join(out, "removed", stage, "*.jsonl.gz")):
            reason = (d.get("metadata") or {}).get("filter_reason") or stage
            got[d["id"]] = (stage, reason)
    return got


def our_extractions(warcs, ids, minichat):
    """id -> the text `minichat data extract` makes of that page's HTML (the text the filters got:
    the output and exclusion files hold it after C4's line removal)."""
    from warcio.archiveiterator import ArchiveIterator  # needs the datatrove venv

    with tempfile.TemporaryDirectory() as tmp:
        names = {}
        for warc in warcs:
            with open(warc, "rb") as f:
                for rec in ArchiveIterator(f):
                    pid = rec.rec_headers.get_header("WARC-Record-ID")
                    if rec.rec_type == "response" and pid in ids:
                        name = f"{len(names):06}.html"
                        names[name] = pid
                        with open(os.path.join(tmp, name), "wb") as g:
                            g.write(rec.content_stream().read())
        out = subprocess.run([minichat, "data", "extract", "--json", tmp], check=True, capture_output=True, text=True)
        got = {}
        for line in out.stdout.splitlines():
            d = json.loads(line)
            if "text" in d:
                got[names[os.path.basename(d["file"])]] = d["text"]
        return got


def their_filters_on_our_text(texts):
    """id -> what datatrove's filters (language to FineWeb quality, as data_datatrove.py sets them
    up) decide on the text minichat extracted: tells an extraction difference from a filter one."""
    import data_datatrove_chain as chain  # needs the datatrove venv

    filters = chain.filters()
    return {pid: chain.decide(filters, pid, text) for pid, text in texts.items()}


def main():
    ours_out, theirs_out = sys.argv[1], sys.argv[2]
    mine, other = ours(ours_out), theirs(theirs_out)
    flags = [a for a in sys.argv[3:] if a.startswith("--")]
    warcs = [a for a in sys.argv[3:] if not a.startswith("--")]
    minichat = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "minichat")
    try:
        cross = their_filters_on_our_text(our_extractions(warcs, set(mine), minichat)) if warcs else None
    except ImportError:
        cross = None
    if not mine:
        sys.exit(f"{ours_out}: no documents (run `minichat data run --exclusions`)")
    same_keep = same_reason = both_dropped = 0
    per_stage = collections.defaultdict(lambda: [0, 0, 0])  # ours dropped, theirs dropped, both (same reason)
    disagree = []
    for pid, (url, a) in sorted(mine.items(), key=lambda kv: kv[1][0]):
        b = other.get(pid, ("extract", "empty_or_timeout"))
        if a != "kept":
            per_stage[a[0]][0] += 1
        if b != "kept":
            per_stage[b[0]][1] += 1
        if (a == "kept") == (b == "kept"):
            same_keep += 1
        if a != "kept" and b != "kept":
            both_dropped += 1
            # datatrove gives no reason for extraction drops: the stage is what can match there.
            match = a[0] == b[0] and (a[1] == b[1] or a[0] == "extract")
            same_reason += match
            per_stage[a[0]][2] += match
        if a != b and not (a != "kept" and b != "kept" and a[0] == b[0] == "extract"):
            disagree.append((url, a, b))
    n = len(mine)
    print(f"agreement: {n} pages; same keep/drop {same_keep} ({100 * same_keep / n:.1f}%); "
          f"dropped by both {both_dropped}, same stage and reason {same_reason} "
          f"({100 * same_reason / max(both_dropped, 1):.1f}%)")
    print(f"{'stage':<20} {'minichat drops':>14} {'datatrove drops':>15} {'same':>6}")
    for stage in STAGES:
        o, t, s = per_stage[stage]
        print(f"{stage:<20} {o:>14} {t:>15} {s:>6}")
    kept_o = sum(1 for _, a in mine.values() if a == "kept")
    kept_t = sum(1 for pid in mine if other.get(pid) == "kept")
    print(f"{'kept':<20} {kept_o:>14} {kept_t:>15} {sum(1 for pid, (_, a) in mine.items() if a == 'kept' and other.get(pid) == 'kept'):>6}")
    fmt = lambda x: x if x == "kept" else f"{x[0]}:{x[1]}"  # noqa: E731
    if cross is not None:
        # Where the two differ, would datatrove's filters decide as minichat on minichat's text?
        # Then the difference is in the extracted text, not in the filters.
        by_url = {url: pid for pid, (url, _) in mine.items()}
        causes = collections.Counter()
        for url, a, b in disagree:
            c = cross.get(by_url[url])
            causes["extraction" if c is None or c == a else "filters"] += 1
        print(f"of {len(disagree)} pages decided differently: {causes['extraction']} by the extracted text "
              f"(datatrove's filters on minichat's text decide as minichat), {causes['filters']} by the filters")
    if "--list" in flags:
        print(f"\n{len(disagree)} pages decided differently (minichat | datatrove | datatrove's filters on minichat's text):")
        for url, a, b in disagree:
            c = cross.get(by_url[url]) if cross is not None else None
            print(f"  {url}  {fmt(a)} | {fmt(b)} | {fmt(c) if c else '-'}")


if __name__ == "__main__":
    main()
