#!/usr/bin/env python3
"""Makes 4-minute test tracks for quick mode: 8 same-genre 30 s GTZAN clips joined, encoded as
MP3 (44.1 kHz stereo, 192 kbit/s, as a typical library file) and FLAC (the same audio).

    python3 scale-out/make_long_tracks.py [--gtzan ../shared/data/gtzan] [--out /tmp/gm-long] [--per-genre 4]

Writes OUT/mp3/<genre>-<k>.mp3 and OUT/flac/<genre>-<k>.flac. Needs ffmpeg (Debian: ffmpeg).
The tracks derive from GTZAN: never commit them.
"""
import argparse
import csv
import os
import subprocess
import sys
from collections import defaultdict


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = os.environ.get("GENRE_METER_SHARED", os.path.join(here, "..", "..", "shared"))
    ap.add_argument("--gtzan", default=os.path.join(shared, "data", "gtzan"))
    ap.add_argument("--out", default="/tmp/gm-long")
    ap.add_argument("--per-genre", type=int, default=4, help="tracks per genre (fewer when a genre has fewer clips)")
    ap.add_argument("--clips", type=int, default=8, help="clips joined per track (8 x 30 s = 4 min)")
    args = ap.parse_args()
    rows = list(csv.DictReader(open(os.path.join(args.gtzan, "tracks.csv"))))
    by_genre = defaultdict(list)
    for r in rows:
        # Whole 30 s clips only (audio_15s holds 15 s ones).
        if r["path"].startswith("audio/") and float(r["duration_s"]) > 29.0:
            by_genre[r["genre"]].append(os.path.join(args.gtzan, r["path"]))
    for fmt in ("mp3", "flac"):
        os.makedirs(os.path.join(args.out, fmt), exist_ok=True)
    made = 0
    for genre in sorted(by_genre):
        clips = sorted(by_genre[genre])
        for k in range(min(args.per_genre, len(clips) // args.clips)):
            group = clips[k * args.clips:(k + 1) * args.clips]
            inputs = []
            for c in group:
                inputs += ["-i", c]
            joined = "".join(f"[{i}:a]" for i in range(len(group))) + f"concat=n={len(group)}:v=0:a=1[a]"
            for fmt, codec in (("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]), ("flac", ["-c:a", "flac"])):
                out = os.path.join(args.out, fmt, f"{genre}-{k}.{fmt}")
                if os.path.exists(out):
                    continue
                cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs, "-filter_complex", joined,
                       "-map", "[a]", "-ar", "44100", "-ac", "2", *codec, out]
                subprocess.run(cmd, check=True)
            made += 1
    print(f"{made} tracks of {args.clips} clips in {args.out}/mp3 and {args.out}/flac", file=sys.stderr)


if __name__ == "__main__":
    main()
