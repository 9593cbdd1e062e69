#!/usr/bin/env python3
"""musicnn's VGG models (MSD_vgg, MTT_vgg; musicnn 0.1.0, ISC) on GTZAN train + valid, for
the VGG candidates of models/README.md (issue 8).

Each model's graph is built once with musicnn's own `models.define_model` and restored from
the wheel's checkpoint exactly as `musicnn.extractor.extractor` does (which rebuilds and
restores the graph for every file); its input is musicnn's own `musicnn.extractor.batch_data`
(librosa.load at 16 kHz with resampy kaiser_best, librosa's mel, float16 power,
log10(10000 x + 1)), non-overlapping 187-frame patches (input_length=3, input_overlap=False).
The log-mel py_features.py cached is not used: it is stored as float16, about 1e-3 relative
off musicnn's float32 log-mel, which moves VGG's pools by about 3e-3. `--check N` runs
`musicnn.extractor.extractor(file, model, 3, False, True)` itself on N clips and compares its
taggram and pool1..pool5 with this script's.

Writes one .npz per track and model into OUT/<model>/ with, per 3 s patch (hop 187):
  tags_187    [n, 50]   taggram (sigmoid)
  pool5_187   [n, 256]  pool5 flattened (2 time x 1 frequency x 128 channels)
  p5mean_187  [n, 128]  pool5 averaged over its 2 time positions
  p4mean_187, p4max_187, p3mean_187, p3max_187  [n, 128]  pool4 / pool3 averaged / maxed
                        over time and frequency
and, with `--time N`, prints the TensorFlow CPU time per patch (one thread, batch 1, median of N), with
MSD_musicnn's in the same harness for comparison.

Usage: python py_vgg.py ../shared/data/gtzan/tracks.csv OUT_DIR
       [--models MSD_vgg MTT_vgg] [--check 2] [--time 60]   (pinned musicnn env)
"""
import argparse
import csv
import os
import time
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np  # noqa: E402

for _name, _type in (("float", float), ("int", int), ("complex", complex), ("bool", bool), ("object", object)):
    if _name not in np.__dict__:
        setattr(np, _name, _type)
warnings.filterwarnings("ignore")
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
import musicnn  # noqa: E402
from musicnn import configuration as mconfig  # noqa: E402
from musicnn import models as mmodels  # noqa: E402

N_FRAMES = 187


class Model:
    """One musicnn model, its graph built and restored once (as musicnn.extractor does per call)."""

    def __init__(self, name):
        self.name = name
        self.vgg = "vgg" in name
        labels = mconfig.MTT_LABELS if "MTT" in name else mconfig.MSD_LABELS
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, mconfig.N_MELS])
            self.is_training = tf.compat.v1.placeholder(tf.bool)
            with tf.name_scope("model"):
                out = mmodels.define_model(self.x, self.is_training, name, len(labels))
            y = tf.nn.sigmoid(out[0])
            if self.vgg:
                _, p1, p2, p3, p4, p5 = out
                self.fetch = {
                    "tags": y,
                    "pool5": tf.compat.v1.layers.flatten(p5),
                    "p5mean": tf.reduce_mean(p5, axis=[1, 2]),
                    "p4mean": tf.reduce_mean(p4, axis=[1, 2]), "p4max": tf.reduce_max(p4, axis=[1, 2]),
                    "p3mean": tf.reduce_mean(p3, axis=[1, 2]), "p3max": tf.reduce_max(p3, axis=[1, 2]),
                    # For --check only (pool1..pool4 are large maps).
                    "_pools": (p1, p2, p3, p4, p5),
                }
            else:
                self.fetch = {"tags": y, "emb": out[-1]}
            cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
            self.sess = tf.compat.v1.Session(graph=self.graph, config=cfg)
            self.sess.run(tf.compat.v1.global_variables_initializer())
            # The wheel stores the checkpoint as "<model dir>/" + .index/.data (see convert.py).
            prefix = os.path.join(os.path.dirname(musicnn.__file__), name) + "/"
            if not os.path.isfile(prefix + ".index"):
                raise FileNotFoundError(f"musicnn checkpoint not found at {prefix!r}")
            tf.compat.v1.train.Saver().restore(self.sess, prefix)

    def run(self, batch, with_pools=False):
        keys = [k for k in self.fetch if with_pools or not k.startswith("_")]
        vals = self.sess.run([self.fetch[k] for k in keys], {self.x: batch, self.is_training: False})
        return dict(zip(keys, vals))


