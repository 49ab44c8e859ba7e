#!/usr/bin/env python3
"""Makes crates/data/tests/fixtures/writers/: the same three real pages crawled or written by
several WARC writers, each storing the HTTP messages its own way, for crates/data/tests/writers.rs.

The pages are three Python 3.11 documentation pages (PSF License) taken from
data/web/demo.warc.gz. A loopback HTTP/1.1 server (on 127.0.0.2) sends each one differently:
  /raw/...      "HTTP/1.0 200" with no reason phrase and no Content-Length (closes the connection)
  /chunked/...  Transfer-Encoding: chunked
  /gzip/...     Content-Encoding: gzip, chunked
  /again/...    the /raw page's bytes again under another URL (warcprox writes a revisit)
The writers:
  wget.warc.gz          GNU Wget 1.21 (Debian), --warc-file: gzip member per record, WARC/1.0
  wget.warc             the same crawl with --no-warc-compression
  wget-whole.warc.gz    wget.warc gzipped as one member (what `gzip crawl.warc` makes)
  warcio.warc.gz        warcio 1.8's capture_http around `requests` (bytes as received)
  warcprox.warc.gz      warcprox 2.13, a recording proxy, with requests through it; it dedups
                        the /again page into an identical-payload revisit record
  browser.warc.gz       warcio's WARCWriter, WARC/1.1, storing what a browser-based crawler
                        (Browsertrix, Webrecorder) stores: the body as the browser decoded it,
                        under the original Transfer-Encoding and Content-Encoding headers
  commoncrawl.warc.gz   warcio's WARCWriter in Common Crawl's conventions (payloads decoded, the
                        coding headers renamed X-Crawler-*, WARC-Identified-Payload-Type, one
                        record cut with WARC-Truncated, a dns: response as Heritrix writes)
  commoncrawl.warc.wet.gz  the WET form of it: conversion records of text/plain (text by
                        Python's html.parser: the format is what is tested, not the extractor)
  archiveteam.warc.zst  wget.warc's records in the .warc.zst convention of the Internet Archive
                        and ArchiveTeam's wget-at: one zstd frame per record, compressed with a
                        dictionary that a skippable frame at the start of the file holds

Needs wget and a Python with warcio, warcprox, requests and zstandard:
  python3 -m venv /tmp/wv && /tmp/wv/bin/pip install warcio==1.8.2 warcprox==2.13.1 \\
      requests zstandard
  /tmp/wv/bin/python scripts/make_warc_writer_fixtures.py
Record ids and dates differ between runs; the pages do not.
"""

import gzip
import html.parser
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import zstandard
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/data/tests/fixtures/writers")
PAGES = ["library/posix.html", "library/urllib.error.html", "library/cgitb.html"]
MODES = ["raw", "chunked", "gzip"]


def load_pages():
    pages = {}
    with open(os.path.join(ROOT, "data/web/demo.warc.gz"), "rb") as f:
        for rec in ArchiveIterator(f):
            uri = rec.rec_headers.get_header("WARC-Target-URI")
            for p in PAGES:
                if rec.rec_type == "response" and uri.endswith("/pydoc/" + p):
                    pages[p] = rec.content_stream().read()
    assert len(pages) == len(PAGES), pages.keys()
    return pages


def chunked(body, size=4000):
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def serve(pages):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            mode, _, name = self.path.lstrip("/").partition("/")
            body = pages.get(name)
            if body is None or mode not in MODES + ["again"]:
                self.send_error(404)
                return
            if mode in ("raw", "again"):
                self.wfile.write(b"HTTP/1.0 200\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body)
                self.close_connection = True
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            if mode == "gzip":
                body = gzip.compress(body, mtime=0)
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(chunked(body))

    # 127.0.0.2: warcprox refuses 127.0.0.1 ("localhost access is not permitted").
    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.2:%d" % server.server_address[1]


def urls(base):
    return ["%s/%s/%s" % (base, mode, name) for mode, name in zip(MODES, PAGES)] + ["%s/again/%s" % (base, PAGES[0])]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_wget(work, base):
    for compress in (True, False):
        name = os.path.join(work, "wget")
        flags = [] if compress else ["--no-warc-compression"]
        subprocess.run(
            ["wget", "-q", "--warc-file=" + name, "--no-warc-keep-log", "-O", os.devnull] + flags + urls(base)[:3],
            check=True,
        )
        ext = ".warc.gz" if compress else ".warc"
        shutil.move(name + ext, os.path.join(OUT, "wget" + ext))
    with open(os.path.join(OUT, "wget.warc"), "rb") as f, open(os.path.join(OUT, "wget-whole.warc.gz"), "wb") as g:
        g.write(gzip.compress(f.read(), mtime=0))


def with_warcio(base):
    from warcio.capture_http import capture_http
    import requests  # after capture_http, which patches http.client

    with capture_http(os.path.join(OUT, "warcio.warc.gz")):
        for url in urls(base)[:3]:
            requests.get(url, headers={"Accept-Encoding": "gzip"}).raise_for_status()


def with_warcprox(work, base):
    import requests

    port = free_port()
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "warcprox"), "-p", str(port), "-d", work + "/warcprox",
         "-z", "-n", "warcprox", "--dedup-db-file", work + "/dedup.sqlite", "--certs-dir", work + "/certs",
         "-c", work + "/ca.pem"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    proxies = {"http": "http://127.0.0.1:%d" % port}
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        except OSError:
            time.sleep(0.2)
    for url in urls(base):
        requests.get(url, proxies=proxies).raise_for_status()
        time.sleep(0.5)  # warcprox writes (and dedups) asynchronously, in order
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    found = [f for f in os.listdir(work + "/warcprox") if f.endswith(".warc.gz")]
    assert len(found) == 1, found
    shutil.move(os.path.join(work, "warcprox", found[0]), os.path.join(OUT, "warcprox.warc.gz"))


