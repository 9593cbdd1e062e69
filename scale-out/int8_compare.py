#!/usr/bin/env python3
"""Float vs int8 musicnn on GTZAN's valid split, through the CLI: whole-track probability
differences (all 50 tags of msd-musicnn, genres of the gtzan10 head), top-genre agreement,
CPU time of each run.

    /work/venvs/musicnn/bin/python benches/python/quantize_musicnn.py --home /tmp/gm-int8 [--static ...]
    python3 scale-out/int8_compare.py --home /tmp/gm-int8 [--bin target/release/genre-meter] [--jobs 1] \\
        [--hop 1] [--keep /tmp/gm-float-runs]

`--hop` defaults to the CLI's own default (1 s); `--hop patch` is musicnn's non-overlapping
windows. Every run is made with --no-cache (the analysis cache would otherwise answer the
second model's run from the first's, and hide the cost). `--keep DIR` stores the float
model's JSON Lines there and reuses them, so that several int8 variants (one GENRE_METER_HOME
each) are compared with one float run.
"""
import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys


def run(binary, home, model, files, jobs, hop):
    env = dict(os.environ, GENRE_METER_HOME=home)
    cmd = [binary, "analyze", "--files-from", "-", "--format", "jsonl", "--jobs", str(jobs), "--model", model,
           "--hop", hop, "--genres-only", "--top", "1", "--no-cache"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, input="\n".join(files) + "\n", capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = {v["path"]: v for v in map(json.loads, filter(str.strip, p.stdout.splitlines()))}
    m = re.search(r"\(([0-9.]+)x real time\)", p.stderr)
    if not rows:
        sys.exit(p.stderr)
    return rows, p.stdout, float(m.group(1)) if m else float("nan"), cpu_s


def float_run(args, model, files):
    kept = os.path.join(args.keep, f"{model}-hop{args.hop}-{args.split}.jsonl") if args.keep else None
    if kept and os.path.exists(kept):
        rows = {v["path"]: v for v in map(json.loads, filter(str.strip, open(kept)))}
        return rows, float("nan"), float("nan")
    rows, text, speed, cpu_s = run(args.bin, args.home, model, files, args.jobs, args.hop)
    if kept:
        os.makedirs(args.keep, exist_ok=True)
        open(kept, "w").write(text)
    return rows, speed, cpu_s


def top_labels(row, n):
    return set(sorted(row["probabilities"], key=row["probabilities"].get, reverse=True)[:n])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/genre-meter")
    ap.add_argument("--home", required=True)
    ap.add_argument("--gtzan", default=os.path.join(os.environ.get("GENRE_METER_SHARED", "../shared"), "data/gtzan"))
    ap.add_argument("--split", default="valid")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--hop", default="1")
    ap.add_argument("--keep", help="folder for the float runs' JSON Lines, reused when present")
    args = ap.parse_args()
    files = [os.path.join(args.gtzan, r["path"]) for r in csv.DictReader(open(os.path.join(args.gtzan, "tracks.csv")))
             if r["split"] == args.split]
    for float_model, int8_model in (("msd-musicnn", "msd-musicnn-int8"), ("gtzan10", "gtzan10-int8")):
        a, speed_a, cpu_a = float_run(args, float_model, files)
        b, _, speed_b, cpu_b = run(args.bin, args.home, int8_model, files, args.jobs, args.hop)
        both = [p for p in a if a[p]["ok"] and p in b and b[p]["ok"]]
        largest = {p: max(abs(a[p]["probabilities"][k] - b[p]["probabilities"][k]) for k in a[p]["probabilities"])
                   for p in both}
        diffs = sorted(largest.values())
        worst = max(largest, key=largest.get)
        agree = sum(a[p]["top"][0]["label"] == b[p]["top"][0]["label"] for p in both)
        top5 = sum(top_labels(a[p], 5) == top_labels(b[p], 5) for p in both)
        n = len(diffs)
        print(f"{float_model} vs {int8_model} on {n} {args.split} clips (--hop {args.hop}): largest whole-track "
              f"probability difference median {diffs[n // 2]:.4f}, p90 {diffs[int(0.9 * (n - 1))]:.4f}, max {diffs[-1]:.4f} "
              f"({os.path.basename(worst)}); "
              f"{sum(d <= 0.02 for d in diffs)}/{n} within 0.02; top {'genre tag' if 'musicnn' in float_model else 'genre'} "
              f"equal on {agree}/{n}; top-5 label set equal on {top5}/{n}; "
              f"CPU float {cpu_a:.1f} s, int8 {cpu_b:.1f} s; speed float {speed_a:.0f}x, int8 {speed_b:.0f}x real time "
              f"({args.jobs} job(s); float 'nan': its run was kept from an earlier call)", flush=True)


if __name__ == "__main__":
    main()
