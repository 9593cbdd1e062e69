#!/usr/bin/env python3
"""Train, export and evaluate gtzan10-cnn: a small fully-convolutional CNN from scratch.

Input is exactly the engine's musicnn front-end (see [frontend] in manifest.toml): 16 kHz
mono (librosa `soxr_hq` resampling of GTZAN's 22.05 kHz ogg), Slaney mel power spectrogram
(n_fft 512, hop 256, periodic Hann, centred, reflect padding, 96 bands, 0-8000 Hz),
transposed to [frames, 96], log10(10000 x + 1), patches of 187 frames (~3 s).

Data: /work/shared/data/gtzan/tracks.csv. Trains on split=train only; every setting
(epoch count, width, dropout, ...) is chosen on split=valid; `excluded` is never read.
Training windows are random 187-frame crops inside each train clip, drawn class-balanced
(the same number of crops per genre every epoch), so clips never mix across splits.

Evaluation on valid uses the engine's windowing: one patch every 63 frames (1 s) from
frame 0, an incomplete last patch dropped, windows below -60 dBFS mean power skipped; a
track's prediction is the mean of its window probabilities (multi-frame averaging).

Outputs (next to this script): gtzan10_cnn.onnx (opset 17, input log_mel [batch,187,96],
output probabilities [batch,10] softmax), manifest.toml (or manifest.toml.disabled, see
--manifest-name), results.json. The log-mel cache lives outside the repository
(--cache, default /tmp/genre-meter-cache/gtzan10-logmel): GTZAN-derived features are never
committed.

Usage:
  /work/venvs/gtzan10/bin/python models/gtzan10-cnn/train_cnn.py
"""

import argparse
import csv
import hashlib
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_DEFAULT = 20261122

# Determinism and thread limits must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_DETERMINISTIC_OPS"] = "1"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # oneDNN's reorders can change float sums
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
          "reggae", "rock"]
SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH = 187
EVAL_HOP_FRAMES = 63          # the engine's default 1 s hop: round(1.0 / (256 / 16000))
SILENCE_DBFS = -60.0          # the engine's default silence threshold
FRONTEND_TAG = "sr16000-nfft512-hop256-hann-center-reflect-p2-mel96-0-8000-slaney-log10x1e4p1-soxrhq"

MANIFEST_TEMPLATE = '''name = "gtzan10-cnn"
display_name = "GTZAN 10 genres, CNN from scratch"
description = "{description}"
onnx = "gtzan10_cnn.onnx"
sha256 = "{sha256}"
licence = "ISC (weights trained by Genre Meter on GTZAN train split)"
source = "models/gtzan10-cnn/train_cnn.py"
output_activation = "softmax"

[input]
name = "log_mel"

[outputs]
probabilities = "probabilities"

{frontend}
[labels]
names = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
genres = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
'''


# --------------------------------------------------------------------------- data

