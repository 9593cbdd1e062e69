#!/usr/bin/env python3
"""Float vs int8 musicnn on GTZAN's valid split, through the CLI: whole-track probability
differences (tags of msd-musicnn, genres of the gtzan10 head), top-genre agreement, speed.

    /work/venvs/musicnn/bin/python benches/python/quantize_musicnn.py --home /tmp/gm-int8
    python3 scale-out/int8_compare.py --home /tmp/gm-int8 [--bin target/release/genre-meter] [--jobs 1]
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys


def run(binary, home, model, files, jobs, hop):
    env = dict(os.environ, GENRE_METER_HOME=home)
    cmd = [binary, "analyze", "--files-from", "-", "--format", "jsonl", "--jobs", str(jobs), "--model", model,
           "--hop", hop, "--genres-only", "--top", "1"]
    p = subprocess.run(cmd, input="\n".join(files) + "\n", capture_output=True, text=True, env=env)
    rows = {v["path"]: v for v in map(json.loads, filter(str.strip, p.stdout.splitlines()))}
    m = re.search(r"\(([0-9.]+)x real time\)", p.stderr)
    if not rows:
        sys.exit(p.stderr)
    return rows, float(m.group(1)) if m else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/genre-meter")
    ap.add_argument("--home", required=True)
    ap.add_argument("--gtzan", default=os.path.join(os.environ.get("GENRE_METER_SHARED", "../shared"), "data/gtzan"))
    ap.add_argument("--split", default="valid")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--hop", default="patch")
    args = ap.parse_args()
    files = [os.path.join(args.gtzan, r["path"]) for r in csv.DictReader(open(os.path.join(args.gtzan, "tracks.csv")))
             if r["split"] == args.split]
    for float_model, int8_model in (("msd-musicnn", "msd-musicnn-int8"), ("gtzan10", "gtzan10-int8")):
        a, speed_a = run(args.bin, args.home, float_model, files, args.jobs, args.hop)
        b, speed_b = run(args.bin, args.home, int8_model, files, args.jobs, args.hop)
        diffs = sorted(max(abs(a[p]["probabilities"][k] - b[p]["probabilities"][k]) for k in a[p]["probabilities"])
                       for p in a if a[p]["ok"] and b[p]["ok"])
        agree = sum(a[p]["top"][0]["label"] == b[p]["top"][0]["label"] for p in a if a[p]["ok"] and b[p]["ok"])
        n = len(diffs)
        print(f"{float_model} vs {int8_model} on {n} {args.split} clips (--hop {args.hop}): largest whole-track "
              f"probability difference median {diffs[n // 2]:.4f}, p90 {diffs[int(0.9 * (n - 1))]:.4f}, max {diffs[-1]:.4f}; "
              f"{sum(d <= 0.02 for d in diffs)}/{n} within 0.02; top genre equal on {agree}/{n}; "
              f"speed float {speed_a:.0f}x, int8 {speed_b:.0f}x real time ({args.jobs} job(s))", flush=True)


if __name__ == "__main__":
    main()
