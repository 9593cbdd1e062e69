#!/usr/bin/env bash
# Measures an ensemble of the two track-level heads, gtzan10 (musicnn) and gtzan10-yamnet,
# by the model card's protocol: heads fitted on train scored on valid, heads fitted on valid
# scored on train (out of fold), whole-track probabilities mixed as (1 - w) * musicnn + w * yamnet
# for w in 0, 0.25, 0.5, 0.75, 1. Prints accuracy / balanced accuracy per fold and pooled.
#   genre-meter install-yamnet <folder>   (once)
#   models/gtzan10-yamnet/ensemble_oof.sh   (needs ../shared, or GTZAN_LIST=<tracks.csv>)
# Embeddings come from the cache, so a second run takes seconds; the first about 10 minutes.
set -euo pipefail
fig=models/gtzan10/figures   # head_env.sh reads the musicnn settings from here
source "$(dirname "$0")/../head_env.sh"
read -r ypool yl2 yhop < <(python3 -c "import json; s=json.load(open('models/gtzan10-yamnet/figures/settings.json')); print(s['pooling'], s['l2'], s['hop_seconds'])")
root=$(dirname "$list")
for split in train valid; do
  python3 - "$list" "$split" "$root" > "$tmp/$split.txt" <<'PY'
import csv, os, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["split"] == sys.argv[2]:
        print(os.path.join(sys.argv[3], r["path"]))
PY
  "$bin" train --list "$list" --split "$split" --backbone musicnn --pooling "$pooling" --l2 "$l2" --hop "$hop" --out "$tmp/m-$split" > /dev/null
  "$bin" train --list "$list" --split "$split" --backbone yamnet --pooling "$ypool" --l2 "$yl2" --hop "$yhop" --out "$tmp/y-$split" > /dev/null
done
for pair in "train valid" "valid train"; do
  read -r fit scored <<< "$pair"
  "$bin" analyze --model "$tmp/m-$fit" --hop "$hop" --format jsonl --files-from "$tmp/$scored.txt" > "$tmp/m-on-$scored.jsonl"
  "$bin" analyze --model "$tmp/y-$fit" --hop "$yhop" --format jsonl --files-from "$tmp/$scored.txt" > "$tmp/y-on-$scored.jsonl"
done
python3 - "$tmp" "$list" <<'PY'
import csv, json, sys
tmp, listing = sys.argv[1], sys.argv[2]
genre = {r["path"].replace("\\", "/"): r["genre"] for r in csv.DictReader(open(listing))}
def label(path):
    return next(g for p, g in genre.items() if path.endswith("/" + p))
def load(name):
    return {o["path"]: o["probabilities"] for o in map(json.loads, open(f"{tmp}/{name}.jsonl")) if o.get("ok")}
def score(rows):
    hits, per = 0, {}
    for truth, probs in rows:
        guess = max(probs, key=probs.get)
        hits += guess == truth
        per.setdefault(truth, []).append(guess == truth)
    return 100 * hits / len(rows), 100 * sum(sum(v) / len(v) for v in per.values()) / len(per)
folds = {s: (load(f"m-on-{s}"), load(f"y-on-{s}")) for s in ("valid", "train")}
for w in (0, 0.25, 0.5, 0.75, 1):
    line, pooled = [], []
    for s, (m, y) in folds.items():
        rows = [(label(p), {g: (1 - w) * m[p][g] + w * y[p][g] for g in m[p]}) for p in m if p in y]
        pooled += rows
        line.append("%s %.1f / %.1f" % ((s + " (fit on the other)",) + score(rows)))
    print("w_yamnet %.2f: %s; out of fold, pooled: %.1f / %.1f" % ((w, "; ".join(line)) + score(pooled)))
PY