def read_tracks(data_dir):
    rows = []
    with open(os.path.join(data_dir, "tracks.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["split"] in ("train", "valid"):   # `excluded` (and any test) is never used
                rows.append(r)
    rows.sort(key=lambda r: (r["split"], r["track_id"]))
    for r in rows:
        if r["genre"] not in GENRES:
            raise RuntimeError(f"unknown genre {r['genre']!r}")
    return rows


def logmel_of(path):
    """The engine's front-end in librosa: returns log-mel [frames, 96] and frame energies."""
    import librosa
    y, _ = librosa.load(path, sr=SR, mono=True, res_type="soxr_hq")
    mel = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT, window="hann",
        center=True, pad_mode="reflect", power=2.0, n_mels=N_MELS, fmin=0.0, fmax=8000.0,
        htk=False, norm="slaney")
    logmel = np.log10(10000.0 * mel.T + 1.0).astype(np.float32)
    # Frame energy as in the engine: mean square of the raw (reflect-padded) frame.
    padded = np.pad(y.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = librosa.util.frame(padded, frame_length=N_FFT, hop_length=HOP)
    energy = (frames ** 2).mean(axis=0).astype(np.float32)
    n = min(len(energy), len(logmel))
    return logmel[:n], energy[:n]


def load_features(rows, data_dir, cache_dir):
    os.makedirs(cache_dir, exist_ok=True)
    feats = {}
    t0 = time.time()
    for i, r in enumerate(rows):
        cpath = os.path.join(cache_dir, r["track_id"] + ".npz")
        if os.path.exists(cpath):
            z = np.load(cpath)
            feats[r["track_id"]] = (z["logmel"], z["energy"])
            continue
        lm, en = logmel_of(os.path.join(data_dir, r["path"]))
        np.savez(cpath + ".tmp.npz", logmel=lm, energy=en)
        os.replace(cpath + ".tmp.npz", cpath)
        feats[r["track_id"]] = (lm, en)
        if (i + 1) % 25 == 0:
            print(f"  features {i + 1}/{len(rows)} ({time.time() - t0:.0f} s)", flush=True)
    return feats


def repeat_pad(lm, en):
    """Clips shorter than one patch are repeat-padded, as in the engine and musicnn."""
    if len(lm) >= PATCH:
        return lm, en
    idx = np.arange(PATCH) % len(lm)
    return lm[idx], en[idx]


def engine_windows(lm, en):
    """Windows as the engine cuts them: starts 0, 63, 126, ...; silent ones dropped."""
    lm, en = repeat_pad(lm, en)
    out = []
    for s in range(0, len(lm) - PATCH + 1, EVAL_HOP_FRAMES):
        level = 10.0 * np.log10(max(float(en[s:s + PATCH].astype(np.float64).mean()), 1e-20))
        if level >= SILENCE_DBFS:
            out.append(lm[s:s + PATCH])
    return out


def eval_set(rows, feats):
    """Stacked engine windows of the given tracks, with the track index of each window."""
    xs, owner, labels = [], [], []
    for t, r in enumerate(rows):
        ws = engine_windows(*feats[r["track_id"]])
        xs.extend(ws)
        owner.extend([t] * len(ws))
        labels.append(GENRES.index(r["genre"]))
    return np.stack(xs), np.array(owner), np.array(labels)


def augment(patch, rng):
    """Random gain (+-6 dB, applied to the mel power under the log), one frequency mask
    (up to 12 bands) and one time mask (up to 20 frames), SpecAugment-style."""
    gain = 10.0 ** (rng.uniform(-6.0, 6.0) / 10.0)
    p = np.log10(gain * (10.0 ** patch.astype(np.float64) - 1.0) + 1.0).astype(np.float32)
    f = int(rng.integers(0, 13))
    f0 = int(rng.integers(0, N_MELS - f + 1))
    p[:, f0:f0 + f] = 0.0
    t = int(rng.integers(0, 21))
    t0 = int(rng.integers(0, PATCH - t + 1))
    p[t0:t0 + t, :] = 0.0
    return p


def balanced_crops(rows, feats, per_class, rng, aug=False):
    """One epoch of training windows: `per_class` random crops per genre."""
    by_class = [[r["track_id"] for r in rows if r["genre"] == g] for g in GENRES]
    xs, ys = [], []
    for c, tids in enumerate(by_class):
        if not tids:
            raise RuntimeError(f"no train clips for {GENRES[c]}")
        picks = rng.integers(0, len(tids), size=per_class)
        for p in picks:
            lm, _ = repeat_pad(*feats[tids[p]])
            s = int(rng.integers(0, len(lm) - PATCH + 1))
            xs.append(augment(lm[s:s + PATCH], rng) if aug else lm[s:s + PATCH])
            ys.append(c)
    order = rng.permutation(len(xs))
    return np.stack(xs)[order], np.array(ys)[order]


# --------------------------------------------------------------------------- metrics

def metrics(y_true, y_pred, n=len(GENRES)):
    cm = np.zeros((n, n), dtype=int)
    for t, p in zip(y_true, y_pred):
        cm[t, p] += 1
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    tp = np.diag(cm)
    recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
    precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), np.nan)
    f1 = np.where((precision + recall) > 0, 2 * precision * recall / (precision + recall), 0.0)
    f1 = np.where(np.isnan(recall) | np.isnan(precision), np.where(support > 0, 0.0, np.nan), f1)
    present = support > 0
    per = {}
    for i, g in enumerate(GENRES):
        per[g] = {"support": int(support[i]),
                  "precision": None if np.isnan(precision[i]) else round(float(precision[i]), 4),
                  "recall": None if np.isnan(recall[i]) else round(float(recall[i]), 4),
                  "f1": None if np.isnan(f1[i]) else round(float(f1[i]), 4)}
    return {
        "n": int(cm.sum()),
        "accuracy": round(float(tp.sum() / cm.sum()), 4),
        "balanced_accuracy": round(float(np.mean(recall[present])), 4),
        "macro_f1": round(float(np.nanmean(f1[present])), 4),
        "per_genre": per,
        "confusion_matrix": {"rows_true_cols_pred": GENRES, "matrix": cm.tolist()},
    }


