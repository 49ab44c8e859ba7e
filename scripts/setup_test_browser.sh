#!/usr/bin/env bash
# The browser the tests use: Debian's Chromium, in which crates/serve/tests/ui.rs checks
# minichat's web page, and playwright-core from npm (crates/serve/tests/browser, pinned by its
# package-lock.json), which drives it without downloading a browser of its own. Safe to run
# again: it installs only what is missing. Used by the README's test command and so by .ci/run.
# CHROMIUM=path uses another Chromium binary.
set -euo pipefail
cd "$(dirname "$0")/.."
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        echo "the web page's test needs Chromium: sudo apt-get install chromium (Debian), or CHROMIUM=path" >&2
        exit 1
    fi
fi
dir=crates/serve/tests/browser
want=$(node -p "require('./$dir/package-lock.json').packages['node_modules/playwright-core'].version")
have=$(node -p "try { require('./$dir/node_modules/playwright-core/package.json').version } catch { '' }")
[ "$have" = "$want" ] || (cd "$dir" && npm ci --no-audit --no-fund --silent)
echo "test browser: $("$chromium" --version 2>/dev/null), playwright-core $want"
