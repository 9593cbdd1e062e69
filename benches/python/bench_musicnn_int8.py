#!/usr/bin/env python3
"""Float musicnn against int8 variants on the same log-mel patches: CPU time per patch on one
thread (as the engine runs it: intra/inter-op threads 1, spinning off, graph optimisation all,
batch 1) and how far the variants' outputs are from the float model's.

    /work/venvs/musicnn/bin/python benches/python/bench_musicnn_int8.py --patches /tmp/heldout.npz \\
        models/msd-musicnn/msd_musicnn.onnx /tmp/gm-qdq/models/msd-musicnn-int8/msd_musicnn_int8.onnx ...

The first model is the reference. `--patches` is an .npz of float32 patches [n, 187, 96],
`--patches-per-clip` of them per clip in order; when the file does not exist it is made from 36
GTZAN *train* clips that quantize_musicnn.py's calibration does not use (every 6th line of the
split from the second; the calibration takes every 3rd from the first), 3 patches each, with
the same front-end, so that neither valid nor the calibration data choose a variant. The "clip"
figures average those patches as the engine averages a track's windows (tags: mean of the
patches' probabilities; gtzan10: its head on the mean embedding).
CPU time is read with time.process_time around each `run`, so other load on the machine
inflates it little; the models take turns in rounds so that drifting load hits all alike.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np

from ort_one_thread import session

HERE = os.path.dirname(os.path.abspath(__file__))



def quantiles(xs):
    xs = sorted(xs)
    n = len(xs)
    return {"median": xs[n // 2], "p10": xs[int(0.1 * (n - 1))], "p90": xs[int(0.9 * (n - 1))], "max": xs[-1]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+", help="ONNX files; the first is the float reference")
    ap.add_argument("--patches", required=True)
    ap.add_argument("--patches-per-clip", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=10,
                    help="timing rounds; each runs every model on --timed patches (0: accuracy only)")
    ap.add_argument("--timed", type=int, default=30, help="patches per model per round")
    ap.add_argument("--head", default=os.path.join(HERE, "..", "..", "models", "gtzan10", "head.onnx"))
    ap.add_argument("--gtzan", default=os.path.join(os.environ.get("GENRE_METER_SHARED", "../shared"), "data/gtzan"))
    args = ap.parse_args()
    if not os.path.exists(args.patches):
        from quantize_musicnn import cached_patches

        cached_patches(args.patches, args.gtzan, "train", 36, args.patches_per_clip, first=1)
    patches = np.load(args.patches)["patches"].astype(np.float32)
    sessions = [session(m) for m in args.models]
    head = session(args.head)

    outputs = []
    for s in sessions:
        tags, emb = [], []
        for p in patches:
            t, e = s.run(["tags", "embedding"], {"log_mel": p[None]})
            tags.append(t[0])
            emb.append(e[0])
        outputs.append((np.array(tags), np.array(emb)))
    k = args.patches_per_clip
    clips = len(patches) // k

    def clip_figures(tags, emb):
        clip_tags = tags[:clips * k].reshape(clips, k, -1).mean(1)
        clip_emb = emb[:clips * k].reshape(clips, k, -1).mean(1)
        return clip_tags, head.run(None, {"embedding": clip_emb.astype(np.float32)})[0]

    ref_tags, ref_emb = outputs[0]
    ref_clip_tags, ref_genres = clip_figures(ref_tags, ref_emb)
    accuracy = {}
    for path, (tags, emb) in zip(args.models[1:], outputs[1:]):
        clip_tags, genres = clip_figures(tags, emb)
        accuracy[path] = {
            "patch_tags_max_diff": quantiles(np.abs(tags - ref_tags).max(1).tolist()),
            "clip_tags_max_diff": quantiles(np.abs(clip_tags - ref_clip_tags).max(1).tolist()),
            "clip_gtzan10_max_diff": quantiles(np.abs(genres - ref_genres).max(1).tolist()),
            "clip_gtzan10_top_equal": int((genres.argmax(1) == ref_genres.argmax(1)).sum()),
            "clips": clips,
        }

    for s in sessions:  # warm-up
        for p in patches[:5]:
            s.run(None, {"log_mel": p[None]})
    cpu_ms = [[] for _ in sessions]
    for r in range(args.rounds):
        chunk = patches[(r * args.timed) % len(patches):][:args.timed]
        for i, s in enumerate(sessions):
            for p in chunk:
                feed = {"log_mel": p[None]}
                t0 = time.process_time_ns()
                s.run(None, feed)
                cpu_ms[i].append((time.process_time_ns() - t0) / 1e6)

    ref_ms = statistics.median(cpu_ms[0]) if args.rounds else float("nan")
    for path, ms in zip(args.models, cpu_ms):
        q = quantiles(ms) if ms else {"median": float("nan"), "p10": float("nan"), "p90": float("nan")}
        line = (f"{path}: CPU ms per patch median {q['median']:.2f} (p10 {q['p10']:.2f}, "
                f"p90 {q['p90']:.2f}, n {len(ms)}); {ref_ms / q['median']:.2f}x the float model's speed")
        if path in accuracy:
            a = accuracy[path]
            line += (f"\n    tags, largest |diff| per patch: median {a['patch_tags_max_diff']['median']:.4f}, "
                     f"p90 {a['patch_tags_max_diff']['p90']:.4f}, max {a['patch_tags_max_diff']['max']:.4f}"
                     f"\n    per clip of {k} patches: tags median {a['clip_tags_max_diff']['median']:.4f} "
                     f"p90 {a['clip_tags_max_diff']['p90']:.4f} max {a['clip_tags_max_diff']['max']:.4f}; gtzan10 "
                     f"median {a['clip_gtzan10_max_diff']['median']:.4f} p90 {a['clip_gtzan10_max_diff']['p90']:.4f} "
                     f"max {a['clip_gtzan10_max_diff']['max']:.4f}, top equal {a['clip_gtzan10_top_equal']}/{clips}")
        print(line, flush=True)
    print(json.dumps({"cpu_ms": {p: quantiles(ms) for p, ms in zip(args.models, cpu_ms) if ms}, "accuracy": accuracy}))


if __name__ == "__main__":
    main()
