#!/usr/bin/env python3
"""Convert musicnn 0.1.0's MSD_musicnn TF1 checkpoint to ONNX (msd_musicnn.onnx).

The checkpoint ships inside the `musicnn` wheel on PyPI. The graph is rebuilt with
musicnn's own `models.define_model(x, False, 'MSD_musicnn', 50)`; a Python `False` for
`is_training` gives an inference-only graph (batch norm uses its moving statistics,
dropout is the identity, no Switch/Merge control flow). The weights are restored with a
Saver that raises if anything is missing, the graph is frozen and handed to tf2onnx
(opset 17). The frequency max-pools are then rewritten as ReduceMax (onnx_passes.py: the
same outputs bit for bit, cheaper in ONNX Runtime; `--keep-maxpool` skips that, for
benches/python/maxpool_as_reducemax.py's comparison).

ONNX interface:
  input   log_mel    float32 [batch, 187, 96]   log10(10000 * mel_power + 1)
  outputs tags       float32 [batch, 50]        sigmoid probabilities, MSD label order
          embedding  float32 [batch, 200]       musicnn's `penultimate` (after batch norm)
          mean_pool  float32 [batch, 753]       temporal mean of the mid-end features
          max_pool   float32 [batch, 753]       temporal max of the mid-end features

The script checks onnxruntime against TensorFlow on random input and raises if the tags
differ by more than 1e-5 (the other outputs are checked with a relative bound).

Usage (see README.md for the venv):  python convert.py [--out msd_musicnn.onnx]
"""

import argparse
import hashlib
import os
import sys
import warnings

# Must be set before TensorFlow is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from onnx_passes import frequency_pools_as_reducemax  # noqa: E402

# musicnn uses the deprecated tf.compat.v1.layers API; its warnings are noise here.
warnings.filterwarnings("ignore", category=UserWarning, module=r"musicnn\.")

import musicnn  # noqa: E402
from musicnn import configuration as mconfig  # noqa: E402
from musicnn import models as mmodels  # noqa: E402

MODEL = "MSD_musicnn"
N_FRAMES = 187
N_MELS = 96
OPSET = 17
INPUT = "log_mel"
OUTPUTS = ["tags", "embedding", "mean_pool", "max_pool"]
OUTPUT_DIMS = {"tags": 50, "embedding": 200, "mean_pool": 753, "max_pool": 753}
TAGS_ATOL = 1e-5
# Embedding and pools are not bounded to [0, 1]; compare relative to their magnitude.
OTHER_RTOL = 1e-5

HERE = os.path.dirname(os.path.abspath(__file__))


def checkpoint_prefix():
    # The wheel stores the checkpoint files as MSD_musicnn/.index and
    # MSD_musicnn/.data-00000-of-00001, i.e. with the prefix "<dir>/". (The
    # `checkpoint` file beside them points to the author's machine and is useless.)
    prefix = os.path.join(os.path.dirname(musicnn.__file__), MODEL) + "/"
    if not os.path.isfile(prefix + ".index"):
        raise FileNotFoundError(f"musicnn checkpoint not found at {prefix!r}")
    return prefix


def build_graph(graph):
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, N_MELS], name=INPUT)
        # Same name scope as musicnn.extractor (it does not affect variable names).
        with tf.name_scope("model"):
            (logits, _timbral, _temporal, _cnn1, _cnn2, _cnn3,
             mean_pool, max_pool, penultimate) = mmodels.define_model(
                 x, False, MODEL, len(mconfig.MSD_LABELS))
        tf.identity(tf.nn.sigmoid(logits), name="tags")
        tf.identity(penultimate, name="embedding")
        tf.identity(mean_pool, name="mean_pool")
        tf.identity(max_pool, name="max_pool")
    return x


