"""musicnn's frequency max-pools as ReduceMax: the same numbers, cheaper.

tf2onnx pools each musicnn convolution's whole frequency axis with a MaxPool of kernel [1, W]
on an input of width W, which ONNX Runtime runs as a scalar loop (perf shows ~10 % of
inference in one `maxss` loop). convert.py rewrites them as ReduceMax
(models/msd-musicnn/onnx_passes.py), the shipped msd_musicnn.onnx. This script takes the
model before that pass (`convert.py --keep-maxpool`), applies the pass, checks every output
is bit-identical on random log-mel patches, and times both in one process (one thread, as
the engine runs musicnn), alternating so that a load change hits both.

    python models/msd-musicnn/convert.py --keep-maxpool --out /tmp/msd_musicnn_maxpool.onnx
    python benches/python/maxpool_as_reducemax.py --before /tmp/msd_musicnn_maxpool.onnx
"""
import argparse
import os
import resource
import sys

import numpy as np
import onnx

from ort_one_thread import session

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "msd-musicnn"))
from onnx_passes import frequency_pools_as_reducemax  # noqa: E402


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="/tmp/msd_musicnn_maxpool.onnx",
                    help="musicnn with tf2onnx's MaxPools: convert.py --keep-maxpool --out PATH")
    ap.add_argument("--out", default="/tmp/msd_musicnn_reducemax.onnx")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if not os.path.exists(args.before):
        sys.exit(f"error: {args.before} not found; make it with: "
                 f"python models/msd-musicnn/convert.py --keep-maxpool --out {args.before}")
    onnx.save(frequency_pools_as_reducemax(onnx.load(args.before)), args.out)
    old, new = session(args.before), session(args.out)
    name = old.get_inputs()[0].name
    rng = np.random.default_rng(0)
    # Log-mel-like patches: log10(1 + 10000 x) of a skewed power.
    patches = [np.log10(1 + 10000 * rng.random((1, 187, 96), dtype=np.float32) ** 4).astype(np.float32) for _ in range(20)]
    for x in patches:
        for a, b in zip(old.run(None, {name: x}), new.run(None, {name: x})):
            assert a.shape == b.shape and np.array_equal(a, b), float(np.abs(a - b).max())
    print(f"outputs bit-identical on {len(patches)} patches")
    for _ in range(args.rounds):
        line = []
        for label, s in (("MaxPool (before)", old), ("ReduceMax (shipped)", new)):
            c = cpu_seconds()
            for x in patches * 3:
                s.run(None, {name: x})
            line.append(f"{label} {(cpu_seconds() - c) * 1e3 / (len(patches) * 3):.1f} ms")
        print("CPU per patch, 1 thread: " + ", ".join(line))


if __name__ == "__main__":
    main()
