#!/usr/bin/env bash
# Winnow against llama.cpp on one GGUF file, same threads, one engine right after the other, each test repeated
# REPS times (medians printed). The numbers of docs/performance.md come from this script.
#
#   benchmarks/compare-llamacpp.sh MODEL.gguf [THREADS] [REPS] [DEPTHS]
#
# Needs: bin/winnow built (./mvnw -q package -DskipTests), and llama.cpp's llbench from
# ../shared/tools/llamacpp-peer/setup.sh, found through $LLBENCH (default /tmp/winnow-llamacpp/llbench).
# Tests (llama-bench's names): pp512 = a 512-token prompt read in one call; tg = decode speed, 128 steps at depth 0
# and 64 steps after filling the context to each depth in DEPTHS (default "1024 3584").
set -euo pipefail

model="${1:?usage: $0 MODEL.gguf [THREADS] [REPS] [DEPTHS]}"
threads="${2:-2}"
reps="${3:-3}"
depths="${4:-1024 3584}"
llbench="${LLBENCH:-/tmp/winnow-llamacpp/llbench}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
winnow="$root/bin/winnow"

# llbench prints "RESULT ... pp_tps_median=X gen_tps_median=Y ..."; its gen rate counts the n-1 steps after the first.
llama() {
  "$llbench" --model "$model" --threads "$threads" --reps "$reps" --fa off "$@" 2>/dev/null | grep '^RESULT'
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
# winnow bench --json prints one object; the medians are its pp_tps / tg_tps.
winnow() {
  "$winnow" bench -m "$model" -t "$threads" -r "$reps" --json "$@" 2>/dev/null
}
json() { python3 -c "import json,sys; v=json.load(sys.stdin)['$1']; print('%.2f' % v if v is not None else 'n/a')"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

printf '%-14s %12s %12s %7s\n' "test" "llama.cpp" "winnow" "ratio"
row() { printf '%-14s %12s %12s %7s\n' "$1" "$2" "$3" "$(ratio "$3" "$2")"; }

l=$(llama --pp 512 --n 2 | field pp_tps_median)
w=$(winnow -p 512 -n 0 | json pp_tps)
row "pp512" "$l" "$w"

l=$(llama --pp 1 --n 129 | field gen_tps_median)
w=$(winnow -p 0 -n 128 | json tg_tps)
row "tg128" "$l" "$w"

for d in $depths; do
  l=$(llama --pp 1 --n 65 --fill "$d" --ctx $((d + 256)) | field gen_tps_median)
  w=$(winnow -p 0 -n 64 -d "$d" | json tg_tps)
  row "tg64 @ d$d" "$l" "$w"
done
