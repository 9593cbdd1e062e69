#!/usr/bin/env python3
"""musicnn features of GTZAN train + valid through musicnn's own pipeline, for the head
experiments of models/README.md ("gtzan10 — how the settings were chosen").

librosa.load(sr=16000) (resampy kaiser_best), librosa's mel, float16, log10(10000 x + 1),
patches of 187 frames (as musicnn.extractor.batch_data), run through msd_musicnn.onnx with
onnxruntime. Writes one .npz per track into OUT: for hop 187 (non-overlapping) and, on
valid only, hop 62 frames (~1 s), the per-patch embedding[200], mean_pool[753], max_pool[753], tags[50];
plus the log-mel itself (for other backbones, e.g. MTT in py_mtt.py).

Usage: python py_features.py ../shared/data/gtzan/tracks.csv OUT_DIR   (pinned musicnn env)
"""
import csv
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np

# librosa 0.8.1 spells builtins through NumPy aliases NumPy 1.24 removed (see make_fixture.py).
for _name, _type in (("float", float), ("int", int), ("complex", complex), ("bool", bool), ("object", object)):
    if _name not in np.__dict__:
        setattr(np, _name, _type)
warnings.filterwarnings("ignore")
import librosa  # noqa: E402
import onnxruntime as ort  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
N_FRAMES = 187


def logmel(path):
    audio, sr = librosa.load(path, sr=16000)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    rep = rep.astype(np.float16)
    return np.log10(10000 * rep + 1).astype(np.float32)


def patches(rep, hop):
    if rep.shape[0] < N_FRAMES:
        reps = int(np.ceil(N_FRAMES / rep.shape[0]))
        rep = np.tile(rep, (reps, 1))[:N_FRAMES]
    return np.stack([rep[t:t + N_FRAMES] for t in range(0, rep.shape[0] - N_FRAMES + 1, hop)])


def main():
    csv_path, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(HERE, "..", "msd-musicnn", "msd_musicnn.onnx"), opts)
    base = os.path.dirname(csv_path)
    rows = [r for r in csv.DictReader(open(csv_path)) if r["split"] in ("train", "valid")]
    for i, r in enumerate(rows):
        dst = os.path.join(out, r["track_id"] + ".npz")
        if os.path.exists(dst):
            continue
        rep = logmel(os.path.join(base, r["path"]))
        feats = {"logmel": rep.astype(np.float16)}
        # The ~1 s hop only on valid (for the analysis-hop comparison): it triples the cost.
        for hop in ((62, 187) if r["split"] == "valid" else (187,)):
            p = patches(rep, hop)
            tags, emb, mean_pool, max_pool = sess.run(["tags", "embedding", "mean_pool", "max_pool"], {"log_mel": p})
            feats.update({f"emb_{hop}": emb, f"meanp_{hop}": mean_pool, f"maxp_{hop}": max_pool, f"tags_{hop}": tags})
        np.savez(dst + ".tmp.npz", genre=r["genre"], split=r["split"], **feats)
        os.replace(dst + ".tmp.npz", dst)
        print(i, r["track_id"], flush=True)


if __name__ == "__main__":
    main()
