#!/usr/bin/env bash
# Makes data/web/demo.warc.gz: a real crawl, with wget, of real HTML served on loopback.
#   - Debian's python3.11-doc (the Python 3.11 documentation, 518 pages at depth 2): English
#     prose and code, the bulk of the demo and what the datatrove baseline was measured on;
#   - a few chapters of Debian's debian-reference in French and German: pages the language
#     filter must drop;
#   - a mirror of the Python tutorial under a second path: exact duplicates for dedup.
# The Python docs also hold real e-mail addresses (PII) and index/search pages that are mostly
# boilerplate. Needs apt-get (Debian package downloads), dpkg-deb, python3 and wget.
#   bash scripts/make_demo_warc.sh [OUT]     (default data/web/demo.warc.gz)
set -euo pipefail
out=$(realpath -m "${1:-data/web/demo.warc.gz}")
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
apt-get download -q python3.11-doc debian-reference-fr debian-reference-de >/dev/null
for deb in *.deb; do dpkg-deb -x "$deb" root; done
site=$work/site
mkdir -p "$site/mirror"
cp -r root/usr/share/doc/python3.11/html "$site/pydoc"
cp -r "$site/pydoc/tutorial" "$site/mirror/tutorial"
mkdir -p "$site/ref"
for ch in ch03 ch04 ch08; do
    cp root/usr/share/debian-reference/$ch.fr.html root/usr/share/debian-reference/$ch.de.html "$site/ref/"
done
# The start page links every part of the demo site.
{
    echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>minichat demo crawl</title></head><body><ul>'
    echo '<li><a href="pydoc/index.html">Python 3.11 documentation</a></li>'
    echo '<li><a href="mirror/tutorial/index.html">Python tutorial (mirror)</a></li>'
    for f in "$site"/ref/*.html; do echo "<li><a href=\"ref/$(basename "$f")\">$(basename "$f")</a></li>"; done
    echo '</ul></body></html>'
} >"$site/index.html"
port=$((20000 + RANDOM % 20000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then break; fi
    sleep 0.1
done
# Depth 3 from the start page = depth 2 inside the Python docs, as in the datatrove baseline.
wget -q -r -l 3 --no-parent -A html,htm --reject-regex '_sources|_downloads' -e robots=off \
    --warc-file="$work/demo" --no-warc-keep-log -P "$work/mirror-out" "http://127.0.0.1:$port/index.html" || true
mkdir -p "$(dirname "$out")"
mv "$work/demo.warc.gz" "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out: $(du -h "$out" | cut -f1), $(zcat "$out" | grep -c '^WARC-Type: response') responses"
