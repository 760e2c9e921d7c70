#!/usr/bin/env bash
# Renders the --explain page of a DCP model reading one story and takes a headless Chromium screenshot of it, so a
# reader sees which tokens each layer keeps. Re-runnable on its own whenever the page changes:
#   scripts/explain-screenshot.sh MODEL.gguf STORY.txt OUT.png [PRUNE_SPEC]
# Needs cli/target/winnow.jar (or WINNOW_JAR) and Chromium (/usr/bin/chromium, or CHROMIUM; .ci/run installs
# Debian's package).
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 MODEL.gguf STORY.txt OUT.png [PRUNE_SPEC]" >&2; exit 2; }
model="$1" story="$2" png="$3" spec="${4:-dcp}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || { echo "explain-screenshot: no Chromium at $chromium (apt-get install chromium, or set CHROMIUM)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The story is the prompt; one generated token is enough, the page shows what each layer kept while reading.
"$root/bin/winnow" generate -m "$model" -f "$story" -n 1 --temperature 0 -t 1 --prune "$spec" \
  --explain "$work/explain.html" > /dev/null
"$chromium" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$work/profile" --hide-scrollbars \
  --screenshot="$work/shot.png" --window-size=1200,1400 "file://$work/explain.html" > /dev/null 2>&1
mkdir -p "$(dirname "$png")"
cp "$work/shot.png" "$png"
echo "explain-screenshot: $png" >&2
