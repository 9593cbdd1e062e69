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
tm=$(python3 -c "import tomllib; print(tomllib.load(open('models/gtzan10/manifest.toml','rb'))['training']['temperature'])")
ty=$(python3 -c "import json; print(json.load(open('models/gtzan10-yamnet/figures/refit-calibration.json'))['temperature'])")
python3 - "$tmp" "$list" "$tm" "$ty" "${KEEP:-}" <<'PY'
import csv, json, math, shutil, sys
tmp, listing, tm, ty, keep = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
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
def sharpen(probs, t):
    # p^(1/t), renormalised: exactly softmax(logits / t) for a softmax output p
    q = {g: max(v, 1e-30) ** (1 / t) for g, v in probs.items()}
    z = sum(q.values())
    return {g: v / z for g, v in q.items()}
def ece(rows, bins=10):
    acc = [[0, 0.0, 0] for _ in range(bins)]
    for truth, probs in rows:
        guess = max(probs, key=probs.get)
        c = probs[guess]
        b = min(int(c * bins), bins - 1)
        acc[b][0] += 1; acc[b][1] += c; acc[b][2] += guess == truth
    n = len(rows)
    return sum(k / n * abs(r / k - c / k) for k, c, r in acc if k)
def nll(rows, t):
    return -sum(math.log(max(sharpen(p, t)[truth], 1e-30)) for truth, p in rows) / len(rows)
def fit_t(rows):
    lo, hi = math.log(0.05), math.log(20)
    for _ in range(60):
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if nll(rows, math.exp(a)) < nll(rows, math.exp(b)): hi = b
        else: lo = a
    return math.exp((lo + hi) / 2)
folds = {s: (load(f"m-on-{s}"), load(f"y-on-{s}")) for s in ("valid", "train")}
print("member temperatures applied (the shipped heads' own): musicnn %.4f, yamnet %.4f" % (tm, ty))
for w in (0, 0.125, 0.25, 0.375, 0.5, 0.75, 1):
    line, pooled = [], []
    for s, (m, y) in folds.items():
        rows = []
        for p in m:
            if p not in y: continue
            a, b = sharpen(m[p], tm), sharpen(y[p], ty)
            rows.append((label(p), {g: (1 - w) * a[g] + w * b[g] for g in a}))
        pooled += rows
        line.append("%s %.1f / %.1f" % ((s + " (fit on the other)",) + score(rows)))
    t = fit_t(pooled)
    after = [(truth, sharpen(p, t)) for truth, p in pooled]
    print("w_yamnet %.3f: %s; out of fold, pooled: %.1f / %.1f; ECE %.3f, ensemble temperature %.4f -> ECE %.3f"
          % ((w, "; ".join(line)) + score(pooled) + (ece(pooled), t, ece(after))))
if keep:
    for f in ("m-on-valid", "y-on-valid", "m-on-train", "y-on-train"):
        shutil.copy(f"{tmp}/{f}.jsonl", keep)
PY
