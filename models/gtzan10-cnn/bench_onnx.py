#!/usr/bin/env python3
"""ms per 3 s patch of gtzan10-cnn against msd-musicnn: onnxruntime, one thread, no spinning.

The two models are timed in alternating rounds so that both see the same load from other
processes (this machine is shared); the median over rounds is reported.

Usage:
  /work/venvs/gtzan10/bin/python models/gtzan10-cnn/bench_onnx.py [--rounds 20] [--batch 1]
"""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "benches", "python"))
from ort_one_thread import session  # noqa: E402  (the engine's one-thread session set-up)

MODELS = {
    "gtzan10-cnn": os.environ.get("GTZAN10_CNN_ONNX", os.path.join(HERE, "gtzan10_cnn.onnx")),
    "msd-musicnn": os.path.join(HERE, "..", "msd-musicnn", "msd_musicnn.onnx"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs-per-round", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()

    x = np.random.default_rng(0).normal(2.0, 1.0, (args.batch, 187, 96)).astype(np.float32)
    sessions = {name: session(p) for name, p in MODELS.items()}
    for s in sessions.values():
        for _ in range(5):
            s.run(None, {"log_mel": x})
    times = {name: [] for name in sessions}
    for _ in range(args.rounds):
        for name, s in sessions.items():
            for _ in range(args.runs_per_round):
                t = time.perf_counter()
                s.run(None, {"log_mel": x})
                times[name].append((time.perf_counter() - t) * 1000.0 / args.batch)
    for name, ts in times.items():
        print(f"{name:12s} {np.median(ts):7.2f} ms/patch median, {np.percentile(ts, 10):7.2f} p10 "
              f"(batch {args.batch}, 1 thread, {len(ts)} runs)")
    ratio = np.median(times["msd-musicnn"]) / np.median(times["gtzan10-cnn"])
    print(f"gtzan10-cnn is {ratio:.1f}x cheaper than msd-musicnn per patch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
