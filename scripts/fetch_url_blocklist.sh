#!/usr/bin/env bash
# Fetches FineWeb's URL blocklists as datatrove 0.10.1 ships them (PyPI wheel, Apache-2.0;
# the domain and URL lists are the UT1 blacklists' "adult" category) into OUT (default
# out/url-lists), in the layout `minichat data ... --url-lists OUT` reads:
#   OUT/domains  OUT/urls  OUT/banned_words.txt  OUT/soft_banned_words.txt  OUT/banned_subwords.txt
set -euo pipefail
out=$(realpath -m "${1:-out/url-lists}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/pip_wheel.sh"
unpack_wheel "datatrove==0.10.1" "$work/x"
assets="$work/x/datatrove/assets"
mkdir -p "$out.tmp"
tar -xzf "$assets"/url_filterblacklists*.tar.gz -C "$out.tmp"
cp "$assets"/banned_words.txt "$assets"/soft_banned_words.txt "$assets"/banned_subwords.txt "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "wrote $out: $(wc -l <"$out/domains") domains, $(wc -l <"$out/urls") URLs"
