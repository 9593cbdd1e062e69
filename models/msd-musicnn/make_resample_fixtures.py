#!/usr/bin/env python3
"""Make the resampling and downmix parity fixtures (tests/fixtures/resample_*).

For each of 22.05, 44.1 and 48 kHz, a deterministic 12 s music-like mix with energy up to
the file's Nyquist frequency (band-limited saw chords, bass, a vibrato lead, kick, snare,
hi-hats and a ride cymbal of high-passed noise, a 6-8 kHz shaker), written as 16-bit FLAC
(lossless, so libsndfile and symphonia read identical samples), and a 3-channel 22.05 kHz
clip with different content in every channel (drums / chords + bass / cymbals + lead).
For each file, musicnn's own pipeline in the pinned environment gives the references:

  resample_<rate>.flac             the audio
  resample_<rate>.head16k.f32      librosa.load(path, sr=16000) samples [0, 2 s), raw LE f32
  resample_<rate>.tail16k.f32      ... its last 0.5 s
  resample_<rate>.tags.f32         musicnn.extractor taggram (non-overlapping 3 s patches) [p, 50]
  downmix_3ch_22k.flac             the 3-channel clip
  downmix_3ch_22k.mono.f32         librosa.load(path, sr=None) (librosa.to_mono) [0, 1 s)
  downmix_3ch_22k.head16k.f32 / .tail16k.f32 / .tags.f32   as above
  resample_fixtures.json           lengths, shapes, versions, sha256 of every file

Environment: requirements.txt beside this file (librosa 0.8.1, resampy 0.4.3, NumPy 1.26).
Usage: python make_resample_fixtures.py [--out-dir tests/fixtures]
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixture as mf  # noqa: E402  (NumPy alias fix-ups, musicnn's checked extractor)

import numpy as np  # noqa: E402
import librosa  # noqa: E402
import resampy  # noqa: E402
import scipy.signal as sps  # noqa: E402
import soundfile as sf  # noqa: E402

from musicnn import configuration as mconfig  # noqa: E402

SEED = 20261130
DURATION_S = 12.0
DOWNMIX_DURATION_S = 9.0
RATES = (22050, 44100, 48000)
HEAD_S = 2.0
TAIL_S = 0.5
SR_MODEL = 16000


def saw(n_harm):
    return [1.0 / h for h in range(1, n_harm + 1)]


def synthesise(sr, seconds, seed):
    """Stems of a 120 bpm groove at `sr`, every part band-limited to 0.45 sr."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    beat = int(round(0.5 * sr))
    eighth = beat // 2
    n_bars = int(np.ceil(n / (4 * beat)))
    nyq = sr / 2.0
    drums, cymbals, harmony, lead = (np.zeros(n) for _ in range(4))

    def kick(vel):
        m = int(0.35 * sr)
        t = np.arange(m) / sr
        f = 50.0 + 120.0 * np.exp(-t / 0.03)
        body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.15)
        click = rng.standard_normal(m) * np.exp(-t / 0.002) * 0.35
        return vel * (body + click)

    b_sn, a_sn = sps.butter(2, [1500 / nyq, 6500 / nyq], btype="band")
    b_hat, a_hat = sps.butter(4, 7000 / nyq, btype="high")
    b_ride, a_ride = sps.butter(2, 4500 / nyq, btype="high")
    b_shk, a_shk = sps.butter(4, [6000 / nyq, 8000 / nyq], btype="band")

    def snare(vel):
        m = int(0.25 * sr)
        t = np.arange(m) / sr
        noise = sps.lfilter(b_sn, a_sn, rng.standard_normal(m)) * np.exp(-t / 0.08)
        return vel * (1.3 * noise + 0.5 * np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.04))

    def hat(vel, decay):
        m = int(min(0.4, 6 * decay) * sr)
        t = np.arange(m) / sr
        return vel * sps.lfilter(b_hat, a_hat, rng.standard_normal(m)) * np.exp(-t / decay)

    def ride(vel):
        m = int(1.2 * sr)
        t = np.arange(m) / sr
        # Metallic: high-passed noise ring-modulated by inharmonic partials, long decay.
        ring = sum(np.sin(2 * np.pi * f * t) for f in (3150.0, 4730.0, 6210.0, 7420.0, 9850.0)
                   if f < 0.45 * sr)
        noise = sps.lfilter(b_ride, a_ride, rng.standard_normal(m))
        return vel * (0.7 * noise + 0.15 * noise * ring) * np.exp(-t / 0.35)

    for bar in range(n_bars):
        b0 = bar * 4 * beat
        for k in (0, 2):
            mf.place(drums, b0 + k * beat, kick(0.9))
        if bar % 2:
            mf.place(drums, b0 + 2 * beat + eighth, kick(0.6))
        for k in (1, 3):
            mf.place(drums, b0 + k * beat, snare(0.6))
        for e in range(8):
            mf.place(cymbals, b0 + e * eighth, hat(0.3 if e % 2 == 0 else 0.2, 0.1 if e == 7 else 0.03))
            if bar >= 2 and e % 2:
                mf.place(cymbals, b0 + e * eighth + eighth // 2, hat(0.15, 0.02))
        for k in range(4):
            mf.place(cymbals, b0 + k * beat, ride(0.25))

    # A steady 6-8 kHz shaker layer, so the band the resamplers treat differently is busy.
    shaker = sps.lfilter(b_shk, a_shk, rng.standard_normal(n))
    groove = 0.5 + 0.5 * np.cos(2 * np.pi * np.arange(n) / eighth) ** 2
    cymbals += 0.25 * shaker * groove

    chords = [(57, 60, 64, 69), (53, 57, 60, 65), (55, 60, 64, 67), (55, 59, 62, 67)]
    roots = [45, 41, 48, 43]
    for bar in range(n_bars):
        b0 = bar * 4 * beat
        for e in range(8):
            m = roots[bar % 4] + (12 if e in (3, 6) else 0)
            f0 = mf.midi_hz(m)
            tone = mf.additive(f0, eighth, saw(int(0.45 * sr / f0)), sr=sr)
            mf.place(harmony, b0 + e * eighth, 0.35 * tone * mf.adsr(eighth, 0.004, 0.08, 0.5, 0.03, sr=sr))
        ln = 4 * beat
        t = np.arange(ln) / sr
        for m in chords[bar % 4]:
            f0 = mf.midi_hz(m)
            tone = mf.additive(f0, ln, saw(int(0.45 * sr / f0)), sr=sr,
                               detune_cents=rng.uniform(-6, 6), phase=rng.uniform(0, 2 * np.pi))
            mf.place(harmony, b0, 0.09 * tone * (0.6 + 0.4 * np.exp(-t / 0.5)) * mf.adsr(ln, 0.01, 0.0, 1.0, 0.08, sr=sr))

    scale = [69, 72, 74, 76, 79, 81, 84]
    idx, pos = 3, 4 * beat
    while pos < n - eighth:
        ln = eighth * int(rng.choice([1, 2, 2, 3]))
        idx = int(np.clip(idx + rng.choice([-2, -1, 0, 1, 2]), 0, len(scale) - 1))
        if rng.random() > 0.15:
            f0 = mf.midi_hz(scale[idx])
            amps = [h ** -1.2 for h in range(1, int(0.45 * sr / f0) + 1)]
            tone = mf.additive(f0, ln, amps, sr=sr, vibrato=(5.5, 0.15))
            mf.place(lead, pos, 0.22 * tone * mf.adsr(ln, 0.02, 0.1, 0.7, 0.06, sr=sr))
        pos += ln
    return drums, cymbals, harmony, lead


def finish(y, peak, sr):
    fade = int(0.01 * sr)
    y = y.copy()
    y[:fade] *= np.linspace(0.0, 1.0, fade)
    y[-fade:] *= np.linspace(1.0, 0.0, fade)
    return y * (peak / np.max(np.abs(y)))


def band_energy_db(y, sr, lo, hi):
    f, p = sps.welch(y, sr, nperseg=4096)
    band = (f >= lo) & (f < hi)
    return 10 * np.log10(np.sum(p[band]) / np.sum(p))


def write_flac(path, data, sr):
    sf.write(path, data, sr, subtype="PCM_16", format="FLAC")


def references(path, base, meta_entry):
    """librosa.load as musicnn calls it, and musicnn's own taggram."""
    y16, sr16 = librosa.load(path, sr=SR_MODEL)
    assert sr16 == SR_MODEL and y16.dtype == np.float32
    head, tail = int(HEAD_S * SR_MODEL), int(TAIL_S * SR_MODEL)
    mf.write_f32(base + ".head16k.f32", y16[:head])
    mf.write_f32(base + ".tail16k.f32", y16[-tail:])
    taggram, labels, _ = mf.run_musicnn_extractor(path)
    if list(labels) != list(mconfig.MSD_LABELS):
        raise RuntimeError("musicnn returned an unexpected label list")
    mf.write_f32(base + ".tags.f32", taggram)
    info = sf.info(path)
    meta_entry.update({
        "sample_rate_hz": info.samplerate,
        "channels": info.channels,
        "frames": info.frames,
        "resampled_len_16k": int(len(y16)),
        "head16k_samples": head,
        "tail16k_samples": tail,
        "tags_shape": list(taggram.shape),
        "whole_track_tags_mean": [float(v) for v in taggram.mean(axis=0)],
        "top_tags": [[mconfig.MSD_LABELS[i], float(taggram.mean(axis=0)[i])]
                     for i in np.argsort(-taggram.mean(axis=0))[:5]],
    })
    return y16


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(mf.REPO, "tests", "fixtures"))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    meta = {"description": "Resampling and downmix parity fixtures; made by "
                           "models/msd-musicnn/make_resample_fixtures.py",
            "reference": "librosa.load(path, sr=16000) (librosa 0.8.1 -> resampy kaiser_best) and "
                         "musicnn.extractor.extractor(path, model='MSD_musicnn', input_length=3, "
                         "input_overlap=False) taggram",
            "raw_format": "little-endian float32, no header",
            "files": {}}
    written = []
    for rate in RATES:
        drums, cymbals, harmony, lead = synthesise(rate, DURATION_S, SEED)
        y = finish(1.0 * drums + 0.8 * cymbals + 0.8 * harmony + 0.7 * lead, 0.85, rate)
        hi = band_energy_db(y, rate, 6000, 8000)
        if hi < -30:
            raise RuntimeError(f"{rate} Hz mix has too little 6-8 kHz energy ({hi:.1f} dB)")
        base = os.path.join(args.out_dir, f"resample_{rate // 1000}k")
        path = base + ".flac"
        write_flac(path, y.astype(np.float32), rate)
        entry = {"band_6_8k_db_of_total": float(hi),
                 "band_above_8k_db_of_total": float(band_energy_db(y, rate, 8000, rate / 2))}
        references(path, base, entry)
        meta["files"][os.path.basename(path)] = entry
        written.append(base)
        print(f"{rate} Hz: 6-8 kHz {hi:.1f} dB of total; top tags {entry['top_tags'][:3]}")

    # Downmix: three channels with different content, so a wrong mean shows.
    rate = 22050
    drums, cymbals, harmony, lead = synthesise(rate, DOWNMIX_DURATION_S, SEED + 1)
    chans = np.stack([finish(drums, 0.8, rate), finish(harmony, 0.7, rate),
                      finish(cymbals + 0.8 * lead, 0.75, rate)], axis=1)
    base = os.path.join(args.out_dir, "downmix_3ch_22k")
    path = base + ".flac"
    write_flac(path, chans.astype(np.float32), rate)
    y_native, sr_native = librosa.load(path, sr=None)
    assert sr_native == rate and y_native.ndim == 1
    mono_ref = librosa.to_mono(sf.read(path, dtype="float32", always_2d=True)[0].T)
    if not np.array_equal(mono_ref, y_native):
        raise RuntimeError("librosa.load(sr=None) is not librosa.to_mono of the channels")
    mf.write_f32(base + ".mono.f32", y_native[:rate])
    entry = {"mono_samples": rate, "channel_content": ["drums", "chords + bass", "cymbals + lead"]}
    references(path, base, entry)
    meta["files"][os.path.basename(path)] = entry
    written.append(base)

    meta["versions"] = {"numpy": np.__version__, "librosa": librosa.__version__,
                        "resampy": resampy.__version__, "soundfile": sf.__version__}
    sizes = {}
    for base in written:
        for suffix in (".flac", ".head16k.f32", ".tail16k.f32", ".tags.f32", ".mono.f32"):
            p = base + suffix
            if os.path.exists(p):
                sizes[os.path.basename(p)] = {"bytes": os.path.getsize(p), "sha256": mf.sha256(p)}
                if os.path.getsize(p) > 1_000_000:
                    raise RuntimeError(f"{p} is larger than 1 MB")
    meta["sha256"] = sizes
    with open(os.path.join(args.out_dir, "resample_fixtures.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {len(sizes)} files, {sum(v['bytes'] for v in sizes.values())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