def evaluate_probs(win_probs, owner, track_labels):
    win_true = track_labels[owner]
    per_window = metrics(win_true, win_probs.argmax(axis=1))
    n_tracks = len(track_labels)
    track_probs = np.zeros((n_tracks, win_probs.shape[1]))
    for t in range(n_tracks):
        track_probs[t] = win_probs[owner == t].mean(axis=0)
    per_track = metrics(track_labels, track_probs.argmax(axis=1))
    return per_window, per_track, track_probs


def print_report(title, m):
    print(f"{title}: n={m['n']} accuracy {m['accuracy']:.3f} balanced accuracy "
          f"{m['balanced_accuracy']:.3f} macro-F1 {m['macro_f1']:.3f}")
    print("  " + " ".join(f"{g[:5]:>6s}" for g in GENRES) + "   <- recall (support)")
    print("  " + " ".join(
        "   n/a" if m["per_genre"][g]["recall"] is None else f"{m['per_genre'][g]['recall']:6.2f}"
        for g in GENRES))
    print("  " + " ".join(f"{m['per_genre'][g]['support']:6d}" for g in GENRES))
    print("  confusion (rows true, cols predicted):")
    for g, row in zip(GENRES, m["confusion_matrix"]["matrix"]):
        print(f"  {g:>9s} " + " ".join(f"{v:4d}" for v in row))


# --------------------------------------------------------------------------- model

def build_model(keras, widths, dropout, l2):
    """Choi-style FCN: [conv3x3-BN-ReLU-maxpool] x len(widths), global pooling, softmax."""
    L = keras.layers
    reg = keras.regularizers.l2(l2) if l2 > 0 else None
    inp = keras.Input(shape=(PATCH, N_MELS), name="log_mel")
    x = L.Reshape((PATCH, N_MELS, 1))(inp)
    x = L.BatchNormalization(name="input_bn")(x)
    # The first pool halves time and quarters frequency (Choi et al. also pool frequency
    # harder early); it halves the network's cost.
    pools = [(2, 4), (2, 2), (2, 2), (2, 2), (2, 2), (2, 2)]
    for i, w in enumerate(widths):
        x = L.Conv2D(w, 3, padding="same", use_bias=False, kernel_regularizer=reg,
                     name=f"conv{i + 1}")(x)
        x = L.BatchNormalization(name=f"bn{i + 1}")(x)
        x = L.ReLU(name=f"relu{i + 1}")(x)
        if i < len(widths) - 1:
            x = L.MaxPooling2D(pools[i], name=f"pool{i + 1}")(x)
    x = L.Concatenate(name="gpool")([L.GlobalAveragePooling2D()(x), L.GlobalMaxPooling2D()(x)])
    x = L.Dropout(dropout, name="dropout")(x)
    out = L.Dense(len(GENRES), activation="softmax", kernel_regularizer=reg,
                  name="probabilities")(x)
    return keras.Model(inp, out, name="gtzan10_cnn")


