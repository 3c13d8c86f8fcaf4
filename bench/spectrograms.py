"""Narrow-band spectrograms to look at, beside the numbers: a frame-rate buzz shows as flat lines at
k x 86 Hz (the dotted guides), the pitch as harmonics that move with the intonation.

    .venv/bin/python bench/spectrograms.py out.png a.wav b.wav ...      # one panel per file
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def narrowband_png(panels: dict[str, np.ndarray], sample_rate: int, path: Path, *, fmax: float = 1200.0,
                   frame_rate: float | None = None, seconds: float = 4.0) -> Path:
    """One row per labelled clip (its first ``seconds``): |STFT| in dB, 4096-sample Hann window, hop 128."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import stft

    rate = frame_rate or sample_rate / 256
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 3.0 * len(panels)), squeeze=False)
    for ax, (label, audio) in zip(axes[:, 0], panels.items(), strict=True):
        x = np.asarray(audio, dtype=np.float64)[: int(seconds * sample_rate)]
        f, t, z = stft(x, sample_rate, window="hann", nperseg=4096, noverlap=4096 - 128)
        keep = f <= fmax
        db = 20 * np.log10(np.abs(z[keep]) + 1e-9)
        ax.imshow(db, origin="lower", aspect="auto", extent=[t[0], t[-1], 0, fmax], vmin=db.max() - 60, vmax=db.max(),
                  cmap="magma")
        for k in range(1, int(fmax // rate) + 1):
            ax.axhline(k * rate, color="cyan", lw=0.4, ls=":")
        ax.set_ylabel("Hz")
        ax.set_title(label, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main() -> None:
    import soundfile as sf

    out, files = Path(sys.argv[1]), sys.argv[2:]
    panels, rate = {}, None
    for name in files:
        audio, rate = sf.read(name, dtype="float32", always_2d=True)
        panels[Path(name).name] = audio.mean(axis=1)
    narrowband_png(panels, rate, out)
    print(out)


if __name__ == "__main__":
    main()
