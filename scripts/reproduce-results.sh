#!/usr/bin/env bash
# Regenerates every model, measurement, table and figure of docs/results.md from scratch, into build/results/,
# and writes the headline model to build/results/stories260K-dcp-best.gguf (a complete model: `--prune dcp`
# needs no adapter).
#   scripts/reproduce-results.sh                 (13 minutes at a load average of 2-5 on 2 cores, 42 at 9-14; 2026-12-07)
#   STEPS=10 scripts/reproduce-results.sh        (a quick run through every stage, a few minutes; poor models)
# Settings can be changed through the environment: STEPS (training steps, default 150), JOBS (processes run
# side by side, default 2; each training and evaluation uses one thread), BEST_GAMMA (the headline recipe's
# gamma, default 0.2), GAMMAS (the other gammas of the same recipe, for the curve, default "0.1 0.04"), SWEEP (the
# kept fractions the headline module is steered to with --prune dcp:keep=F, default "0.1 ... 0.9"; the module is
# calibrated for it on the first 30 training stories, and the headline model file carries that calibration), RECENT
# (W:X pairs: the module-only model measured with --prune dcp:offset=X:recent=W, default "32:-60 32:-50 48:-50 64:-50
# 96:-60 96:-40 96:-30"). A late step
# renders the headline model's --explain page on a held-out story and screenshots it with headless Chromium into
# docs/results-explain.png (skipped, saying so, without Chromium; scripts/explain-screenshot.sh redoes it alone).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
steps="${STEPS:-150}"
jobs_max="${JOBS:-2}"
best_gamma="${BEST_GAMMA:-0.2}"
gammas="${GAMMAS:-0.1 0.04}"
sweep="${SWEEP:-0.1 0.15 0.2 0.25 0.3 0.36 0.4 0.45 0.5 0.6 0.75 0.9}"
recent="${RECENT:-32:-60 32:-50 48:-50 64:-50 96:-60 96:-40 96:-30}"
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

# The held-out text: the last 30 stories of the corpus, never trained on and used by every evaluation. Training
# uses the other 276 (their last 5% held out again for the evaluations train-pruning prints while it runs).
awk -v keep=30 -v train="$out/train.txt" -v test="$out/test.txt" '
  BEGIN { RS = "\n<\\|endoftext\\|>\n"; ORS = "\n<|endoftext|>\n" }
  { doc[NR] = $0 }
  END { for (i = 1; i <= NR; i++) print doc[i] > (i > NR - keep ? test : train) }' "$corpus"
# No held-out story may also be a training story (the corpus has no duplicates; this keeps it so).
awk 'BEGIN { RS = "\n<\\|endoftext\\|>\n" } FNR == NR { seen[$0] = 1; next } ($0 in seen) { shared++ }
  END { if (shared) { print "reproduce-results: " shared " held-out stories are also in the training text" > "/dev/stderr"; exit 1 } }' \
  "$out/train.txt" "$out/test.txt"

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

# 1. Training, every model on sequences of 512 tokens (the model's context): DCP with all parameters, distilled
#    on the training text towards the original model's own distributions (the headline recipe) at three gammas.
common=(--seq-len 512 --batch 4 --steps "$steps" --eval-every 50 --checkpoint-every 0 -t 1)
train_text=(--data "$out/train.txt" --holdout 0.05)
for gamma in $best_gamma $gammas; do
  spawn "$out/stories260K-dcp-textdistill-gamma$gamma.log" winnow train-pruning -m "$base" "${train_text[@]}" --distill \
    --gamma "$gamma" "${common[@]}" -o "$out/stories260K-dcp-textdistill-gamma$gamma.gguf"
done
#    The same recipe with the base frozen (the model stays the original, plus a module): the model of the recent-window
#    points, since it keeps the original's weights.
module_model="$out/stories260K-dcp-module-distill-gamma0.04.gguf"
spawn "$out/stories260K-dcp-module-distill-gamma0.04.log" winnow train-pruning -m "$base" "${train_text[@]}" --distill \
  --mode module --gamma 0.04 "${common[@]}" -o "$module_model"