# --------------------------------------------------------------------------- export

def canonicalize_names(model, graph_name):
    """Structural names for nodes, tensors and initializers (see msd-musicnn/convert.py):
    tf2onnx's own names come from counters and vary between runs."""
    g = model.graph
    keep = {vi.name for vi in g.input} | {vi.name for vi in g.output}
    width = len(str(len(g.node)))
    tensor_map, node_names = {}, []
    for i, node in enumerate(g.node):
        new = f"n{i:0{width}d}_{node.op_type}"
        node_names.append(new)
        for k, out in enumerate(node.output):
            if out and out not in keep:
                tensor_map[out] = f"{new}:{k}"
    inits = {i.name: i for i in g.initializer}
    order = []
    for i, node in enumerate(g.node):
        for k, name in enumerate(node.input):
            if name in inits and name not in tensor_map:
                tensor_map[name] = f"{node_names[i]}/in{k}"
                order.append(name)
    if set(inits) - set(order):
        raise RuntimeError("unused initializers")
    for i, node in enumerate(g.node):
        node.name = node_names[i]
        for k, name in enumerate(node.input):
            if name in tensor_map:
                node.input[k] = tensor_map[name]
        for k, name in enumerate(node.output):
            if name in tensor_map:
                node.output[k] = tensor_map[name]
    vis = [vi for vi in g.value_info if vi.name in tensor_map]
    for vi in vis:
        vi.name = tensor_map[vi.name]
    vis.sort(key=lambda vi: vi.name)
    del g.value_info[:]
    g.value_info.extend(vis)
    new_inits = []
    for name in order:
        inits[name].name = tensor_map[name]
        new_inits.append(inits[name])
    del g.initializer[:]
    g.initializer.extend(new_inits)
    g.name = graph_name


def export_onnx(tf, model, path):
    import onnx
    import tf2onnx
    spec = (tf.TensorSpec((None, PATCH, N_MELS), tf.float32, name="log_mel"),)

    @tf.function(input_signature=spec)
    def serve(log_mel):
        return {"probabilities": model(log_mel, training=False)}

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=17)
    g = proto.graph
    # Plain interface names and a symbolic batch dimension.
    mapping = {}
    for vi in list(g.input) + list(g.output):
        base = vi.name.split(":")[0]
        mapping[vi.name] = "log_mel" if base.startswith("log_mel") else "probabilities"
    for node in g.node:
        for i, n in enumerate(node.input):
            node.input[i] = mapping.get(n, n)
        for i, n in enumerate(node.output):
            node.output[i] = mapping.get(n, n)
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = mapping.get(vi.name, vi.name)
    for vi in list(g.input) + list(g.output):
        d = vi.type.tensor_type.shape.dim[0]
        d.ClearField("dim_value")
        d.dim_param = "batch"
    if [i.name for i in g.input] != ["log_mel"] or [o.name for o in g.output] != ["probabilities"]:
        raise RuntimeError(f"unexpected interface {[i.name for i in g.input]} -> "
                           f"{[o.name for o in g.output]}")
    canonicalize_names(proto, "gtzan10_cnn")
    proto.producer_name = "genre-meter train_cnn.py (tf2onnx 1.17)"
    proto.doc_string = "gtzan10-cnn, trained from scratch on GTZAN train by models/gtzan10-cnn/train_cnn.py"
    onnx.checker.check_model(proto, full_check=True)
    with open(path + ".tmp", "wb") as f:
        f.write(proto.SerializeToString())
    os.replace(path + ".tmp", path)


def ort_session(path, threads=1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def bench_ms_per_patch(path, repeats=200, batch=1):
    """Median ms per patch, one thread, batch 1 (the plugin's lowest-latency case)."""
    sess = ort_session(path)
    x = np.random.default_rng(0).normal(2.0, 1.0, (batch, PATCH, N_MELS)).astype(np.float32)
    for _ in range(10):
        sess.run(None, {"log_mel": x})
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, {"log_mel": x})
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times)) / batch, 1000.0 * float(np.percentile(times, 10)) / batch


