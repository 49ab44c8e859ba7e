# Sourced by the fetch scripts. `unpack_wheel SPEC DIR`: downloads the PyPI wheel SPEC (e.g.
# "datatrove==0.10.1", no dependencies) and unpacks it into DIR (a fresh temporary folder,
# removed when the calling script exits, is the usual DIR's parent).
unpack_wheel() {
    local spec=$1 dir=$2
    mkdir -p "$dir/wheel"
    python3 -m pip download -q --no-deps --dest "$dir/wheel" "$spec"
    python3 - "$dir"/wheel/*.whl "$dir" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
}
