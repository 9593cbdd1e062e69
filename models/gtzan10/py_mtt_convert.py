#!/usr/bin/env python3
"""Converts musicnn 0.1.0's MTT_musicnn checkpoint to ONNX with msd-musicnn/convert.py
(same graph builder, strict restore and TF-vs-ONNX check; only the checkpoint differs).
For the candidate experiments only (py_mtt.py); the output is not committed.

Usage: python py_mtt_convert.py OUT.onnx   (pinned musicnn env)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "msd-musicnn"))
import convert  # noqa: E402

convert.MODEL = "MTT_musicnn"
sys.argv = ["convert", "--out", sys.argv[1] if len(sys.argv) > 1 else "mtt_musicnn.onnx"]
sys.exit(convert.main())
