#!/usr/bin/env python3
"""Time librosa's log-mel with musicnn's parameters on 30 s of 16 kHz audio, one thread.

The work timed per run: librosa.feature.melspectrogram(sr=16000, n_fft=512, hop_length=256,
win_length=512, window='hann', center=True, pad_mode='reflect', power=2, n_mels=96, fmin=0,
fmax=8000, htk=False, norm='slaney') then log10(10000 x + 1), on float32 input (librosa's
own dtype after `librosa.load`). librosa 0.8.1 rebuilds the mel filter bank on every call
(its cache is off unless LIBROSA_CACHE_DIR is set), so that cost is included, as it is in
musicnn's pipeline. Prints a human summary, then one JSON line.

Environment: models/msd-musicnn/requirements.txt.
Usage: python bench_frontend.py [--runs 50] [--seconds 30] [--warmup 3]
"""

import os

# One thread for every numeric library; must happen before NumPy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

# librosa 0.8.1 uses NumPy aliases removed in NumPy 1.24; they were the builtins.
for _name, _type in (("float", float), ("int", int), ("complex", complex),
                     ("bool", bool), ("object", object)):
    if _name not in np.__dict__:
        setattr(np, _name, _type)
warnings.filterwarnings("ignore", category=FutureWarning)

import librosa  # noqa: E402

SR = 16000
MEL_KW = dict(sr=SR, n_fft=512, hop_length=256, win_length=512, window="hann",
              center=True, pad_mode="reflect", power=2.0, n_mels=96, fmin=0.0,
              fmax=8000.0, htk=False, norm="slaney")


def test_signal(seconds, seed=7):
    """Deterministic music-like test signal: harmonic tones plus decaying noise bursts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    y = np.zeros(n)
    for f0 in (110.0, 220.0 * 2 ** (3 / 12), 220.0 * 2 ** (7 / 12)):
        for h in range(1, 8):
            y += np.sin(2 * np.pi * f0 * h * t) / h
    beat = SR // 2
    for start in range(0, n, beat):
        m = min(beat, n - start)
        y[start:start + m] += 3.0 * rng.standard_normal(m) * np.exp(-np.arange(m) / (0.05 * SR))
    y *= 0.8 / np.max(np.abs(y))
    return y.astype(np.float32)


def log_mel(y):
    mel = librosa.feature.melspectrogram(y=y, **MEL_KW)
    return np.log10(10000.0 * mel.T + 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()

    y = test_signal(args.seconds)
    for _ in range(args.warmup):
        out = log_mel(y)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        out = log_mel(y)
        times.append((time.perf_counter() - t0) * 1000.0)
    times = np.array(times)
    median = float(np.median(times))
    p90 = float(np.percentile(times, 90))
    frames = out.shape[0]
    print(f"librosa {librosa.__version__} log-mel, {args.seconds:g} s at {SR} Hz "
          f"({frames} frames x {out.shape[1]} bands), {args.runs} runs, 1 thread: "
          f"median {median:.2f} ms, p90 {p90:.2f} ms, min {times.min():.2f} ms "
          f"({args.seconds * 1000.0 / median:.0f}x real time)")
    summary = {
        "bench": "python_librosa_logmel",
        "audio_seconds": args.seconds,
        "sample_rate_hz": SR,
        "frames": int(frames),
        "runs": args.runs,
        "threads": 1,
        "median_ms": round(median, 4),
        "p90_ms": round(p90, 4),
        "min_ms": round(float(times.min()), 4),
        "x_real_time": round(args.seconds * 1000.0 / median, 1),
        "librosa": librosa.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
