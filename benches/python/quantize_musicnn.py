#!/usr/bin/env python3
"""int8 experiment: quantises msd-musicnn's ONNX graph with ONNX Runtime (dynamic
quantisation, or with --static static QDQ quantisation calibrated on GTZAN train clips) and
installs it, with a copy of the gtzan10 head on top, as user models `msd-musicnn-int8` and
`gtzan10-int8` under GENRE_METER_HOME, so that the CLI can compare it with the float model:

    /work/venvs/musicnn/bin/python benches/python/quantize_musicnn.py --home /tmp/gm-int8
    GENRE_METER_HOME=/tmp/gm-int8 target/release/genre-meter analyze --model gtzan10-int8 ...

Static QDQ (int8 weights per output channel, uint8 activations; ONNX Runtime's CPU provider
fuses the QuantizeLinear/DequantizeLinear pairs around Conv and MatMul into QLinearConv /
QLinearMatMul kernels):

    /work/venvs/musicnn/bin/python benches/python/quantize_musicnn.py --home /tmp/gm-qdq \
        --static --calibrate minmax --calibration-cache /tmp/calib.npz \
        --ranges-cache /tmp/ranges-minmax.json --quantise-nodes n24_Conv,n25_Relu

Measured variants and figures: docs/scale-out.md, "int8 musicnn: measured, not shipped".

The calibration patches are musicnn's own front-end (librosa 0.8.1, as models/gtzan10/py_features.py)
on clips of the *train* split of GTZAN's tracks.csv only, so that valid stays unseen;
`--float-nodes` keeps the named nodes in float (nodes_to_exclude), `--quantise-nodes` quantises
only the named nodes (nodes_to_quantize), `--op-types` limits quantisation to those operator types.

(`scale-out/int8_compare.py` runs both models on GTZAN's valid split and prints the differences;
`benches/python/bench_musicnn_int8.py` times float against int8 per patch on one thread.)
Needs onnxruntime (with its quantization module) and onnx, as in the musicnn venv; --static
also needs librosa 0.8.1 and resampy, as there.
"""
import argparse
import csv
import hashlib
import os
import re
import shutil
import warnings

import numpy as np
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_dynamic, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

PATCH_FRAMES = 187
CALIBRATION_STRIDE = 8  # patches per calibration range (see PatchReader)
CALIBRATION_METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                       "entropy": CalibrationMethod.Entropy}


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def logmel(path):
    """musicnn's front-end (librosa.load at 16 kHz with resampy kaiser_best, float16, log10(10000 x + 1)),
    as models/gtzan10/py_features.py, so the calibration sees what the model saw in training."""
    # librosa 0.8.1 spells builtins through NumPy aliases NumPy 1.24 removed (see make_fixture.py).
    for name, kind in (("float", float), ("int", int), ("complex", complex), ("bool", bool), ("object", object)):
        if name not in np.__dict__:
            setattr(np, name, kind)
    warnings.filterwarnings("ignore")
    import librosa

    audio, sr = librosa.load(path, sr=16000)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    return np.log10(10000 * rep.astype(np.float16) + 1).astype(np.float32)


