"""Does this machine run two CPU-bound processes twice as fast as one? Issue 11 asks for an
all-cores speed-up >= 1.9x of `analyze --jobs 2` over `--jobs 1`; this separates what the
machine allows from what the code does. Three workloads, each timed as one process alone and
as two identical processes at once (wall clock; speed-up = 2 * t_one / t_two):
  alu    - a pure-Python integer loop (registers and L1 only);
  memory - numpy sums over a 64 MiB array (memory bandwidth);
  musicnn - ONNX Runtime running models/msd-musicnn/msd_musicnn.onnx, one thread, as the
            engine does (benches/python/ort_one_thread.py).
Run on an otherwise idle machine:
  /work/venvs/musicnn/bin/python benches/python/cpu_scaling.py [--rounds 5]
"""
import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "..", "models", "msd-musicnn", "msd_musicnn.onnx")


def alu():
    x = 0
    for i in range(12_000_000):
        x = (x + i * i) & 0xFFFFFFFF
    return x


def memory():
    import numpy as np
    a = np.ones(16 * 1024 * 1024, dtype=np.float32)
    s = 0.0
    for _ in range(60):
        s += float(a.sum())
    return s


def musicnn():
    import numpy as np
    sys.path.insert(0, HERE)
    from ort_one_thread import session
    sess = session(MODEL)
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((1, 187, 96)).astype(np.float32)
    sess.run(None, {name: x})
    for _ in range(60):
        sess.run(None, {name: x})


WORK = {"alu": alu, "memory": memory, "musicnn": musicnn}


def timed(kind, copies):
    procs = [mp.Process(target=WORK[kind]) for _ in range(copies)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="alu,memory,musicnn")
    args = ap.parse_args()
    print(f"cpus: {os.cpu_count()}, load before: {os.getloadavg()[0]:.2f}")
    for kind in args.only.split(","):
        ratios = []
        for _ in range(args.rounds):
            one, two = timed(kind, 1), timed(kind, 2)
            ratios.append(2 * one / two)
        print(f"{kind:8s} speed-up of 2 processes over 1: median {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f}, {args.rounds} paired rounds)")


if __name__ == "__main__":
    main()
