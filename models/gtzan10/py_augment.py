#!/usr/bin/env python3
"""Augmented copies of the GTZAN *train* clips, for the augmentation candidate of the model
card (issue 8). Valid clips are never touched: settings are still chosen on valid.

Each train clip (or, with --split valid, each valid clip: only for the valid -> train
fold of the out-of-fold check) is loaded as musicnn loads it (librosa.load(sr=16000): resampy
kaiser_best), and COPIES augmented versions are written as 16 kHz 16-bit WAV into OUT
(the engine passes 16 kHz through unresampled, so it reads exactly these samples). Copy k
of a clip draws its parameters from a generator seeded with (SEED, track id, k), so the
output is reproducible:
  - pitch shift of ±1 or ±2 semitones (librosa.effects.pitch_shift, tempo kept), or a
    time stretch by 0.88–1.12 (tempo only), alternating between copies;
  - a random crop: the first 0–1.5 s dropped (moves the 3 s patch grid);
  - gain −6…+3 dB, then an EQ tilt of ±3 dB per decade around 1 kHz (a first-order
    shelf pair), then white noise 30–45 dB below the clip's RMS; peaks limited to 0.99.
It writes OUT/tracks.csv: the original train rows (absolute paths) plus the copies, all
with split "train", so `genre-meter train --list OUT/tracks.csv --split train` trains on
both; and, with --features, musicnn features of each copy (as py_features.py does, hop
187) for py_experiments.py --augmented.

Usage: python py_augment.py ../shared/data/gtzan/tracks.csv OUT [--copies 2] [--seed 8]
       [--features FEATURE_DIR]   (pinned musicnn env)
"""
import argparse
import csv
import hashlib
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np

for _name, _type in (("float", float), ("int", int), ("complex", complex), ("bool", bool), ("object", object)):
    if _name not in np.__dict__:
        setattr(np, _name, _type)
warnings.filterwarnings("ignore")
import librosa  # noqa: E402
import scipy.signal  # noqa: E402
import soundfile  # noqa: E402

SR = 16000
HERE = os.path.dirname(os.path.abspath(__file__))


def rng_for(seed, track_id, k):
    h = hashlib.sha256(f"{seed}/{track_id}/{k}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def tilt(y, db_per_decade):
    # Low shelf and high shelf around 1 kHz in opposite directions: a gentle spectral tilt.
    if abs(db_per_decade) < 1e-6:
        return y
    g = 10 ** (db_per_decade / 20)
    b, a = scipy.signal.butter(1, 1000 / (SR / 2), "high")
    high = scipy.signal.lfilter(b, a, y)
    low = y - high
    return (low / np.sqrt(g) + high * np.sqrt(g)).astype(np.float32)


def augment(y, rng, k):
    if k % 2 == 0:
        steps = float(rng.choice([-2, -1, 1, 2]))
        y = librosa.effects.pitch_shift(y, SR, n_steps=steps, res_type="kaiser_fast")
        what = f"pitch {steps:+.0f} st"
    else:
        rate = float(rng.uniform(0.88, 1.12))
        y = librosa.effects.time_stretch(y, rate)
        what = f"stretch x{rate:.3f}"
    start = int(rng.uniform(0, 1.5) * SR)
    y = y[start:]
    gain_db = float(rng.uniform(-6, 3))
    tilt_db = float(rng.uniform(-3, 3))
    snr_db = float(rng.uniform(30, 45))
    y = tilt(y * 10 ** (gain_db / 20), tilt_db)
    rms = float(np.sqrt(np.mean(y ** 2))) + 1e-9
    y = y + rng.standard_normal(len(y)).astype(np.float32) * rms * 10 ** (-snr_db / 20)
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y.astype(np.float32), f"{what}, crop {start / SR:.2f} s, gain {gain_db:+.1f} dB, tilt {tilt_db:+.1f} dB/dec, noise {snr_db:.0f} dB"


def features(sess, path):
    # As py_features.py: librosa's mel of the (16 kHz, unresampled) file, float16, log.
    audio, sr = librosa.load(path, sr=SR)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    rep = np.log10(10000 * rep.astype(np.float16) + 1).astype(np.float32)
    p = np.stack([rep[t:t + 187] for t in range(0, rep.shape[0] - 187 + 1, 187)])
    tags, emb, mean_pool, max_pool = sess.run(["tags", "embedding", "mean_pool", "max_pool"], {"log_mel": p})
    return {"emb_187": emb, "meanp_187": mean_pool, "maxp_187": max_pool, "tags_187": tags}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tracks")
    ap.add_argument("out")
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--features")
    ap.add_argument("--split", default="train",
                    help="which split to augment: train (the candidate), or valid for the valid -> train fold of the out-of-fold check only")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sess = None
    if args.features:
        import onnxruntime as ort
        os.makedirs(args.features, exist_ok=True)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(os.path.join(HERE, "..", "msd-musicnn", "msd_musicnn.onnx"), opts)
    base = os.path.dirname(os.path.abspath(args.tracks))
    rows = [r for r in csv.DictReader(open(args.tracks)) if r["split"] == args.split]
    out_rows = [(os.path.join(base, r["path"]), r["genre"], r["track_id"], args.split, "original") for r in rows]
    for i, r in enumerate(rows):
        y = None
        for k in range(args.copies):
            tid = f"{r['track_id']}.aug{k}"
            wav = os.path.join(args.out, tid + ".wav")
            if not os.path.exists(wav):
                if y is None:
                    y, _ = librosa.load(os.path.join(base, r["path"]), sr=SR)
                z, what = augment(y, rng_for(args.seed, r["track_id"], k), k)
                soundfile.write(wav + ".tmp.wav", z, SR, subtype="PCM_16")
                os.replace(wav + ".tmp.wav", wav)
                with open(os.path.join(args.out, tid + ".txt"), "w") as f:
                    f.write(what + "\n")
            what = open(os.path.join(args.out, tid + ".txt")).read().strip()
            out_rows.append((wav, r["genre"], tid, args.split, what))
            if sess is not None:
                dst = os.path.join(args.features, tid + ".npz")
                if not os.path.exists(dst):
                    np.savez(dst + ".tmp.npz", genre=r["genre"], split=args.split, **features(sess, wav))
                    os.replace(dst + ".tmp.npz", dst)
        print(i, r["track_id"], flush=True)
    with open(os.path.join(args.out, "tracks.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "genre", "track_id", "split", "augmentation"])
        w.writerows(out_rows)
    print("wrote", os.path.join(args.out, "tracks.csv"), len(out_rows), "rows")


if __name__ == "__main__":
    main()