finish
# The headline model, calibrated for --prune dcp:keep=F while the measurements below run: the kept fraction at a
# series of offsets on its bias, measured on a sample of the training text (its first 30 stories), recorded in
# the model file.
awk 'BEGIN { RS = "\n<\\|endoftext\\|>\n"; ORS = "\n<|endoftext|>\n" } NR <= 30 { print }' "$out/train.txt" > "$out/calibration.txt"
spawn "$out/calibration.log" winnow perplexity -m "$out/stories260K-dcp-textdistill-gamma$best_gamma.gguf" \
  -f "$out/calibration.txt" --ctx 512 -t 1 --json --prune dcp --calibrate "$out/stories260K-dcp-best.gguf"

# 2. Perplexity on the held-out stories, windows of 512 tokens, pruning exactly as at inference. The
#    heuristics run on the original model, the one a user starts from.
perplexity_json() { # JSON MODEL [options...]
  local json="$1" model="$2"; shift 2
  bin/winnow perplexity -m "$model" -f "$out/test.txt" --ctx 512 -t 1 --json "$@" > "$json"
}
measure() { # KIND LABEL MODEL [options...]
  local kind="$1" label="$2"; shift 2
  spawn "$out/eval/${kind}__${label}.log" perplexity_json "$out/eval/${kind}__${label}.json" "$@"
}
measure dense-base none "$base"
for gamma in $best_gamma $gammas; do
  measure dcp-textdistill "gamma$gamma" "$out/stories260K-dcp-textdistill-gamma$gamma.gguf" --prune dcp --kl-base "$base"
done
measure dcp-module gamma0.04 "$module_model" --prune dcp --kl-base "$base"
# The module-only model with the last W tokens always kept: it votes only on older ones, with X on its bias.
for point in $recent; do
  measure dcp-recent "offset=${point#*:}:recent=${point%%:*}" "$module_model" --prune "dcp:offset=${point#*:}:recent=${point%%:*}" \
    --kl-base "$base"
done
for w in 16 32 64 96 128 192; do
  measure window "window:4:$w" "$base" --prune "window:4:$w"
  measure h2o "h2o:$((w / 2)):$((w / 2))" "$base" --prune "h2o:$((w / 2)):$((w / 2))"
  measure tova "tova:$w" "$base" --prune "tova:$w"
done
finish
# One module, every operating point: the headline module steered to each kept fraction by its calibration, no
# retraining.
for keep in $sweep; do
  measure dcp-sweep "keep=$keep" "$out/stories260K-dcp-best.gguf" --prune "dcp:keep=$keep" --kl-base "$base"
done
finish

# 3. A story from the headline model, with the pruning it learned.
bin/winnow generate -m "$out/stories260K-dcp-best.gguf" -p "Once upon a time" -n 200 --temperature 0 \
  --prune dcp --stats > "$out/sample-dcp-best.txt" 2>&1

# 4. The explain page of the headline model reading the first held-out story, as a picture for docs/results.md.
awk 'BEGIN { RS = "\n<\\|endoftext\\|>\n" } NR == 1 { print; exit }' "$out/test.txt" > "$out/explain-story.txt"
if [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  scripts/explain-screenshot.sh "$out/stories260K-dcp-best.gguf" "$out/explain-story.txt" docs/results-explain.png
else
  echo "reproduce-results: no Chromium (apt-get install chromium, or set CHROMIUM): the explain screenshot is not redone" >&2
fi

# 5. Tables and figure.
"${JAVA_HOME:+$JAVA_HOME/bin/}java" --add-modules jdk.incubator.vector -cp "$WINNOW_JAR" scripts/ResultsReport.java "$out" \
  > /dev/null
echo "reproduce-results: done; see $out/results.md, $out/perplexity-vs-kept.svg and $out/stories260K-dcp-best.gguf" >&2
