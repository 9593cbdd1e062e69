#!/usr/bin/env python3
"""Head experiments for gtzan10 on musicnn features (py_features.py), valid only.

Every candidate: heads fitted on train, L2 (scikit-learn C) chosen on valid by balanced
accuracy (ties: accuracy), figures on valid per window (where the head applies to a single
window) and per track, per-genre recall, ECE of the whole-track top-1 confidence (10 bins).
Nothing here touches any other split.

Second line of evidence, as valid is tiny for some genres (pop 1, hiphop/reggae/rock 2 clips):
for every track-level candidate, two-fold out-of-fold figures at the C chosen on valid (a
head fitted on train scores valid, a head fitted on valid scores train; 314 predictions
pooled), the same folds `genre-meter train --calibrate` uses.

Usage: python py_experiments.py FEATURE_DIR [MTT_FEATURE_DIR] [--augmented AUG_FEATURE_DIR
       [--augmented-valid AUG_VALID_FEATURE_DIR] [--only-augmented]] > results.json
  MTT_FEATURE_DIR: py_mtt.py's output; AUG_FEATURE_DIR: py_augment.py --features' output
  (augmented copies of train clips, added to the train side only).
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, accuracy_score, recall_score
from sklearn.preprocessing import StandardScaler

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
CS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]


def load(d, mtt=None, split=None):
    tracks = []
    for f in sorted(glob.glob(os.path.join(d, "*.npz"))):
        if mtt and not os.path.exists(os.path.join(mtt, os.path.basename(f))):
            raise FileNotFoundError(f"no MTT features for {f} in {mtt}")
        z = np.load(f)
        t = {k: z[k] for k in z.files if k != "logmel"}
        t["genre"] = GENRES.index(str(z["genre"]))
        t["split"] = split or str(z["split"])
        t["id"] = os.path.basename(f)[:-4]
        if mtt:
            m = np.load(os.path.join(mtt, t["id"] + ".npz"))
            for k in m.files:
                t["mtt_" + k] = m[k]
        tracks.append(t)
    return tracks


def ece(p, y, bins=10):
    conf = p.max(1)
    right = p.argmax(1) == y
    e = 0.0
    for b in range(bins):
        m = (conf >= b / bins) & ((conf < (b + 1) / bins) if b < bins - 1 else (conf <= 1))
        if m.any():
            e += m.mean() * abs(right[m].mean() - conf[m].mean())
    return float(e)


def figures(p, y):
    pred = p.argmax(1)
    rec = recall_score(y, pred, labels=list(range(10)), average=None, zero_division=0)
    present = sorted(set(y.tolist()))
    return {
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(y, pred)), 4),
        "ece": round(ece(p, y), 4),
        "recall": {GENRES[g]: round(float(rec[g]), 2) for g in present},
    }


def fit(X, y, C, kind="logistic"):
    sc = StandardScaler().fit(X)
    if kind == "lda":
        # Shrinkage LDA with equal priors (class-balanced): a linear head (softmax of
        # w.x + b), so it could ship as the same Gemm + Softmax ONNX graph. C is the shrinkage.
        clf = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=C, priors=np.full(10, 0.1)).fit(sc.transform(X), y)
        classes = list(clf.classes_)

        def predict(Z):
            p = np.zeros((len(Z), 10))
            p[:, classes] = clf.predict_proba(sc.transform(Z))
            return p
        return predict
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(sc.transform(X), y)
    classes = list(clf.classes_)

    def predict(Z):
        p = np.zeros((len(Z), 10))
        p[:, classes] = clf.predict_proba(sc.transform(Z))
        return p
    return predict


LDA_SHRINKAGE = [0.1, 0.3, 0.5, 0.7, 0.9]


def track_feature(t, keys, stat, hop):
    parts = []
    for k in keys:
        w = t[f"{k}_{hop}"]
        if "mean" in stat:
            parts.append(w.mean(0))
        if "std" in stat:
            parts.append(w.std(0))
    return np.concatenate(parts)


def track_level(tracks, keys, stat, hop_valid=187, kind="logistic", extra_train=(), extra_valid=()):
    tr = [t for t in tracks if t["split"] == "train"]
    va = [t for t in tracks if t["split"] == "valid"]
    Xtr = np.stack([track_feature(t, keys, stat, 187) for t in list(tr) + list(extra_train)])
    ytr = np.array([t["genre"] for t in list(tr) + list(extra_train)])
    Xva = np.stack([track_feature(t, keys, stat, hop_valid) for t in va])
    yva = np.array([t["genre"] for t in va])
    best = None
    grid = {}
    for C in (LDA_SHRINKAGE if kind == "lda" else CS):
        head = fit(Xtr, ytr, C, kind)
        p = head(Xva)
        f = figures(p, yva)
        grid[C] = (f["balanced_accuracy"], f["accuracy"])
        if best is None or (f["balanced_accuracy"], f["accuracy"]) > (best[1]["balanced_accuracy"], best[1]["accuracy"]):
            best = (C, f, head, p)
    C, f, head, p = best
    out = {"C": C, "track": f, "grid_valid_bacc_acc": {str(c): v for c, v in grid.items()}}
    if hop_valid == 187:
        # Out of fold: train -> valid (p, above) and valid -> train (original train clips only).
        n_tr = len(tr)
        if extra_valid:
            # Augmentation on both sides: the valid -> train fold learns from valid + its copies.
            Xb = np.concatenate([Xva, np.stack([track_feature(t, keys, stat, 187) for t in extra_valid])])
            yb = np.concatenate([yva, [t["genre"] for t in extra_valid]])
        else:
            Xb, yb = Xva, yva
        p_back = fit(Xb, yb, C, kind)(Xtr[:n_tr])
        out["out_of_fold"] = figures(np.concatenate([p, p_back]), np.concatenate([yva, ytr[:n_tr]]))
    if stat == ("mean",):
        # The same head on single windows (a window is the mean of itself).
        Xw = np.concatenate([np.concatenate([t[f"{k}_{hop_valid}"] for k in keys], 1) for t in va])
        yw = np.concatenate([[t["genre"]] * len(t[f"{keys[0]}_{hop_valid}"]) for t in va])
        out["window"] = figures(head(Xw), yw)
    return out, p, yva


def window_level(tracks, keys, hop_valid=187):
    tr = [t for t in tracks if t["split"] == "train"]
    va = [t for t in tracks if t["split"] == "valid"]
    Xtr = np.concatenate([np.concatenate([t[f"{k}_187"] for k in keys], 1) for t in tr])
    ytr = np.concatenate([[t["genre"]] * len(t[f"{keys[0]}_187"]) for t in tr])
    yva = np.array([t["genre"] for t in va])
    best = None
    for C in CS:
        head = fit(Xtr, ytr, C)
        pw = [head(np.concatenate([t[f"{k}_{hop_valid}"] for k in keys], 1)) for t in va]
        p = np.stack([x.mean(0) for x in pw])
        f = figures(p, yva)
        if best is None or (f["balanced_accuracy"], f["accuracy"]) > (best[1]["balanced_accuracy"], best[1]["accuracy"]):
            yw = np.concatenate([[t["genre"]] * len(x) for t, x in zip(va, pw)])
            best = (C, f, figures(np.concatenate(pw), yw), p)
    C, f, fw, p = best
    return {"C": C, "track": f, "window": fw}, p, yva


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features")
    ap.add_argument("mtt", nargs="?")
    ap.add_argument("--augmented")
    ap.add_argument("--augmented-valid",
                    help="py_augment.py --split valid --features' output: augmented copies of valid, used only to fit the valid -> train fold of the out-of-fold figures")
    ap.add_argument("--only-augmented", action="store_true",
                    help="run only the augmentation candidates (their figures, nothing else)")
    args = ap.parse_args()
    tracks = load(args.features, args.mtt)
    have_mtt = args.mtt is not None
    augmented = load(args.augmented, split="train") if args.augmented else []
    augmented_valid = load(args.augmented_valid, split="valid") if args.augmented_valid else []
    res = {}
    probs = {}
    cands = [
        ("emb mean", ["emb"], ("mean",)),
        ("emb mean+std", ["emb"], ("mean", "std")),
        ("mean_pool mean", ["meanp"], ("mean",)),
        ("max_pool mean", ["maxp"], ("mean",)),
        ("tags mean", ["tags"], ("mean",)),
        ("emb+mean_pool+max_pool mean", ["emb", "meanp", "maxp"], ("mean",)),
        ("emb+max_pool mean", ["emb", "maxp"], ("mean",)),
        ("emb+mean_pool+max_pool mean+std", ["emb", "meanp", "maxp"], ("mean", "std")),
    ]
    if have_mtt:
        cands += [
            ("MTT emb mean", ["mtt_emb"], ("mean",)),
            ("MSD+MTT emb mean", ["emb", "mtt_emb"], ("mean",)),
            ("MSD+MTT emb mean+std", ["emb", "mtt_emb"], ("mean", "std")),
        ]
    if args.only_augmented:
        cands = []
    for name, keys, stat in cands:
        r, p, y = track_level(tracks, keys, stat)
        res["track-level: " + name] = r
        probs[name] = (p, y)
        print(name, r["C"], r["track"]["accuracy"], r["track"]["balanced_accuracy"],
              "oof", r["out_of_fold"]["accuracy"], r["out_of_fold"]["balanced_accuracy"], file=sys.stderr)
    for name, keys, stat in () if args.only_augmented else (("emb mean", ["emb"], ("mean",)), ("emb+mean_pool+max_pool mean", ["emb", "meanp", "maxp"], ("mean",))) + (
            (("MSD+MTT emb mean", ["emb", "mtt_emb"], ("mean",)),) if have_mtt else ()):
        r, p, y = track_level(tracks, keys, stat, kind="lda")
        res["track-level, shrinkage LDA (C = shrinkage): " + name] = r
        print("lda", name, r["C"], r["track"]["accuracy"], r["track"]["balanced_accuracy"], file=sys.stderr)
    if augmented:
        print(f"{len(augmented)} augmented train copies", file=sys.stderr)
        for name, keys, stat in (("emb mean", ["emb"], ("mean",)), ("emb+mean_pool+max_pool mean", ["emb", "meanp", "maxp"], ("mean",))):
            r, p, y = track_level(tracks, keys, stat, extra_train=augmented, extra_valid=augmented_valid)
            res[f"track-level, train + {len(augmented)} augmented copies: " + name] = r
            probs["aug " + name] = (p, y)
            print("aug", name, r["C"], r["track"]["accuracy"], r["track"]["balanced_accuracy"],
                  "oof", r["out_of_fold"]["accuracy"], r["out_of_fold"]["balanced_accuracy"], file=sys.stderr)
    if args.only_augmented:
        json.dump(res, sys.stdout, indent=1)
        return
    r, p, y = track_level(tracks, ["emb"], ("mean",), hop_valid=62)
    res["track-level: emb mean, valid windows every ~1 s (trained on 3 s hop)"] = r
    for name, keys in (("emb", ["emb"]), ("max_pool", ["maxp"])):
        r, p, y = window_level(tracks, keys)
        res["window-level, mean of window probabilities: " + name] = r
        probs["window " + name] = (p, y)
        print("window", name, r["C"], r["track"]["accuracy"], r["track"]["balanced_accuracy"], file=sys.stderr)
    ens = [("emb mean", "max_pool mean"), ("emb mean", "mean_pool mean", "max_pool mean"), ("emb mean", "window emb")]
    if have_mtt:
        ens += [("emb mean", "MTT emb mean")]
    for names in ens:
        p = np.mean([probs[n][0] for n in names], 0)
        res["ensemble (mean probabilities): " + " + ".join(names)] = {"track": figures(p, probs[names[0]][1])}
    json.dump(res, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
