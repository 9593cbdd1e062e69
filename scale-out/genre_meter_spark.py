#!/usr/bin/env python3
"""Runs `genre-meter analyze` over a file list on an Apache Spark cluster (or in local mode).

    spark-submit scale-out/genre_meter_spark.py --list files.txt --out results.jsonl \
        [--bin /opt/genre-meter/genre-meter] [--partitions 2000] [--jobs 1] -- --quick

Every executor runs the CLI on its shard with `RDD.pipe`: the shard's paths go to the CLI's
standard input (`--files-from -`), its JSON Lines come back, one object per file. Spark
contributes the sharding, retries of failed tasks and the collection of results; the
analysis itself is exactly the CLI's, so a cluster run gives the same numbers as a local one.
The paths must be readable by every executor (a shared file system, or a FUSE mount of the
object store) and the binary must be installed at `--bin` on every node (or shipped with
`spark-submit --files genre-meter` and named by its bare file name).

Without spark-submit, `python3 scale-out/genre_meter_spark.py --master local[2] ...` runs
Spark's local mode (what the test in tests/scale_out.rs does).

Resume: `--out` is written only at the end; with `--skip-done OLD.jsonl` the paths already
done are left out of the list before sharding and OLD's lines are carried over into --out.
"""
import argparse
import json
import os
import shlex
import sys


def read_list(path):
    with open(path) as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def done_lines(path):
    """Lines of an earlier output that succeeded, by path (failures are retried)."""
    done = {}
    if path and os.path.exists(path):
        for line in open(path):
            try:
                v = json.loads(line)
            except ValueError:
                continue
            if v.get("ok") is True:
                done[v["path"]] = line.rstrip("\n")
    return done


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", required=True, help="file with one audio path per line")
    ap.add_argument("--out", required=True, help="merged JSON Lines, sorted by path")
    ap.add_argument("--bin", default="genre-meter", help="the CLI on every executor")
    ap.add_argument("--master", default=None, help="e.g. local[2]; default: whatever spark-submit says")
    ap.add_argument("--partitions", type=int, default=None,
                    help="shards (default: 4 per executor core; each shard loads the model once)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="threads per CLI (1: one CLI per Spark core, as spark.task.cpus=1 schedules)")
    ap.add_argument("--skip-done", default=None, help="an earlier --out: its successful files are not redone")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment of the CLI on the executors (e.g. GENRE_METER_ORT_LIB=/opt/ort/libonnxruntime.so.1.31.1)")
    ap.add_argument("cli_args", nargs="*", help="after --: more `analyze` options (e.g. --quick, --model NAME)")
    args = ap.parse_args(argv)

    from pyspark import SparkConf, SparkContext

    if args.master and args.master.startswith("local"):
        # Local mode: the Python workers that run pipe() are this interpreter (with pyspark).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = SparkConf().setAppName("genre-meter")
    if args.master:
        conf = conf.setMaster(args.master)
    sc = SparkContext.getOrCreate(conf)
    sc.setLogLevel("WARN")
    try:
        paths = read_list(args.list)
        done = done_lines(args.skip_done)
        todo = [p for p in paths if p not in done]
        partitions = args.partitions or max(1, min(len(todo), 4 * sc.defaultParallelism))
        command = [args.bin, "analyze", "--files-from", "-", "--format", "jsonl", "--jobs", str(args.jobs), *args.cli_args]
        # pipe() writes one element per line to the command's stdin and yields its stdout lines.
        # A CLI that exits non-zero because some file failed still printed that file's error
        # line: only a crash (no output for a path) is a missing result.
        command = " ".join(shlex.quote(c) for c in command)  # pipe() takes one string and shlex-splits it
        # pipe() starts the command with only the variables it is given: pass on where the
        # CLI finds ONNX Runtime and models (on a cluster: paths valid on the executors).
        env = {k: v for k, v in os.environ.items()
               if k.startswith("GENRE_METER_") or k in ("HOME", "XDG_DATA_HOME", "PATH", "LD_LIBRARY_PATH", "ORT_DYLIB_PATH")}
        for kv in args.env:
            k, _, v = kv.partition("=")
            env[k] = v
        lines = sc.parallelize(todo, partitions).pipe(command, env=env, checkCode=False).collect() if todo else []
    finally:
        sc.stop()
    results = dict(done)
    for line in lines:
        try:
            v = json.loads(line)
        except ValueError:
            print(f"warning: not a JSON line from the CLI: {line[:200]}", file=sys.stderr)
            continue
        results[v["path"]] = line
    missing = [p for p in todo if p not in results]
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        for p in sorted(results):
            f.write(results[p] + "\n")
    os.replace(tmp, args.out)
    failed = sum(1 for line in results.values() if json.loads(line).get("ok") is not True)
    print(f"{len(results)} results in {args.out} ({failed} failed files, {len(missing)} with no result)", file=sys.stderr)
    for p in missing:
        print(f"no result (the CLI crashed on its shard?): {p}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