def frontend_table():
    text = open(os.path.join(HERE, "..", "msd-musicnn", "manifest.toml")).read()
    start = text.index("[frontend]")
    end = text.index("\n[", start + 1)
    return text[start:end].rstrip("\n") + "\n"


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/shared/data/gtzan")
    ap.add_argument("--cache", default="/tmp/genre-meter-cache/gtzan10-logmel-" + FRONTEND_TAG)
    ap.add_argument("--seed", type=int, default=SEED_DEFAULT)
    ap.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--per-class", type=int, default=120, help="training crops per genre per epoch")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--widths", default="16,24,32,48,64")
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                    help="random gain, one frequency and one time mask per training crop")
    ap.add_argument("--select", default="window_balanced_accuracy",
                    choices=["window_balanced_accuracy", "last"],
                    help="which epoch's weights to keep (measured on valid)")
    ap.add_argument("--out", default=HERE, help="folder for the ONNX, manifest and results")
    ap.add_argument("--manifest-name", default="manifest.toml.disabled",
                    help="manifest.toml (built-in model) or manifest.toml.disabled")
    ap.add_argument("--features-only", action="store_true")
    args = ap.parse_args()

    rows = read_tracks(args.data)
    train = [r for r in rows if r["split"] == "train"]
    valid = [r for r in rows if r["split"] == "valid"]
    print(f"{len(train)} train clips, {len(valid)} valid clips; cache {args.cache}", flush=True)
    feats = load_features(rows, args.data, args.cache)
    if args.features_only:
        return 0

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(args.seed)

    widths = [int(w) for w in args.widths.split(",")]
    model = build_model(keras, widths, args.dropout, args.l2)
    model.compile(optimizer=keras.optimizers.Adam(args.lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"model: widths {widths}, {model.count_params()} parameters", flush=True)

    xv, owner_v, yv_track = eval_set(valid, feats)
    print(f"valid: {len(xv)} engine windows", flush=True)

    history, best, best_weights = [], None, None
    t_train = time.time()
    for epoch in range(1, args.epochs + 1):
        # Cosine decay of the learning rate, per epoch.
        lr = 0.5 * args.lr * (1 + np.cos(np.pi * (epoch - 1) / args.epochs))
        model.optimizer.learning_rate.assign(lr)
        xt, yt = balanced_crops(train, feats, args.per_class, rng, aug=args.augment)
        t = time.time()
        h = model.fit(xt, yt, batch_size=args.batch, epochs=1, shuffle=False, verbose=0)
        pv = model.predict(xv, batch_size=256, verbose=0)
        wm, tm, _ = evaluate_probs(pv, owner_v, yv_track)
        rec = {"epoch": epoch, "lr": float(lr), "train_loss": float(h.history["loss"][0]),
               "train_acc": float(h.history["accuracy"][0]),
               "valid_window_acc": wm["accuracy"], "valid_window_bacc": wm["balanced_accuracy"],
               "valid_track_acc": tm["accuracy"], "valid_track_bacc": tm["balanced_accuracy"]}
        history.append(rec)
        print(f"epoch {epoch:3d} lr {lr:.2e} loss {rec['train_loss']:.3f} acc {rec['train_acc']:.3f} | "
              f"valid window acc {wm['accuracy']:.3f} bacc {wm['balanced_accuracy']:.3f} | "
              f"track acc {tm['accuracy']:.3f} bacc {tm['balanced_accuracy']:.3f} "
              f"({time.time() - t:.0f} s)", flush=True)
        key = rec["valid_window_bacc"] if args.select != "last" else epoch
        if best is None or key > best[0]:
            best = (key, epoch)
            best_weights = model.get_weights()
    train_seconds = time.time() - t_train
    model.set_weights(best_weights)
    print(f"kept epoch {best[1]} ({args.select}); training took {train_seconds:.0f} s")

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "gtzan10_cnn.onnx")
    export_onnx(tf, model, onnx_path)
    sess = ort_session(onnx_path)
    p_onnx = np.concatenate([sess.run(None, {"log_mel": xv[i:i + 64]})[0]
                             for i in range(0, len(xv), 64)])
    p_keras = model.predict(xv, batch_size=256, verbose=0)
    max_diff = float(np.abs(p_onnx - p_keras).max())
    print(f"max |Keras - ONNX| over valid windows: {max_diff:.2e}")
    if max_diff > 1e-4:
        raise RuntimeError("ONNX export does not match Keras")

    wm, tm, track_probs = evaluate_probs(p_onnx, owner_v, yv_track)
    print_report("valid, per window (ONNX)", wm)
    print_report("valid, per track (mean of window probabilities)", tm)

    onnx_bytes = open(onnx_path, "rb").read()
    sha = hashlib.sha256(onnx_bytes).hexdigest()
    ms_b1, ms_b1_p10 = bench_ms_per_patch(onnx_path)
    ms_b8, _ = bench_ms_per_patch(onnx_path, repeats=50, batch=8)
    print(f"ONNX {len(onnx_bytes)} bytes, sha256 {sha}; onnxruntime 1 thread: "
          f"{ms_b1:.2f} ms/patch (batch 1, median), {ms_b8:.2f} ms/patch (batch 8)")

    musicnn_onnx = os.path.join(HERE, "..", "msd-musicnn", "msd_musicnn.onnx")
    musicnn_ms = None
    if os.path.exists(musicnn_onnx):
        musicnn_ms, _ = bench_ms_per_patch(musicnn_onnx, repeats=50)
        print(f"msd-musicnn on the same machine now: {musicnn_ms:.2f} ms/patch (batch 1)")

    import onnxruntime
    import librosa
    import sklearn  # noqa: F401  (not used here; recorded for the shared environment)
    results = {
        "model": "gtzan10-cnn",
        "split": "Kereliuk/Sturm fault-filtered (artist-filtered); trained on train, "
                 "settings chosen on valid, excluded never used",
        "n_train_clips": len(train), "n_valid_clips": len(valid),
        "n_valid_windows": int(len(xv)),
        "windowing": {"patch_frames": PATCH, "hop_frames": EVAL_HOP_FRAMES,
                      "silence_threshold_dbfs": SILENCE_DBFS,
                      "track": "mean of window probabilities, argmax"},
        "settings": {k: getattr(args, k) for k in
                     ("seed", "epochs", "per_class", "batch", "lr", "widths", "dropout",
                      "l2", "augment", "select", "threads")},
        "kept_epoch": best[1],
        "params": int(model.count_params()),
        "onnx_bytes": len(onnx_bytes), "sha256": sha,
        "max_abs_diff_keras_onnx": max_diff,
        "ms_per_patch_1_thread": {"batch1_median": round(ms_b1, 3),
                                  "batch1_p10": round(ms_b1_p10, 3),
                                  "batch8_median": round(ms_b8, 3),
                                  "msd_musicnn_batch1_median":
                                      None if musicnn_ms is None else round(musicnn_ms, 3)},
        "valid_per_window": wm,
        "valid_per_track": tm,
        "history": history,
        "train_seconds": round(train_seconds, 1),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__,
                     "librosa": librosa.__version__, "onnxruntime": onnxruntime.__version__},
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")

    description = (f"Small fully-convolutional CNN (Choi-style, {model.count_params() // 1000}k params) "
                   f"trained from scratch on the GTZAN train split; valid track-level "
                   f"balanced accuracy {tm['balanced_accuracy']:.2f}")
    manifest = MANIFEST_TEMPLATE.format(description=description, sha256=sha,
                                        frontend=frontend_table())
    for name in ("manifest.toml", "manifest.toml.disabled"):
        p = os.path.join(args.out, name)
        if name != args.manifest_name and os.path.exists(p):
            os.remove(p)
    with open(os.path.join(args.out, args.manifest_name), "w") as f:
        f.write(manifest)
    print(f"wrote {onnx_path}, {args.manifest_name}, results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
