#!/usr/bin/env python3
"""Make the parity-test fixture for the musicnn front-end and model (tests/fixtures/).

Writes, for a deterministic 12 s synthetic music-like signal at 16 kHz:
  synth_16k.wav            the signal, mono 32-bit float WAV
  synth_16k.logmel.f32     librosa reference log-mel, float64 maths, raw LE float32 [frames, 96]
  synth_16k.tags.f32       musicnn's own Python pipeline (extractor), taggram [patches, 50]
  synth_16k.onnx_tags.f32  msd_musicnn.onnx on patches of the reference log-mel [patches, 50]
  synth_16k.json           shapes, patch starts, package versions, differences

Checks (raises on failure): musicnn's checkpoint restore really succeeded (its extractor
swallows restore errors); the ONNX model on musicnn's own log-mel patches agrees with
musicnn's taggram within 1e-4 (every patch) and with its embedding on patch 0 (musicnn's
extractor repeats patch 0's `penultimate` for later patches, a bug in musicnn 0.1.0).

Environment: requirements.txt beside this file (NumPy 1.26, librosa 0.8.1).
Usage: python make_fixture.py [--out-dir tests/fixtures]
"""

import argparse
import hashlib
import inspect
import json
import os
import sys
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

if int(np.__version__.split(".")[0]) != 1:
    # Under NumPy 2, musicnn's `10000 * float16_array` stays float16 and overflows to
    # inf, so its tags are garbage. NumPy 1.x promotes it to float32.
    raise SystemExit(f"NumPy 1.x is required for musicnn's pipeline, found {np.__version__}")

# librosa 0.8.1 (the last release whose STFT pads with 'reflect' by default, as musicnn's
# training did) still spells the builtins through NumPy aliases that NumPy 1.24 removed.
# They were exactly the builtins, so restoring them changes nothing else.
for _name, _type in (("float", float), ("int", int), ("complex", complex),
                     ("bool", bool), ("object", object)):
    if _name not in np.__dict__:
        setattr(np, _name, _type)

warnings.filterwarnings("ignore", category=UserWarning, module=r"musicnn\.")
warnings.filterwarnings("ignore", category=FutureWarning)

import librosa  # noqa: E402
import onnxruntime as ort  # noqa: E402
import scipy  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import scipy.signal as sps  # noqa: E402
import soundfile as sf  # noqa: E402
import tensorflow as tf  # noqa: E402

import musicnn  # noqa: E402
import musicnn.extractor as mextractor  # noqa: E402
from musicnn import configuration as mconfig  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SR = 16000
DURATION_S = 12.0
SEED = 20240607
PEAK = 0.8
N_FRAMES = 187
N_MELS = 96
MEL_KW = dict(sr=SR, n_fft=512, hop_length=256, win_length=512, window="hann",
              center=True, pad_mode="reflect", power=2.0, n_mels=N_MELS, fmin=0.0,
              fmax=8000.0, htk=False, norm="slaney")
TAGS_TOL = 1e-4


# --------------------------------------------------------------------------- synthesis

def midi_hz(m):
    return 440.0 * 2.0 ** ((m - 69) / 12.0)


def additive(f0, n, amps, sr=SR, detune_cents=0.0, vibrato=(0.0, 0.0), phase=0.0):
    """Band-limited additive tone: harmonic h gets amplitude amps[h-1]."""
    t = np.arange(n) / sr
    f = f0 * 2.0 ** (detune_cents / 1200.0)
    vib_rate, vib_depth = vibrato
    # Instantaneous phase with optional vibrato (depth in semitones).
    inst = f * 2.0 ** (vib_depth * np.sin(2 * np.pi * vib_rate * t) / 12.0)
    ph = 2 * np.pi * np.cumsum(inst) / sr + phase
    out = np.zeros(n)
    for h, a in enumerate(amps, start=1):
        if a == 0.0 or f * h >= 0.45 * sr:
            continue
        out += a * np.sin(h * ph)
    return out


