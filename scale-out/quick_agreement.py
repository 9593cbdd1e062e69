#!/usr/bin/env python3
"""Quick mode against full analysis, per window count: top-genre agreement, the distribution
of the largest whole-track probability difference, and speed.

    python3 scale-out/make_long_tracks.py                 # 4-minute MP3 + FLAC tracks in /tmp/gm-long
    cargo build --release
    python3 scale-out/quick_agreement.py [--bin target/release/genre-meter] [--tracks /tmp/gm-long] \
        [--windows 1,2,4,6,8,12,16] [--jobs 2] [--model gtzan10]

Prints one table row per format and window count; the full analyses are kept in
TRACKS/full-<fmt>-<model>.jsonl so that reruns only redo the quick ones. Standard library only.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time


def run(binary, files, extra, jobs, model):
    cmd = [binary, "analyze", "--files-from", "-", "--format", "jsonl", "--jobs", str(jobs), "--model", model,
           "--genres-only", "--top", "1", *extra]
    t = time.monotonic()
    p = subprocess.run(cmd, input="\n".join(files) + "\n", capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    rows = {}
    for line in p.stdout.splitlines():
        if line.strip():
            v = json.loads(line)
            rows[v["path"]] = v
    m = re.search(r"\(([0-9.]+)x real time\)", p.stderr)
    return rows, wall, float(m.group(1)) if m else float("nan")


def top_genre(v):
    # `--genres-only --top 1`: the strongest of the model's genre labels.
    return v["top"][0]["label"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/genre-meter")
    ap.add_argument("--tracks", default="/tmp/gm-long")
    ap.add_argument("--windows", default="1,2,4,6,8,12,16")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--model", default="gtzan10")
    ap.add_argument("--formats", default="mp3,flac")
    args = ap.parse_args()
    print("| format | windows | tracks | top genre = full | max prob. diff: median | p90 | max | ≤ 0.05 | × real time (quick) | × real time (full) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for fmt in args.formats.split(","):
        d = os.path.join(args.tracks, fmt)
        files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith("." + fmt))
        cache = os.path.join(args.tracks, f"full-{fmt}-{args.model}.jsonl")
        if os.path.exists(cache):
            meta = json.loads(open(cache).readline())
            full = {v["path"]: v for v in map(json.loads, open(cache).read().splitlines()[1:])}
            full_speed = meta["x_real_time"]
        else:
            full, _, full_speed = run(args.bin, files, [], args.jobs, args.model)
            with open(cache, "w") as f:
                f.write(json.dumps({"x_real_time": full_speed}) + "\n")
                for v in full.values():
                    f.write(json.dumps(v) + "\n")
        for n in [int(x) for x in args.windows.split(",")]:
            quick, _, speed = run(args.bin, files, ["--quick", "--windows", str(n)], args.jobs, args.model)
            agree, diffs = 0, []
            for path, fv in full.items():
                qv = quick[path]
                agree += top_genre(fv) == top_genre(qv)
                diffs.append(max(abs(fv["probabilities"][k] - qv["probabilities"][k]) for k in fv["probabilities"]))
            diffs.sort()
            k = len(diffs)
            print(f"| {fmt} | {n} | {k} | {agree}/{k} = {100 * agree / k:.0f} % | {statistics.median(diffs):.3f} | "
                  f"{diffs[min(k - 1, round(0.9 * (k - 1)))]:.3f} | {diffs[-1]:.3f} | {sum(d <= 0.05 for d in diffs)}/{k} | "
                  f"{speed:.0f}× | {full_speed:.0f}× |", flush=True)


if __name__ == "__main__":
    main()
