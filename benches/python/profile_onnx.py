"""Where an ONNX model's time goes: ONNX Runtime's profiler, one thread as the engine runs
it, summed per operator type.

    python benches/python/profile_onnx.py models/msd-musicnn/msd_musicnn.onnx
"""
import collections
import json
import sys
import tempfile

import numpy as np
import onnxruntime as ort


def main(path: str, runs: int = 20) -> None:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    options.profile_file_prefix = tempfile.mkdtemp() + "/profile"
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in feed.shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(runs):
        session.run(None, {feed.name: x})
    events = json.load(open(session.end_profiling()))
    per_op = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values()) / runs / 1000
    print(f"{path}: {total:.2f} ms per run in operators (input {shape}, {runs} runs, 1 thread)")
    for op, us in per_op.most_common(8):
        print(f"  {op:<20} {us / runs / 1000:7.2f} ms  {100 * us / runs / 1000 / total:5.1f} %")


if __name__ == "__main__":
    main(sys.argv[1])
