"""Validate the pitch instruments on voices whose pitch we know by construction.

For Joe's own speech (piper-tts, noise 0), the two WORLD re-voices used as fine-tuning targets
(F0 x 0.78 / formants x 0.90, and F0 x 1.4 / formants x 1.1) and a frame-rate buzz (the same speech
re-synthesized by WORLD with every voiced frame at 22050/256 = 86.13 Hz), print the median F0 by
WORLD dio + stonemask, WORLD harvest and librosa pYIN, the share of voiced frames locked at 86 Hz
(harvest) and the frame-rate comb (dB, ``voicetune.evaluation.pitch.frame_rate_comb``). The
re-voices scale Joe's F0 contour as WORLD harvest reads it, so their expected median is the
factor times Joe's harvest median.

    .venv/bin/python bench/pitch_instruments.py [--sentences 12]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def world_f0(x: np.ndarray, sr: int, method: str) -> np.ndarray:
    import pyworld

    xd = x.astype(np.float64)
    if method == "harvest":
        return pyworld.harvest(xd, sr, f0_floor=55.0, f0_ceil=600.0, frame_period=5.0)[0]
    f0, t = pyworld.dio(xd, sr, f0_floor=55.0, f0_ceil=600.0, frame_period=5.0)
    return pyworld.stonemask(xd, f0, t, sr)


def pyin_f0(x: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    f0, voiced, _ = librosa.pyin(x.astype(np.float32), fmin=60.0, fmax=500.0, sr=sr, frame_length=2048, hop_length=256)
    return np.where(voiced, np.nan_to_num(f0), 0.0)


def buzz_version(x: np.ndarray, sr: int, rate: float) -> np.ndarray:
    import pyworld

    xd = x.astype(np.float64)
    f0, t = pyworld.harvest(xd, sr, f0_floor=55.0, f0_ceil=600.0)
    sp, ap = pyworld.cheaptrick(xd, f0, t, sr), pyworld.d4c(xd, f0, t, sr)
    y = pyworld.synthesize(np.where(f0 > 0, rate, 0.0), sp, ap, sr)[: len(x)]
    return (y * 0.95 / max(1e-9, np.abs(y).max())).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sentences", type=int, default=12)
    args = ap.parse_args()
    from voicetune.evaluation.pitch import frame_rate_comb, lock_mask
    from voicetune.sample_data import revoice, sentences, synth_piper

    clips, sr = synth_piper(sentences("eval_sentences_en")[: args.sentences])
    rate = sr / 256
    sets = {
        "Joe (piper-tts, noise 0)": clips,
        "low target (F0 x 0.78, formants x 0.90)": [revoice(c, sr, 0.78, 0.90) for c in clips],
        "high target (F0 x 1.4, formants x 1.1)": [revoice(c, sr, 1.4, 1.1) for c in clips],
        "buzz (WORLD, every voiced frame at 86.13 Hz)": [buzz_version(c, sr, rate) for c in clips],
    }
    seconds = sum(len(c) for c in clips) / sr
    print(f"{len(clips)} sentences, {seconds:.0f} s of audio each set\n")
    print("| speech | dio + stonemask | harvest | pYIN | locked at 86 Hz (harvest) | frame-rate comb |")
    print("|---|---|---|---|---|---|")
    cost = {"dio": 0.0, "harvest": 0.0, "pyin": 0.0}
    for name, audio in sets.items():
        med = {}
        for method in cost:
            t0 = time.process_time()
            tracks = [pyin_f0(a, sr) if method == "pyin" else world_f0(a, sr, method) for a in audio]
            cost[method] += time.process_time() - t0
            f0 = np.concatenate(tracks)
            med[method] = float(np.median(f0[f0 > 0]))
            if method == "harvest":
                voiced = f0[f0 > 0]
                lock = float(np.mean(lock_mask(voiced, rate)))
        comb = frame_rate_comb(audio, sr, rate)
        print(f"| {name} | {med['dio']:.0f} Hz | {med['harvest']:.0f} Hz | {med['pyin']:.0f} Hz | {lock:.1%} | "
              f"{comb:+.1f} dB |")
    total = seconds * len(sets)
    print("\nCPU seconds per second of audio: " + ", ".join(f"{m} {c / total:.3f}" for m, c in cost.items()))


if __name__ == "__main__":
    main()
