#!/usr/bin/env bash
# Trains a GTZAN head for every L2 x hop pair on the train part of the split and prints its
# valid figures (per window and per track), as the model card's settings were chosen.
#   models/head_grid.sh BACKBONE "L2 VALUES" "HOP VALUES"
#   models/head_grid.sh musicnn "1e-3 3e-3 1e-2 3e-2 0.1 1" "1"
#   models/head_grid.sh yamnet "1e-4 1e-3 1e-2 3e-2 0.1 0.3 1" "1 0.48"   # after install-yamnet
#   POOLING=mean-embedding models/head_grid.sh musicnn "0.05 0.15 0.5 1.5" "3"   # track-level heads
# Needs ../shared (GTZAN) and a release build (`cargo build --release`). The heads go to a
# temporary folder; embeddings are cached, so only the first pass over a hop is slow.
set -euo pipefail
cd "$(dirname "$0")/.."
backbone=${1:?backbone: musicnn, yamnet or a model name}
l2s=${2:?L2 values, e.g. "1e-3 1e-2"}
hops=${3:-1}
pooling=${POOLING:-mean-probabilities}
list=${GTZAN_LIST:-../shared/data/gtzan/tracks.csv}
bin=target/release/genre-meter
[ -f "$list" ] || { echo "error: $list not found: this needs ../shared (or GTZAN_LIST=<tracks.csv>)" >&2; exit 2; }
[ -x "$bin" ] || cargo build --release --bin genre-meter
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for hop in $hops; do
  for l2 in $l2s; do
    "$bin" train --list "$list" --split train --backbone "$backbone" --out "$out/h$hop-l2$l2" --l2 "$l2" --hop "$hop" --pooling "$pooling" >/dev/null 2>&1
    figures=$("$bin" eval --model "$out/h$hop-l2$l2" --list "$list" --split valid --hop "$hop" | grep -E '^per (window|track)' | sed 's/ (.*)//' | tr '\n' ' ')
    echo "backbone $backbone, pooling $pooling, hop $hop s, L2 $l2: $figures"
  done
done