def musicnn_patches(path):
    from musicnn.extractor import batch_data
    batch, _ = batch_data(path, N_FRAMES, N_FRAMES)
    return batch


def check(model, rows, base, n):
    """musicnn.extractor.extractor itself against this script's graph on cached log-mel."""
    from musicnn.extractor import extractor
    for r in rows[:n]:
        path = os.path.join(base, r["path"])
        taggram, _, feats = extractor(path, model=model.name, input_length=3, input_overlap=False, extract_features=True)
        mine = model.run(musicnn_patches(path), with_pools=True)
        worst = {"taggram": float(np.abs(taggram - mine["tags"]).max())}
        for i, p in enumerate(mine["_pools"], 1):
            ref = feats[f"pool{i}"]
            worst[f"pool{i}"] = float(np.abs(ref.reshape(p.shape) - p).max() / (np.abs(ref).max() + 1e-12))
        print(f"check {model.name} {r['track_id']}: max |diff| taggram {worst['taggram']:.2e}; "
              + ", ".join(f"{k} {v:.2e} rel" for k, v in worst.items() if k != "taggram"), flush=True)
        if max(worst.values()) > 1e-4:
            raise SystemExit(f"{model.name} on {path}: cached log-mel does not reproduce musicnn.extractor ({worst})")


def cost(model, p, n):
    """Median CPU ms per patch over n batch-1 runs (musicnn.extractor runs batch 1: BATCH_SIZE = 1)."""
    model.run(p[:1])
    ts = []
    for i in range(n):
        t0 = time.process_time()
        model.run(p[i % len(p):i % len(p) + 1])
        ts.append((time.process_time() - t0) * 1000)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tracks")
    ap.add_argument("out")
    ap.add_argument("--models", nargs="+", default=["MSD_vgg", "MTT_vgg"])
    ap.add_argument("--check", type=int, default=2, help="clips to compare with musicnn.extractor (0: none)")
    ap.add_argument("--time", type=int, default=0, help="batch-1 patches to time per model (and MSD_musicnn)")
    args = ap.parse_args()
    base = os.path.dirname(os.path.abspath(args.tracks))
    rows = [r for r in csv.DictReader(open(args.tracks)) if r["split"] in ("train", "valid")]
    models = [Model(m) for m in args.models]
    for m in models:
        if args.check:
            check(m, rows, base, args.check)
    if args.time:
        p = musicnn_patches(os.path.join(base, rows[0]["path"]))
        for m in models + [Model("MSD_musicnn")]:
            print(f"cost {m.name}: {cost(m, p, args.time):.1f} ms CPU per 3 s patch "
                  "(TensorFlow, one thread, batch 1, median)", flush=True)
    for m in models:
        os.makedirs(os.path.join(args.out, m.name), exist_ok=True)
    t_cpu = time.process_time()
    for i, r in enumerate(rows):
        todo = [m for m in models if not os.path.exists(os.path.join(args.out, m.name, r["track_id"] + ".npz"))]
        if not todo:
            continue
        p = musicnn_patches(os.path.join(base, r["path"]))
        for m in todo:
            feats = m.run(p)
            dst = os.path.join(args.out, m.name, r["track_id"] + ".npz")
            np.savez(dst + ".tmp.npz", genre=r["genre"], split=r["split"],
                     **{f"{k}_187": v for k, v in feats.items()})
            os.replace(dst + ".tmp.npz", dst)
        print(i, r["track_id"], f"{time.process_time() - t_cpu:.0f} CPU-s", flush=True)
    print("done", args.out)


if __name__ == "__main__":
    main()