def split_patches(gtzan, split, clips, patches_per_clip, first=0):
    """`patches_per_clip` non-overlapping 187-frame patches spread over each of `clips` clips of
    `split` (every k-th line of tracks.csv from line `first`, so that the genres are all there)."""
    rows = [r for r in csv.DictReader(open(os.path.join(gtzan, "tracks.csv"))) if r["split"] == split]
    step = max(1, len(rows) // clips)
    out = []
    for r in rows[first::step][:clips]:
        rep = logmel(os.path.join(gtzan, r["path"]))
        starts = np.linspace(0, rep.shape[0] - PATCH_FRAMES, patches_per_clip).astype(int)
        out.extend(rep[t:t + PATCH_FRAMES] for t in starts)
    return np.stack(out)


def cached_patches(cache, gtzan, split, clips, patches_per_clip, first=0):
    if cache and os.path.exists(cache):
        return np.load(cache)["patches"]
    patches = split_patches(gtzan, split, clips, patches_per_clip, first)
    if cache:
        np.savez(cache, patches=patches)
    return patches


class PatchReader(CalibrationDataReader):
    """Feeds calibration patches one at a time (batch 1, as the engine runs the model), in ranges
    (`set_range`, ONNX Runtime's CalibStridedMinMax): the calibrators keep every intermediate
    tensor of what they were fed until the range ends, ~80 MB per patch for the histogram
    methods, so all 216 at once needed 18 GB."""

    def __init__(self, patches, input_name):
        self.patches = patches
        self.input_name = input_name
        self.set_range(0, len(patches))

    def __len__(self):
        return len(self.patches)

    def set_range(self, start_index, end_index):
        self.next_patch = iter(self.patches[start_index:end_index])

    def get_next(self):
        patch = next(self.next_patch, None)
        return None if patch is None else {self.input_name: patch[None]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    models = os.path.join(here, "..", "..", "models")
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True, help="GENRE_METER_HOME to install into")
    ap.add_argument("--weight-type", default="qint8", choices=["qint8", "quint8"])
    ap.add_argument("--per-channel", action="store_true")
    ap.add_argument("--static", action="store_true", help="static QDQ quantisation calibrated on GTZAN train clips")
    ap.add_argument("--calibrate", default="minmax", choices=sorted(CALIBRATION_METHODS))
    ap.add_argument("--percentile", type=float, default=99.999, help="with --calibrate percentile")
    ap.add_argument("--gtzan", default=os.path.join(os.environ.get("GENRE_METER_SHARED", "../shared"), "data/gtzan"))
    ap.add_argument("--calibration-clips", type=int, default=72, help="train clips, spread over the split")
    ap.add_argument("--patches-per-clip", type=int, default=3)
    ap.add_argument("--calibration-cache", help=".npz that keeps the calibration patches between runs")
    ap.add_argument("--ranges-cache", help="JSON of the calibrated tensor ranges, reused when it exists (one per "
                    "--calibrate/--percentile/--op-types; the node lists may differ)")
    ap.add_argument("--float-nodes", default="", help="comma-separated node names to keep in float")
    ap.add_argument("--quantise-nodes", default="",
                    help="comma-separated node names: quantise only these (nodes_to_quantize), e.g. the heavy convolutions")
    ap.add_argument("--op-types", default="", help="comma-separated operator types to quantise (default: all)")
    args = ap.parse_args()
    out_dir = os.path.join(args.home, "models", "msd-musicnn-int8")
    os.makedirs(out_dir, exist_ok=True)
    src = os.path.join(models, "msd-musicnn", "msd_musicnn.onnx")
    pre = os.path.join(out_dir, "pre.onnx")
    quant_pre_process(src, pre, skip_symbolic_shape=True)
    dst = os.path.join(out_dir, "msd_musicnn_int8.onnx")
    if args.static:
        patches = cached_patches(args.calibration_cache, args.gtzan, "train", args.calibration_clips,
                                 args.patches_per_clip)
        patches = patches[:len(patches) // CALIBRATION_STRIDE * CALIBRATION_STRIDE]
        extra = {"CalibStridedMinMax": CALIBRATION_STRIDE}
        if args.calibrate == "percentile":
            extra["CalibPercentile"] = args.percentile
        quantize_static(pre, dst, PatchReader(patches, "log_mel"), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        calibrate_method=CALIBRATION_METHODS[args.calibrate], extra_options=extra,
                        nodes_to_exclude=[n for n in args.float_nodes.split(",") if n],
                        nodes_to_quantize=[n for n in args.quantise_nodes.split(",") if n] or None,
                        op_types_to_quantize=[t for t in args.op_types.split(",") if t] or None,
                        calibration_cache_path=args.ranges_cache)
        kind = f"int8 static QDQ, {args.calibrate} calibration on {len(patches)} GTZAN train patches"
        if args.float_nodes:
            kind += f", float: {args.float_nodes}"
        if args.quantise_nodes:
            kind += f", only {args.quantise_nodes}"
        if args.op_types:
            kind += f", quantised: {args.op_types}"
    else:
        quantize_dynamic(pre, dst, weight_type=QuantType.QInt8 if args.weight_type == "qint8" else QuantType.QUInt8,
                         per_channel=args.per_channel)
        kind = "int8 dynamic quantisation"
    os.remove(pre)
    manifest = open(os.path.join(models, "msd-musicnn", "manifest.toml")).read()
    manifest = re.sub(r'(?m)^name = ".*"', 'name = "msd-musicnn-int8"', manifest, count=1)
    manifest = re.sub(r'(?m)^display_name = ".*"', f'display_name = "msd-musicnn, {kind} (experiment)"', manifest, count=1)
    manifest = re.sub(r'(?m)^onnx = ".*"', 'onnx = "msd_musicnn_int8.onnx"', manifest, count=1)
    manifest = re.sub(r'(?m)^sha256 = ".*"', f'sha256 = "{sha256(dst)}"', manifest, count=1)
    open(os.path.join(out_dir, "manifest.toml"), "w").write(manifest)
    head_dir = os.path.join(args.home, "models", "gtzan10-int8")
    os.makedirs(head_dir, exist_ok=True)
    shutil.copy(os.path.join(models, "gtzan10", "head.onnx"), head_dir)
    head = open(os.path.join(models, "gtzan10", "manifest.toml")).read()
    head = re.sub(r'(?m)^name = ".*"', 'name = "gtzan10-int8"', head, count=1)
    head = re.sub(r'(?m)^backbone = ".*"', 'backbone = "msd-musicnn-int8"', head, count=1)
    open(os.path.join(head_dir, "manifest.toml"), "w").write(head)
    print(f"{dst}: {os.path.getsize(dst) / 1e6:.2f} MB (float: {os.path.getsize(src) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
