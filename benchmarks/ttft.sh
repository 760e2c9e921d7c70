#!/usr/bin/env bash
# Time to first token from a cold JVM: the wall time of `winnow generate -p "Once" -n 1`, with JVM option sets
# alternated (none, the AOT cache, transparent huge pages, both), ROUNDS rounds. The AOT cache is recorded first,
# into a temporary file, by one `bench -p 1 -n 1` run on the same model. The figures of docs/performance.md
# ("Time to first token") come from this script.
#
#   benchmarks/ttft.sh MODEL.gguf [ROUNDS]
#
# bin/winnow adds huge pages by itself where the kernel offers them; the "none" and "AOT cache" sets turn them off.
set -euo pipefail

model="${1:?usage: $0 MODEL.gguf [ROUNDS]}"
rounds="${2:-3}"
winnow="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin/winnow"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

JAVA_OPTS="-XX:AOTCacheOutput=$work/winnow.aot -Xlog:aot=off -Xlog:cds=off" \
  "$winnow" bench -m "$model" -t 2 -r 1 -p 1 -n 1 > "$work/record.txt" 2>&1
aot="-XX:AOTCache=$work/winnow.aot -Xlog:aot=off -Xlog:cds=off"

for _ in $(seq "$rounds"); do
  for set in none aot huge-pages aot+huge-pages; do
    case $set in
      none) opts="-XX:-UseTransparentHugePages" ;;
      aot) opts="$aot -XX:-UseTransparentHugePages" ;;
      huge-pages) opts="-XX:+UseTransparentHugePages" ;;
      aot+huge-pages) opts="$aot -XX:+UseTransparentHugePages" ;;
    esac
    start=$(date +%s%N)
    JAVA_OPTS="$opts" "$winnow" generate -m "$model" -t 2 -p "Once" -n 1 --temp 0 > /dev/null 2>&1
    end=$(date +%s%N)
    printf '%-16s %6d ms  (load %s)\n' "$set" $(( (end - start) / 1000000 )) "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
