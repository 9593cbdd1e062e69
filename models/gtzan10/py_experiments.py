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
       python py_experiments.py FEATURE_DIR [--vgg VGG_DIR] --only {vgg,subtrack,svm-knn} > results.json
  --only vgg: musicnn's VGG models (py_vgg.py's output in VGG_DIR); --only subtrack: the kept
  head trained with sub-track pooled means as extra examples; --only svm-knn: linear SVM and
  kNN on the same pooled features.
  MTT_FEATURE_DIR: py_mtt.py's output; AUG_FEATURE_DIR: py_augment.py --features' output
  (augmented copies of train clips, added to the train side only).
"""
import argparse
import glob
import hashlib
import json
import os
import sys

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import LinearSVC
from sklearn.metrics import balanced_accuracy_score, accuracy_score, recall_score
from sklearn.preprocessing import StandardScaler

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
CS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]


def load(d, mtt=None, split=None, extra=None):
    """Tracks of feature dir d; mtt (or any extra {prefix: dir}) adds that dir's features
    of the same track under "<prefix>_<key>"."""
    extra = dict(extra or {})
    if mtt:
        extra["mtt"] = mtt
    tracks = []
    for f in sorted(glob.glob(os.path.join(d, "*.npz"))):
        for prefix, dd in extra.items():
            if not os.path.exists(os.path.join(dd, os.path.basename(f))):
                raise FileNotFoundError(f"no {prefix} features for {f} in {dd}")
        z = np.load(f)
        t = {k: z[k] for k in z.files if k != "logmel"}
        t["genre"] = GENRES.index(str(z["genre"]))
        t["split"] = split or str(z["split"])
        t["id"] = os.path.basename(f)[:-4]
        for prefix, dd in extra.items():
            m = np.load(os.path.join(dd, t["id"] + ".npz"))
            for k in m.files:
                if k not in ("genre", "split"):
                    t[prefix + "_" + k] = m[k]
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
        return probabilities_of(clf, sc)
    if kind == "svm":
        # Linear SVM (the published musicnn transfer baseline), class-balanced. It has no
        # probabilities: "p" is a softmax of its decision values, right for the argmax (every
        # accuracy figure) but not a calibrated confidence (its ECE is not reported).
        clf = LinearSVC(C=C, class_weight="balanced", max_iter=20000).fit(sc.transform(X), y)
        classes = list(clf.classes_)

        def predict(Z):
            d = clf.decision_function(sc.transform(Z))
            p = np.zeros((len(Z), 10))
            p[:, classes] = np.exp(d - d.max(1, keepdims=True)) / np.exp(d - d.max(1, keepdims=True)).sum(1, keepdims=True)
            return p
        return predict
    if kind == "knn":
        # kNN on standardised features, cosine distance, C = k; votes weighted by 1 / (count of
        # the neighbour's class in the training set), the class balance of the other heads.
        sc_X = sc.transform(X)
        nn = NearestNeighbors(n_neighbors=int(C), metric="cosine").fit(sc_X)
        w_class = 1.0 / np.bincount(y, minlength=10).clip(1)

        def predict(Z):
            _, idx = nn.kneighbors(sc.transform(Z))
            p = np.zeros((len(Z), 10))
            for i, row in enumerate(idx):
                np.add.at(p[i], y[row], w_class[y[row]])
            return p / p.sum(1, keepdims=True)
        return predict
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(sc.transform(X), y)
    return probabilities_of(clf, sc)


def probabilities_of(clf, sc):
    """predict(Z): the fitted classifier's probabilities over all 10 genres (0 for a genre
    absent from its training data), on features standardised by `sc`."""
    classes = list(clf.classes_)

    def predict(Z):
        p = np.zeros((len(Z), 10))
        p[:, classes] = clf.predict_proba(sc.transform(Z))
        return p
    return predict


LDA_SHRINKAGE = [0.1, 0.3, 0.5, 0.7, 0.9]
KNN_K = [1, 3, 5, 7, 11, 15]
GRIDS = {"logistic": CS, "lda": LDA_SHRINKAGE, "svm": CS, "knn": KNN_K}


def track_feature(t, keys, stat, hop):
    parts = []
    for k in keys:
        w = t[f"{k}_{hop}"]
        if "mean" in stat:
            parts.append(w.mean(0))
        if "std" in stat:
            parts.append(w.std(0))
        if "max" in stat:
            parts.append(w.max(0))
    return np.concatenate(parts)


def subtracks(t, keys, n, sizes, mode, seed):
    """n pseudo-tracks of t whose windows are a seeded subset of t's (hop 187): sizes = (lo, hi)
    windows; mode "random" (any windows: quick mode's spread windows) or "run" (contiguous:
    the live meter's response window). Their mean is a sub-track pooled feature."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{seed}/{t['id']}".encode()).digest()[:8], "little"))
    n_win = len(t[f"{keys[0]}_187"])
    out = []
    for _ in range(n):
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        size = min(size, n_win)
        if mode == "run":
            start = int(rng.integers(0, n_win - size + 1))
            idx = np.arange(start, start + size)
        else:
            idx = np.sort(rng.choice(n_win, size, replace=False))
        sub = {f"{k}_187": t[f"{k}_187"][idx] for k in keys}
        sub.update(genre=t["genre"], split=t["split"], id=f"{t['id']}.sub")
        out.append(sub)
    return out


def run_figures(head, tracks, keys, run):
    """The head on the mean of every contiguous run of `run` windows (hop one window) of each
    track: what the live meter (response window) and quick mode feed a track-level head."""
    X, y = [], []
    for t in tracks:
        w = np.concatenate([t[f"{k}_187"] for k in keys], 1)
        for s0 in range(0, max(1, len(w) - run + 1)):
            X.append(w[s0:s0 + run].mean(0))
            y.append(t["genre"])
    return figures(head(np.stack(X)), np.array(y))


def track_level(tracks, keys, stat, hop_valid=187, kind="logistic", extra_train=(), extra_valid=(), runs=(), fixed_C=None, cs=None):
    tr = [t for t in tracks if t["split"] == "train"]
    va = [t for t in tracks if t["split"] == "valid"]
    Xtr = np.stack([track_feature(t, keys, stat, 187) for t in list(tr) + list(extra_train)])
    ytr = np.array([t["genre"] for t in list(tr) + list(extra_train)])
    Xva = np.stack([track_feature(t, keys, stat, hop_valid) for t in va])
    yva = np.array([t["genre"] for t in va])
    best = None
    grid = {}
    for C in ([fixed_C] if fixed_C is not None else cs or GRIDS[kind]):
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
        # Kept for ensembles' out-of-fold figures (not written to the JSON).
        out["_oof"] = (np.concatenate([p, p_back]), np.concatenate([yva, ytr[:n_tr]]))
    if stat in (("mean",), ("mean", "max")):
        # The same head on single windows (a window is its own mean and max).
        Xw = np.concatenate([np.concatenate([t[f"{k}_{hop_valid}"] for k in keys], 1) for t in va])
        if stat == ("mean", "max"):
            # track_feature's order: per key, mean then max.
            Xw = np.concatenate([np.concatenate([np.concatenate([t[f"{k}_{hop_valid}"]] * 2, 1) for k in keys], 1) for t in va])
        yw = np.concatenate([[t["genre"]] * len(t[f"{keys[0]}_{hop_valid}"]) for t in va])
        out["window"] = figures(head(Xw), yw)
    if stat == ("mean",):
        for run in runs:
            out[f"run{run}"] = run_figures(head, va, keys, run)
    if kind == "svm":
        # Softmax of decision values: not a confidence.
        for k in ("track", "out_of_fold", "window"):
            if k in out:
                out[k]["ece"] = None
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


def dump(res):
    json.dump({k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in res.items()}, sys.stdout, indent=1)


def note(name, r):
    oof = r.get("out_of_fold", {})
    print(name, r.get("C"), r["track"]["accuracy"], r["track"]["balanced_accuracy"],
          "oof", oof.get("accuracy"), oof.get("balanced_accuracy"), file=sys.stderr, flush=True)


def ensemble(res, names, label):
    """Mean probabilities of track-level heads, on valid and out of fold (each member's folds)."""
    rs = [res[n] for n in names]
    y = rs[0]["_y"]
    out = {"track": figures(np.mean([r["_p"] for r in rs], 0), y)}
    if all("_oof" in r for r in rs):
        out["out_of_fold"] = figures(np.mean([r["_oof"][0] for r in rs], 0), rs[0]["_oof"][1])
    res["ensemble (mean probabilities): " + label] = out
    note("ensemble " + label, out)


def run_cands(tracks, cands, res, kind="logistic", prefix="track-level: ", runs=()):
    for name, keys, stat in cands:
        r, p, y = track_level(tracks, keys, stat, kind=kind, runs=runs)
        r["_p"], r["_y"] = p, y
        res[prefix + name] = r
        note(prefix + name, r)


def group_vgg(tracks, have_vgg):
    """musicnn's VGG models (py_vgg.py): pool5 (256-d, the deepest pooled layer), pool4 and
    pool3 averaged / maxed over time and frequency, taggram; alone, with MSD_musicnn's
    embedding concatenated, and as an ensemble member."""
    if not have_vgg:
        raise SystemExit("--only vgg needs --vgg DIR (py_vgg.py's output)")
    res = {}
    cands = [("emb mean (kept)", ["emb"], ("mean",))]
    for m, label in (("msdvgg", "MSD_vgg"), ("mttvgg", "MTT_vgg")):
        cands += [
            (f"{label} pool5 mean", [f"{m}_pool5"], ("mean",)),
            (f"{label} pool5 mean+max", [f"{m}_pool5"], ("mean", "max")),
            (f"{label} pool5 (time-averaged, 128) mean", [f"{m}_p5mean"], ("mean",)),
            (f"{label} pool4 mean+max over t,f: mean", [f"{m}_p4mean", f"{m}_p4max"], ("mean",)),
            (f"{label} pool3 mean+max over t,f: mean", [f"{m}_p3mean", f"{m}_p3max"], ("mean",)),
            (f"{label} tags mean", [f"{m}_tags"], ("mean",)),
        ]
    cands += [
        ("MSD_musicnn emb + MSD_vgg pool5 mean", ["emb", "msdvgg_pool5"], ("mean",)),
        ("MSD_musicnn emb + MSD_vgg pool5 mean+max", ["emb", "msdvgg_pool5"], ("mean", "max")),
        ("MSD_musicnn emb + MTT_vgg pool5 mean", ["emb", "mttvgg_pool5"], ("mean",)),
        ("MSD_vgg + MTT_vgg pool5 mean", ["msdvgg_pool5", "mttvgg_pool5"], ("mean",)),
    ]
    run_cands(tracks, cands, res)
    k = "track-level: "
    ensemble(res, [k + "emb mean (kept)", k + "MSD_vgg pool5 mean"], "emb mean + MSD_vgg pool5 mean")
    ensemble(res, [k + "emb mean (kept)", k + "MSD_vgg pool5 mean+max"], "emb mean + MSD_vgg pool5 mean+max")
    ensemble(res, [k + "emb mean (kept)", k + "MTT_vgg pool5 mean"], "emb mean + MTT_vgg pool5 mean")
    ensemble(res, [k + "emb mean (kept)", k + "MSD_vgg pool5 mean", k + "MTT_vgg pool5 mean"],
             "emb mean + MSD_vgg pool5 mean + MTT_vgg pool5 mean")
    return res


# Sub-track pooled-feature augmentation: (K subsets per clip, (fewest, most) windows, mode).
# With K extra examples per clip the data term grows K + 1 times, so the C grid reaches
# (K + 1) times lower than CS to cover the kept head's regularisation strength.
CS_SUBTRACK = [0.0001, 0.0003] + CS
SUBTRACK_CONFIGS = [(10, (3, 8), "random"), (10, (3, 8), "run"), (20, (1, 5), "run"), (5, (3, 8), "random")]


def group_subtrack(tracks, have_vgg):
    """The kept head's features (mean MSD_musicnn embedding), trained on each clip's full mean
    plus K means over seeded subsets of its windows; the valid -> train fold of the
    out-of-fold figures is augmented the same way. At the C chosen on valid and at every C."""
    keys, stat = ["emb"], ("mean",)
    res = {}
    configs = [(0, None, None)] + SUBTRACK_CONFIGS
    for n, sizes, mode in configs:
        if n:
            label = f"emb mean, train + {n} sub-track means per clip ({mode} {sizes[0]}-{sizes[1]} windows)"
            ext_tr = [s for t in tracks if t["split"] == "train" for s in subtracks(t, keys, n, sizes, mode, 8)]
            ext_va = [s for t in tracks if t["split"] == "valid" for s in subtracks(t, keys, n, sizes, mode, 8)]
        else:
            label, ext_tr, ext_va = "emb mean (kept, no sub-tracks)", [], []
        r, p, y = track_level(tracks, keys, stat, extra_train=ext_tr, extra_valid=ext_va, runs=(3,), cs=CS_SUBTRACK)
        r["at_each_C"] = {}
        for C in CS_SUBTRACK:
            rc, _, _ = track_level(tracks, keys, stat, extra_train=ext_tr, extra_valid=ext_va, runs=(3,), fixed_C=C)
            r["at_each_C"][str(C)] = {k: rc[k] for k in ("track", "out_of_fold", "window", "run3")}
        res["track-level: " + label] = r
        note(label, r)
    return res


def group_svm_knn(tracks, have_vgg):
    """Linear SVM (C) and kNN (C = k) on the same pooled features, same protocol."""
    res = {}
    cands = [("emb mean", ["emb"], ("mean",))]
    if have_vgg:
        cands += [("MSD_vgg pool5 mean", ["msdvgg_pool5"], ("mean",)),
                  ("MSD_musicnn emb + MSD_vgg pool5 mean", ["emb", "msdvgg_pool5"], ("mean",))]
    run_cands(tracks, cands, res, kind="svm", prefix="track-level, linear SVM: ")
    run_cands(tracks, cands, res, kind="knn", prefix="track-level, kNN (C = k, cosine, class-weighted votes): ")
    return res


GROUPS = {"vgg": group_vgg, "subtrack": group_subtrack, "svm-knn": group_svm_knn}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features")
    ap.add_argument("mtt", nargs="?")
    ap.add_argument("--augmented")
    ap.add_argument("--augmented-valid",
                    help="py_augment.py --split valid --features' output: augmented copies of valid, used only to fit the valid -> train fold of the out-of-fold figures")
    ap.add_argument("--only-augmented", action="store_true",
                    help="run only the augmentation candidates (their figures, nothing else)")
    ap.add_argument("--vgg", help="py_vgg.py's output (MSD_vgg/ and MTT_vgg/ inside)")
    ap.add_argument("--only", choices=["vgg", "subtrack", "svm-knn"],
                    help="run only that group of candidates (vgg and svm-knn's VGG rows need --vgg)")
    args = ap.parse_args()
    if args.only:
        extra = {"msdvgg": os.path.join(args.vgg, "MSD_vgg"), "mttvgg": os.path.join(args.vgg, "MTT_vgg")} if args.vgg else {}
        res = GROUPS[args.only](load(args.features, args.mtt, extra=extra), args.vgg is not None)
        dump(res)
        return
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
        dump(res)
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
    dump(res)


if __name__ == "__main__":
    main()
