#!/usr/bin/env python3
"""MTT_musicnn features of the tracks py_features.py processed, from the log-mel it stored.

MTT_musicnn (musicnn 0.1.0's MagnaTagATune model, ISC) takes the same input as
MSD_musicnn (the same 16 kHz log-mel patches of 187 frames), so its features are computed
from py_features.py's cached log-mel, non-overlapping patches (hop 187), and written as
emb_187, meanp_187, maxp_187, tags_187 into OUT (one .npz per track), for
`py_experiments.py MSD_DIR MTT_DIR`. The ONNX model is made by
`models/msd-musicnn/convert.py` with MODEL = "MTT_musicnn" (see py_mtt_convert.py); it is
not committed.

Usage: python py_mtt.py MTT_ONNX MSD_FEATURE_DIR OUT_DIR   (pinned musicnn env)
"""
import glob
import os
import sys

import numpy as np
import onnxruntime as ort

N_FRAMES = 187


def patches(rep, hop):
    if rep.shape[0] < N_FRAMES:
        reps = int(np.ceil(N_FRAMES / rep.shape[0]))
        rep = np.tile(rep, (reps, 1))[:N_FRAMES]
    return np.stack([rep[t:t + N_FRAMES] for t in range(0, rep.shape[0] - N_FRAMES + 1, hop)])


def main():
    onnx_path, src, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, opts)
    for f in sorted(glob.glob(os.path.join(src, "*.npz"))):
        dst = os.path.join(out, os.path.basename(f))
        if os.path.exists(dst):
            continue
        z = np.load(f)
        rep = z["logmel"].astype(np.float32)
        tags, emb, mean_pool, max_pool = sess.run(
            ["tags", "embedding", "mean_pool", "max_pool"], {"log_mel": patches(rep, 187)})
        np.savez(dst + ".tmp.npz", emb_187=emb, meanp_187=mean_pool, maxp_187=max_pool, tags_187=tags)
        os.replace(dst + ".tmp.npz", dst)
    print("done", out)


if __name__ == "__main__":
    main()