def restore_strict(sess, graph, prefix):
    """Restore every graph variable from the checkpoint; raise on any mismatch."""
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    ckpt_shapes = reader.get_variable_to_shape_map()
    with graph.as_default():
        variables = tf.compat.v1.global_variables()
    if not variables:
        raise RuntimeError("the rebuilt graph has no variables")
    graph_names = set()
    for v in variables:
        name = v.op.name
        graph_names.add(name)
        if name not in ckpt_shapes:
            raise RuntimeError(f"variable {name} is not in the checkpoint")
        if list(ckpt_shapes[name]) != v.shape.as_list():
            raise RuntimeError(
                f"shape mismatch for {name}: graph {v.shape.as_list()} vs "
                f"checkpoint {ckpt_shapes[name]}")
    # Everything in the checkpoint that is not optimiser state must be used.
    unused = sorted(n for n in ckpt_shapes
                    if n not in graph_names and "Adam" not in n
                    and n not in ("beta1_power", "beta2_power"))
    if unused:
        raise RuntimeError(f"checkpoint variables not used by the graph: {unused}")
    with graph.as_default():
        saver = tf.compat.v1.train.Saver(var_list=variables)
    saver.restore(sess, prefix)  # raises on failure (no try/except here)
    # Paranoia: compare a few restored values with the checkpoint directly.
    for v in variables:
        got = sess.run(v)
        want = reader.get_tensor(v.op.name)
        if not np.array_equal(got, want):
            raise RuntimeError(f"restored value of {v.op.name} differs from the checkpoint")
    return len(variables)


def rename_io(model):
    """tf2onnx names tensors 'name:0'; give the graph plain names and a 'batch' dim."""
    mapping = {f"{INPUT}:0": INPUT}
    mapping.update({f"{o}:0": o for o in OUTPUTS})
    g = model.graph
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
        for i, name in enumerate(node.output):
            if name in mapping:
                node.output[i] = mapping[name]
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.name in mapping:
            vi.name = mapping[vi.name]
    for vi in list(g.input) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        dims[0].ClearField("dim_value")
        dims[0].dim_param = "batch"
    got_in = [i.name for i in g.input]
    got_out = [o.name for o in g.output]
    if got_in != [INPUT] or got_out != OUTPUTS:
        raise RuntimeError(f"unexpected ONNX interface: inputs {got_in}, outputs {got_out}")


def canonicalize_names(model):
    """Give every node, intermediate tensor and constant a structural name.

    tf2onnx names the nodes and constants it creates from counters, and when it merges
    duplicate nodes which copy survives (and so which name) varies from run to run, so
    two conversions of the same checkpoint differ in bytes although they compute the
    same thing. The node order it emits is stable, so names derived from each node's
    position make the file byte-for-byte reproducible:
      node i            -> "n<i>_<OpType>", its outputs "n<i>_<OpType>:<k>"
      initializer       -> "<first consumer's new name>/in<k>", sorted by first use
    The graph input and outputs keep their names (log_mel, tags, ...).
    """
    g = model.graph
    keep = {vi.name for vi in g.input} | {vi.name for vi in g.output}
    width = len(str(len(g.node)))
    tensor_map = {}
    node_names = []
    for i, node in enumerate(g.node):
        new = f"n{i:0{width}d}_{node.op_type}"
        node_names.append(new)
        for k, out in enumerate(node.output):
            if out and out not in keep:
                tensor_map[out] = f"{new}:{k}"
    inits = {i.name: i for i in g.initializer}
    order = []
    for i, node in enumerate(g.node):
        for k, name in enumerate(node.input):
            if name in inits and name not in tensor_map:
                tensor_map[name] = f"{node_names[i]}/in{k}"
                order.append(name)
    unused = set(inits) - set(order)
    if unused:
        raise RuntimeError(f"unused initializers: {sorted(unused)}")
    if len(set(tensor_map.values())) != len(tensor_map):
        raise RuntimeError("canonical names collide")
    for i, node in enumerate(g.node):
        node.name = node_names[i]
        for k, name in enumerate(node.input):
            if name in tensor_map:
                node.input[k] = tensor_map[name]
        for k, name in enumerate(node.output):
            if name in tensor_map:
                node.output[k] = tensor_map[name]
    vis = [vi for vi in g.value_info if vi.name in tensor_map]
    for vi in vis:
        vi.name = tensor_map[vi.name]
    vis.sort(key=lambda vi: vi.name)
    del g.value_info[:]
    g.value_info.extend(vis)
    new_inits = []
    for name in order:
        init = inits[name]
        init.name = tensor_map[name]
        new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    g.name = "msd_musicnn"


