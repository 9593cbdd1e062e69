#!/usr/bin/env python3
"""Whole-file analysis speed of musicnn's own Python pipeline (MSD_musicnn), one thread.

Per file, exactly musicnn 0.1.0's steps at its own settings: `musicnn.extractor.batch_data`
(librosa.load with resampling to 16 kHz, mel spectrogram, float16 cast, log10(10000 x + 1),
non-overlapping 187-frame patches), then TensorFlow inference one patch per `sess.run`
(musicnn's BATCH_SIZE = 1) fetching the tags and the 200-d `penultimate` embedding. Unlike
musicnn's `extractor`, the TF graph and session are built and the checkpoint restored ONCE
(restore errors raise), not once per file. TF intra/inter-op threads 1 and every numeric
library on one thread. The first file is analysed once untimed as a warm-up (numba JIT,
TF graph optimisation) unless --warmup 0.

Prints total seconds of audio, wall time, x-real-time and the share of time spent in
decode+resample (librosa.load), the rest of the front-end, and inference; then one JSON line.

Environment: models/msd-musicnn/requirements.txt.
Usage: python bench_pipeline.py /work/shared/data/gtzan/audio/*/*.ogg
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

if int(np.__version__.split(".")[0]) != 1:
    raise SystemExit(f"NumPy 1.x is required for musicnn's pipeline, found {np.__version__}")
# librosa 0.8.1 uses NumPy aliases removed in NumPy 1.24; they were the builtins.
for _name, _type in (("float", float), ("int", int), ("complex", complex),
                     ("bool", bool), ("object", object)):
    if _name not in np.__dict__:
        setattr(np, _name, _type)
warnings.filterwarnings("ignore", category=UserWarning, module=r"musicnn\.")
warnings.filterwarnings("ignore", category=FutureWarning)

import librosa  # noqa: E402
import soundfile as sf  # noqa: E402
import tensorflow as tf  # noqa: E402

import musicnn  # noqa: E402
import musicnn.extractor as mextractor  # noqa: E402
from musicnn import configuration as mconfig  # noqa: E402
from musicnn import models as mmodels  # noqa: E402

MODEL = "MSD_musicnn"
N_FRAMES = 187


class TimedLoad:
    """Wraps librosa.load as musicnn's extractor module sees it, to time decode+resample."""

    def __init__(self, load):
        self.load = load
        self.seconds = 0.0
        self.samples = 0

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        out = self.load(*args, **kwargs)
        self.seconds += time.perf_counter() - t0
        self.samples += len(out[0])
        return out


def build_session():
    tf.compat.v1.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, mconfig.N_MELS])
            is_training = tf.compat.v1.placeholder(tf.bool)
            out = mmodels.define_model(x, is_training, MODEL, len(mconfig.MSD_LABELS))
            tags = tf.nn.sigmoid(out[0])
            penultimate = out[-1]
        saver = tf.compat.v1.train.Saver()
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1,
                                      inter_op_parallelism_threads=1)
    sess = tf.compat.v1.Session(graph=graph, config=config)
    prefix = os.path.join(os.path.dirname(musicnn.__file__), MODEL) + "/"
    saver.restore(sess, prefix)  # raises on failure, unlike musicnn's extractor
    return sess, x, is_training, tags, penultimate


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs of the first file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    sess, x, is_training, tags_t, emb_t = build_session()
    timed_load = TimedLoad(librosa.load)
    mextractor.librosa.load = timed_load  # the module object musicnn's batch_data uses

    def analyse(path):
        t0 = time.perf_counter()
        batch, _ = mextractor.batch_data(path, N_FRAMES, N_FRAMES)
        t1 = time.perf_counter()
        tags, embs = [], []
        for i in range(0, batch.shape[0], mconfig.BATCH_SIZE):
            tg, em = sess.run([tags_t, emb_t],
                              feed_dict={x: batch[i:i + mconfig.BATCH_SIZE], is_training: False})
            tags.append(tg)
            embs.append(em)
        t2 = time.perf_counter()
        return np.concatenate(tags), np.concatenate(embs), t1 - t0, t2 - t1

    for _ in range(args.warmup):
        analyse(args.files[0])
    timed_load.seconds = 0.0
    timed_load.samples = 0

    audio_s = 0.0
    frontend_s = 0.0
    infer_s = 0.0
    patches = 0
    skipped = []
    wall0 = time.perf_counter()
    for path in args.files:
        try:
            tags, embs, fe, inf = analyse(path)
        except UnboundLocalError:
            # musicnn's batch_data cannot handle clips shorter than one patch.
            skipped.append(path)
            continue
        if not np.all(np.isfinite(tags)) or tags.shape[1] != 50 or embs.shape[1] != 200:
            raise RuntimeError(f"bad output for {path}")
        audio_s += sf.info(path).duration
        frontend_s += fe
        infer_s += inf
        patches += tags.shape[0]
        if args.verbose:
            top = int(np.argmax(tags.mean(axis=0)))
            print(f"{path}: {tags.shape[0]} patches, front-end {fe * 1e3:.0f} ms, "
                  f"inference {inf * 1e3:.0f} ms, top {mconfig.MSD_LABELS[top]}")
    wall = time.perf_counter() - wall0
    sess.close()

    n_files = len(args.files) - len(skipped)
    decode_s = timed_load.seconds
    rest_s = wall - infer_s
    print(f"musicnn {MODEL} Python pipeline, 1 thread: {n_files} files, {audio_s:.1f} s of "
          f"audio, {patches} patches, wall {wall:.2f} s = {audio_s / wall:.1f}x real time")
    print(f"  inference (TF, {patches} sess.run of 1 patch): {infer_s:.2f} s "
          f"({100 * infer_s / wall:.1f} %), {1e3 * infer_s / max(patches, 1):.2f} ms per patch")
    print(f"  rest: {rest_s:.2f} s ({100 * rest_s / wall:.1f} %), of which decode+resample "
          f"(librosa.load) {decode_s:.2f} s ({100 * decode_s / wall:.1f} %), mel+log+patching "
          f"{frontend_s - decode_s:.2f} s ({100 * (frontend_s - decode_s) / wall:.1f} %)")
    if skipped:
        print(f"  skipped {len(skipped)} files shorter than one patch")
    summary = {
        "bench": "python_musicnn_pipeline",
        "model": MODEL,
        "files": n_files,
        "skipped": len(skipped),
        "audio_seconds": round(audio_s, 3),
        "patches": patches,
        "wall_seconds": round(wall, 3),
        "x_real_time": round(audio_s / wall, 2),
        "inference_seconds": round(infer_s, 3),
        "inference_share": round(infer_s / wall, 4),
        "rest_seconds": round(rest_s, 3),
        "decode_resample_seconds": round(decode_s, 3),
        "mel_log_patch_seconds": round(frontend_s - decode_s, 3),
        "ms_per_patch_inference": round(1e3 * infer_s / max(patches, 1), 3),
        "threads": 1,
        "batch_size": mconfig.BATCH_SIZE,
        "resampler": "librosa.load default (resampy kaiser_best in librosa 0.8.1)",
        "librosa": librosa.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
