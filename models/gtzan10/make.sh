#!/usr/bin/env bash
# Makes the shipped default model models/gtzan10 and every figure the model card quotes for
# it, by the protocol of models/README.md:
#   1. settings (pooling, L2, hop) were chosen on valid with heads fitted on train only
#      (models/head_grid.sh; the choice is recorded in figures/settings.json);
#   2. the head fitted on train with those settings is scored on valid
#      -> figures/train-fit-on-valid.json (the card's valid figures);
#   3. the shipped head is refitted on train + valid with the same settings, with a
#      temperature fitted on out-of-fold predictions (train -> valid, valid -> train)
#      -> models/gtzan10/{head.onnx,manifest.toml}, figures/shipped-train.txt;
#   4. the shipped head on valid (in-sample: valid is in its training data; a regression
#      guard only) -> figures/shipped-on-valid.json;
#   5. reliability diagrams of the train-fit head on valid, without and with the shipped
#      temperature -> docs/gtzan10-valid-calibration-*.svg.
# tests/quality.rs recomputes 2 and 4 and compares them with these files.
#
#   models/gtzan10/make.sh            (needs ../shared, or GTZAN_LIST=<tracks.csv>)
# Uses target/release/genre-meter (built if missing) or $GENRE_METER_BIN. Embeddings are
# cached in the user data folder, so only the first run is slow.
set -euo pipefail
fig=models/gtzan10/figures
source "$(dirname "$0")/../head_env.sh"
common=(--backbone musicnn --pooling "$pooling" --l2 "$l2" --hop "$hop")

# 2. fitted on train, scored on valid
"$bin" train --list "$list" --split train "${common[@]}" --out "$tmp/gtzan10-train" > "$fig/train-fit.txt"
"$bin" eval --model "$tmp/gtzan10-train" --list "$list" --split valid --hop "$hop" --format json > "$fig/train-fit-on-valid.json"
"$bin" eval --model "$tmp/gtzan10-train" --list "$list" --split valid --hop "$hop" \
  --confusion docs/gtzan10-valid-confusion.svg --calibration docs/gtzan10-valid-calibration-before.svg > "$fig/train-fit-on-valid.txt"

# 3. the shipped head: train + valid, calibrated out of fold
"$bin" train --list "$list" --split train,valid "${common[@]}" --calibrate --out models/gtzan10 --force > "$fig/shipped-train.txt"
source_cmd="models/gtzan10/make.sh: genre-meter train --list ../shared/data/gtzan/tracks.csv --split train,valid --backbone musicnn --pooling $pooling --l2 $l2 --hop $hop --calibrate --out models/gtzan10"
licence="ISC (head weights trained by Genre Meter on the GTZAN train and valid splits; backbone: musicnn, ISC)"
python3 - "$source_cmd" "$licence" <<'PY'
import sys
p = "models/gtzan10/manifest.toml"
lines = open(p).read().split("\n")
out = []
for l in lines:
    if l.startswith("source = "):
        out.append("licence = %s" % __import__("json").dumps(sys.argv[2]))
        out.append("source = %s" % __import__("json").dumps(sys.argv[1]))
    else:
        out.append(l)
open(p, "w").write("\n".join(out))
PY
temperature=$(sed -n 's/^temperature = //p' models/gtzan10/manifest.toml)

# 4. the shipped head on valid (in-sample)
"$bin" eval --model models/gtzan10 --list "$list" --split valid --hop "$hop" --format json > "$fig/shipped-on-valid.json"

# 5. the train-fit head with the shipped temperature: reliability on valid
"$bin" train --list "$list" --split train "${common[@]}" --temperature "$temperature" --out "$tmp/gtzan10-train-t" > /dev/null
"$bin" eval --model "$tmp/gtzan10-train-t" --list "$list" --split valid --hop "$hop" \
  --calibration docs/gtzan10-valid-calibration.svg > "$fig/train-fit-calibrated-on-valid.txt"
sha256sum models/gtzan10/head.onnx
echo "done: models/gtzan10 (temperature $temperature), figures in $fig, diagrams in docs/"
