#!/usr/bin/env python3
"""Quick mode against full analysis, per window count: top-genre agreement, the distribution
of the largest whole-track probability difference, and speed.

    python3 scale-out/make_long_tracks.py                 # 4-minute MP3 + FLAC tracks in /tmp/gm-long
    cargo build --release
    python3 scale-out/quick_agreement.py [--bin target/release/genre-meter] [--tracks /tmp/gm-long] \
        [--windows 4,8,12,16,24,32] [--adaptive 32:0.02,32:0.01] [--jobs 2] [--model gtzan10]

Prints one table row per format and plan (a fixed window count, or adaptive: at most CAP
windows, stopping at a standard error of ERROR); the full analyses are kept in
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
    # --no-cache: every run analyses (the analysis cache would make reruns free and the
    # speed column meaningless).
    cmd = [binary, "analyze", "--files-from", "-", "--format", "jsonl", "--jobs", str(jobs), "--model", model,
           "--genres-only", "--top", "1", "--no-cache", *extra]
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
    ap.add_argument("--windows", default="4,8,12,16,24,32")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--model", default="gtzan10")
    ap.add_argument("--formats", default="mp3,flac")
    ap.add_argument("--adaptive", default="", help="adaptive plans CAP:ERROR, comma-separated (e.g. 32:0.02)")
    args = ap.parse_args()
    print("| format | windows | windows read: mean / max | top genre = full | max prob. diff: median | p90 | max | ≤ 0.05 | × real time (quick) | × real time (full) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for fmt in args.formats.split(","):
        d = os.path.join(args.tracks, fmt)
        files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith("." + fmt))
        cache = os.path.join(args.tracks, f"full-{fmt}-{args.model}.jsonl")
        full = None
        if os.path.exists(cache):
            meta = json.loads(open(cache).readline())
            full = {v["path"]: v for v in map(json.loads, open(cache).read().splitlines()[1:])}
            full_speed = meta["x_real_time"]
            # Built-in models are compiled into the binary, so the cache is only as good as the
            # binary it came from: one track is analysed again and must give the same numbers
            # (new weights, a new front-end: everything is redone).
            probe, _, _ = run(args.bin, files[:1], [], 1, args.model)
            old, new = full.get(files[0], {}).get("probabilities", {}), probe[files[0]]["probabilities"]
            if set(old) != set(new) or any(abs(old[k] - new[k]) > 1e-5 for k in new):
                print(f"{cache}: made by another binary or model, redoing the full analyses", file=sys.stderr)
                full = None
        if full is None:
            full, _, full_speed = run(args.bin, files, [], args.jobs, args.model)
            with open(cache, "w") as f:
                f.write(json.dumps({"x_real_time": full_speed}) + "\n")
                for v in full.values():
                    f.write(json.dumps(v) + "\n")
        plans = [(f"{n}", ["--windows", str(n)]) for n in args.windows.split(",") if n]
        # Adaptive: "CAP:ERROR", e.g. 32:0.02 (at most 32 windows, stop at a standard error of 0.02).
        plans += [(f"≤ {c} (error ≤ {e})", ["--windows", c, "--max-error", e])
                  for c, e in (a.split(":") for a in args.adaptive.split(",") if a)]
        for name, extra in plans:
            quick, _, speed = run(args.bin, files, ["--quick", *extra], args.jobs, args.model)
            used = [quick[path]["windows"] for path in full]
            agree, diffs = 0, []
            for path, fv in full.items():
                qv = quick[path]
                agree += top_genre(fv) == top_genre(qv)
                diffs.append(max(abs(fv["probabilities"][k] - qv["probabilities"][k]) for k in fv["probabilities"]))
            diffs.sort()
            k = len(diffs)
            print(f"| {fmt} | {name} | {statistics.mean(used):.1f} / {max(used)} | {agree}/{k} = {100 * agree / k:.0f} % | {statistics.median(diffs):.3f} | "
                  f"{diffs[min(k - 1, round(0.9 * (k - 1)))]:.3f} | {diffs[-1]:.3f} | {sum(d <= 0.05 for d in diffs)}/{k} | "
                  f"{speed:.0f}× | {full_speed:.0f}× |", flush=True)


if __name__ == "__main__":
    main()
