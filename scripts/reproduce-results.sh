#!/usr/bin/env bash
# Regenerates every model, measurement, table and figure of docs/results.md from scratch, into build/results/.
#   scripts/reproduce-results.sh            (about 40 minutes on 2 cores)
# Settings can be changed through the environment: STEPS (training steps, default 150), JOBS (processes run
# side by side, default 2; each training and evaluation uses one thread).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
steps="${STEPS:-150}"
jobs_max="${JOBS:-2}"
out=build/results
base=../shared/models/stories260K.gguf
corpus=../shared/data/tinystories-dev.txt
for f in "$base" "$corpus"; do
  [ -f "$f" ] || { echo "reproduce-results: $f is missing (the shared test data belongs at ../shared)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out/eval"
./mvnw -q package -DskipTests
# The runs use their own copy of the jar, so rebuilding the project meanwhile cannot disturb them.
cp cli/target/winnow.jar "$out/winnow.jar"
export WINNOW_JAR="$root/$out/winnow.jar"
winnow() { bin/winnow "$@"; }

# The last 30 stories are the test text, never trained on; training uses the other 276 (5% of them held out
# for the evaluations printed during training).
awk -v keep=30 -v train="$out/train.txt" -v test="$out/test.txt" '
  BEGIN { RS = "\n<\\|endoftext\\|>\n"; ORS = "\n<|endoftext|>\n" }
  { doc[NR] = $0 }
  END { for (i = 1; i <= NR; i++) print doc[i] > (i > NR - keep ? test : train) }' "$corpus"

failures=0
# Runs a command in the background, at most $jobs_max at a time; its output goes to the log named first.
spawn() {
  local log="$1"; shift
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || failures=$((failures + 1)); done
  echo "reproduce-results: $*" >&2
  ( "$@" > "$log" 2>&1 ) &
}
finish() {
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failures=$((failures + 1)); done
  if [ "$failures" -gt 0 ]; then echo "reproduce-results: $failures command(s) failed; see $out/*.log" >&2; exit 1; fi
}

common=(--seq-len 256 --batch 8 --steps "$steps" --eval-every 50 --checkpoint-every 50 -t 1)
train_text=(--data "$out/train.txt" --holdout 0.05)

# 1. Training: dense fine-tuning (gamma 0), DCP with all parameters at four gammas, DCP with the module only
#    (base frozen) at one of them, and DCP from self-distillation (no text at all).
spawn "$out/stories260K-ft-gamma0.log" winnow train-pruning -m "$base" "${train_text[@]}" --gamma 0 "${common[@]}" \
  -o "$out/stories260K-ft-gamma0.gguf"
for gamma in 0.05 0.15 0.4 1.0; do
  spawn "$out/stories260K-dcp-all-gamma$gamma.log" winnow train-pruning -m "$base" "${train_text[@]}" --gamma "$gamma" \
    "${common[@]}" -o "$out/stories260K-dcp-all-gamma$gamma.gguf"
done
spawn "$out/stories260K-dcp-module-gamma0.4.log" winnow train-pruning -m "$base" "${train_text[@]}" --gamma 0.4 \
  --mode module "${common[@]}" -o "$out/stories260K-dcp-module-gamma0.4.gguf"
spawn "$out/stories260K-dcp-distill-gamma0.4.log" winnow train-pruning -m "$base" --self-distill 96 --gamma 0.4 \
  "${common[@]}" -o "$out/stories260K-dcp-distill-gamma0.4.gguf"
finish

# 2. Perplexity on the test stories, windows of 256 tokens, pruning exactly as at inference.
perplexity_json() { # JSON MODEL [options...]
  local json="$1" model="$2"; shift 2
  bin/winnow perplexity -m "$model" -f "$out/test.txt" --ctx 256 -t 1 --json "$@" > "$json"
}
measure() { # KIND LABEL MODEL [options...]
  local kind="$1" label="$2"; shift 2
  spawn "$out/eval/${kind}__${label}.log" perplexity_json "$out/eval/${kind}__${label}.json" "$@"
}
ft="$out/stories260K-ft-gamma0.gguf"
measure dense-base none "$base"
measure dense-ft none "$ft" --kl-base "$base"
for gamma in 0.05 0.15 0.4 1.0; do
  measure dcp-all "gamma$gamma" "$out/stories260K-dcp-all-gamma$gamma.gguf" --prune dcp --kl-base "$base"
done
measure dcp-module gamma0.4 "$out/stories260K-dcp-module-gamma0.4.gguf" --prune dcp --kl-base "$base"
measure dcp-distill gamma0.4 "$out/stories260K-dcp-distill-gamma0.4.gguf" --prune dcp --kl-base "$base"
# The heuristics run on the dense fine-tuned model: the same fine-tuning as DCP, only the pruning differs.
for w in 8 16 32 64 128; do
  measure window "window:4:$w" "$ft" --prune "window:4:$w"
  measure h2o "h2o:$((w / 2)):$((w / 2))" "$ft" --prune "h2o:$((w / 2)):$((w / 2))"
  measure tova "tova:$w" "$ft" --prune "tova:$w"
done
finish

# 3. A story from a DCP model, with the pruning it learned.
bin/winnow generate -m "$out/stories260K-dcp-all-gamma0.4.gguf" -p "Once upon a time" -n 200 --temperature 0 \
  --prune dcp --stats > "$out/sample-dcp-all-gamma0.4.txt" 2>&1

# 4. Tables and figure.
"${JAVA_HOME:+$JAVA_HOME/bin/}java" --add-modules jdk.incubator.vector -cp "$WINNOW_JAR" scripts/ResultsReport.java "$out" \
  > /dev/null
echo "reproduce-results: done; see $out/results.md and $out/perplexity-vs-kept.svg" >&2
