"""musicnn's frequency max-pools as ReduceMax: the same numbers, cheaper (measured, not shipped).

msd_musicnn.onnx (tf2onnx) pools each convolution's whole frequency axis with a MaxPool of
kernel [1, W] on an input of width W, which ONNX Runtime runs as a scalar loop (perf shows
~10 % of inference in one `maxss` loop). A ReduceMax over that axis is the same maximum, so
the outputs are bit-identical; this script writes that variant, checks every output is
equal on random log-mel patches, and times both in one process (one thread, as the engine
runs musicnn), alternating so that a load change hits both.

    /work/venvs/musicnn/bin/python benches/python/maxpool_as_reducemax.py [--out /tmp/musicnn_reducemax.onnx]
"""
import argparse
import os
import resource

import numpy as np
import onnx
from onnx import helper, shape_inference

from ort_one_thread import session

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "..", "models", "msd-musicnn", "msd_musicnn.onnx")


def as_reducemax(model: onnx.ModelProto) -> onnx.ModelProto:
    inferred = shape_inference.infer_shapes(model)
    shapes = {
        vi.name: [d.dim_value or d.dim_param for d in vi.type.tensor_type.shape.dim]
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    nodes = []
    for n in model.graph.node:
        if n.op_type != "MaxPool":
            nodes.append(n)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        kernel, width = list(attrs["kernel_shape"]), shapes[n.input[0]][3]
        # Only a pool over the whole last axis is a ReduceMax.
        assert kernel == [1, width] and list(attrs.get("strides", kernel)) == kernel, (n.name, kernel, width)
        assert not attrs.get("pads") and len(n.output) == 1, n.name
        if opset >= 18:
            axes = n.name + "_axes"
            model.graph.initializer.append(helper.make_tensor(axes, onnx.TensorProto.INT64, [1], [3]))
            nodes.append(helper.make_node("ReduceMax", [n.input[0], axes], list(n.output), name=n.name + "_as_reducemax", keepdims=1))
        else:
            nodes.append(helper.make_node("ReduceMax", [n.input[0]], list(n.output), name=n.name + "_as_reducemax", axes=[3], keepdims=1))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model



def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/musicnn_reducemax.onnx")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    onnx.save(as_reducemax(onnx.load(MODEL)), args.out)
    old, new = session(MODEL), session(args.out)
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
        for label, s in (("MaxPool (shipped)", old), ("ReduceMax", new)):
            c = cpu_seconds()
            for x in patches * 3:
                s.run(None, {name: x})
            line.append(f"{label} {(cpu_seconds() - c) * 1e3 / (len(patches) * 3):.1f} ms")
        print("CPU per patch, 1 thread: " + ", ".join(line))


if __name__ == "__main__":
    main()