def adsr(n, a, d, s, r, sr=SR):
    """Attack/decay/sustain/release envelope of n samples (times in seconds)."""
    env = np.full(n, s)
    na, nd, nr = int(a * sr), int(d * sr), int(r * sr)
    na = max(1, min(na, n))
    env[:na] = np.linspace(0.0, 1.0, na, endpoint=False)
    nd = min(nd, n - na)
    if nd > 0:
        env[na:na + nd] = np.linspace(1.0, s, nd, endpoint=False)
    nr = min(nr, n)
    if nr > 0:
        env[n - nr:] *= np.linspace(1.0, 0.0, nr)
    return env


def place(buf, start, sig):
    end = min(len(buf), start + len(sig))
    if end > start:
        buf[start:end] += sig[:end - start]


def synthesise():
    rng = np.random.default_rng(SEED)
    n = int(DURATION_S * SR)
    bpm = 120.0
    beat = int(round(60.0 / bpm * SR))  # 8000 samples
    eighth = beat // 2
    n_bars = int(n // (4 * beat))  # 6 bars of 4/4

    drums = np.zeros(n)
    bass = np.zeros(n)
    keys = np.zeros(n)
    lead = np.zeros(n)

    # --- drums
    def kick(vel):
        m = int(0.35 * SR)
        t = np.arange(m) / SR
        f = 48.0 + 110.0 * np.exp(-t / 0.03)
        body = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / 0.16)
        click = rng.standard_normal(m) * np.exp(-t / 0.003) * 0.3
        return vel * (body + click)

    b_snare, a_snare = sps.butter(2, [1200 / (SR / 2), 5500 / (SR / 2)], btype="band")
    b_hat, a_hat = sps.butter(4, 6000 / (SR / 2), btype="high")

    def snare(vel):
        m = int(0.25 * SR)
        t = np.arange(m) / SR
        noise = sps.lfilter(b_snare, a_snare, rng.standard_normal(m)) * np.exp(-t / 0.07)
        tone = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.04)
        return vel * (1.4 * noise + 0.5 * tone)

    def hat(vel, decay):
        m = int(min(0.3, 6 * decay) * SR)
        t = np.arange(m) / SR
        return vel * sps.lfilter(b_hat, a_hat, rng.standard_normal(m)) * np.exp(-t / decay)

    for bar in range(n_bars):
        b0 = bar * 4 * beat
        for k in (0, 2):
            place(drums, b0 + k * beat, kick(0.9 + 0.1 * rng.random()))
        if bar % 2 == 1:  # syncopated kick on the "and" of 3
            place(drums, b0 + 2 * beat + eighth, kick(0.6))
        for k in (1, 3):
            place(drums, b0 + k * beat, snare(0.55 + 0.1 * rng.random()))
        for e in range(8):
            open_hat = e == 7
            vel = (0.35 if e % 2 == 0 else 0.22) * (0.85 + 0.3 * rng.random())
            place(drums, b0 + e * eighth, hat(vel, 0.09 if open_hat else 0.025))
            if bar >= 4 and e % 2 == 1:  # 16ths in the last two bars
                place(drums, b0 + e * eighth + eighth // 2, hat(0.15, 0.02))

    # --- harmony: Am F C G | Am F   (MIDI notes)
    chords = [(57, 60, 64), (53, 57, 60), (55, 60, 64), (55, 59, 62), (57, 60, 64), (53, 57, 65)]
    roots = [45, 41, 36, 43, 45, 41]
    saw = [1.0 / h for h in range(1, 25)]
    for bar in range(n_bars):
        b0 = bar * 4 * beat
        # Bass: eighth notes, root with an octave jump, a filtered band-limited saw.
        for e in range(8):
            m = roots[bar % len(roots)] + (12 if e in (3, 6) else 0)
            ln = eighth
            tone = additive(midi_hz(m), ln, saw) * adsr(ln, 0.004, 0.08, 0.55, 0.03)
            place(bass, b0 + e * eighth, 0.5 * tone)
        # Keys: chord stabs on 1, the "and" of 2, and 4; piano-like decaying harmonics.
        for on in (0, beat + eighth, 3 * beat):
            ln = int(0.9 * SR)
            t = np.arange(ln) / SR
            for v, m in enumerate(chords[bar % len(chords)]):
                amps = [np.exp(-0.55 * (h - 1)) / h ** 0.5 for h in range(1, 13)]
                tone = additive(midi_hz(m), ln, amps, detune_cents=rng.uniform(-4, 4),
                                phase=rng.uniform(0, 2 * np.pi))
                env = np.exp(-t / 0.35) * adsr(ln, 0.006, 0.0, 1.0, 0.05)
                place(keys, b0 + on, 0.22 * tone * env)
    # Lead: A-minor pentatonic random walk from bar 2 on, triangle-like with vibrato.
    scale = [69, 72, 74, 76, 79, 81, 84]
    idx = 3
    pos = 2 * 4 * beat
    tri = [(1.0 / h ** 2 if h % 2 else 0.0) for h in range(1, 16)]
    while pos < n - eighth:
        ln = eighth * int(rng.choice([1, 2, 2, 3]))
        idx = int(np.clip(idx + rng.choice([-2, -1, 0, 1, 1, 2]), 0, len(scale) - 1))
        if rng.random() > 0.15:  # occasional rest
            tone = additive(midi_hz(scale[idx]), ln, tri, vibrato=(5.5, 0.15))
            place(lead, pos, 0.3 * tone * adsr(ln, 0.02, 0.1, 0.7, 0.06))
        pos += ln

    mix = 1.0 * drums + 0.9 * bass + 0.8 * keys + 0.7 * lead
    # A little room: exponentially decaying noise impulse response, 15 % wet.
    ir_n = int(0.5 * SR)
    ir = rng.standard_normal(ir_n) * np.exp(-np.arange(ir_n) / (0.12 * SR))
    ir /= np.sqrt(np.sum(ir ** 2))
    wet = sps.fftconvolve(mix, ir)[:n]
    mix = 0.85 * mix + 0.15 * wet
    # Short fades so the file starts and ends cleanly.
    fade = int(0.01 * SR)
    mix[:fade] *= np.linspace(0.0, 1.0, fade)
    mix[-fade:] *= np.linspace(1.0, 0.0, fade)
    mix *= PEAK / np.max(np.abs(mix))
    return mix.astype(np.float32)


# --------------------------------------------------------------------------- helpers

def ort_session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def write_f32(path, arr):
    np.ascontiguousarray(arr, dtype="<f4").tofile(path)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def run_musicnn_extractor(wav_path):
    """musicnn's own pipeline, with its swallowed checkpoint-restore errors surfaced."""
    saver_cls = tf.compat.v1.train.Saver
    original = saver_cls.restore
    state = {"calls": 0, "ok": 0, "error": None}

    def checked_restore(self, sess, save_path):
        state["calls"] += 1
        try:
            out = original(self, sess, save_path)
        except Exception as e:  # noqa: BLE001 - recorded and re-raised below
            state["error"] = e
            raise
        state["ok"] += 1
        return out

    saver_cls.restore = checked_restore
    try:
        taggram, labels, features = mextractor.extractor(
            wav_path, model="MSD_musicnn", input_length=3, input_overlap=False,
            extract_features=True)
    finally:
        saver_cls.restore = original
    if state["calls"] != 1 or state["ok"] != 1:
        raise RuntimeError(f"musicnn's checkpoint restore failed: {state['error']!r}")
    return np.asarray(taggram), labels, features


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(REPO, "tests", "fixtures"))
    ap.add_argument("--model", default=os.path.join(HERE, "msd_musicnn.onnx"))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, "synth_16k")
    wav_path = base + ".wav"

    # 1. Signal.
    y32 = synthesise()
    # scipy writes a plain fmt/fact/data float WAV; libsndfile would add a PEAK chunk
    # with a timestamp, which makes the file differ on every run.
    scipy.io.wavfile.write(wav_path, SR, y32)
    y_read, sr_read = sf.read(wav_path, dtype="float32", always_2d=False)
    if sr_read != SR or not np.array_equal(y_read, y32):
        raise RuntimeError("the WAV does not read back bit-exactly")
    if np.std(y_read) < 0.05:
        raise RuntimeError("synthetic signal is too quiet")

    # 2. Reference log-mel: the float32 samples as float64, float64 mel basis.
    mel = librosa.feature.melspectrogram(y=y_read.astype(np.float64), dtype=np.float64,
                                         **MEL_KW)
    if mel.dtype != np.float64:
        raise RuntimeError(f"reference mel is {mel.dtype}, expected float64")
    logmel = np.log10(10000.0 * mel.T + 1.0)  # [frames, 96]
    n_frames_total = logmel.shape[0]
    expected_frames = 1 + len(y_read) // MEL_KW["hop_length"]
    if logmel.shape != (expected_frames, N_MELS):
        raise RuntimeError(f"unexpected log-mel shape {logmel.shape}")
    write_f32(base + ".logmel.f32", logmel)

    # Patches exactly as musicnn.extractor.batch_data cuts them (no overlap).
    starts = list(range(0, n_frames_total - N_FRAMES + 1, N_FRAMES))
    patches = np.stack([logmel[s:s + N_FRAMES] for s in starts]).astype(np.float32)

    # 3. ONNX on the reference log-mel.
    sess = ort_session(args.model)
    onnx_tags, onnx_emb = sess.run(["tags", "embedding"], {"log_mel": patches})
    write_f32(base + ".onnx_tags.f32", onnx_tags)

    # 4. musicnn's own pipeline on the WAV file. It relies on librosa's default STFT
    # padding, which must be 'reflect' as in training (librosa <= 0.8).
    default_pad = inspect.signature(librosa.stft).parameters["pad_mode"].default
    if default_pad != "reflect":
        raise RuntimeError(f"librosa {librosa.__version__} pads with {default_pad!r} by "
                           "default; musicnn was trained with 'reflect' (use librosa 0.8.1)")
    n_frames_cfg = librosa.time_to_frames(3, sr=SR, n_fft=512, hop_length=256) + 1
    if n_frames_cfg != N_FRAMES:
        raise RuntimeError(f"musicnn would use {n_frames_cfg} frames per patch, not {N_FRAMES}")
    taggram, labels, features = run_musicnn_extractor(wav_path)
    if list(labels) != list(mconfig.MSD_LABELS):
        raise RuntimeError("musicnn returned an unexpected label list")
    if taggram.shape != onnx_tags.shape:
        raise RuntimeError(f"taggram {taggram.shape} vs ONNX tags {onnx_tags.shape}")
    write_f32(base + ".tags.f32", taggram)

    # 5. Same log-mel check: ONNX on musicnn's own (float16-quantised) log-mel patches.
    m_batch, m_logmel = mextractor.batch_data(wav_path, N_FRAMES, N_FRAMES)
    m_tags, m_emb, m_mean, m_max = sess.run(
        ["tags", "embedding", "mean_pool", "max_pool"], {"log_mel": m_batch.astype(np.float32)})
    diff_same = float(np.max(np.abs(m_tags.astype(np.float64) - taggram)))
    diff_same_p0 = float(np.max(np.abs(m_tags[0].astype(np.float64) - taggram[0])))
    diff_emb_p0 = float(np.max(np.abs(m_emb[0] - np.asarray(features["penultimate"])[0])))
    diff_mean = float(np.max(np.abs(m_mean - np.asarray(features["mean_pool"]))))
    diff_max = float(np.max(np.abs(m_max - np.asarray(features["max_pool"]))))
    print(f"ONNX vs musicnn on musicnn's log-mel: tags {diff_same:.3g} (patch 0 {diff_same_p0:.3g}),"
          f" embedding patch 0 {diff_emb_p0:.3g}, mean_pool {diff_mean:.3g}, max_pool {diff_max:.3g}")
    if not diff_same <= TAGS_TOL:
        raise RuntimeError(f"ONNX and musicnn disagree on the same log-mel by {diff_same:.3g}")
    emb_scale = max(1.0, float(np.max(np.abs(m_emb[0]))))
    if not diff_emb_p0 <= TAGS_TOL * emb_scale:
        raise RuntimeError(f"ONNX and musicnn embeddings disagree by {diff_emb_p0:.3g}")

    diff_pipeline = float(np.max(np.abs(taggram - onnx_tags.astype(np.float64))))
    diff_logmel = float(np.max(np.abs(m_logmel.astype(np.float64) - logmel)))
    if not diff_logmel < 5e-3:  # float16 quantisation only; other padding would show
        raise RuntimeError(f"musicnn's log-mel differs from the reference by {diff_logmel:.3g}")
    top = np.argsort(-onnx_tags.mean(axis=0))[:5]
    print("top tags (ONNX, mean over patches): "
          + ", ".join(f"{mconfig.MSD_LABELS[i]} {onnx_tags[:, i].mean():.3f}" for i in top))
    print(f"musicnn pipeline vs ONNX on reference log-mel: max |diff| tags {diff_pipeline:.3g};"
          f" log-mel {diff_logmel:.3g}")

    versions = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "librosa": librosa.__version__,
        "soundfile": sf.__version__,
        "tensorflow": tf.__version__,
        "onnxruntime": ort.__version__,
        "musicnn": getattr(musicnn, "__version__", None) or "0.1.0",
    }
    files = {}
    for suffix in (".wav", ".logmel.f32", ".tags.f32", ".onnx_tags.f32"):
        p = base + suffix
        files[os.path.basename(p)] = {"bytes": os.path.getsize(p), "sha256": sha256(p)}
    meta = {
        "description": "Synthetic 12 s music-like signal (drums, bass, chords, lead) for "
                       "front-end and model parity tests; made by "
                       "models/msd-musicnn/make_fixture.py",
        "seed": SEED,
        "sample_rate_hz": SR,
        "n_samples": int(len(y_read)),
        "peak": float(np.max(np.abs(y_read))),
        "wav_format": "RIFF WAVE, mono, 32-bit IEEE float",
        "raw_format": "little-endian float32, row-major, no header",
        "logmel": {
            "file": "synth_16k.logmel.f32",
            "shape": list(logmel.shape),
            "computed": "librosa.feature.melspectrogram(y=float64(samples read back as "
                        "float32), sr=16000, n_fft=512, hop_length=256, win_length=512, "
                        "window='hann', center=True, pad_mode='reflect', power=2.0, n_mels=96, "
                        "fmin=0, fmax=8000, htk=False, norm='slaney', dtype=float64).T, then "
                        "log10(10000*x + 1); stored as float32",
        },
        "logmel_shape": list(logmel.shape),
        "tags_shape": list(taggram.shape),
        "patches": {
            "frames": N_FRAMES,
            "hop_frames": N_FRAMES,
            "start_frames": starts,
            "rule": "range(0, frames - 187 + 1, 187) as musicnn.extractor.batch_data; an "
                    "incomplete last patch is dropped",
            "dropped_tail_frames": int(n_frames_total - (starts[-1] + N_FRAMES)),
        },
        "tags": {
            "file": "synth_16k.tags.f32",
            "computed": "musicnn.extractor.extractor(wav, model='MSD_musicnn', input_length=3, "
                        "input_overlap=False, extract_features=True) taggram (its own "
                        "librosa.load; librosa's default STFT pad mode, 'reflect' in "
                        "librosa 0.8.1; float16-quantised mel power)",
        },
        "onnx_tags": {
            "file": "synth_16k.onnx_tags.f32",
            "computed": "msd_musicnn.onnx 'tags' on the reference log-mel patches (float32), "
                        "onnxruntime CPU, 1 thread",
            "model_sha256": sha256(args.model),
        },
        "labels_source": "musicnn.configuration.MSD_LABELS (model output order)",
        "max_abs_diff": {
            "musicnn_pipeline_tags_vs_onnx_tags": diff_pipeline,
            "musicnn_pipeline_tags_vs_onnx_on_musicnn_logmel": diff_same,
            "musicnn_pipeline_embedding_patch0_vs_onnx_on_musicnn_logmel": diff_emb_p0,
            "musicnn_logmel_vs_reference_logmel": diff_logmel,
        },
        "checks": {
            "musicnn_checkpoint_restore": "succeeded (Saver.restore wrapped and verified)",
            "onnx_vs_musicnn_same_logmel_tolerance": TAGS_TOL,
        },
        "versions": versions,
        "files": files,
    }
    with open(base + ".json", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    total = sum(v["bytes"] for v in files.values()) + os.path.getsize(base + ".json")
    print(f"wrote {base}.* ({total} bytes)")
    if total > 1.5e6:
        raise RuntimeError("fixture is larger than 1.5 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
