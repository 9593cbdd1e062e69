#!/usr/bin/env python3
"""int8 experiment: quantises msd-musicnn's ONNX graph (ONNX Runtime dynamic quantisation)
and installs it, with a copy of the gtzan10 head on top, as user models `msd-musicnn-int8`
and `gtzan10-int8` under GENRE_METER_HOME, so that the CLI can compare it with the float model:

    /work/venvs/musicnn/bin/python benches/python/quantize_musicnn.py --home /tmp/gm-int8
    GENRE_METER_HOME=/tmp/gm-int8 target/release/genre-meter analyze --model gtzan10-int8 ...

(`scale-out/int8_compare.py` runs both models on GTZAN's valid split and prints the differences.)
Needs onnxruntime (with its quantization module) and onnx, as in the musicnn venv.
"""
import argparse
import hashlib
import os
import re
import shutil

from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    models = os.path.join(here, "..", "..", "models")
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True, help="GENRE_METER_HOME to install into")
    ap.add_argument("--weight-type", default="qint8", choices=["qint8", "quint8"])
    ap.add_argument("--per-channel", action="store_true")
    args = ap.parse_args()
    out_dir = os.path.join(args.home, "models", "msd-musicnn-int8")
    os.makedirs(out_dir, exist_ok=True)
    src = os.path.join(models, "msd-musicnn", "msd_musicnn.onnx")
    pre = os.path.join(out_dir, "pre.onnx")
    quant_pre_process(src, pre, skip_symbolic_shape=True)
    dst = os.path.join(out_dir, "msd_musicnn_int8.onnx")
    quantize_dynamic(pre, dst, weight_type=QuantType.QInt8 if args.weight_type == "qint8" else QuantType.QUInt8,
                     per_channel=args.per_channel)
    os.remove(pre)
    manifest = open(os.path.join(models, "msd-musicnn", "manifest.toml")).read()
    manifest = re.sub(r'(?m)^name = ".*"', 'name = "msd-musicnn-int8"', manifest, count=1)
    manifest = re.sub(r'(?m)^display_name = ".*"', 'display_name = "msd-musicnn, int8 dynamic quantisation (experiment)"', manifest, count=1)
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