def verify(onnx_path, sess, graph, n=8, seed=1234):
    rng = np.random.default_rng(seed)
    # Roughly the range of real log10(10000 * mel + 1) values (0 .. ~5).
    x = rng.uniform(0.0, 5.0, size=(n, N_FRAMES, N_MELS)).astype(np.float32)
    fetch = [graph.get_tensor_by_name(f"{o}:0") for o in OUTPUTS]
    tf_out = sess.run(fetch, feed_dict={graph.get_tensor_by_name(f"{INPUT}:0"): x})

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    osess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    on_out = osess.run(OUTPUTS, {INPUT: x})
    # Batch of one too (dynamic batch must work).
    on_one = osess.run(OUTPUTS, {INPUT: x[:1]})

    report = {}
    for name, t, o, o1 in zip(OUTPUTS, tf_out, on_out, on_one):
        want = (n, OUTPUT_DIMS[name])
        if t.shape != want or o.shape != want or o1.shape != (1, OUTPUT_DIMS[name]):
            raise RuntimeError(f"{name}: shapes TF {t.shape}, ONNX {o.shape}/{o1.shape}")
        diff = float(np.max(np.abs(t.astype(np.float64) - o)))
        diff1 = float(np.max(np.abs(t[:1].astype(np.float64) - o1)))
        scale = float(max(1.0, np.max(np.abs(t))))
        report[name] = (diff, diff1, scale)
        limit = TAGS_ATOL if name == "tags" else OTHER_RTOL * scale
        if not (diff <= limit and diff1 <= limit) or not np.all(np.isfinite(o)):
            raise RuntimeError(
                f"ONNX output {name} differs from TF by {max(diff, diff1):.3g} (limit {limit:.3g})")
    spread = float(np.max(tf_out[0]) - np.min(tf_out[0]))
    if spread < 1e-3:
        raise RuntimeError("tags do not depend on the input; is the model broken?")
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "msd_musicnn.onnx"))
    ap.add_argument("--keep-maxpool", action="store_true",
                    help="leave tf2onnx's frequency MaxPools (the model before onnx_passes.py)")
    args = ap.parse_args()

    if len(mconfig.MSD_LABELS) != 50:
        raise RuntimeError("musicnn's MSD label list does not have 50 entries")

    tf.compat.v1.disable_eager_execution()
    graph = tf.Graph()
    build_graph(graph)
    prefix = checkpoint_prefix()
    with tf.compat.v1.Session(graph=graph) as sess:
        n_vars = restore_strict(sess, graph, prefix)
        print(f"restored {n_vars} variables from {prefix}")
        frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), OUTPUTS)
        # Keep only what the outputs need (drops the unused Adam-free leftovers).
        frozen = tf.compat.v1.graph_util.extract_sub_graph(frozen, OUTPUTS)
        ops = sorted({n.op for n in frozen.node})
        if any(op in ("Switch", "Merge", "VariableV2", "VarHandleOp") for op in ops):
            raise RuntimeError(f"frozen graph still has training/control ops: {ops}")

        model_proto, _ = tf2onnx.convert.from_graph_def(
            frozen,
            input_names=[f"{INPUT}:0"],
            output_names=[f"{o}:0" for o in OUTPUTS],
            opset=OPSET,
        )
        rename_io(model_proto)
        canonicalize_names(model_proto)
        if not args.keep_maxpool:
            model_proto = frequency_pools_as_reducemax(model_proto)
        model_proto.doc_string = (
            "musicnn (Pons & Serra) MSD_musicnn, converted from the musicnn 0.1.0 "
            "checkpoint by models/msd-musicnn/convert.py")
        onnx.checker.check_model(model_proto, full_check=True)
        tmp = args.out + ".tmp"
        with open(tmp, "wb") as f:
            f.write(model_proto.SerializeToString())

        report = verify(tmp, sess, graph)
    os.replace(tmp, args.out)

    data = open(args.out, "rb").read()
    op_types = sorted({n.op_type for n in onnx.load(args.out).graph.node})
    print(f"wrote {args.out}: {len(data)} bytes, opset {OPSET}, "
          f"{len(op_types)} op types: {', '.join(op_types)}")
    for name, (diff, diff1, scale) in report.items():
        print(f"  max |TF - ONNX| {name:9s}: {diff:.3g} (batch 8), {diff1:.3g} (batch 1); "
              f"max |TF| {scale:.3g}")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
