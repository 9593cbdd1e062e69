"""YAMNet's front-end in float64 NumPy against the log-mel inside the YAMNet graph, on the
shared test vectors: how far an exact reimplementation lands from the graph's float32
arithmetic (the bound the Rust front-end's parity test is judged against).

    python benches/python/yamnet_frontend_reference.py ../shared/models/yamnet/yamnet_testvectors.npz
"""
import sys

import numpy as np


def hz_to_mel(f):
    return 1127.0 * np.log1p(f / 700.0)


def log_mel(wave: np.ndarray) -> np.ndarray:
    n = np.arange(400)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / 400)
    mels = hz_to_mel(np.linspace(0, 8000, 257))
    edges = np.linspace(hz_to_mel(125.0), hz_to_mel(7500.0), 66)
    weights = np.zeros((257, 64))
    for m in range(64):
        lo, centre, hi = edges[m : m + 3]
        weights[:, m] = np.maximum(0, np.minimum((mels - lo) / (centre - lo), (hi - mels) / (hi - centre)))
    weights[0, :] = 0  # TensorFlow's filterbank leaves out the DC bin
    frames = 1 + (len(wave) - 400) // 160
    framed = np.stack([wave[t * 160 : t * 160 + 400] * window for t in range(frames)])
    return np.log(np.abs(np.fft.rfft(framed, 512)) @ weights + 0.001)


def main(path: str) -> None:
    vectors = np.load(path)
    worst = 0.0
    for name, wave, expected in zip(vectors["names"], vectors["waveform"], vectors["log_mel"]):
        diff = np.abs(log_mel(wave.astype(np.float64)) - expected).max()
        worst = max(worst, diff)
        print(f"  {name:<12} max abs diff {diff:.2e}")
    print(f"float64 NumPy YAMNet front-end vs the graph's log-mel: max abs diff {worst:.2e}")


if __name__ == "__main__":
    main(sys.argv[1])