def http_headers(protocol, extra):
    return StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")] + extra, protocol=protocol)


def with_browser(base, pages):
    with open(os.path.join(OUT, "browser.warc.gz"), "wb") as f:
        w = WARCWriter(f, gzip=True, warc_version="1.1")
        for mode, name in zip(MODES, PAGES):
            extra = [] if mode == "raw" else [("Transfer-Encoding", "chunked")]
            if mode == "gzip":
                extra.append(("Content-Encoding", "gzip"))
            w.write_record(w.create_warc_record("%s/%s/%s" % (base, mode, name), "response",
                                                payload=io.BytesIO(pages[name]),
                                                http_headers=http_headers("HTTP/1.1", extra)))


class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style") and self.skip > 0
        if tag in ("p", "div", "h1", "h2", "h3", "li", "pre", "dt", "dd", "title", "tr"):
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def text_of(body):
    t = Text()
    t.feed(body.decode("utf-8"))
    lines = [" ".join(line.split()) for line in "".join(t.parts).splitlines()]
    return "\n".join(line for line in lines if line)


def with_commoncrawl(base, pages):
    warc = io.BytesIO()
    wet = io.BytesIO()
    w = WARCWriter(warc, gzip=True)
    wt = WARCWriter(wet, gzip=True)
    put = w.write_record
    put(w.create_warcinfo_record("commoncrawl.warc.gz", {"software": "warcio 1.8 (Common Crawl's conventions)"}))
    wt.write_record(wt.create_warcinfo_record("commoncrawl.warc.wet.gz", {"software": "warcio 1.8"}))
    dns = w.create_warc_record("dns:127.0.0.1", "response", payload=io.BytesIO(b"20261208000000\n127.0.0.1.\t3600\tIN\tA\t127.0.0.1\n"),
                               warc_content_type="text/dns")
    put(dns)
    for i, name in enumerate(PAGES):
        body = pages[name]
        extra = [("X-Crawler-Content-Encoding", "gzip"), ("X-Crawler-Transfer-Encoding", "chunked"),
                 ("Content-Length", str(len(body)))]
        warc_headers = {"WARC-Identified-Payload-Type": "text/html"}
        if i == 2:
            # Cut as a crawler cuts a page over its size limit.
            body = body[: len(body) // 2]
            warc_headers["WARC-Truncated"] = "length"
        rec = w.create_warc_record("%s/commoncrawl/%s" % (base, name), "response", payload=io.BytesIO(body),
                                   http_headers=http_headers("HTTP/1.1", extra), warc_headers_dict=warc_headers)
        put(rec)
        wet_rec = wt.create_warc_record(
            "%s/commoncrawl/%s" % (base, name), "conversion", payload=io.BytesIO(text_of(body).encode("utf-8")),
            warc_content_type="text/plain",
            warc_headers_dict={"WARC-Refers-To": rec.rec_headers.get_header("WARC-Record-ID"),
                               "WARC-Identified-Content-Language": "eng"})
        wt.write_record(wet_rec)
    with open(os.path.join(OUT, "commoncrawl.warc.gz"), "wb") as f:
        f.write(warc.getvalue())
    with open(os.path.join(OUT, "commoncrawl.warc.wet.gz"), "wb") as f:
        f.write(wet.getvalue())


def with_zstd_dictionary():
    data = open(os.path.join(OUT, "wget.warc"), "rb").read()
    with open(os.path.join(OUT, "wget.warc"), "rb") as f:
        it = ArchiveIterator(f)
        starts = []
        for rec in it:
            starts.append(it.get_record_offset())
    records = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
    assert b"".join(records) == data
    samples = [data[i : i + 2048] for i in range(0, len(data), 2048)]
    dictionary = zstandard.train_dictionary(4096, samples)
    packed = zstandard.ZstdCompressor().compress(dictionary.as_bytes())
    frames = [zstandard.ZstdCompressor(level=3, dict_data=dictionary).compress(r) for r in records]
    with open(os.path.join(OUT, "archiveteam.warc.zst"), "wb") as f:
        f.write(b"\x5d\x2a\x4d\x18" + len(packed).to_bytes(4, "little") + packed + b"".join(frames))


def main():
    shutil.rmtree(OUT, ignore_errors=True)  # capture_http appends to a file that is there
    os.makedirs(OUT)
    pages = load_pages()
    server, base = serve(pages)
    work = tempfile.mkdtemp()
    try:
        with_wget(work, base)
        with_warcio(base)
        with_warcprox(work, base)
        with_browser(base, pages)
        with_commoncrawl(base, pages)
        with_zstd_dictionary()
    finally:
        server.shutdown()
        shutil.rmtree(work)
    for f in sorted(os.listdir(OUT)):
        print("%8d  %s" % (os.path.getsize(os.path.join(OUT, f)), f))


if __name__ == "__main__":
    main()
