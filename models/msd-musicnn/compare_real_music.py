#!/usr/bin/env python3
"""Compare `genre-meter analyze --model msd-musicnn --hop patch` with musicnn's own pipeline
on real recordings (e.g. GTZAN's 22.05 kHz Ogg clips): max tag difference per clip, whole
track (mean of the non-overlapping 3 s windows) and per window, for each resampler given.

Reads the audio where it lies and writes nothing but a temporary model folder (a copy of
manifest.toml with another `resampler`, next to a link to the ONNX file); only figures are
printed (last line: JSON).

Environment: requirements.txt beside this file. Usage (from the repository root):
  python models/msd-musicnn/compare_real_music.py --genre-meter target/release/genre-meter \\
      --tracks ../shared/data/gtzan/tracks.csv --split valid --per-genre 1 \\
      --resampler kaiser-best --resampler fft
"""

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixture as mf  # noqa: E402  (NumPy alias fix-ups, musicnn's checked extractor)

import numpy as np  # noqa: E402
from musicnn import configuration as mconfig  # noqa: E402


def pick_clips(tracks_csv, split, per_genre):
    root = os.path.dirname(os.path.abspath(tracks_csv))
    chosen, counts = [], {}
    with open(tracks_csv) as f:
        for row in csv.DictReader(f):
            if row["split"] != split or counts.get(row["genre"], 0) >= per_genre:
                continue
            counts[row["genre"]] = counts.get(row["genre"], 0) + 1
            chosen.append(os.path.join(root, row["path"]))
    return chosen


def model_folder(tmp, resampler):
    """A copy of msd-musicnn whose manifest declares `resampler`."""
    folder = os.path.join(tmp, f"msd-musicnn-{resampler}")
    os.makedirs(folder, exist_ok=True)
    text = open(os.path.join(HERE, "manifest.toml")).read()
    text, n = re.subn(r'(?m)^resampler = "[^"]*"', f'resampler = "{resampler}"', text)
    if n != 1:
        raise RuntimeError("manifest.toml has no `resampler = ...` line to replace")
    text = text.replace('name = "msd-musicnn"', f'name = "msd-musicnn-{resampler}"', 1)
    with open(os.path.join(folder, "manifest.toml"), "w") as f:
        f.write(text)
    link = os.path.join(folder, "msd_musicnn.onnx")
    if not os.path.exists(link):
        os.symlink(os.path.join(HERE, "msd_musicnn.onnx"), link)
    return os.path.join(folder, "manifest.toml")


def genre_meter(binary, manifest, clips):
    # --no-cache: a result cached by an earlier build (another decoder, say) would be measured
    # instead of this binary's.
    out = subprocess.run([binary, "analyze", "--model", manifest, "--hop", "patch", "--format", "json",
                          "--timeline", "--jobs", "1", "--no-cache", *clips], check=True, capture_output=True, text=True)
    doc = json.loads(out.stdout)
    labels = doc["model"]["labels"]
    result = {}
    for f in doc["files"]:
        if not f["ok"]:
            raise RuntimeError(f"{f['path']}: {f['error']}")
        windows = np.array([[w["probabilities"][l] for l in labels] for w in f["timeline"]])
        result[os.path.abspath(f["path"])] = windows
    if labels != list(mconfig.MSD_LABELS):
        raise RuntimeError("label order differs from musicnn's")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--genre-meter", required=True, help="path of the genre-meter binary")
    ap.add_argument("--tracks", required=True, help="tracks.csv (path,genre,track_id,split,...)")
    ap.add_argument("--split", default="valid")
    ap.add_argument("--per-genre", type=int, default=1)
    ap.add_argument("--resampler", action="append", default=[])
    args = ap.parse_args()
    clips = pick_clips(args.tracks, args.split, args.per_genre)
    resamplers = args.resampler or ["kaiser-best"]
    reference = {}
    for c in clips:
        taggram, _, _ = mf.run_musicnn_extractor(c)
        reference[os.path.abspath(c)] = np.asarray(taggram, dtype=np.float64)
    summary = {"clips": len(clips), "split": args.split, "by_resampler": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for r in resamplers:
            ours = genre_meter(args.genre_meter, model_folder(tmp, r), clips)
            track_d, window_d = [], []
            for c in clips:
                ref, got = reference[os.path.abspath(c)], ours[os.path.abspath(c)]
                if got.shape != ref.shape:
                    raise RuntimeError(f"{c}: {got.shape[0]} windows vs musicnn's {ref.shape[0]}")
                track_d.append(float(np.max(np.abs(got.mean(axis=0) - ref.mean(axis=0)))))
                window_d.append(float(np.max(np.abs(got - ref))))
                print(f"{r:12s} {os.path.basename(c):24s} whole track {track_d[-1]:.2e}  worst window {window_d[-1]:.2e}")
            summary["by_resampler"][r] = {
                "whole_track_max": max(track_d), "whole_track_median_of_clip_max": float(np.median(track_d)),
                "window_max": max(window_d), "window_median_of_clip_max": float(np.median(window_d)),
            }
            s = summary["by_resampler"][r]
            print(f"{r}: whole track max {s['whole_track_max']:.3g} (median {s['whole_track_median_of_clip_max']:.3g}); "
                  f"window max {s['window_max']:.3g} (median {s['window_median_of_clip_max']:.3g})")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
