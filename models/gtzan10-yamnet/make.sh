#!/usr/bin/env bash
# Makes the gtzan10-yamnet head (a head on the user-installed YAMNet backbone) and every figure
# the model card quotes for it, by the same protocol as models/gtzan10/make.sh:
#   1. settings (pooling, L2, hop) chosen on valid with heads fitted on train only
#      (models/head_grid.sh yamnet ..., recorded in figures/settings.json);
#   2. the head fitted on train with those settings, scored on valid
#      -> figures/train-fit-on-valid.{json,txt} (the card's valid figures);
#   3. the head refitted on train + valid, with a temperature fitted on out-of-fold
#      predictions (train -> valid, valid -> train) -> figures/refit-train.txt (out-of-fold
#      figures and ECE before/after), figures/refit-calibration.json; the head itself goes
#      to $OUT if set (a folder or a user model name, e.g. OUT=gtzan10-yamnet), else nowhere;
#   4. the train-fit head with that temperature on valid -> figures/train-fit-calibrated-on-valid.txt.
# The head is derived from YAMNet's weights, which cannot ship: it never goes into this
# repository; only the figures are committed.
# tests/quality.rs recomputes 2 (the train-fit figures) against these files.
#
#   genre-meter install-yamnet <folder with yamnet_patch.onnx>   (once)
#   models/gtzan10-yamnet/make.sh            (needs ../shared, or GTZAN_LIST=<tracks.csv>)
# Uses target/release/genre-meter (built if missing) or $GENRE_METER_BIN.
set -euo pipefail
fig=models/gtzan10-yamnet/figures
source "$(dirname "$0")/../head_env.sh"
common=(--backbone yamnet --pooling "$pooling" --l2 "$l2" --hop "$hop")

# 2. fitted on train, scored on valid
"$bin" train --list "$list" --split train "${common[@]}" --out "$tmp/yamnet-train" > "$fig/train-fit.txt"
"$bin" eval --model "$tmp/yamnet-train" --list "$list" --split valid --hop "$hop" --format json > "$fig/train-fit-on-valid.json"
"$bin" eval --model "$tmp/yamnet-train" --list "$list" --split valid --hop "$hop" > "$fig/train-fit-on-valid.txt"

# 3. refitted on train + valid, calibrated out of fold
"$bin" train --list "$list" --split train,valid "${common[@]}" --calibrate --out "$tmp/gtzan10-yamnet" > "$fig/refit-train.txt"
python3 - "$tmp/gtzan10-yamnet/manifest.toml" > "$fig/refit-calibration.json" <<'PY'
import json, sys, tomllib
t = tomllib.load(open(sys.argv[1], "rb"))["training"]
c = t["calibration"]
print(json.dumps({"temperature": round(t["temperature"], 4), "folds": c["folds"],
                  "out_of_fold_balanced_accuracy": c["out_of_fold_balanced_accuracy"],
                  "out_of_fold_ece_before": c["out_of_fold_ece_before"],
                  "out_of_fold_ece_after": c["out_of_fold_ece_after"]}, indent=1))
PY
temperature=$(python3 -c "import json; print(json.load(open('$fig/refit-calibration.json'))['temperature'])")
if [ -n "${OUT:-}" ]; then
  "$bin" train --list "$list" --split train,valid "${common[@]}" --calibrate --out "$OUT" --force > /dev/null
fi

# 4. the train-fit head with that temperature, on valid
"$bin" train --list "$list" --split train "${common[@]}" --temperature "$temperature" --out "$tmp/yamnet-train-t" > /dev/null
"$bin" eval --model "$tmp/yamnet-train-t" --list "$list" --split valid --hop "$hop" > "$fig/train-fit-calibrated-on-valid.txt"
echo "done: temperature $temperature, figures in $fig${OUT:+, head in $OUT}"
