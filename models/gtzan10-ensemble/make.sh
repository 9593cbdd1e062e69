#!/usr/bin/env bash
# The figures the model card quotes for gtzan10-ensemble, through the engine (the mix the
# analyser computes, not a re-implementation):
#   the ensemble's two members fitted on train only (gtzan10's and gtzan10-yamnet's settings,
#   each with its shipped head's temperature), mixed with the shipped manifest's weights and
#   temperature, scored on valid -> figures/train-fit-on-valid.{json,txt} and a reliability
#   diagram figures/train-fit-on-valid-calibration.svg.
# The weight and temperature themselves come from models/gtzan10-yamnet/ensemble_oof.sh.
#   genre-meter install-yamnet <folder>   (once)
#   models/gtzan10-ensemble/make.sh       (needs ../shared, or GTZAN_LIST=<tracks.csv>)
set -euo pipefail
fig=models/gtzan10/figures   # head_env.sh reads the musicnn settings from here
source "$(dirname "$0")/../head_env.sh"
out=models/gtzan10-ensemble/figures
read -r ypool yl2 yhop < <(python3 -c "import json; s=json.load(open('models/gtzan10-yamnet/figures/settings.json')); print(s['pooling'], s['l2'], s['hop_seconds'])")
tm=$(python3 -c "import tomllib; print(tomllib.load(open('models/gtzan10/manifest.toml','rb'))['training']['temperature'])")
ty=$(python3 -c "import json; print(json.load(open('models/gtzan10-yamnet/figures/refit-calibration.json'))['temperature'])")
# Members are found by name in the user's model folder: install the train-fit heads there
# under names of their own, and remove them at the end.
models=$("$bin" models | sed -n 's/^Models (user folder: \(.*\)):$/\1/p')
m="$models/gtzan10-ensemble-check-musicnn" y="$models/gtzan10-ensemble-check-yamnet"
trap 'rm -rf "$tmp" "$m" "$y"' EXIT
"$bin" train --list "$list" --split train --backbone musicnn --pooling "$pooling" --l2 "$l2" --hop "$hop" --temperature "$tm" --out "$m" --force > /dev/null
"$bin" train --list "$list" --split train --backbone yamnet --pooling "$ypool" --l2 "$yl2" --hop "$yhop" --temperature "$ty" --out "$y" --force > /dev/null
mkdir -p "$tmp/ensemble"
python3 - models/gtzan10-ensemble/manifest.toml "$(basename "$m")" "$(basename "$y")" > "$tmp/ensemble/manifest.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = text.replace('name = "gtzan10-ensemble"', 'name = "gtzan10-ensemble-train-fit"')
text = text.replace('model = "gtzan10"\n', f'model = "{sys.argv[2]}"\n').replace('model = "gtzan10-yamnet"\n', f'model = "{sys.argv[3]}"\n')
print(text, end="")
PY
"$bin" eval --model "$tmp/ensemble" --list "$list" --split valid --hop "$hop" --format json > "$out/train-fit-on-valid.json"
"$bin" eval --model "$tmp/ensemble" --list "$list" --split valid --hop "$hop" --calibration "$out/train-fit-on-valid-calibration.svg" > "$out/train-fit-on-valid.txt"
echo "done: figures in $out"
